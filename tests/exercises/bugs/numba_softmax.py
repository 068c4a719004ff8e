"""Planted bugs of exercise `numba_softmax` (see tests/test_exercises.py): (name, text of
solutions/numba_softmax.py, what replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    ("no_max_subtraction", "np.exp(x[i, j] - m)", "np.exp(x[i, j])", r"subtract the row's max"),
    (
        "the_whole_matrix_max",
        "m = x[i, 0]\n        for j in range(1, cols):\n            m = max(m, x[i, j])",
        "m = x.max()",
        r"each row's own max",
    ),
    ("range_not_prange", "for i in prange(rows):", "for i in range(rows):", r"prange"),
    ("float64_output", "y = np.empty_like(x)", "y = np.empty((rows, cols))", r"dtype"),
]
