"""Sorting, order statistics and scans along a dimension: sort argsort topk kthvalue median, cumsum cumprod
cummax cummin.
"""

__all__: list[str] = []
METHODS: dict = {}
