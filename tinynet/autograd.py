"""Reverse-mode automatic differentiation: Functions record a graph, backward() walks it.

Every differentiable op is a ``Function`` subclass with ``forward`` and ``backward`` side by side.
``Function.apply`` runs ``forward`` on the raw arrays and, when an input requires a gradient and grad
mode is on, links the output to a ``Node`` that remembers the op, its saved values and its inputs.
``backward`` visits those nodes in reverse topological order and applies the chain rule: each node
turns the gradient of its output into gradients of its inputs, which add up where a tensor is used
more than once.
"""

import abc
import contextlib
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import NoReturn

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.errors import (
    ArgumentError,
    BackendError,
    DTypeError,
    GraphError,
    IndexingError,
    KernelError,
    TinynetError,
)
from tinynet.tensor import IN_PLACE_CHANGES, Tensor


class _PerThread(threading.local):
    """What each thread has its own copy of, as in PyTorch: grad mode (on in a new thread), and the watchers of
    every op as it runs (tinynet.debug's trace and detect_anomaly, the ONNX exporter): objects with methods
    forward(function, inputs, output) and backward(output, grad_output, grad_inputs), output._node saying which
    Function made it from which inputs. Empty unless one is active, so ordinary runs pay one truth test per op."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.watchers: list = []
        self.record_origins = False
        # While tinynet.memory records which module runs each op: the stack of (module, path) now running, the
        # outermost (None, "") first; None otherwise (one test per op and per module call).
        self.module_path: list | None = None


_thread = _PerThread()


def watchers() -> list:
    """This thread's watchers (append one to watch the ops this thread runs; remove it when done)."""
    return _thread.watchers


def is_grad_enabled() -> bool:
    """Whether ops record the graph now, in this thread."""
    return _thread.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off inside a ``with`` block or a decorated function, or, called on its own
    (``tn.set_grad_enabled(False)``), from there on in this thread, as PyTorch's does."""

    def __init__(self, mode: bool) -> None:
        self.mode = mode
        if type(self) is set_grad_enabled:  # (not no_grad and the others: they act only inside their block)
            self.previous = _thread.grad_enabled
            _thread.grad_enabled = mode

    def __call__(self, function):
        if type(self) is set_grad_enabled:  # a decorator: the mode changes only while the function runs
            _thread.grad_enabled = self.previous
        return super().__call__(function)

    def __enter__(self) -> None:
        if type(self) is not set_grad_enabled:
            self.previous = _thread.grad_enabled
        _thread.grad_enabled = self.mode

    def __exit__(self, *exc) -> None:
        _thread.grad_enabled = self.previous

    def _recreate_cm(self):
        # A fresh object per call, so nested or recursive uses restore their own previous mode.
        return type(self)(self.mode)


@contextlib.contextmanager
def record_origins() -> Iterator[None]:
    """Inside, every recorded op remembers the file and line of the code that ran it (a learner's own Functions
    always do), so that ``tn.check_backward`` and graph errors can point at that line."""
    previous, _thread.record_origins = _thread.record_origins, True
    try:
        yield
    finally:
        _thread.record_origins = previous


class no_grad(set_grad_enabled):
    """Record nothing inside: for evaluation and for updating parameters by hand."""

    def __init__(self) -> None:
        super().__init__(False)

    def _recreate_cm(self):
        return type(self)()


class inference_mode(set_grad_enabled):
    """PyTorch's faster no_grad for inference; here the same as ``no_grad`` (``inference_mode(False)``: records)."""

    def __init__(self, mode: bool = True) -> None:
        super().__init__(not mode)

    def _recreate_cm(self):
        return type(self)(not self.mode)


class enable_grad(set_grad_enabled):
    """Record the graph again inside a ``no_grad`` region."""

    def __init__(self) -> None:
        super().__init__(True)

    def _recreate_cm(self):
        return type(self)()


