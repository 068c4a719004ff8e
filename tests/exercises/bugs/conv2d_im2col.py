"""Planted bugs of exercise `conv2d_im2col` (see tests/test_exercises.py): (name, text of
solutions/conv2d_im2col.py, what replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    (
        "output_size_off_by_one",
        "return (size + 2 * padding - kernel) // stride + 1",
        "return (size + 2 * padding - kernel) // stride",
        r"\+ 1: the first window",
    ),
    (
        "window_off_by_one",
        "window = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]",
        "window = xp[:, :, i * stride + 1 : i * stride + kh + 1, j * stride : j * stride + kw]",
        r"im2col.*window at \(i, j\) starts at",
    ),
    (
        "col2im_assigns_on_overlaps",
        "xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] += window",
        "xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] = window",
        r"overlap.*add \(\+=\), do not assign",
    ),
    (
        "weight_gradient_transposed",
        "dw = (g @ ctx.cols.transpose(0, 2, 1)).sum(axis=0).reshape(w_shape)",
        "dw = (ctx.cols @ g.transpose(0, 2, 1)).sum(axis=0).reshape(w_shape)",
        r"gradient of weight.*\(C_out, C\*kh\*kw\), not its transpose",
    ),
    (
        "weight_gradient_not_summed_over_batch",
        "dw = (g @ ctx.cols.transpose(0, 2, 1)).sum(axis=0).reshape(w_shape)",
        "dw = (g @ ctx.cols.transpose(0, 2, 1)).reshape((-1, *w_shape[1:]))",
        r"sum .*over the batch",
    ),
]
