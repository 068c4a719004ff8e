"""Planted bugs of exercise `gan_step` (see tests/test_exercises.py): (name, text of solutions/gan_step.py, what
replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    ("no_detach", "D(fake.detach())", "D(fake)", r"detach"),
    (
        "saturating_generator_loss",
        "g_loss = F.binary_cross_entropy_with_logits(logits, tn.ones_like(logits))",
        "g_loss = -F.binary_cross_entropy_with_logits(logits, tn.zeros_like(logits))",
        r"saturating",
    ),
    ("no_zero_grad_of_D", "    opt_D.zero_grad()\n", "", r"zero_grad"),
    ("no_zero_grad_of_G", "    opt_G.zero_grad()\n", "", r"zero_grad"),
]
