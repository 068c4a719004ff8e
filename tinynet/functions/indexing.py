"""Gathering and scattering by index: gather scatter scatter_add scatter_reduce index_select index_add
masked_fill masked_select nonzero.
"""

__all__: list[str] = []
METHODS: dict = {}
