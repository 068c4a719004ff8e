"""Where a training step's memory goes: a ledger of what backward will need, and the peak during a step.

    with tn.memory.record_modules():        # ops remember which module ran them (else they are "(unknown)")
        loss = loss_fn(model(x), y)
    print(tn.memory_report(loss))           # bytes each module's ops saved for backward, and the total
    loss.backward()

    with tn.memory.track_peak() as peak:    # the most memory the step's arrays held at once
        train_step()
    peak.peak_bytes

What a graph costs between forward and backward is what its ops saved for their backward (``ctx``: Linear keeps
its input, ReLU its output...): the activations. ``memory_report`` adds them up, each buffer once (a view, a
reshape or a ``.detach()`` shares its base's memory), leaving out the parameters, which the model keeps anyway.
``tinynet.utils.checkpoint`` is the tool that shrinks it: a checkpointed block saves its inputs only.
"""

from __future__ import annotations

import contextlib
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field

from tinynet.autograd import _buffer, _thread, topological_order
from tinynet.errors import TinynetError
from tinynet.tensor import Tensor

UNKNOWN = "(unknown)"  # an op recorded outside record_modules(): which module ran it was not noted
OUTSIDE = "(outside modules)"  # an op run inside record_modules() but not inside any module's forward


@contextlib.contextmanager
def record_modules() -> Iterator[None]:
    """Inside, every recorded op notes the path of the module that ran it (``"GPT.blocks.0.attn"``: the outermost
    module called by its class name, then the attribute names down to the innermost one), for ``memory_report``.
    Costs a little per module call while on; nothing when off."""
    previous = _thread.module_path
    _thread.module_path = [(None, "")] if previous is None else previous  # (nested: the outer recording goes on)
    try:
        yield
    finally:
        _thread.module_path = previous


def module_path(module, running: list) -> str:
    """The path of ``module`` called while ``running`` (the stack of (module, path)) is the stack: its attribute
    path in the module that calls it, or its class name where it is not inside that module."""
    parent, parent_path = running[-1]
    if parent is None:
        return type(module).__name__
    for name, child in parent._modules.items():
        if child is module:
            return f"{parent_path}.{name}"
    for name, child in parent.named_modules():  # a grandchild called directly (self.layers[0](x))
        if child is module and name:
            return f"{parent_path}.{name}"
    return f"{parent_path}.{type(module).__name__}"


def call_recorded(module, args: tuple, kwargs: dict):
    """``module(*args, **kwargs)`` with the module on the stack of running modules (nn.Module.__call__ sends here
    while record_modules() is on): the ops inside note its path."""
    running = _thread.module_path
    running.append((module, module_path(module, running)))
    try:
        return module(*args, **kwargs)
    finally:
        running.pop()


@dataclass
class MemoryReport:
    """What backward will need from a graph: ``total_bytes`` of saved arrays, by module path (``by_module``, the
    innermost module that ran each op) and by op (``by_op``); ``ops``: how many ops saved something, by module."""

    total_bytes: int = 0
    by_module: dict[str, int] = field(default_factory=dict)
    by_op: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)

    def module_bytes(self, path: str) -> int:
        """Bytes saved by the ops of module ``path`` and of every module inside it."""
        return sum(n for p, n in self.by_module.items() if p == path or p.startswith(path + "."))

    def __str__(self) -> str:
        width = max([len("module"), *map(len, self.by_module)]) + 2
        lines = [
            "saved for backward (activations; parameters not counted)",
            f"{'module':<{width}}{'bytes':>14}{'ops':>6}",
        ]
        for path, n in self.by_module.items():  # in the order the modules first ran
            lines.append(f"{path:<{width}}{format_bytes(n):>14}{self.ops[path]:>6}")
        lines.append(f"{'total':<{width}}{format_bytes(self.total_bytes):>14}{sum(self.ops.values()):>6}")
        return "\n".join(lines)


