"""Planted bugs of exercise `attention` (see tests/test_exercises.py): (name, text of solutions/attention.py, what
replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    ("no_scaling", "query @ key.transpose(-2, -1) * scale", "query @ key.transpose(-2, -1)", r"not scaled"),
    ("softmax_wrong_axis", "scores.softmax(dim=-1)", "scores.softmax(dim=-2)", r"softmax runs over the wrong axis"),
    ("causal_diagonal_excluded", ".tril()", ".tril(-1)", r"diagonal is (missing|excluded)"),
    ("mask_inverted", "masked_fill(~attn_mask,", "masked_fill(attn_mask,", r"inverted.*True means 'may attend'"),
]
