"""Making tensors, as PyTorch's factories: from data (``tensor``), filled (``zeros``, ``full``, ``*_like``,
``x.new_zeros``), ranges (``arange``, ``linspace``, ``eye``) and random draws (``rand``, ``randint``,
``normal``, ``multinomial``...), with PyTorch's arguments and dtype rules.

Sizes are given as ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``. Every random draw comes
from tinynet's one seeded generator (``tinynet.random``), on the host, then moves to the backend: a seed
(``tn.manual_seed``) repeats them, on every backend. ``device`` may be None or "cpu" for now.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.dtypes import bool_, get_default_dtype, int64
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from tinynet.tensor import Tensor, to_host


def check_device(op: str, device) -> None:
    """Refuse any device but the CPU (None or "cpu"), naming the op."""
    if device is not None and str(device) != "cpu":
        raise ArgumentError(
            f"{op}: device={device!r} is not supported yet: tinynet's tensors are on the CPU (devices arrive "
            "with another issue; the cupy backend, tn.set_backend('cupy'), already runs ops on a GPU)"
        )


def _shape(size, op: str = "zeros") -> tuple[int, ...]:
    """(2, 3) from ``size`` = (2, 3) or ((2, 3),), checked: whole numbers, none negative."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    shape = tuple(int(d) if isinstance(d, (int, np.integer)) and not isinstance(d, bool) else d for d in size)
    if any(not isinstance(d, int) for d in shape):
        raise ArgumentTypeError(f"{op}: size must be whole numbers, e.g. {op}(2, 3) or {op}((2, 3)), got {size}")
    if any(d < 0 for d in shape):
        raise ShapeError(f"{op}: negative dimension in size {shape}: every dimension must be >= 0")
    return shape


def _size(op: str, sizes: tuple, size) -> tuple[int, ...]:
    # PyTorch's factories take the size positionally or as size=, not both.
    if size is not None:
        if sizes:
            raise ArgumentTypeError(f"{op}: give the size positionally or as size=, not both")
        sizes = (size,)
    return _shape(sizes, op)


def _make(op: str, array, requires_grad: bool, device) -> Tensor:
    check_device(op, device)
    return Tensor(array, requires_grad=requires_grad)


