"""ONNX mappings of the ops that move values without changing them: reshape, permute, expand, index, cat, stack.

Shapes are the traced ones, written so that a dynamic axis (``dynamic_axes``) still works where it can: Reshape
copies the leading sizes it keeps (0) and infers one size (-1), Expand keeps the input's own sizes (1).
"""

from __future__ import annotations

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.onnx.graph import Builder, mapping, refuse

_INT64_MAX, _INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def reshape_target(before: tuple, after: tuple) -> list[int]:
    """ONNX Reshape's shape for ``before`` -> ``after``: 0 (copy the input's size) for the leading sizes both
    share, -1 (inferred) for the first other one, the sizes themselves for the rest. So a batch axis (leading)
    or an axis merged into the first new size may change size in the exported graph."""
    if 0 in before or 0 in after:
        return list(after)  # (0 would mean "copy" and -1 cannot be inferred: the sizes as they are)
    shared = 0
    while shared < min(len(before), len(after)) and before[shared] == after[shared]:
        shared += 1
    rest = list(after[shared:])
    if rest:
        rest[0] = -1
    return [0] * shared + rest


@mapping("Reshape")
def _reshape(b: Builder, args, out, op: str = ""):
    x = args[0]
    target = reshape_target(tuple(x.shape), tuple(out.shape))
    return b.node("Reshape", [b.value(x), b.ints(target, "shape")])


@mapping("Permute")
def _permute(b: Builder, args, out, op: str = ""):
    x, dims = args
    if not dims:  # a 0-d tensor has no axes to move
        return b.node("Identity", [b.value(x)])
    return b.node("Transpose", [b.value(x)], perm=[int(d) for d in dims])


@mapping("BroadcastTo")
def _broadcast_to(b: Builder, args, out, op: str = ""):
    x = args[0]
    shape = list(out.shape)
    lead = len(shape) - x.ndim
    # 1 where the input keeps its own size: Expand broadcasts it, whatever that size is at run time.
    target = [1 if i >= lead and x.shape[i - lead] == n else n for i, n in enumerate(shape)]
    return b.node("Expand", [b.value(x), b.ints(target, "shape")])


# --- indexing ---------------------------------------------------------------------------------------------


def _is_array(part) -> bool:
    return hasattr(part, "dtype") and hasattr(part, "shape")


@mapping("GetItem")
def _getitem(b: Builder, args, out, op: str = ""):
    x, index = args
    parts = index if isinstance(index, tuple) else (index,)
    if any(_is_array(p) and p.ndim > 0 for p in parts):
        return _gather(b, x, parts, op)
    return _basic(b, b.value(x), x.ndim, parts, op)


def _basic(b: Builder, value: str, ndim: int, parts: tuple, op: str) -> str:
    """x[ints, slices, None, ...]: one Slice for the slices, a Gather per integer (which drops its axis), then
    Unsqueeze for the new axes."""
    if Ellipsis in parts:
        at = parts.index(Ellipsis)
        consumed = sum(p is not None and p is not Ellipsis for p in parts)
        parts = parts[:at] + (slice(None),) * (ndim - consumed) + parts[at + 1 :]
    starts, ends, axes, steps, picks, new = [], [], [], [], [], []
    axis = out_axis = 0
    for part in parts:
        if part is None:
            new.append(out_axis)
            out_axis += 1
        elif isinstance(part, slice):
            if part != slice(None):
                step = 1 if part.step is None else int(part.step)
                default_start, default_end = (0, _INT64_MAX) if step > 0 else (-1, _INT64_MIN)
                starts.append(default_start if part.start is None else int(part.start))
                ends.append(default_end if part.stop is None else int(part.stop))
                axes.append(axis)
                steps.append(step)
            axis += 1
            out_axis += 1
        elif isinstance(part, (int, np.integer)) or (_is_array(part) and part.ndim == 0):
            picks.append((axis, int(part)))
            axis += 1
        else:
            raise refuse(op, f"with the index {part!r} has no ONNX mapping yet")
    if starts:
        value = b.node("Slice", [value, b.ints(starts, "starts"), b.ints(ends, "ends"), b.ints(axes, "axes"),
                                 b.ints(steps, "steps")])  # fmt: skip
    for pick_axis, position in reversed(picks):  # from the last axis, so the earlier ones keep their numbers
        value = b.node("Gather", [value, b.constant(np.asarray(position, dtype=np.int64), "index")], axis=pick_axis)
    if new:
        value = b.node("Unsqueeze", [value, b.ints(new, "axes")])
    if not (starts or picks or new):
        value = b.node("Identity", [value])
    return value


def _gather(b: Builder, x, parts: tuple, op: str) -> str:
    """x[..., indices, ...] with one integer array and whole slices around it: Gather along its axis."""
    arrays = [(axis, p) for axis, p in enumerate(parts) if _is_array(p)]
    others_whole = all(p == slice(None) for p in parts if not _is_array(p))
    if len(arrays) != 1 or not others_whole:
        raise refuse(op, "with several index arrays, or one next to a partial slice, has no ONNX mapping yet")
    axis, indices = arrays[0]
    if np.dtype(indices.dtype).kind not in "iu":
        raise refuse(op, "with a bool mask index (x[mask]) has no ONNX mapping yet: its output size depends on values")
    return b.node("Gather", [b.value(x), b.value(indices, np.int64)], axis=axis)


# --- joining ----------------------------------------------------------------------------------------------


def _joined_axis(args, out, join) -> int:
    """The axis cat or stack joined along (``Function.apply`` got it as a keyword, which watchers do not see):
    the one whose join gives the output's values."""
    node = getattr(out, "_node", None)
    if node is not None and node.ctx is not None and hasattr(node.ctx, "dim"):
        return int(node.ctx.dim)
    arrays = [a.array if hasattr(a, "array") else a for a in args]
    xp = array_module(*arrays)
    for axis in range(out.ndim):
        try:
            candidate = join(xp, arrays, axis)
        except ValueError:
            continue
        if candidate.shape == out.shape and bool(xp.array_equal(candidate, out.array, equal_nan=True)):
            return axis
    raise refuse("Cat", "could not tell the axis it joined along")


@mapping("Cat")
def _cat(b: Builder, args, out, op: str = ""):
    kept = [a for a in args if not (tuple(a.shape) == (0,) and out.ndim != 1)]  # PyTorch skips 1-d empty tensors
    axis = _joined_axis(kept, out, lambda xp, arrays, a: xp.concatenate(arrays, axis=a))
    return b.node("Concat", [b.value(a) for a in kept], axis=axis)


@mapping("Stack")
def _stack(b: Builder, args, out, op: str = ""):
    axis = _joined_axis(args, out, lambda xp, arrays, a: xp.stack(arrays, axis=a))
    axes = b.ints([axis], "axes")
    return b.node("Concat", [b.node("Unsqueeze", [b.value(a), axes]) for a in args], axis=axis)