def Variable(data: Tensor, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """PyTorch's old ``autograd.Variable`` wrapper, which tensors replaced: the tensor itself, with
    ``requires_grad`` set when asked (as ``Variable(x, requires_grad=True)`` did)."""
    return data.requires_grad_() if requires_grad else data


def unbroadcast(grad, shape: tuple) -> object:
    """Sum ``grad`` (shaped like a broadcast result) back down to ``shape``.

    Broadcasting copies an input along new leading axes and along axes of size 1, so the gradient
    of that input is the sum over those same axes. Every op that broadcasts uses this helper.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Context:
    """Scratch space a Function's forward fills for its backward (``save_for_backward`` or attributes)."""

    output_differentiable = True  # (see mark_non_differentiable)

    def save_for_backward(self, *values) -> None:
        self.saved = values

    @property
    def saved_tensors(self) -> tuple:
        """What ``save_for_backward`` kept (PyTorch's name)."""
        return self.saved

    def mark_non_differentiable(self, *outputs) -> None:
        """Say that these outputs get no gradient (indices, masks), as PyTorch's ctx does."""
        self.non_differentiable = {id(t) for t in outputs}


class Node:
    """One recorded op: which Function made the tensor, what it saved, and its inputs.

    ``ctx`` becomes None when backward frees the graph; walking through it again is an error.
    ``versions``: the inputs' version counters at the forward, then the output's (see ``_check_backward_possible``).
    """

    # module: see tinynet.memory; changes: IN_PLACE_CHANGES when recorded (see _check_backward_possible)
    __slots__ = ("function", "ctx", "inputs", "versions", "kwargs", "origin", "module", "changes")

    def __init__(
        self, function: type, ctx: Context, inputs: tuple, output_version: int = 0, kwargs: dict | None = None,
        origin: tuple[str, int] | None = None,
    ) -> None:  # fmt: skip
        self.function = function
        self.ctx = ctx
        self.inputs = inputs
        self.kwargs = kwargs or None  # the forward's keyword arguments: check_backward runs it again
        self.origin = origin  # (file, line) of the code outside tinynet that ran the op, when recorded (_origin)
        # Each in-place change count when the forward ran: backward checks nothing changed since.
        versions = []
        for a in inputs:
            if isinstance(a, Tensor):
                a._used = True
                versions.append(a._versions[0])
            else:
                versions.append(0)
        versions.append(output_version)
        self.versions = tuple(versions)
        self.changes = IN_PLACE_CHANGES[0]


class Function:
    """A differentiable op. Subclasses write ``forward(ctx, *args)`` and ``backward(ctx, grad)``.

    ``forward`` receives arrays where the caller passed Tensors, and returns an array.
    ``backward`` receives dL/d(output) and returns one gradient per positional argument of
    ``forward`` (None where no gradient is needed: ``ctx.needs_input_grad`` says which are).

    That is how tinynet's own ops (the Functions of the tinynet package) are written: on raw arrays, the engine's
    fast path. A Function written anywhere else - a learner's, as in PyTorch's tutorials - works as PyTorch's:
    its forward and backward receive and return Tensors, and run with grad mode off (see ``on_arrays``).
    """

    on_arrays = True  # set for each subclass below

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.on_arrays = cls.__module__.startswith("tinynet.")

    @staticmethod
    def forward(ctx: Context, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs) -> Tensor:
        """Run ``forward`` on the arrays inside ``args``; record a Node when a gradient will be needed."""
        ctx, needs, arrays = Context(), [], []
        for a in args:  # one plain loop: this runs for every op, and two generators took twice as long
            tensor = isinstance(a, Tensor)
            needs.append(tensor and a.requires_grad)
            arrays.append(a.array if tensor else a)
        ctx.needs_input_grad = tuple(needs)
        try:
            out = cls.forward(ctx, *arrays, **kwargs) if cls.on_arrays else _forward_on_tensors(cls, ctx, args, kwargs)
        except Exception as err:
            _raise_explained(cls, arrays, err)
        if isinstance(out, np.generic):  # NumPy reductions return scalars; tensors hold arrays
            out = np.asarray(out)
        state = _thread
        recording = state.grad_enabled and ctx.output_differentiable and any(ctx.needs_input_grad)
        result = Tensor(out, requires_grad=recording)
        viewed = _viewed_input(args, out)
        if viewed is not None:  # a view (a slice, a reshape) shares its base's version counter
            result._versions = viewed._versions
            result._base = viewed if viewed._base is None else viewed._base
        if result.requires_grad:
            # Where a learner's own Function ran is always kept; the engine's ops only inside record_origins():
            # finding the frame costs 8 % of a small model's step.
            origin = _origin() if not cls.on_arrays or state.record_origins else None
            result._node = Node(cls, ctx, args, result._version, kwargs, origin)
            if state.module_path is not None:  # tinynet.memory is recording: the path of the module running it
                result._node.module = state.module_path[-1][1]
        for watcher in state.watchers:
            watcher.forward(cls, args, result)
        return result


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _origin() -> tuple[str, int] | None:
    """Where the op now being recorded was called from: the innermost frame outside the tinynet package."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return None if frame is None else (frame.f_code.co_filename, frame.f_lineno)


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` depends on that requires grad, inputs before outputs, ``root`` last.

    Depth-first with an explicit stack (no recursion), so a chain of any length works.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        key = id(tensor)
        if key in visited:
            continue
        visited.add(key)
        stack.append((tensor, True))
        node = tensor._node
        if node is not None:
            for parent in node.inputs:
                if isinstance(parent, Tensor) and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def backward(root: Tensor, grad=None, retain_graph: bool = False, collect: dict | None = None) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``grad`` is dL/d(root); it may be left out only when root holds a single value (it is then 1).
    The graph is freed afterwards unless ``retain_graph`` is True. With ``collect`` (a dict keyed by the ids of
    some tensors), their gradients are put there instead, and no ``.grad`` changes (``autograd.grad``).
    """
    grads = {id(root): _seed_gradient(root, grad)}  # dL/d(tensor), by tensor, summed over its uses
    summed = set()  # ids of the arrays in grads that _sum made: nothing else holds them
    taken = {id(_buffer(grads[id(root)]))}  # gradient buffers already in a .grad (see _accumulate)
    order = topological_order(root)
    needed = None if collect is None else _leading_to(order, collect)
    for tensor in reversed(order):
        g = materialized(grads.pop(id(tensor), None))
        if g is None:
            continue
        summed.discard(id(g))
        node = tensor._node
        if collect is not None:
            if id(tensor) in collect:
                collect[id(tensor)] = g
        elif node is None or tensor._retains_grad:
            _accumulate(tensor, g, taken)
        if node is None or (needed is not None and id(tensor) not in needed):  # nothing before it to reach
            continue
        _check_backward_possible(tensor, node)
        input_grads = _input_gradients(node, g)  # the chain rule, one op: dL/d(inputs) from dL/d(output)
        if _thread.watchers:
            input_grads = tuple(map(materialized, input_grads))
        for watcher in _thread.watchers:
            watcher.backward(tensor, g, input_grads)
        for parent, parent_grad in zip(node.inputs, input_grads):
            if parent_grad is not None and isinstance(parent, Tensor) and parent.requires_grad:
                if parent_grad.shape != parent.shape:
                    _refuse_gradient_shape(node, parent, parent_grad)
                key = id(parent)
                grads[key] = _sum(grads[key], parent_grad, summed) if key in grads else parent_grad
        if not retain_graph:
            _free(node)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool | None = None) -> tuple:  # fmt: skip
    """d(outputs)/d(inputs), returned (one per input) instead of added into ``.grad``, as ``torch.autograd.grad``.

    ``outputs``: a tensor or a sequence of them (their gradients add up), ``grad_outputs`` the dL/d(output) of
    each (may be left out for single values). An input the outputs do not depend on is an error unless
    ``allow_unused`` (then its gradient is None).
    """
    if create_graph:
        raise TinynetError(
            "autograd.grad: create_graph=True (gradients of gradients) is not implemented in tinynet yet"
        )
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    grad_outputs = (
        [grad_outputs] * len(outputs) if grad_outputs is None or isinstance(grad_outputs, Tensor) else grad_outputs
    )
    freed = [t for output in outputs for t in topological_order(output) if t._node is not None and t._node.ctx is None]
    found: dict[int, object] = {}
    for k, (output, output_grad) in enumerate(zip(outputs, grad_outputs)):
        collect = dict.fromkeys(map(id, inputs))
        keep = bool(retain_graph) or k < len(outputs) - 1
        backward(output, output_grad, retain_graph=keep, collect=collect)
        for key, g in collect.items():
            if g is not None:
                found[key] = found[key] + g if key in found else g
    unused = [k for k, t in enumerate(inputs) if id(t) not in found]
    if unused and not allow_unused:
        if freed:  # an earlier backward freed part of the graph, which hides the inputs behind it: say that
            _check_backward_possible(freed[0], freed[0]._node)
        raise GraphError(
            f"autograd.grad: input {unused[0]} (shape {inputs[unused[0]].shape}) was not used to compute the outputs; "
            "pass allow_unused=True to get None for it"
        )
    return tuple(Tensor(found[id(t)].copy()) if id(t) in found else None for t in inputs)


