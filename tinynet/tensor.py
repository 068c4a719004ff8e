"""The Tensor: an array on the active backend, plus what autograd needs to differentiate it.

A Tensor wraps ``data`` (a NumPy or CuPy array). When it was computed by a differentiable op while
grad mode was on, ``_node`` links it to that op (see ``tinynet.autograd``); ``backward()`` follows
those links. The methods below are thin: the ops themselves live in ``tinynet.functions``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet import device as target_device
from tinynet.dtypes import (  # noqa: F401 (re-exported: tinynet.tensor.float32 as before)
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    set_default_dtype,
)
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, GraphError, ShapeError, TinynetError


def to_host(array) -> np.ndarray:
    """A NumPy array with the values of ``array``: an array of either library, a number or nested lists
    (copied from the GPU when it lives there)."""
    return np.asarray(array) if array_module(array) is np else array.get()


def to_backend(array, name: str):
    """``array`` in the array library of backend ``name``: as it is if already there, else copied across.

    numpy and numba both hold NumPy arrays, so between them nothing moves; to and from cupy the data is
    copied (``cupy.asarray`` up to the GPU, ``.get()`` down). Raises BackendError if ``name`` cannot run here.
    """
    xp = backend.load(name).xp
    return array if array_module(array) is xp else xp.asarray(to_host(array))


# Every in-place change of any tensor counts here too: a backward that finds it where the forward left it skips
# the per-op version checks (see autograd._check_backward_possible), which is the usual case.
IN_PLACE_CHANGES = [0]


class Tensor:
    """An n-dimensional array that can record the ops applied to it and differentiate them.

    Attributes: ``data`` (the backend's array), ``grad`` (a Tensor after backward, or None),
    ``requires_grad`` (whether gradients flow to it).
    """

    __slots__ = (
        "array", "grad", "requires_grad", "_node", "_retains_grad", "_versions", "_base", "_used", "__weakref__",
    )  # fmt: skip
    # NumPy defers to Tensor in `ndarray + tensor`, so the result is a Tensor, not an object array.
    __array_ufunc__ = None

    def __init__(self, data=(), *sizes: int, requires_grad: bool = False) -> None:
        if sizes or not hasattr(data, "dtype"):  # PyTorch's old constructor: tn.Tensor([1, 2]), tn.Tensor(2, 3)
            data = _legacy_data(data, sizes)
        self.array = data
        self.grad: Tensor | None = None
        self.requires_grad = requires_grad
        self._node = None
        self._retains_grad = False
        # How many in-place changes: backward checks it has not moved since the forward. A one-item list, because a
        # view (detach, a slice, a reshape) shares its base's counter, as in PyTorch: changing either changes both.
        self._versions = [0]
        self._base: Tensor | None = None  # the tensor this one is a view of (a slice, a reshape, a detach)
        self._used = False  # whether a recorded op took it as an input (see _update)
        if requires_grad and data.dtype.kind != "f":
            raise DTypeError(f"only floating-point tensors can require grad, not {data.dtype}")

    @property
    def data(self) -> Tensor:
        """PyTorch's ``.data``: this tensor's values as a new tensor outside the graph, sharing the storage
        (``p.data.normal_()`` changes ``p``). Unlike PyTorch's, it also shares the version counter, so a backward
        that needs the old values refuses instead of using the new ones. Prefer ``detach()`` and ``no_grad()``;
        tinynet's own code reads the raw array, ``.array``."""
        return self.detach()

    @data.setter
    def data(self, value) -> None:
        self.array = value.array if isinstance(value, Tensor) else value

    def __getattr__(self, name: str):
        # Only attributes not found otherwise arrive here: PyTorch's methods that tinynet lacks say so.
        from importlib import import_module

        raise import_module("tinynet.missing").attribute_error("Tensor", name, "'Tensor' object")

    # --- what it is ------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None):
        """The shape, or the length of dimension ``dim``."""
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self) -> int:
        """The number of elements."""
        return int(self.array.size)

    nelement = numel

    def ndimension(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by a recorded op."""
        return self._node is None

    @property
    def grad_fn(self) -> str | None:
        """The name of the op that made this tensor (None for leaves)."""
        return None if self._node is None else self._node.function.__name__ + "Backward"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise ArgumentTypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        values = to_host(self.array)
        # As PyTorch prints: 4 decimals on every element unless all are whole numbers (then "1., 2.").
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        whole = values.dtype.kind != "f" or bool(np.all(finite == np.round(finite)))
        style = {} if whole else {"precision": 4, "floatmode": "fixed"}
        body = np.array2string(values, separator=", ", prefix="tensor(", **style)
        extras = []
        if self.dtype not in (get_default_dtype(), int64, bool_):
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self.grad_fn}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # --- leaving the graph and the device --------------------------------------------------

    def item(self):
        """The single value of a one-element tensor, as a Python number."""
        if self.array.size != 1:
            raise ArgumentError(f"item: only one-element tensors convert to a Python number, not shape {self.shape}")
        return to_host(self.array).item()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        # np.asarray(x), as for a PyTorch tensor: the values on the host.
        values = to_host(self.array)
        return values if dtype is None else values.astype(dtype)

    def numpy(self, force: bool = False) -> np.ndarray:
        """The values as a NumPy array (shares memory on CPU backends, copied from a GPU)."""
        return to_host(self.array)

    def tolist(self):
        return to_host(self.array).tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no grad): a view, so it shares the storage and the version counter."""
        view = Tensor(self.array)
        view._versions = self._versions
        view._base = self if self._base is None else self._base
        return view

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Start (or stop) recording gradients for this leaf tensor; returns self."""
        if self.dtype.kind != "f" and requires_grad:
            raise DTypeError(f"only floating-point tensors can require grad, not {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (to look at it)."""
        self._retains_grad = True
        return self

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` each time backward has added into this leaf's ``.grad`` (DDP starts its all-reduce
        there); returns a handle whose ``remove()`` takes the hook off."""
        return autograd.register_post_accumulate_grad_hook(self, hook)

    def backward(
        self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None
    ) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad, adding into ``leaf.grad``.

        gradient: dL/d(self), needed unless self holds one value. inputs: only these tensors' ``.grad`` change.
        """
        if create_graph:
            raise TinynetError("backward: create_graph=True (gradients of gradients) is not implemented in tinynet yet")
        if inputs is None:
            autograd.backward(self, gradient, bool(retain_graph))
            return
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        grads = autograd.grad(self, inputs, gradient, retain_graph, allow_unused=True)
        for leaf, grad in zip(inputs, grads):
            if grad is not None:
                leaf.grad = grad if leaf.grad is None else Tensor(leaf.grad.array + grad.array)

    # --- in-place changes ------------------------------------------------------------------
    # Autograd does not record them: they are for data, for updates under no_grad (as optimizers and
    # `p -= lr * p.grad` loops do) and for tensors that need no gradient. Each bumps the version counter, so that
    # a backward which needs the old values (a Mul that saved this tensor, say) refuses instead of computing with
    # the new ones.

    @property
    def _version(self) -> int:
        """How many times this tensor's storage was changed in place (through it or through a view of it)."""
        return self._versions[0]

    def mark_changed(self) -> Tensor:
        """Record that the array was changed in place (optimizers and nn.init call it); returns self."""
        self._versions[0] += 1
        IN_PLACE_CHANGES[0] += 1
        return self

    def _check_inplace(self, op: str) -> None:
        if self.requires_grad and autograd.is_grad_enabled():
            self._refuse_inplace(op, "requires grad, and this change cannot be recorded")

    def _inplace(self, op: str, value) -> Tensor:
        """Write ``value`` (broadcast to this tensor's shape, cast to its dtype) into this tensor."""
        if autograd.is_grad_enabled() and (self.requires_grad or getattr(value, "requires_grad", False)):
            return self._update(op, lambda x: ops.shape.set_item(x, ..., value))  # recorded: a gradient flows
        self.array[...] = value.array if isinstance(value, Tensor) else value
        return self.mark_changed()

    def _update(self, op: str, compute) -> Tensor:
        """Write ``compute(x)`` - an op on this tensor's values - back into this tensor, as PyTorch's in-place ops
        do: the result must keep this tensor's shape and fit its dtype.

        When autograd records (an operand requires grad), the op joins this tensor's history, as in PyTorch: from
        now on the tensor is the op's output, and its old self is the op's input. PyTorch refuses that for a leaf
        that requires grad, and so does tinynet, and also for a view, and for a tensor an earlier recorded op
        took as an input (whose backward would otherwise see the new history): PyTorch handles those two.
        """
        recording = autograd.is_grad_enabled()
        if recording and self.requires_grad and self._node is None:
            self._refuse_inplace(op, "is a leaf that requires grad: the graph would not see the change")
        before = self._before_change() if recording and self.requires_grad else self.detach()
        with autograd.set_grad_enabled(recording):
            result = compute(before)
        if result.shape != self.shape:
            raise ShapeError(
                f"{op}: the result has shape {result.shape} but this tensor has {self.shape}: in place, the other "
                "operand must broadcast to this tensor's shape"
            )
        if not np.can_cast(result.dtype, self.dtype, "same_kind"):
            raise DTypeError(f"{op}: result type {result.dtype} can't be cast to this tensor's dtype {self.dtype}")
        if result.requires_grad:
            if self._base is not None:
                self._refuse_inplace(op, "is a view of another tensor (a slice, a reshape, .detach())")
            if self._used:
                self._refuse_inplace(op, "was already used by an op whose backward would see the new history")
        self.array[...] = result.array
        self.mark_changed()
        if result.requires_grad:
            node = result._node
            node.versions = (*node.versions[:-1], self._version)  # the output is this tensor, as changed now
            self._node, self.requires_grad = node, True
        return self

    def _before_change(self) -> Tensor:
        """This tensor as it is before an in-place op that autograd records, with its history: a copy of its
        values (the op's backward may need them, as clamp_'s does). But if that history saved this tensor's memory
        (exp's output), the memory itself with the version counter, so that backward refuses as PyTorch's does."""
        saved = () if self._node.ctx is None else vars(self._node.ctx).values()
        if id(autograd._buffer(self.array)) in autograd._saved_buffers(saved):
            before = Tensor(self.array)
            before._versions = self._versions
        else:
            before = Tensor(self.array.copy())
            before._versions = [self._version]
        before._node, before.requires_grad = self._node, True
        return before

    def _refuse_inplace(self, op: str, why: str) -> None:
        raise GraphError(
            f"{op}: cannot change this tensor (shape {self.shape}) in place while autograd records: it {why}. "
            f"Use the out-of-place op (x = x.{op.strip('_')}(...)) or change a .clone(), or do it under "
            "tn.no_grad() as optimizers do"
        )

    def resize_(self, *sizes) -> Tensor:
        """Give this tensor the shape ``sizes`` in place, keeping its values in order as far as they go (the new
        places are zeros here; PyTorch leaves them uninitialised)."""
        self._check_inplace("resize_")
        shape = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        xp = array_module(self.array)
        flat, count = self.array.reshape(-1), int(np.prod(shape, dtype=np.int64))
        resized = xp.zeros(count, dtype=self.dtype)
        resized[: min(count, flat.size)] = flat[:count]
        self.array = resized.reshape(shape)
        return self.mark_changed()

    def copy_(self, src) -> Tensor:
        """Overwrite the values with ``src``'s (broadcast to this shape, cast to this dtype)."""
        return self._inplace("copy_", src)

    def fill_(self, value: float) -> Tensor:
        return self._inplace("fill_", value)

    def zero_(self) -> Tensor:
        return self._inplace("zero_", 0)

    def _update_arrays(self, ufunc: str, other, alpha=1) -> bool:
        """``self = ufunc(self, alpha · other)`` straight on the arrays, where that is all _update would do: nothing
        records, self is floating, and other is a number or a tensor of self's dtype and shape (or 0-d) on its
        device; the same roundings (other · alpha first, in self's dtype). Returns whether it did. An optimizer's
        or a manual SGD loop's update (``p.data.add_(p.grad, alpha=-lr)``, ``w -= lr * w.grad``) is then one NumPy
        call: 8 us against 21 through _update's ops and copy for a (200, 50) gradient."""
        if autograd.is_grad_enabled() and (self.requires_grad or getattr(other, "requires_grad", False)):
            return False
        array, number = self.array, self.dtype.type
        if self.dtype.kind != "f" or type(alpha) not in (int, float):
            return False
        if isinstance(other, Tensor):
            value = other.array
            if (
                value.dtype != array.dtype
                or type(value) is not type(array)
                or (value.shape != array.shape and value.ndim)
            ):
                return False
        elif type(other) in (int, float):
            value = number(other)
        else:
            return False
        if alpha != 1:
            value = value * number(alpha)
        with np.errstate(all="ignore"):  # overflow to inf, 0 / 0 to NaN: silently, as PyTorch (the ops let NumPy warn)
            getattr(array_module(array), ufunc)(array, value, out=array)
        self.mark_changed()
        return True

    def add_(self, other, *args, alpha=1) -> Tensor:
        if args:  # PyTorch's old spelling add_(alpha, other), still accepted by PyTorch 2
            alpha, other = other, args[0]
        if self._update_arrays("add", other, alpha):
            return self
        return self._update("add_", lambda x: ops.add(x, other, alpha=alpha))

    def sub_(self, other, *, alpha=1) -> Tensor:
        if self._update_arrays("subtract", other, alpha):
            return self
        return self._update("sub_", lambda x: ops.sub(x, other, alpha=alpha))

    def mul_(self, other) -> Tensor:
        if self._update_arrays("multiply", other):
            return self
        return self._update("mul_", lambda x: ops.mul(x, other))

    def div_(self, other, *, rounding_mode: str | None = None) -> Tensor:
        if rounding_mode is None and self._update_arrays("true_divide", other):
            return self
        return self._update("div_", lambda x: ops.div(x, other, rounding_mode=rounding_mode))

    def pow_(self, exponent) -> Tensor:
        return self._update("pow_", lambda x: ops.pow(x, exponent))

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 (PyTorch's argument names)
        return self._update("clamp_", lambda x: ops.clamp(x, min, max))

    clip_ = clamp_

    def neg_(self) -> Tensor:
        return self._update("neg_", ops.neg)

    def abs_(self) -> Tensor:
        return self._update("abs_", ops.abs)

    def exp_(self) -> Tensor:
        return self._update("exp_", ops.exp)

    def log_(self) -> Tensor:
        return self._update("log_", ops.log)

    def sqrt_(self) -> Tensor:
        return self._update("sqrt_", ops.sqrt)

    # x += y is x.add_(y), as in PyTorch: the same tensor, changed (not a new one bound to the name).
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ifloordiv__(self, other):
        return self._update("__ifloordiv__", lambda x: ops.floor_divide(x, other))

    def __imod__(self, other):
        return self._update("__imod__", lambda x: ops.remainder(x, other))

    def __ipow__(self, other):
        return self.pow_(other)

    def __iand__(self, other):
        return self._update("__iand__", lambda x: ops.bitwise_and(x, other))

    def __ior__(self, other):
        return self._update("__ior__", lambda x: ops.bitwise_or(x, other))

    def __ixor__(self, other):
        return self._update("__ixor__", lambda x: ops.bitwise_xor(x, other))

    def __ilshift__(self, other):
        return self._update("__ilshift__", lambda x: ops.bitwise_left_shift(x, other))

    def __irshift__(self, other):
        return self._update("__irshift__", lambda x: ops.bitwise_right_shift(x, other))

    def __setitem__(self, index, value) -> None:
        """``x[index] = value``: an in-place change (see above)."""
        if autograd.is_grad_enabled() and (self.requires_grad or getattr(value, "requires_grad", False)):
            self._update("__setitem__", lambda x: ops.shape.set_item(x, index, value))
            return
        ops.subscript.assign(self.array, index, value)  # PyTorch's layout for mixed int and list indices
        self.mark_changed()

    # --- dtypes ----------------------------------------------------------------------------

    def to(self, *targets, dtype=None, device=None, non_blocking: bool = False, copy: bool = False) -> Tensor:
        """This tensor as another dtype (differentiable between floating types), another tensor's dtype
        (``x.to(y)``), or on another device or backend: ``x.to("cpu")``, ``x.to("cuda", tn.float16)``.

        Moving between devices (``"cpu"``, ``"cuda"``) or backends (``x.to("cupy")``, ``x.to("numpy")``) copies
        the data only when its array library changes, and the copy is a new leaf (requires_grad as x's):
        gradients do not flow back across devices here. Data already there is returned as it is.
        """
        moved = self
        for target in targets:
            if isinstance(target, Tensor):
                dtype = target.dtype if dtype is None else dtype
            elif target_device.is_device(target) or (isinstance(target, str) and target in backend.MODULES):
                device = target
            else:
                dtype = target
        if device is not None:
            name = device if isinstance(device, str) and device in backend.MODULES else None
            name = name or target_device.BACKEND_OF[target_device.device(device).type]
            data = to_backend(self.array, name)
            moved = self if data is self.array else Tensor(data, requires_grad=self.requires_grad)
        if dtype is None and device is None:
            raise ArgumentTypeError("to: give a dtype, a device, or a tensor whose dtype to take")
        return moved if dtype is None else ops.cast(moved, dtype)

    def cpu(self) -> Tensor:
        """This tensor on the CPU (itself if already there)."""
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        """This tensor on the GPU, through the cupy backend (an error says why where none can run)."""
        return self.to("cuda" if device is None else device)

    @property
    def device(self):
        """Where the data lives: device(type='cpu') for NumPy arrays, device(type='cuda', index=0) for CuPy's."""
        on_gpu = array_module(self.array) is not np
        return target_device.device("cuda", 0) if on_gpu else target_device.device("cpu")

    @property
    def is_cuda(self) -> bool:
        return array_module(self.array) is not np

    def type(self, dtype=None):
        """``x.type(dtype)``: x converted to ``dtype``; ``x.type()``: the dtype's PyTorch-style type name."""
        if dtype is None:
            return _TYPE_NAMES.get(self.dtype, f"tinynet.{self.dtype}")
        return ops.cast(self, dtype)

    def float(self) -> Tensor:
        return ops.cast(self, float32)

    def double(self) -> Tensor:
        return ops.cast(self, float64)

    def half(self) -> Tensor:
        return ops.cast(self, float16)

    def long(self) -> Tensor:
        return ops.cast(self, int64)

    def int(self) -> Tensor:
        return ops.cast(self, int32)

    def short(self) -> Tensor:
        return ops.cast(self, np.int16)

    def char(self) -> Tensor:
        return ops.cast(self, np.int8)

    def byte(self) -> Tensor:
        return ops.cast(self, np.uint8)

    def bool(self) -> Tensor:
        return ops.cast(self, bool_)

    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    def element_size(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __index__(self) -> int:
        # range(t), lst[t]: only an integer tensor of one element is an index, as in PyTorch.
        if self.dtype.kind not in "iub" or self.array.size != 1:
            raise ArgumentTypeError(
                f"only integer tensors of a single element can be an index, not {self.dtype} {self.shape}"
            )
        return int(self.item())

    def __format__(self, spec: str) -> str:
        # f"{loss:.4f}" formats a 0-d tensor's value; other tensors only without a format spec, as in PyTorch.
        return format(self.item(), spec) if self.ndim == 0 else object.__format__(self, spec)

    def __contains__(self, value) -> bool:
        return bool((self == value).array.any())

    # --- arithmetic (with gradients) -------------------------------------------------------

    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __mod__(self, other):
        return ops.remainder(self, other)

    def __rmod__(self, other):
        return ops.remainder(other, self)

    def __floordiv__(self, other):
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return ops.floor_divide(other, self)

    # --- bitwise operators, on integer and bool tensors (no gradients) ----------------------

    def __and__(self, other):
        return ops.bitwise_and(self, other)

    def __rand__(self, other):
        return ops.bitwise_and(other, self)

    def __or__(self, other):
        return ops.bitwise_or(self, other)

    def __ror__(self, other):
        return ops.bitwise_or(other, self)

    def __xor__(self, other):
        return ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return ops.bitwise_xor(other, self)

    def __invert__(self):
        return ops.bitwise_not(self)

    def __lshift__(self, other):
        return ops.bitwise_left_shift(self, other)

    def __rlshift__(self, other):
        return ops.bitwise_left_shift(other, self)

    def __rshift__(self, other):
        return ops.bitwise_right_shift(self, other)

    def __rrshift__(self, other):
        return ops.bitwise_right_shift(other, self)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # --- comparisons (no gradients) --------------------------------------------------------

    def __lt__(self, other):
        return ops.compare("lt", self, other)

    def __le__(self, other):
        return ops.compare("le", self, other)

    def __gt__(self, other):
        return ops.compare("gt", self, other)

    def __ge__(self, other):
        return ops.compare("ge", self, other)

    def __eq__(self, other):
        return ops.compare("eq", self, other)

    def __ne__(self, other):
        return ops.compare("ne", self, other)

    __hash__ = object.__hash__

    @property
    def T(self):
        return ops.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed)."""
        return ops.axes.matrix_transpose(self)

    # The math, reduction and shape methods (x.exp(), x.sum(dim), x.reshape(...)) call the functions of
    # tinynet.functions: each family lists its own in METHODS, attached at the end of this file.


def _legacy_data(data, sizes: tuple):
    """The array of PyTorch's old-style constructor: ``Tensor(2, 3)`` is a (2, 3) tensor (of zeros here: PyTorch
    leaves it uninitialised), ``Tensor([1, 2])`` the values as the default float dtype."""
    xp = backend.active().xp
    if isinstance(data, int) and not isinstance(data, bool):
        return xp.zeros((data, *sizes), dtype=get_default_dtype())
    if sizes:
        raise ArgumentTypeError(f"Tensor: expected sizes (ints) or data (a list), got {(data, *sizes)!r}")
    return xp.asarray(np.asarray(data, dtype=get_default_dtype()))


# x.type() names, as PyTorch prints them for CPU tensors.
_TYPE_NAMES = {
    float16: "torch.HalfTensor",
    float32: "torch.FloatTensor",
    float64: "torch.DoubleTensor",
    np.dtype("int8"): "torch.CharTensor",
    np.dtype("uint8"): "torch.ByteTensor",
    np.dtype("int16"): "torch.ShortTensor",
    int32: "torch.IntTensor",
    int64: "torch.LongTensor",
    bool_: "torch.BoolTensor",
}


# The factories (tensor, zeros, full, arange, rand, randint...) live in tinynet/creation.py, which builds on
# Tensor above; they are importable from here too, as before.
from tinynet.creation import (  # noqa: E402, F401, I001 (before functions: they import tensor())
    _shape,
    arange,
    eye,
    full,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from tinynet.creation import METHODS as _CREATION_METHODS  # noqa: E402

# x.new_zeros(2, 3), x.uniform_(-1, 1), x.multinomial(4)...: the creation methods, as PyTorch's.
for _name, _method in _CREATION_METHODS.items():
    if _name not in vars(Tensor):
        setattr(Tensor, _name, _method)


# Imported last: these modules build on Tensor, and Tensor's methods call into them.
from tinynet import autograd  # noqa: E402
from tinynet import functions as ops  # noqa: E402

# The methods each op family declares (its METHODS): x.sin() is ops.sin(x). Those written out above stay.
for _name, _method in ops.METHODS.items():
    if _name not in vars(Tensor):
        setattr(Tensor, _name, _method)