def memory_report(output: Tensor) -> MemoryReport:
    """The ledger of what ``output.backward()`` will need: for every op of ``output``'s graph, the bytes of the
    arrays its forward saved for its backward, summed per module (run the forward inside ``record_modules()`` to
    know the modules) and in all.

    Each buffer is counted once, for the first op that saved it (views share their base's buffer), at the size of
    the whole buffer it keeps alive. The parameters (the graph's leaves that require grad, and every nn.Parameter
    an op took) are left out: the model holds them with or without a graph. After backward the graph has let go of
    what it saved: the report is then empty.
    """
    if not isinstance(output, Tensor):
        raise TinynetError(f"memory_report: expected a Tensor (a loss), got {type(output).__name__}")
    from tinynet.nn.module import Parameter  # (here: tinynet.nn imports this module)

    order = topological_order(output) if output.requires_grad else []
    owned = set()  # the buffers of the parameters
    for tensor in order:
        if tensor._node is None:
            owned.add(id(_buffer(tensor.array)))
        else:
            owned.update(id(_buffer(a.array)) for a in tensor._node.inputs if isinstance(a, Parameter))
    report, counted = MemoryReport(), set(owned)
    for tensor in order:
        node = tensor._node
        if node is None or node.ctx is None:  # a leaf, or an op whose backward already ran
            continue
        saved = 0
        for buffer in _saved_arrays(vars(node.ctx).values()):
            if id(buffer) not in counted:
                counted.add(id(buffer))
                saved += buffer.nbytes
        path = getattr(node, "module", None)
        path = UNKNOWN if path is None else path or OUTSIDE
        report.by_module[path] = report.by_module.get(path, 0) + saved
        report.ops[path] = report.ops.get(path, 0) + 1
        name = node.function.__name__
        report.by_op[name] = report.by_op.get(name, 0) + saved
        report.total_bytes += saved
    return report


def _saved_arrays(values) -> list:
    """The buffers (see autograd._buffer) under every array among ``values``: a Context's attributes, which are
    arrays, Tensors, and tuples or lists of them, nested. Other objects are not looked into."""
    found, stack = [], list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Tensor):
            value = value.array
        if isinstance(value, (tuple, list)):
            stack.extend(value)
        elif hasattr(value, "base") and hasattr(value, "nbytes"):
            found.append(_buffer(value))
    return found


class PeakMemory:
    """What ``track_peak`` measured, in bytes above the level when the block began: ``peak_bytes``, the most held at
    once during the block, and ``end_bytes``, what was still held at its end."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self.end_bytes = 0

    def __repr__(self) -> str:
        return f"PeakMemory(peak {format_bytes(self.peak_bytes)}, at the end {format_bytes(self.end_bytes)})"


@contextlib.contextmanager
def track_peak() -> Iterator[PeakMemory]:
    """Measure the peak memory of a block (a training step), as ``torch.cuda.max_memory_allocated`` does on a GPU.

    What it measures: the bytes allocated through Python's allocators, which NumPy's array buffers go through
    (NumPy reports them to ``tracemalloc``), above the level at the start: the live arrays of the step
    (activations, saved values, gradients, temporaries) and, much smaller, the Python objects made meanwhile (the
    graph's nodes). It runs ``tracemalloc``, which slows Python down inside the block: time steps outside it.
    CuPy's arrays (on a GPU) are not seen: there it raises a TinynetError.
    """
    from tinynet.backend import get_default_device

    if get_default_device().type != "cpu":
        raise TinynetError(
            "track_peak measures host (NumPy) memory; measuring GPU memory is not implemented in tinynet yet"
        )
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    result = PeakMemory()
    try:
        yield result
    finally:
        current, peak = tracemalloc.get_traced_memory()
        if started:
            tracemalloc.stop()
        result.peak_bytes, result.end_bytes = peak - base, current - base


def format_bytes(n: float) -> str:
    """``n`` bytes as "12.3 MB" (units of 1000 bytes)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