# --- guard rails: the checks, error reports and the buffer reuse that the idea above calls in one line each ---


def _sum(a, b, summed: set[int]):
    """The gradients of a tensor used more than once (a residual stream's input, a recurrent cell's weights), added by
    the backend's kernels: the first two into a new array (numba's adds large ones on its threads, where NumPy's +
    runs on one), whose id goes in ``summed``; each later one into that array, in place (accumulate), as nothing
    else holds it. An LSTMCell called 20 times a step (benchmarks/model_steps.py's lstmcell_loop): its weights' 19
    sums each made a new (512, 128) array, 23 us in the step; in place, the step took 0.98x the time (2 threads, the
    AMD EPYC, 2026-12-07)."""
    if isinstance(a, DeferredSum) and a.joins(b):
        return a.add(b)
    a, b = materialized(a), materialized(b)
    table = backend.for_arrays(a, b)
    if id(a) in summed and a.dtype == b.dtype:
        return table.accumulate(a, b)
    summed.discard(id(a))  # (a is let go: its id may come back on another array)
    total = table.add(a, b)
    summed.add(id(total))
    return total


class DeferredSum(abc.ABC):
    """A gradient kept as its parts until backward takes it, then made in one go (``array``): what a layer called at
    every step of a loop adds to its weights' gradients at each call. The backward functions that return one say so;
    ``_sum`` joins the parts of one tensor's gradient, and backward makes the array when it takes the tensor's
    gradient, before any .grad, hook or watcher sees it (``materialized``)."""

    def __init__(self, part: tuple, shape: tuple, dtype) -> None:
        self.parts, self.shape, self.dtype = [part], shape, dtype

    def joins(self, other) -> bool:
        """Whether ``other`` is a gradient this one can take as more parts (same kind, same options)."""
        return type(other) is type(self)

    def add(self, other: "DeferredSum") -> "DeferredSum":
        self.parts += other.parts
        return self

    def stacked(self) -> tuple:
        """The parts' arrays, each kind concatenated along the first axis (a copy where there are several)."""
        xp = array_module(self.parts[0][0])
        return tuple(xp.concatenate(kind) if len(kind) > 1 else kind[0] for kind in zip(*self.parts))

    @abc.abstractmethod
    def array(self):
        """The gradient made from every part."""


