"""Activation checkpointing, as ``torch.utils.checkpoint``: trade compute for memory.

    from tinynet.utils.checkpoint import checkpoint
    h = checkpoint(block, h, use_reentrant=False)   # block's activations are dropped, recomputed in backward

A plain forward keeps what every op saved for its backward (the activations) until backward runs: for a deep
model that is most of a training step's memory. ``checkpoint(fn, *args)`` runs ``fn`` without recording (as under
``no_grad``) and keeps only its inputs; when backward reaches ``fn``'s output, it runs ``fn`` again on those inputs
with recording on (the same dropout masks: the random state is put back) and backpropagates through that small
graph. The gradients are those of the plain run; the price is a second forward of ``fn``. The recomputation runs
with the random state and the autocast state (tinynet.amp) of the forward.

How it sits on tinynet's autograd: the output gets one Node (op ``Checkpoint``) whose inputs are ``fn``'s tensor
arguments and every tensor requiring grad that ``fn`` used from outside (its parameters, found by watching the ops
``fn`` runs); its backward recomputes ``fn`` and returns the gradients of all of them, which the engine then adds
into ``.grad`` as for any op, or returns from ``autograd.grad``.
"""

from __future__ import annotations

import contextlib
import warnings
import weakref
from collections.abc import Callable

from tinynet import amp_policy, autograd
from tinynet.autograd import Context, Function, Node, _thread, enable_grad, is_grad_enabled, no_grad
from tinynet.errors import TinynetError
from tinynet.memory import module_path
from tinynet.missing import module_getattr
from tinynet.nn.module import Module
from tinynet.random import fork_rng, get_rng_state, set_rng_state
from tinynet.tensor import Tensor

__all__ = ["CheckpointError", "checkpoint", "checkpoint_sequential", "noop_context_fn"]


class CheckpointError(TinynetError, RuntimeError):
    """The recomputation differed from the forward (another number of outputs, other shapes or dtypes), as
    PyTorch's ``torch.utils.checkpoint.CheckpointError``."""


def noop_context_fn() -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
    """The default ``context_fn``: no context around the forward nor around the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


_DETERMINISM_CHECKS = ("default", "none")


def checkpoint(
    function: Callable,
    *args,
    use_reentrant: bool | None = None,
    context_fn: Callable = noop_context_fn,
    determinism_check: str = "default",
    debug: bool = False,
    early_stop: bool = True,
    **kwargs,
):
    """``function(*args, **kwargs)``, keeping only its inputs for backward and recomputing the rest there.

    ``use_reentrant``: pass it (PyTorch warns when it is left out, and then uses True). False, as PyTorch
    recommends: ``kwargs`` go to ``function``, and gradients reach the parameters ``function`` uses even when no
    input requires grad; each output requires grad where the plain run's would. True: PyTorch's older variant, no
    keyword arguments, and outputs require grad only when an input does (warning when none does).
    ``preserve_rng_state`` (a keyword, default True): the recomputation draws the same random numbers (dropout
    masks) as the forward. ``context_fn``: returns two context managers, entered around the forward and around
    the recomputation (use_reentrant=False only). ``determinism_check``: "default" compares the recomputed outputs'
    shapes and dtypes with the forward's (CheckpointError when they differ), "none" does not. ``early_stop`` changes
    nothing here (tinynet recomputes ``function`` whole). Outputs: a Tensor, or tuples, lists and dicts of them
    and of other values; with several tensor outputs, ``function`` is recomputed once per output that gets a
    gradient. Under ``no_grad`` it is the plain call.
    """
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. use_reentrant=False "
            "is recommended; without it, tinynet uses use_reentrant=True, as PyTorch does.",
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant and (context_fn is not noop_context_fn or debug is not False):
        raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, but got {determinism_check}")
    if debug:
        raise TinynetError(
            "checkpoint(debug=True) (a trace of the ops on a mismatch) is not implemented in tinynet yet"
        )
    if use_reentrant and not any(a.requires_grad for a in args if isinstance(a, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
    if not is_grad_enabled():
        if use_reentrant:
            with no_grad():
                return function(*args)
        return function(*args, **kwargs)
    recipe = _Recipe(function, args, kwargs, use_reentrant, preserve, determinism_check == "default")
    return recipe.forward(context_fn)


def checkpoint_sequential(functions, segments: int, input: Tensor, use_reentrant: bool | None = None, **kwargs):  # noqa: A002
    """Run ``functions`` (an nn.Sequential or a list of modules or functions) one after the other on ``input``, cut
    into ``segments`` pieces of ``len(functions) // segments``; every piece but the last is checkpointed. Keyword:
    ``preserve_rng_state``, as ``checkpoint``'s."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
            "explicitly. use_reentrant=False is recommended; without it, tinynet uses use_reentrant=True, as "
            "PyTorch does.",
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    from tinynet.nn import Sequential

    if isinstance(functions, Sequential):
        functions = list(functions.children())

    def run(start: int, end: int):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x

        return forward

    x, size, end = input, len(functions) // segments, -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        x = checkpoint(run(start, end), x, use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(x)


