"""The geometry of sliding-window ops (convolution, pooling): how many windows fit, written once.

Along one axis a window of ``kernel`` taps, ``dilation`` apart, slides ``stride`` at a time over the
input padded by ``padding`` on both sides. Every backend and ``tinynet.functions`` take output sizes
from here; pure Python on ints, so it runs the same whatever array library holds the data.
"""


def output_size(size, kernel, stride, padding, dilation=None) -> tuple[int, ...]:
    """How many window positions fit along each axis: (size + 2p - d(k - 1) - 1) // s + 1.

    size, kernel, stride, padding, dilation: one int per spatial axis (dilation None: 1 everywhere,
    as for pooling). A result below 1 means the input is too small; callers that take user input check it.
    """
    dilation = dilation or (1,) * len(size)
    geometry = zip(size, kernel, stride, padding, dilation)
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in geometry)


def transposed_output_size(size, kernel, stride, padding, output_padding, dilation) -> tuple[int, ...]:
    """The output size of a transposed convolution: (size - 1) s - 2p + d(k - 1) + output_padding + 1.

    It inverts ``output_size``: a convolution with the same geometry maps this size back to ``size``
    (output_padding picks among the sizes that a stride above 1 maps to the same one).
    """
    geometry = zip(size, kernel, stride, padding, output_padding, dilation)
    return tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, k, s, p, o, d in geometry)