class ProductSum(DeferredSum):
    """A weight's gradient Σᵢ leftᵢᵀ rightᵢ (leftᵢ: (nᵢ, M), rightᵢ: (nᵢ, K) -> (M, K)), made by one product over all
    the factors' rows.

    A recurrent cell called at every step of a loop (nn.LSTMCell in a decoder) adds to its weights' gradients at each
    call a product summing over a batch's rows; made one by one, each is a short product and an add of the whole
    (M, K) array. ``CellStep.backward`` returns its weights' gradients so. benchmarks/model_steps.py's lstmcell_loop
    (an LSTMCell of 64 -> 128 over 20 steps of 32) took 0.91x the time, grucell_loop 0.86x (2 threads, alternating,
    the AMD EPYC, 2026-12-07).
    """

    def __init__(self, left, right) -> None:
        super().__init__((left, right), (left.shape[1], right.shape[1]), left.dtype)

    def array(self):
        left, right = self.stacked()
        return backend.for_arrays(left, right).matmul(left.T, right)


class RowSum(DeferredSum):
    """An embedding table's gradient (rows, D): each looked-up row's gradient by its index, scattered into one table
    over every call's indices (embedding_backward). ``padding_idx``: a row that gets no gradient (None: none).

    An embedding called at every step of a loop (a decoder's, a char-RNN's) made a (rows, D) table of zeros at each
    call, scattered a batch's rows into it and added the whole table to the others: benchmarks/model_steps.py's
    lstmcell_loop, (1000, 64) over 20 steps of 32, spent 0.93 ms of its 13 ms step so (the Intel Xeon, 2026-12-08).
    """

    def __init__(self, grad, indices, rows: int, padding_idx: int | None) -> None:
        dim = grad.shape[-1]
        super().__init__((grad.reshape(-1, dim), indices.reshape(-1)), (rows, dim), grad.dtype)
        self.rows, self.padding_idx = rows, padding_idx

    def joins(self, other) -> bool:
        return type(other) is RowSum and (other.rows, other.padding_idx) == (self.rows, self.padding_idx)

    def array(self):
        grad, indices = self.stacked()
        table = backend.for_arrays(grad).embedding_backward(grad, indices, self.rows)
        if self.padding_idx is not None:
            table[self.padding_idx] = 0  # the padding row stays fixed
        return table