class Checkpoint(Function):
    """The op of a checkpointed output: its backward recomputes the function (see _Recipe.gradients)."""

    @staticmethod
    def forward(ctx: Context, *args):
        raise TinynetError("Checkpoint is made by tinynet.utils.checkpoint.checkpoint(), not by Checkpoint.apply")

    @staticmethod
    def backward(ctx: Context, grad) -> tuple:
        return ctx.recipe.gradients(ctx.index, grad)


class _Uses:
    """A watcher (see autograd.watchers) of the ops a checkpointed function runs without recording: which tensors
    requiring grad they took from outside (``outer``), and which results depend on one (the outputs that require
    grad in the plain run). Weak references, so that it keeps no intermediate result alive."""

    def __init__(self) -> None:
        self.outer: dict[int, Tensor] = {}
        self.dependent: dict[int, weakref.ref] = {}

    def depends(self, tensor: Tensor) -> bool:
        ref = self.dependent.get(id(tensor))
        return tensor.requires_grad or (ref is not None and ref() is tensor)

    def forward(self, function: type, inputs: tuple, output: Tensor) -> None:
        depends = False
        for a in inputs:
            if isinstance(a, Tensor):
                if a.requires_grad:
                    self.outer.setdefault(id(a), a)
                    depends = True
                elif not depends:
                    depends = self.depends(a)
        if depends:
            self.dependent[id(output)] = weakref.ref(output)
        else:
            self.dependent.pop(id(output), None)  # (an id of a result that died, now another's)

    def backward(self, output: Tensor, grad_output, grad_inputs: tuple) -> None:
        pass


