"""Which op of a model has the wrong backward: ``tn.check_backward(loss)``, after the forward pass, before backward.

gradcheck tests a whole function at once; when it fails, the model may have hundreds of ops. check_backward takes
the graph autograd recorded for ``loss`` and checks each op on its own, at the values its forward saw, in float64:
the gradient its backward gives for a random projection r of its output, against finite differences of its forward
(r . f(x + h e_i) - r . f(x - h e_i)) / 2h, for up to ``samples`` elements of each input that needs a gradient. An
element passes when the backward's value matches the central difference or either one-sided one (at a kink, ReLU's
at 0 say, a backward may take either side). It works for the engine's ops and for a learner's own
``autograd.Function`` subclasses, which also say where they were called (``origin``; the engine's ops say so inside
``tn.autograd.record_origins()``).

    report = tn.check_backward(loss)
    print(report)          # the first op whose backward is wrong: its name, file:line, input, index, values
    assert report.ok
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import autograd, random
from tinynet.autograd import Context, Node, topological_order
from tinynet.errors import GraphError
from tinynet.tensor import Tensor, float64, to_host


@dataclass
class OpCheck:
    """One op's verdict. On a wrong backward: which input, the worst index, the finite-difference value
    (``expected``) and the backward's (``got``); ``skipped`` says why an op could not be checked."""

    name: str
    origin: tuple[str, int] | None
    ok: bool
    input: int | None = None
    input_shape: tuple | None = None
    index: tuple | None = None
    expected: float | None = None
    got: float | None = None
    skipped: str = ""

    def where(self) -> str:
        if self.origin is None:
            return "(run the forward inside tn.autograd.record_origins() to see the line)"
        file, line = self.origin
        return f"{Path(file).name}:{line}"

    def __str__(self) -> str:
        if self.skipped:
            return f"{self.name} at {self.where()}: not checked ({self.skipped})"
        if self.ok:
            return f"{self.name} at {self.where()}: backward agrees with finite differences"
        return (
            f"{self.name} at {self.where()}: backward is wrong for input {self.input} (shape {self.input_shape}): at "
            f"index {self.index} its gradient is {self.got:.6g}, finite differences of its forward give "
            f"{self.expected:.6g}"
        )


