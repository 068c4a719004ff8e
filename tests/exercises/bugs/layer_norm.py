"""Planted bugs of exercise `layer_norm` (see tests/test_exercises.py): (name, text of solutions/layer_norm.py,
what replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    (
        "unbiased_variance",
        "var = ((xs - mean) ** 2).mean(axis=axes, keepdims=True)",
        "var = xs.var(axis=axes, keepdims=True, ddof=1)",
        r"biased one.*not D - 1",
    ),
    (
        "eps_outside_the_sqrt",
        "rstd = 1 / np.sqrt(var + eps)",
        "rstd = 1 / (np.sqrt(var) + eps)",
        r"eps goes inside the square root",
    ),
    (
        "backward_without_the_mean_terms",
        "dx = rstd * (\n            dxhat - dxhat.mean(axis=axes, keepdims=True)"
        " - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)\n        )",
        "dx = rstd * dxhat",
        r"both mean terms are missing",
    ),
    (
        "backward_without_the_xhat_term",
        " - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)",
        "",
        r"the term - xhat \* mean\(dxhat \* xhat\) is missing",
    ),
    (
        "weight_gradient_not_summed_over_the_batch",
        "dweight = (g * xhat).sum(axis=leading)",
        "dweight = g * xhat",
        r"sum them over the leading \(batch\) axes",
    ),
]
