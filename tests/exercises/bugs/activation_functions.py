"""Planted bugs of exercise `activation_functions` (see tests/test_exercises.py): (name, text of the solution, what
replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    ("sigmoid_wrong_sign", "return grad * s * (1 - s)", "return grad * s * (s - 1)", r"sign is flipped"),
    (
        "tanh_derivative_of_the_input",
        "t = x.tanh()\n        ctx.save_for_backward(t)",
        "t = x.tanh()\n        ctx.save_for_backward(x)",
        r"output t = tanh\(x\), not of the input",
    ),
    ("relu_no_mask", "return grad * (x > 0)", "return grad", r"zero where x <= 0"),
    (
        "tanh_unstable",
        "t = x.tanh()",
        "t = (x.exp() - (-x).exp()) / (x.exp() + (-x).exp())",
        r"overflow",
    ),
    ("sigmoid_forgets_grad", "return grad * s * (1 - s)", "return s * (1 - s)", r"multiply by grad"),
]
