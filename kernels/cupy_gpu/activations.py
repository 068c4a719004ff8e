"""Elementwise activations and their derivatives (activations.cu): one thread per element.

Every kernel takes same-shaped arrays (x; or grad_y and x or y) and writes one output of their shape,
in a grid-stride loop, so one factory launches them all.
"""

from kernels import numpy_ref
from kernels.cupy_gpu.common import THREADS, blocks, contiguous, cupy, fits, launch


def _activation(name: str):
    """The kernel ``name`` of activations.cu: same-shaped arrays in (x, or grad_y and x or y), one out."""
    reference = getattr(numpy_ref, name)

    def kernel(*arrays):
        if not fits(*arrays) or any(a.shape != arrays[0].shape for a in arrays):
            return reference(*arrays)
        arrays = [contiguous(a) for a in arrays]
        out = cupy.empty_like(arrays[0])
        launch("activations", name, out.dtype, (blocks(out.size),), (THREADS,), *arrays, out, out.size)
        return out

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = reference.__doc__
    # Its own code object, named: a traceback through it (and tinynet's report of a failing kernel) says
    # "relu_forward", not the factory's "kernel".
    kernel.__code__ = kernel.__code__.replace(co_name=name)
    return kernel


relu_forward = _activation("relu_forward")
relu_backward = _activation("relu_backward")
sigmoid_forward = _activation("sigmoid_forward")
sigmoid_backward = _activation("sigmoid_backward")
tanh_forward = _activation("tanh_forward")
tanh_backward = _activation("tanh_backward")
gelu_forward = _activation("gelu_forward")
gelu_backward = _activation("gelu_backward")
silu_forward = _activation("silu_forward")
silu_backward = _activation("silu_backward")
