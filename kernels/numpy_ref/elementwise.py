"""Elementwise arithmetic that the engine runs on whole arrays: the sum and the product of two."""


def add(a, b):
    """out = a + b, broadcasting as the array module does. a, b: arrays (or numbers) -> an array of their dtype.

    The Add op calls it, and backward to sum the gradients of a tensor that was used twice (a residual stream's).
    The array module's own + is the whole specification; a backend's kernel may only be faster.
    """
    return a + b


def accumulate(total, g):
    """total += g in place; returns total. total, g: arrays of one shape and dtype.

    Backward sums the third and later gradients of a tensor used many times (a recurrent cell's weights, called once
    a step) into the buffer that the first sum made, which nothing else holds, instead of a new array for each.
    """
    total += g
    return total


def mul(a, b):
    """out = a * b, broadcasting as the array module does. a, b: arrays (or numbers) -> an array of their dtype.

    The Mul op calls it, forward and backward (dL/da = dL/dout * b). The array module's own * is the whole
    specification; a backend's kernel may only be faster.
    """
    return a * b
