"""Planted bugs of exercise `linear_module` (see tests/test_exercises.py): (name, text of the solution, what replaces
it, a regular expression the failure's message or hint must match)."""

BUGS = [
    ("weight_not_transposed", "y = x @ weight.T", "y = x @ weight", r"x @ weight\.T"),
    (
        "weight_wrong_shape",
        "tn.empty(out_features, in_features).uniform_(-k, k)",
        "tn.empty(in_features, out_features).uniform_(-k, k)",
        r"weight: shape .*\(out_features, in_features\)",
    ),
    (
        "bias_not_a_parameter",
        "self.bias = nn.Parameter(tn.empty(out_features).uniform_(-k, k))",
        "self.bias = tn.empty(out_features).uniform_(-k, k).requires_grad_()",
        r"bias is not an nn\.Parameter.*never trains",
    ),
    (
        "bias_gradient_not_summed",
        "grad_bias = grad.reshape(-1, out_features).sum(dim=0) if ctx.has_bias else None",
        "grad_bias = grad if ctx.has_bias else None",
        r"sum grad over every leading axis",
    ),
    (
        "bound_from_out_features",
        "k = 1 / math.sqrt(in_features)",
        "k = 1 / math.sqrt(out_features)",
        r"k = 1 / sqrt\(in_features\)",
    ),
    (
        "weight_gradient_transposed",
        "grad_weight = grad.reshape(-1, out_features).T @ x.reshape(-1, in_features)",
        "grad_weight = x.reshape(-1, in_features).T @ grad.reshape(-1, out_features)",
        r"dL/dweight is \(out, in\)|you have the transpose",
    ),
]