def _values(data):
    # Lists may hold tensors (torch.tensor([a, b]) of 0-d tensors): take their values.
    if isinstance(data, Tensor):
        return to_host(data.data)
    if isinstance(data, (list, tuple)) and any(isinstance(item, (Tensor, list, tuple)) for item in data):
        return [_values(item) for item in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array or a tensor).

    The dtype is PyTorch's choice: Python floats give the default dtype (float32), ints int64, bools bool, and
    a mix the highest of these; a tensor keeps its dtype. Unlike PyTorch, floating NumPy arrays also take the
    default dtype (float64 arrays would otherwise slip float64 into float32 models); pass ``dtype`` to keep it.
    """
    xp = backend.active().xp
    if dtype is None and isinstance(data, Tensor):
        dtype = data.dtype
    data = data.data if isinstance(data, Tensor) else _values(data)
    if array_module(data) is not xp:  # e.g. a CuPy array into a NumPy tensor: via the host
        data = to_host(data)
    array = xp.asarray(data)
    if array.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"tensor: cannot make a tensor of {type(data).__name__} holding {array.dtype} values")
    if dtype is None:
        dtype = get_default_dtype() if array.dtype.kind == "f" else array.dtype
    return _make("tensor", array.astype(dtype, copy=True), requires_grad, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing ``array``'s memory and keeping its dtype (float64 stays float64), as in PyTorch."""
    if not isinstance(array, np.ndarray):
        raise ArgumentTypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"from_numpy: cannot make a tensor of {array.dtype} values")
    return Tensor(array)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory where it can: a tensor of that dtype is returned as it is, and a
    NumPy array keeps its dtype (PyTorch's ``as_tensor``); other data is copied as ``tensor`` copies it."""
    check_device("as_tensor", device)
    if isinstance(data, Tensor):
        return data if dtype is None or np.dtype(dtype) == data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and backend.active().xp is np:
        return from_numpy(data) if dtype is None else from_numpy(data).to(dtype)
    return tensor(data, dtype=dtype)


def _typed_tensor(name: str, dtype: np.dtype):
    def typed(*data_or_sizes) -> Tensor:
        return Tensor(*data_or_sizes).to(dtype) if data_or_sizes else Tensor().to(dtype)

    typed.__name__ = typed.__qualname__ = name
    typed.__doc__ = f"PyTorch's old constructor of {dtype} tensors: ``{name}([1, 2])`` or ``{name}(2, 3)``."
    return typed


FloatTensor = _typed_tensor("FloatTensor", np.dtype("float32"))
DoubleTensor = _typed_tensor("DoubleTensor", np.dtype("float64"))
HalfTensor = _typed_tensor("HalfTensor", np.dtype("float16"))
LongTensor = _typed_tensor("LongTensor", int64)
IntTensor = _typed_tensor("IntTensor", np.dtype("int32"))
ShortTensor = _typed_tensor("ShortTensor", np.dtype("int16"))
ByteTensor = _typed_tensor("ByteTensor", np.dtype("uint8"))
BoolTensor = _typed_tensor("BoolTensor", bool_)


def _fill_dtype(fill_value, dtype):
    # PyTorch's full: a bool fills bool, an int int64, a float the default float dtype.
    if dtype is not None:
        return np.dtype(dtype)
    if isinstance(fill_value, (bool, np.bool_)):
        return bool_
    return int64 if isinstance(fill_value, (int, np.integer)) else get_default_dtype()


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (its dtype follows the value if none is given)."""
    if isinstance(fill_value, Tensor):
        dtype, fill_value = dtype or fill_value.dtype, fill_value.item()
    shape = _shape(size if isinstance(size, (tuple, list)) else (size,), "full")
    array = backend.active().xp.full(shape, fill_value, dtype=_fill_dtype(fill_value, dtype))
    return _make("full", array, requires_grad, device)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros, e.g. ``zeros(2, 3)`` (the default float dtype unless ``dtype`` says otherwise)."""
    return full(_size("zeros", sizes, size), 0, dtype=dtype or get_default_dtype(), device=device,
                requires_grad=requires_grad)  # fmt: skip


def ones(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones, e.g. ``ones(2, 3)``."""
    return full(_size("ones", sizes, size), 1, dtype=dtype or get_default_dtype(), device=device,
                requires_grad=requires_grad)  # fmt: skip


def empty(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor in PyTorch; here zeros, so that a program that reads one is repeatable."""
    return zeros(*sizes, size=size, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """A tensor of ``input``'s shape and dtype (unless ``dtype`` is given) filled with ``fill_value``."""
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad)


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return full_like(input, 0, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return full_like(input, 1, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """Zeros of ``input``'s shape and dtype (see ``empty``)."""
    return full_like(input, 0, dtype=dtype, device=device, requires_grad=requires_grad)


def _number(value, op: str):
    value = value.item() if isinstance(value, Tensor) else value
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        raise ArgumentTypeError(f"{op}: expected a number, got {type(value).__name__}")
    return value


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values start, start + step, ... below ``end`` (above it for a negative step): ceil((end - start) / step)
    of them. int64 for whole-number arguments, the default float dtype when any is a float."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "arange") for v in (start, end, step))
    if step == 0:
        raise ArgumentError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ArgumentError(f"arange: upper bound and lower bound inconsistent with step sign: {start}, {end}, {step}")
    floating = any(isinstance(v, (float, np.floating)) for v in (start, end, step))
    dtype = np.dtype(dtype) if dtype is not None else (get_default_dtype() if floating else int64)
    count = math.ceil((end - start) / step)
    # Computed in float64 (or exact integers), then rounded once to dtype, as PyTorch does.
    steps = np.arange(count, dtype=np.float64 if floating or dtype.kind == "f" else np.int64)
    values = (start + steps * step).astype(dtype)
    return _make("arange", backend.active().xp.asarray(values), requires_grad, device)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included (the default float dtype)."""
    start, end = _number(start, "linspace"), _number(end, "linspace")
    if steps < 0:
        raise ArgumentError(f"linspace: number of steps must be non-negative, got {steps}")
    dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if dtype == bool_:
        raise DTypeError("linspace: not implemented for bool")
    # PyTorch's kernel: the ends cast to dtype, the step in dtype (float64 for integers), the first half counted
    # from start and the second from end, so that both ends are exact.
    work = np.float64 if dtype.kind in "iu" else dtype
    first, last = np.asarray(start).astype(dtype).astype(work), np.asarray(end).astype(dtype).astype(work)
    step = (last - first) / max(steps - 1, 1)
    index = np.arange(steps).astype(work)
    values = np.where(index < max(steps // 2, 1), first + step * index, last - step * (steps - 1 - index))
    return _make("linspace", backend.active().xp.asarray(values.astype(dtype)), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n, m) (m = n by default)."""
    rows, cols = _shape((n, n if m is None else m), "eye")
    array = backend.active().xp.eye(rows, cols, dtype=np.dtype(dtype) if dtype is not None else get_default_dtype())
    return _make("eye", array, requires_grad, device)


# --- methods: x.new_zeros(2, 3) makes a tensor of x's dtype --------------------------------------------


def _new(kind: str, value: int):
    def method(self: Tensor, *sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        shape = _size(f"new_{kind}", sizes, size)
        return full(shape, value, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)

    method.__name__ = f"new_{kind}"
    method.__doc__ = f"A tensor of {kind} with this tensor's dtype (unless ``dtype`` is given)."
    return method


def new_full(self: Tensor, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``, with this tensor's dtype unless ``dtype`` is given."""
    return full(size, fill_value, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


def new_tensor(self: Tensor, data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` with this tensor's dtype unless ``dtype`` is given."""
    return tensor(data, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


from tinynet.sampling import *  # noqa: E402, F403 (the random factories, which build on the above)
from tinynet.sampling import METHODS as _RANDOM_METHODS  # noqa: E402
from tinynet.sampling import __all__ as _random_all  # noqa: E402

__all__ = [
    "BoolTensor", "ByteTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor", "LongTensor",
    "ShortTensor", "arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy", "full", "full_like",
    "linspace", "ones", "ones_like", "tensor", "zeros", "zeros_like", *_random_all,
]  # fmt: skip
# Tensor methods (tensor.py attaches them): x.new_zeros(2, 3), x.uniform_(), ...
METHODS = {
    "new_zeros": _new("zeros", 0), "new_ones": _new("ones", 1), "new_empty": _new("empty", 0),
    "new_full": new_full, "new_tensor": new_tensor, **_RANDOM_METHODS,
}  # fmt: skip