def materialized(gradient):
    """A gradient as an array: a DeferredSum made, anything else as it is."""
    return gradient.array() if isinstance(gradient, DeferredSum) else gradient


def _leading_to(order: list[Tensor], targets: dict) -> set[int]:
    """The ids of the tensors in ``order`` (inputs first) from which a tensor in ``targets`` can be reached by
    going back through the graph: only those need backward (``autograd.grad`` asks for a few tensors)."""
    leading = set()
    for tensor in order:
        inputs = tensor._node.inputs if tensor._node is not None else ()
        if any(id(parent) in targets or id(parent) in leading for parent in inputs if isinstance(parent, Tensor)):
            leading.add(id(tensor))
    return leading


def _free(node: Node) -> None:
    """Let go of what ``node`` holds once backward went through it: what its forward saved, and its inputs, as
    PyTorch does, so that a loss kept after backward (in a list of losses, say) keeps no activations alive. The
    graph's ops stay linked, for tn.graph to draw: an input becomes the Node that made it (None for data), and
    parameters, which the model holds anyway, stay. Going through the node again is an error (see
    _check_backward_possible)."""
    node.ctx, node.versions, node.kwargs, node.origin = None, (), None, None
    node.inputs = tuple(
        [
            (a if a._node is None and a.requires_grad else a._node) if isinstance(a, Tensor) else None
            for a in node.inputs
        ]
    )


def _seed_gradient(root: Tensor, grad):
    """dL/d(root) to start backward from: ``grad``'s array, or 1 for a single value. Refuses a root without a
    graph, a missing grad for a root of many values, and a grad of another shape."""
    if not root.requires_grad:
        raise GraphError(
            f"backward: this tensor (shape {root.shape}) does not require grad and has no graph; "
            "create its inputs with requires_grad=True (or call .requires_grad_())"
        )
    if grad is None:
        if root.array.size != 1:
            raise GraphError(
                f"backward: grad can be left out only for a single-value output, but this one has "
                f"shape {root.shape}; reduce it first (e.g. loss.sum() or .mean()) or pass "
                "grad= a tensor of that shape"
            )
        return array_module(root.array).ones_like(root.array)
    grad = grad.array if isinstance(grad, Tensor) else grad
    if grad.shape != root.shape:
        raise GraphError(f"backward: grad has shape {grad.shape} but the output has shape {root.shape}")
    return grad