class _Recipe:
    """What a checkpointed call keeps to run again: the function, its arguments, the random state, and the
    tensors from outside it that require grad. Shared by the Nodes of its outputs (one per tensor output)."""

    def __init__(self, function: Callable, args: tuple, kwargs: dict, reentrant: bool, preserve: bool, check: bool):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.reentrant, self.check = reentrant, check
        self.rng_state = get_rng_state() if preserve else None
        self.autocast = [
            (device, amp_policy.is_enabled(device), amp_policy.current_dtype(device)) for device in _DEVICES
        ]
        self.tensors = [a for a in args if isinstance(a, Tensor)]  # (what the Nodes' contexts save)
        self.outer: list[Tensor] = []
        self.recompute_context = contextlib.nullcontext()
        self.shapes: list[tuple] = []

    def forward(self, context_fn: Callable):
        forward_context, self.recompute_context = context_fn()
        uses = _Uses()
        _thread.watchers.append(uses)
        try:
            with no_grad(), forward_context:
                outputs = self.function(*self.args, **self.kwargs)
        finally:
            _thread.watchers.remove(uses)
        inputs = {id(a) for a in self.tensors}
        self.outer = [t for key, t in uses.outer.items() if key not in inputs]
        leaves, rebuild = _flatten(outputs)
        self.shapes = [(a.shape, a.dtype) if isinstance(a, Tensor) else None for a in leaves]
        kwarg_tensors = [v for v in self.kwargs.values() if isinstance(v, Tensor)]
        any_input = any(a.requires_grad for a in self.tensors)
        for index, out in enumerate(leaves):
            if not isinstance(out, Tensor) or out.dtype.kind != "f":
                continue
            if not (any_input if self.reentrant else uses.depends(out)):
                continue
            ctx = Context()
            ctx.save_for_backward(*self.tensors, *kwarg_tensors)  # what the ledger counts (tinynet.memory)
            ctx.recipe, ctx.index = self, index
            leaves[index] = self._attach(out, ctx)
        return rebuild(leaves)

    def _attach(self, out: Tensor, ctx: Context) -> Tensor:
        """A tensor with ``out``'s values (sharing its memory and version counter), made by op Checkpoint."""
        result = Tensor(out.array, requires_grad=True)
        result._versions, result._base = out._versions, out._base
        result._node = Node(Checkpoint, ctx, (*self.tensors, *self.outer), result._version)
        running = _thread.module_path
        if running is not None:  # tinynet.memory is recording: the module checkpointed, or else the one calling
            checkpointed = isinstance(self.function, Module)
            result._node.module = module_path(self.function, running) if checkpointed else running[-1][1]
        return result

    def gradients(self, index: int, grad) -> tuple:
        """Run the function again with recording on, on detached copies of its inputs, and backpropagate ``grad``
        from its output ``index``: the gradients of the Node's inputs (its tensor arguments, then the tensors it
        used from outside)."""
        args = list(self.args)
        detached = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                args[i] = a.detach().requires_grad_(a.requires_grad)
                detached.append(args[i])
        with fork_rng(enabled=self.rng_state is not None):
            if self.rng_state is not None:
                set_rng_state(self.rng_state)
            with enable_grad(), _autocast_as(self.autocast), self.recompute_context:
                outputs = self.function(*args, **self.kwargs)
        leaves, _ = _flatten(outputs)
        self._check(leaves)
        out = leaves[index]
        if not out.requires_grad:
            if self.reentrant and any(isinstance(a, Tensor) and a.requires_grad for a in leaves):
                return (None,) * (len(detached) + len(self.outer))
            if self.reentrant:
                raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
            raise CheckpointError(
                f"torch.utils.checkpoint: output {index} of the recomputation does not require grad, but it did "
                "in the forward: the function ran differently the second time"
            )
        targets = [*detached, *self.outer]
        collect = dict.fromkeys(map(id, targets))
        autograd.backward(out, grad, collect=collect)
        return tuple(collect[id(t)] for t in targets)

    def _check(self, leaves: list) -> None:
        """CheckpointError if the recomputation's outputs differ in number, shape or dtype from the forward's."""
        shapes = [(a.shape, a.dtype) if isinstance(a, Tensor) else None for a in leaves]
        if len(shapes) != len(self.shapes):
            raise CheckpointError(
                f"torch.utils.checkpoint: the function returned {len(self.shapes)} values in the forward but "
                f"{len(shapes)} in the recomputation"
            )
        if not self.check:
            return
        for k, (before, now) in enumerate(zip(self.shapes, shapes)):
            if before is not None and before != now:
                raise CheckpointError(
                    "torch.utils.checkpoint: Recomputed values for the following tensors have different metadata "
                    f"than during the forward pass.\noutput {k}: forward (shape, dtype) {before}, recomputed {now}"
                )


_DEVICES = ("cpu", "cuda")  # the device types autocast has a state for (tinynet.amp_policy)


@contextlib.contextmanager
def _autocast_as(states: list):
    """Autocast as it was in the forward (``states``: per device type, whether on and its dtype), so that the
    recomputation runs each op in the dtype the forward did, even when backward runs outside the autocast region."""
    previous = [(device, *amp_policy.set_state(device, on, dtype)) for device, on, dtype in states]
    try:
        yield
    finally:
        for device, on, dtype in reversed(previous):
            amp_policy.set_state(device, on, dtype)


def _flatten(value) -> tuple[list, Callable]:
    """The leaves of ``value`` (a Tensor or other value, or tuples, lists and dicts of them, nested) in order, and
    a function that builds the same structure from a list of new leaves."""
    if isinstance(value, (tuple, list)):
        parts = [_flatten(item) for item in value]
        sizes = [len(leaves) for leaves, _ in parts]

        def rebuild(leaves: list):
            items, start = [], 0
            for (_, build), size in zip(parts, sizes):
                items.append(build(leaves[start : start + size]))
                start += size
            return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)

        return [leaf for leaves, _ in parts for leaf in leaves], rebuild
    if isinstance(value, dict):
        keys = list(value)
        leaves, build = _flatten([value[k] for k in keys])
        return leaves, lambda new: type(value)(zip(keys, build(new)))
    return [value], lambda leaves: leaves[0]


__getattr__ = module_getattr(
    "tinynet.utils.checkpoint",
    "torch.utils.checkpoint",
    {
        "set_checkpoint_debug_enabled",
        "set_checkpoint_early_stop",
        "CheckpointPolicy",
        "SelectiveCheckpointContext",
        "create_selective_checkpoint_contexts",
        "detach_variable",
        "check_backward_validity",
        "GraphExecGroup",
    },
)
