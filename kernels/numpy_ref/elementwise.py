"""Elementwise arithmetic that the engine runs on whole arrays: the sum and the product of two."""


def add(a, b):
    """out = a + b, broadcasting as the array module does. a, b: arrays (or numbers) -> an array of their dtype.

    The Add op calls it, and backward to sum the gradients of a tensor that was used twice (a residual stream's).
    The array module's own + is the whole specification; a backend's kernel may only be faster.
    """
    return a + b


def mul(a, b):
    """out = a * b, broadcasting as the array module does. a, b: arrays (or numbers) -> an array of their dtype.

    The Mul op calls it, forward and backward (dL/da = dL/dout * b). The array module's own * is the whole
    specification; a backend's kernel may only be faster.
    """
    return a * b