def _input_gradients(node: Node, grad) -> tuple:
    """``node.function.backward`` on dL/d(output): one gradient (or None) per input, always as a tuple. A kernel
    that fails in there is reported as a kernel bug (see _raise_explained); other errors pass unchanged."""
    try:
        if node.function.on_arrays:
            input_grads = node.function.backward(node.ctx, grad)
        else:
            input_grads = _backward_on_tensors(node.function, node.ctx, grad)
    except Exception as err:
        inputs = [a.array if isinstance(a, Tensor) else a for a in node.inputs]
        _raise_explained(node.function, [grad, *inputs], err, inputs_checked=False)
    return input_grads if isinstance(input_grads, tuple) else (input_grads,)


def _forward_on_tensors(function: type, ctx: Context, args: tuple, kwargs: dict):
    """A PyTorch-style Function's forward: Tensors in, a Tensor out (its array kept), with grad mode off."""
    with no_grad():
        out = function.forward(ctx, *args, **kwargs)
    if not isinstance(out, Tensor):
        raise TinynetError(
            f"{function.__name__}.forward returned {type(out).__name__}: a custom Function returns one Tensor "
            "(several outputs are not implemented in tinynet yet)"
        )
    ctx.output_differentiable = id(out) not in getattr(ctx, "non_differentiable", ())
    return out.array


def _backward_on_tensors(function: type, ctx: Context, grad) -> tuple:
    """A PyTorch-style Function's backward: dL/d(output) as a Tensor in, Tensors (or None) out, as arrays."""
    with no_grad():
        grads = function.backward(ctx, Tensor(grad))
    grads = grads if isinstance(grads, tuple) else (grads,)
    return tuple(g.array if isinstance(g, Tensor) else g for g in grads)


def _refuse_gradient_shape(node: Node, parent: Tensor, parent_grad) -> NoReturn:
    """A backward returned a gradient shaped unlike its input: a bug in that Function."""
    raise GraphError(
        f"{node.function.__name__}.backward returned a gradient of shape "
        f"{parent_grad.shape} for an input of shape {parent.shape}"
    )


def _buffer(array):
    """The array that owns ``array``'s memory: itself, or the base that a view (a reshape, a slice) looks into."""
    while array.base is not None and hasattr(array.base, "base"):
        array = array.base
    return array


def _viewed_input(args: tuple, out) -> Tensor | None:
    """The input whose storage the array ``out`` looks into (it is that input's array, or a view of its buffer), or
    None for a fresh array, as most ops return: then one attribute test and one identity test per input."""
    if getattr(out, "base", None) is None:
        for a in args:
            if isinstance(a, Tensor) and a.array is out:
                return a
        return None
    buffer = _buffer(out)
    for a in args:
        if isinstance(a, Tensor) and _buffer(a.array) is buffer:
            return a
    return None


def _check_backward_possible(output: Tensor, node: Node) -> None:
    """Raise GraphError if ``node``'s saved values are gone (freed by an earlier backward) or stale: an input or
    the output whose memory the forward saved (Mul saves its inputs, Exp its output) was changed in place since,
    through it or through a view of it; the backward would compute with the new values. A change to memory the
    op did not save (Sum's input, Linear's output) is harmless, as in PyTorch."""
    if node.ctx is None:
        raise GraphError(
            f"backward: the graph through {node.function.__name__} was freed by an earlier "
            "backward(); pass retain_graph=True to the first backward to go through it twice"
        )
    if node.changes == IN_PLACE_CHANGES[0]:  # nothing anywhere changed in place since this op ran
        return
    changed = [
        (f"input {i} (shape {a.shape})", a, before)
        for i, (a, before) in enumerate(zip(node.inputs, node.versions))
        if isinstance(a, Tensor) and a._version != before
    ]
    if output._version != node.versions[-1]:
        changed.append((f"output (shape {output.shape})", output, node.versions[-1]))
    if not changed:
        return
    saved = _saved_buffers(vars(node.ctx).values())
    for what, tensor, before in changed:
        if id(_buffer(tensor.array)) in saved:
            raise GraphError(
                f"backward: {node.function.__name__} needs the values its {what} had in the forward pass, but it "
                f"was changed in place since (version {before} -> {tensor._version}): by optimizer.step(), an "
                "in-place op such as mul_() or x[i] = ... (on it or on a view of it: a slice, .detach(), .data), "
                "or nn.init. Call backward() before changing it, or change a copy (.clone()) instead"
            )


