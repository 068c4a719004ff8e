"""Planted bugs of exercise `adam` (see tests/test_exercises.py): (name, text of the solution, what replaces it, a
regular expression the failure's message or hint must match)."""

BUGS = [
    (
        "no_bias_correction",
        'm_hat = state["exp_avg"] / (1 - beta1**t)\n                v_hat = state["exp_avg_sq"] / (1 - beta2**t)',
        'm_hat = state["exp_avg"]\n                v_hat = state["exp_avg_sq"]',
        r"bias correction",
    ),
    ("eps_inside_sqrt", "(v_hat.sqrt() + eps)", "(v_hat + eps).sqrt()", r"eps goes outside the square root"),
    (
        "t_starts_at_0",
        'state["step"] += 1\n                t = state["step"]',
        't = state["step"]\n                state["step"] += 1',
        r"t counts from 1",
    ),
    (
        "betas_swapped",
        'beta1 * state["exp_avg"] + (1 - beta1) * g',
        'beta2 * state["exp_avg"] + (1 - beta2) * g',
        r"m uses beta1",
    ),
    ("decoupled_decay", "g = g + weight_decay * p", "p *= 1 - lr * weight_decay", r"weight_decay \* p to the gradient"),
]