@dataclass
class BackwardReport:
    """``ok``: every checked op's backward agrees; ``checks``: each op's verdict, inputs first; ``first_wrong``."""

    checks: list[OpCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def first_wrong(self) -> OpCheck | None:
        return next((c for c in self.checks if not c.ok), None)

    def __str__(self) -> str:
        checked = [c for c in self.checks if not c.skipped]
        wrong = self.first_wrong
        if wrong is None:
            head = f"check_backward: the backward of all {len(checked)} ops checked agrees with finite differences"
        else:
            agree = sum(c.ok for c in checked)
            head = f"check_backward: the first op with a wrong backward is {wrong} ({agree} of {len(checked)} agree)"
        return "\n".join([head, *(f"  {c}" for c in self.checks if c.skipped and c is not wrong)])


def check_backward(loss: Tensor, samples: int = 16, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                   seed: int = 0) -> BackwardReport:  # fmt: skip
    """Check the backward of every op in ``loss``'s graph on its own (see the module's docstring). Call it after
    the forward pass and before ``loss.backward()`` frees the graph."""
    if loss._node is None:
        raise GraphError("check_backward: this tensor has no graph; compute it from tensors that require grad")
    rng = np.random.default_rng(seed)
    report = BackwardReport()
    for tensor in topological_order(loss):
        node = tensor._node
        if node is None:
            continue
        if node.ctx is None:
            raise GraphError("check_backward: the graph was freed by backward(); call check_backward before it")
        report.checks.append(_check_op(tensor, node, rng, samples, eps, atol, rtol))
    return report


def _check_op(output: Tensor, node: Node, rng, samples: int, eps: float, atol: float, rtol: float) -> OpCheck:
    name, origin = node.function.__name__, node.origin
    changed = [a for a, v in zip(node.inputs, node.versions) if isinstance(a, Tensor) and a._version != v]
    if changed:
        return OpCheck(name, origin, True, skipped="an input was changed in place after the forward")
    wanted = [i for i, a in enumerate(node.inputs) if isinstance(a, Tensor) and a.requires_grad and _floating(a)]
    values = [_float64(a) if isinstance(a, Tensor) and _floating(a) else a for a in node.inputs]
    projection = rng.standard_normal(output.shape)
    try:
        analytic = _backward(node, values, projection)
    except Exception as err:  # a backward that cannot even run at float64 is reported, not hidden
        return OpCheck(name, origin, False, skipped=f"its backward raised {type(err).__name__}: {err}")
    for i in wanted:
        grad = analytic[i] if i < len(analytic) else None
        if grad is None:
            return OpCheck(name, origin, False, i, tuple(values[i].shape), skipped="its backward gave no gradient")
        grad = np.asarray(to_host(grad), dtype=np.float64)
        if grad.shape != tuple(values[i].shape):
            return OpCheck(name, origin, False, i, tuple(values[i].shape),
                           skipped=f"its backward gave a gradient of shape {grad.shape}")  # fmt: skip
        verdict = _compare_input(node, values, projection, i, grad, rng, samples, eps, atol, rtol)
        if verdict is not None:
            index, expected, got = verdict
            return OpCheck(name, origin, False, i, tuple(values[i].shape), index, expected, got)
    return OpCheck(name, origin, True)


def _compare_input(node, values, projection, i, grad, rng, samples, eps, atol, rtol):
    """None if the backward's gradient of input i matches finite differences at the sampled elements, else
    (worst index, finite-difference value, backward's value)."""
    x = values[i]
    flat = x.array.reshape(-1)
    count = flat.size
    picks = np.arange(count) if count <= samples else rng.choice(count, samples, replace=False)
    base = _projected(node, values, projection)
    worst = None
    for k in picks:
        saved = flat[k].item()
        flat[k] = saved + eps
        up = _projected(node, values, projection)
        flat[k] = saved - eps
        down = _projected(node, values, projection)
        flat[k] = saved
        got = grad.reshape(-1)[k]
        estimates = ((up - down) / (2 * eps), (up - base) / eps, (base - down) / eps)
        if any(abs(got - e) <= atol + rtol * abs(e) for e in estimates):
            continue
        error = abs(got - estimates[0])
        if worst is None or error > worst[0]:
            worst = (error, tuple(int(j) for j in np.unravel_index(k, x.shape)), estimates[0], got)
    return None if worst is None else worst[1:]


def _projected(node: Node, values: list, projection) -> float:
    """r . forward(values), with the random draws the forward makes (dropout's) the same at every call."""
    with random.fork_rng(), autograd.no_grad():
        out = _forward(node, values, Context())
    return float((np.asarray(to_host(out), dtype=np.float64) * projection).sum())


def _forward(node: Node, values: list, ctx: Context):
    ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in node.inputs)
    kwargs = node.kwargs or {}
    if node.function.on_arrays:
        return node.function.forward(ctx, *[v.array if isinstance(v, Tensor) else v for v in values], **kwargs)
    return autograd._forward_on_tensors(node.function, ctx, tuple(values), kwargs)


def _backward(node: Node, values: list, projection) -> tuple:
    """The op's backward of dL/d(output) = projection, from a forward run at ``values``."""
    ctx = Context()
    with random.fork_rng(), autograd.no_grad():
        out = _forward(node, values, ctx)
    grad = array_module(out).asarray(projection.astype(np.asarray(to_host(out)).dtype))
    if node.function.on_arrays:
        grads = node.function.backward(ctx, grad)
    else:
        grads = autograd._backward_on_tensors(node.function, ctx, grad)
    return tuple(map(autograd.materialized, grads if isinstance(grads, tuple) else (grads,)))


def _floating(t: Tensor) -> bool:
    return t.dtype.kind == "f"


def _float64(t: Tensor) -> Tensor:
    """A float64 copy of ``t``'s values, with its requires_grad (a learner's forward may look at it)."""
    copy = Tensor(t.array.astype(float64, copy=True))
    copy.requires_grad = t.requires_grad
    return copy
