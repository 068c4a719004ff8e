"""Planted bugs of exercise `sgd_momentum` (see tests/test_exercises.py): (name, text of the solution, what replaces
it, a regular expression the failure's message or hint must match)."""

BUGS = [
    ("decay_wrong_sign", "d = d + weight_decay * p", "d = d - weight_decay * p", r"weight_decay \* p.*you subtract"),
    (
        "buffer_not_kept",
        'if "momentum_buffer" not in state:',
        "if True:",
        r"buffer must be kept from step to step",
    ),
    ("nesterov_ignored", "d = d + momentum * buf", "d = buf", r"with nesterov, step along d \+ momentum \* buf"),
    ("ascent", "p -= lr * d", "p += lr * d", r"against the gradient"),
    ("not_in_place", "p -= lr * d", "p = p - lr * d", r"did not change.*in place"),
    (
        "ema_buffer",
        'state["momentum_buffer"] = momentum * state["momentum_buffer"] + d',
        'state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - momentum) * d',
        r"no \(1 - momentum\) factor",
    ),
]
