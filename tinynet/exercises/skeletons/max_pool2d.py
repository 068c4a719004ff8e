"""Exercise `max_pool2d` (lesson 08_cnn_images): max pooling forward and backward.

Max pooling slides a kernel x kernel window over each channel of x (N, C, H, W), moving by stride (no padding
here), and keeps the largest value of each window: out (N, C, OH, OW) with

    out[n, c, i, j] = max over a, e in 0..kernel-1 of x[n, c, i*stride + a, j*stride + e]
    OH = (H - kernel) // stride + 1 (the window never hangs over the edge), and the same for OW

Backward: out[n, c, i, j] is one of the inputs, unchanged, so dL/dout[n, c, i, j] goes to that one position of
x (where the max was: save it in forward) and nowhere else in the window. When stride < kernel, windows overlap,
and a position can be the max of several windows: it gets the sum of their gradients. (Ties do not matter here.)

NumPy inside is fine: x.detach().numpy() to get an array, tn.from_numpy(array) to make a Tensor (it keeps the
dtype: tn.tensor would make float64 float32). Write the TODOs, then: tinynet exercises check max_pool2d
"""

import numpy as np

import tinynet as tn


class MaxPool2d(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x: tn.Tensor, kernel_size: int, stride: int) -> tn.Tensor:
        """x (N, C, H, W) -> (N, C, OH, OW), the max of each window; keep (on ctx) where each max was."""
        # TODO: for each window position (i, j): the window x[:, :, i*s : i*s+k, j*s : j*s+k], its max, and where
        # the max is (e.g. argmax over the window flattened to (N, C, k*k)); save that, and x's shape, on ctx.
        raise NotImplementedError("MaxPool2d.forward: each window's max, and where it was")

    @staticmethod
    def backward(ctx, grad: tn.Tensor) -> tuple:
        """grad (N, C, OH, OW) -> (dL/dx of x's shape, None, None): each grad[n, c, i, j] goes to the position
        of its window's max; overlapping windows add up."""
        # TODO: a zero dL/dx; for each (i, j), add grad[:, :, i, j] at the saved position inside window (i, j).
        raise NotImplementedError("MaxPool2d.backward: route each gradient to where its window's max was")


# Given: the function a model would call (stride defaults to the kernel size, as in PyTorch).
def max_pool2d(x: tn.Tensor, kernel_size: int, stride: int | None = None) -> tn.Tensor:
    return MaxPool2d.apply(x, kernel_size, kernel_size if stride is None else stride)
