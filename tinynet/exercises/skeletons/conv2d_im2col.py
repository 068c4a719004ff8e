"""Exercise `conv2d_im2col` (lesson 08_cnn_images): conv2d forward and backward through im2col.

A convolution (PyTorch's: no kernel flip) of x (N, C, H, W) with weight w (C_out, C, kh, kw) and bias b (C_out,),
stride s and zero padding p (the same along H and W) gives out (N, C_out, OH, OW):

    out[n, o, i, j] = b[o] + sum over c, a, e of  w[o, c, a, e] * xp[n, c, i*s + a, j*s + e]

where xp is x with p zeros added on every side of H and W. im2col turns this into one matrix product: copy each
window xp[n, :, i*s : i*s + kh, j*s : j*s + kw], flattened, into a column of cols (N, C*kh*kw, OH*OW); then
out = W2 @ cols + b, with W2 = w reshaped to (C_out, C*kh*kw), reshaped to (N, C_out, OH, OW).

Backward: from grad = dL/dout (N, C_out, OH, OW), reshaped to g (N, C_out, OH*OW), derive (check the shapes!)
    dL/db    (C_out,)             - b is added at every n and position: what does that make its gradient?
    dL/dw    (C_out, C, kh, kw)   - out = W2 @ cols for each n: the gradient of a matrix product, summed over n
    dL/dcols (N, C*kh*kw, OH*OW)  - the other factor of the same product
    dL/dx    (N, C, H, W)         - col2im(dL/dcols): each column's gradient added back where its window came
                                    from. When stride < kernel, windows overlap: a pixel in several windows gets
                                    the sum of their gradients.

NumPy inside is fine: x.detach().numpy() to get an array, tn.from_numpy(array) to make a Tensor (it keeps the
dtype: tn.tensor would make float64 float32). Write the TODOs, then: tinynet exercises check conv2d_im2col
"""

import numpy as np

import tinynet as tn


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """How many positions a window of `kernel` takes along an axis of `size`, with `padding` zeros on both sides,
    moving by `stride` (the window never hangs over the padded edge). E.g. size 5, kernel 3, stride 2, padding 0: 2."""
    # TODO: one line. Where does the first window start, where can the last one start at most?
    raise NotImplementedError("output_size: the number of window positions along one axis")


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """x (N, C, H, W), a NumPy array -> cols (N, C*kh*kw, OH*OW): column i*OW + j is the window at (i, j),
    row c*kh*kw + a*kw + e of it holding xp[n, c, i*stride + a, j*stride + e] (torch's F.unfold layout)."""
    # TODO: pad with np.pad (only H and W), then for each window position (i, j) copy
    # xp[:, :, i*s : i*s+kh, j*s : j*s+kw] reshaped to (N, C*kh*kw) into cols[:, :, i*OW + j].
    raise NotImplementedError("im2col: pad, then copy each window into a column")


def col2im(cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """The reverse of im2col for gradients: cols (N, C*kh*kw, OH*OW) -> (N, C, H, W) (x_shape), each column added
    back into the window it came from (where windows overlap, the values add up), then the padding cut off."""
    # TODO: a zero array of the padded shape; for each (i, j) add column i*OW + j, reshaped to (N, C, kh, kw), into
    # its window; return the part inside the padding.
    raise NotImplementedError("col2im: add each column back into its window, then drop the padding")


class Conv2d(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x: tn.Tensor, weight: tn.Tensor, bias: tn.Tensor, stride: int, padding: int) -> tn.Tensor:
        """x (N, C, H, W), weight (C_out, C, kh, kw), bias (C_out,) -> (N, C_out, OH, OW)."""
        # TODO: cols = im2col(...), one matmul with the weight as (C_out, C*kh*kw), add the bias, reshape. Save
        # what backward needs (ctx.save_for_backward for tensors, ctx.something = ... for the rest).
        raise NotImplementedError("Conv2d.forward: im2col, one matmul, the bias, reshape")

    @staticmethod
    def backward(ctx, grad: tn.Tensor) -> tuple:
        """grad (N, C_out, OH, OW) -> (dL/dx, dL/dweight, dL/dbias, None, None): each gradient has its input's shape
        (None for stride and padding, which have none)."""
        # TODO: the four formulas of the module docstring.
        raise NotImplementedError("Conv2d.backward: dL/db, dL/dw, dL/dcols and col2im for dL/dx")


# Given: the function a model would call.
def conv2d(x: tn.Tensor, weight: tn.Tensor, bias: tn.Tensor, stride: int = 1, padding: int = 0) -> tn.Tensor:
    return Conv2d.apply(x, weight, bias, stride, padding)