def _saved_buffers(values) -> set[int]:
    """The ids of the buffers under every array among ``values`` (a Context's attributes: arrays, Tensors, and
    tuples or lists of them, nested), whose memory a backward may read."""
    found, stack = set(), list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Tensor):
            value = value.array
        if isinstance(value, (tuple, list)):
            stack.extend(value)
        elif hasattr(value, "base") and hasattr(value, "shape"):
            found.add(id(_buffer(value)))
    return found


def _accumulate(tensor: Tensor, g, taken: set[int]) -> None:
    """Add ``g`` into ``tensor.grad``. A .grad is changed in place by clipping and zeroing, so it must share
    memory with no other: ``g`` is taken as it is only when it may be written and the buffer under it (its
    base, for a reshaped view) is in no .grad yet (``taken``: their buffers, and the caller's grad);
    anything else (a broadcast, a second view of one buffer) is copied. Copying them all cost 1.3 ms of a
    4 ms layer-norm step on (8192, 256): gradients are mostly fresh arrays that nothing else holds."""
    if isinstance(g, np.generic):
        g = np.asarray(g)
    # CuPy's flags do not say whether an array may be written (a broadcast view may not): copy those always.
    buffer = id(_buffer(g))
    if g.dtype != tensor.dtype or not getattr(g.flags, "writeable", False) or buffer in taken:
        g = g.astype(tensor.dtype, copy=True)
        buffer = id(g)
    taken.add(buffer)
    if tensor.grad is None:
        tensor.grad = Tensor(g)
    else:
        tensor.grad.array = tensor.grad.array + g
    hooks = _post_accumulate_hooks.get(id(tensor))
    if hooks is not None:
        for hook in list(hooks[1].values()):
            hook(tensor)


# Hooks that run right after a backward wrote a leaf's .grad (register_post_accumulate_grad_hook), by the leaf's
# id: (weak reference to the leaf, {handle id: hook}). Kept here because Tensor has __slots__ and almost no tensor
# has one; the weak reference's callback drops the entry with the tensor, so an id reused later finds none.
_post_accumulate_hooks: dict[int, tuple[weakref.ref, dict[int, Callable]]] = {}


