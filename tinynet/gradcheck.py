"""Gradient checking: compare autograd's gradients with finite differences, in float64.

For an output y = fn(*inputs) we check a random projection L = sum(r * y) (r fixed, random): its
gradient involves every output element, so one scalar check covers the whole Jacobian with high
probability. The numeric gradient of each input element is the central difference
(L(x + eps) - L(x - eps)) / (2 eps), accurate to O(eps^2).
"""

from collections.abc import Callable, Sequence

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import no_grad
from tinynet.errors import ArgumentError, ArgumentTypeError, GradcheckError
from tinynet.tensor import Tensor, float64, to_host


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check fn's analytic gradients against central differences for every input that requires grad.

    Floating inputs are checked in float64: float32 ones are copied to float64 first; float64 ones
    are used as they are (perturbed in place and restored), so a model whose parameters were made
    float64 (``model.double()``) can pass its parameters as inputs:
    ``gradcheck(lambda x, *params: model(x), [x, *model.parameters()])``.

    Returns True, or raises GradcheckError naming the input, the worst element's index, and the
    analytic and numeric values there. Elements pass when |analytic - numeric| <= atol + rtol |numeric|.
    """
    inputs = [_as_float64(x) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ArgumentError("gradcheck: no input requires grad; create them with requires_grad=True")

    output = fn(*inputs)
    if not isinstance(output, Tensor):
        raise ArgumentTypeError(f"gradcheck: fn must return a Tensor, got {type(output).__name__}")
    projection = np.random.default_rng(seed).standard_normal(output.shape)
    projection = array_module(output.array).asarray(projection)

    def projected(out: Tensor) -> float:
        return float((out.array.astype(np.float64) * projection).sum())

    saved_grads = [inputs[i].grad for i in checked]
    for i in checked:
        inputs[i].grad = None
    (output * Tensor(projection.astype(output.dtype))).sum().backward()
    analytic = {i: _grad_array(inputs[i]) for i in checked}
    for i, grad in zip(checked, saved_grads):
        inputs[i].grad = grad

    with no_grad():
        for i in checked:
            x = inputs[i]
            # Contiguous, so that the flat view below aliases it (ascontiguousarray makes 0-d 1-d: undo that).
            x.array = array_module(x.array).ascontiguousarray(x.array).reshape(x.shape)
            numeric = np.zeros(x.shape)
            flat = x.array.reshape(-1)  # a view: writing into it perturbs x in place
            for j in range(flat.size):
                original = flat[j].item()
                flat[j] = original + eps
                plus = projected(fn(*inputs))
                flat[j] = original - eps
                minus = projected(fn(*inputs))
                flat[j] = original
                numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
            _compare(i, to_host(analytic[i]), numeric, atol, rtol)
    return True


def _as_float64(x):
    if isinstance(x, Tensor) and x.dtype.kind == "f" and x.dtype != float64:
        return Tensor(x.array.astype(np.float64), requires_grad=x.requires_grad)
    return x


def _grad_array(x: Tensor):
    if x.grad is None:  # the output does not depend on x: its gradient is zero
        return array_module(x.array).zeros(x.shape)
    return x.grad.array


def _compare(index: int, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> None:
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if excess.size == 0 or excess.max() <= 0:
        return
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    raise GradcheckError(
        f"gradcheck: input {index} (shape {analytic.shape}): at index {tuple(int(k) for k in worst)} "
        f"the analytic gradient is {analytic[worst]:.8g} but the numeric one is {numeric[worst]:.8g} "
        f"(tolerance atol={atol} + rtol={rtol} * |numeric|)"
    )
