"""Elementwise math beyond the arithmetic operators: trigonometric and hyperbolic functions, logs and
exponentials, rounding, tests for NaN and inf, bitwise and integer-division operators.
"""

__all__: list[str] = []
METHODS: dict = {}