class PostAccumulateGradHookHandle:
    """What ``register_post_accumulate_grad_hook`` returns: ``handle.remove()`` takes the hook away again."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self.hooks, self.id = hooks, PostAccumulateGradHookHandle._next_id
        PostAccumulateGradHookHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)


def register_post_accumulate_grad_hook(tensor: Tensor, hook: Callable[[Tensor], None]) -> PostAccumulateGradHookHandle:
    """PyTorch's ``Tensor.register_post_accumulate_grad_hook``: ``hook(tensor)`` runs during each backward right
    after ``tensor.grad`` got this backward's gradient (a leaf that requires grad only). Data-parallel training
    starts sending a gradient as soon as it is ready with it; an optimizer can step a parameter there."""
    if tensor._node is not None:
        raise GraphError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not tensor.requires_grad:
        raise GraphError("cannot register a hook on a tensor that doesn't require gradient")
    key = id(tensor)
    entry = _post_accumulate_hooks.get(key)
    if entry is None or entry[0]() is not tensor:
        entry = (weakref.ref(tensor, lambda _, key=key: _post_accumulate_hooks.pop(key, None)), {})
        _post_accumulate_hooks[key] = entry
    handle = PostAccumulateGradHookHandle(entry[1])
    entry[1][handle.id] = hook
    return handle


def _raise_explained(function: type, arrays: list, err: Exception, inputs_checked: bool = True) -> NoReturn:
    """Raise ``err``, which ``function``'s forward (or, ``inputs_checked`` False, its backward) raised, as an
    error that says whose fault it is:

    - a TinynetError: the op's own check, already clear; raised as it is; so is any error of a Function written
      outside tinynet (a learner's): the traceback shows their own line;
    - arrays of two libraries (NumPy and CuPy), or of another than the active backend's: a BackendError;
    - raised inside a kernel: the op had accepted its inputs, so the kernel is at fault. A KernelError names
      the kernel and its backend, chained to the kernel's error so that the traceback shows the failing line;
    - raised by NumPy in the forward's own code: what no check foresaw about the caller's inputs, said as a
      DTypeError, ArgumentError or IndexingError naming the op and its inputs (the NumPy traceback is noise
      to the caller);
    - anything else: raised as it is.
    """
    if isinstance(err, TinynetError) or not function.on_arrays:  # (a learner's Function: their own line shows)
        raise err
    if isinstance(err, TypeError):  # how NumPy and CuPy refuse each other's arrays
        _check_one_array_library(function, arrays)
    name = _op_name(function) + ("" if inputs_checked else " (backward)")
    kernel = _failed_kernel(err)
    if kernel is not None:
        kernel_name, backend_name = kernel
        active = backend.for_arrays(*(a for a in arrays if hasattr(a, "shape"))).name
        fallback = "" if backend_name == active else f" (the reference, which backend {active} fell back on)"
        raise KernelError(
            f"{name}: kernel {kernel_name} of backend {backend_name}{fallback} failed on inputs of shapes "
            f"{_shapes(arrays)} and dtypes {_dtypes(arrays)}: {type(err).__name__}: {err}. The inputs passed "
            f"{_op_name(function)}'s checks, so this is a bug in the kernel, not in the caller's inputs; the "
            "traceback above shows the kernel's line"
        ) from err
    if not inputs_checked:
        raise err
    if isinstance(err, TypeError):  # dtypes an op cannot take
        raise DTypeError(f"{name}: cannot compute on inputs of dtype {_dtypes(arrays)} ({err})") from None
    if isinstance(err, ValueError):
        raise ArgumentError(f"{name}: {err} (inputs of shapes {_shapes(arrays)})") from None
    if isinstance(err, IndexError):
        raise IndexingError(f"{name}: {err} (inputs of shapes {_shapes(arrays)})") from None
    raise err


def _failed_kernel(err: Exception) -> tuple[str, str] | None:
    """(kernel, backend) when ``err`` was raised inside a backend's kernel: the outermost frame of its traceback
    in a backend package of ``kernels/`` is the kernel the op called."""
    tb = err.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        for backend_name, package in backend.MODULES.items():
            if module == package or module.startswith(package + "."):
                return tb.tb_frame.f_code.co_name, backend_name
        tb = tb.tb_next
    return None


def _op_name(function: type) -> str:
    return function.__name__.lower()


def _dtypes(arrays) -> str:
    return ", ".join(str(a.dtype) for a in arrays if hasattr(a, "dtype"))


def _shapes(arrays) -> str:
    return ", ".join(str(tuple(a.shape)) for a in arrays if hasattr(a, "shape"))


def _check_one_array_library(function: type, arrays: list) -> None:
    """Raise BackendError if ``arrays`` live on two devices (NumPy arrays on the CPU, CuPy's on the GPU): an op
    runs on its inputs' device, as in PyTorch. Runs only after an op failed, so the ops that work pay nothing."""
    arrays = [a for a in arrays if hasattr(a, "shape") and hasattr(a, "dtype")]  # NumPy's, CuPy's or the like
    if len({type(a).__module__.split(".")[0] for a in arrays}) > 1:
        raise BackendError(backend.device_mix_message(function.__name__.lower(), arrays))
