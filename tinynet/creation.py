"""Making tensors, as PyTorch's factories: from data (``tensor``), filled (``zeros``, ``full``, ``*_like``,
``x.new_zeros``), ranges (``arange``, ``linspace``, ``eye``) and random draws (``rand``, ``randint``,
``normal``, ``multinomial``...), with PyTorch's arguments and dtype rules.

Sizes are given as ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``. Every random draw comes
from tinynet's one seeded generator (``tinynet.random``), on the host, then moves to the backend: a seed
(``tn.manual_seed``) repeats them, on every backend. ``device`` is PyTorch's: "cpu", "cuda", "cuda:0", a
``tn.device``, or None for the default device (``tn.set_default_device``); the ``*_like`` and ``x.new_*``
factories default to their tensor's device, ``tensor(t)`` to ``t``'s.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.dtypes import bool_, get_default_dtype, int64
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError, TinynetError
from tinynet.tensor import Tensor, to_host


def device_array_module(op: str, device):
    """The array library of ``device`` (numpy for "cpu", cupy for "cuda"; None: the default device), for a
    factory to make its array with. Raises, naming the op, ArgumentError for an unknown device and
    BackendError (saying why) where CUDA cannot run here."""
    try:
        return backend.for_device(device).xp
    except TinynetError as err:
        raise type(err)(f"{op}: device={device!r} cannot be used: {err}") from None


def check_device(op: str, device) -> None:
    """For factories that make their array on the default device (``backend.active()``): refuse, naming the op,
    a device that is not the default one. (``device_array_module`` puts an array on any device instead.)"""
    if device is not None and device_array_module(op, device) is not backend.active().xp:
        raise ArgumentError(
            f"{op}: device={str(device)!r} is not supported by {op} yet: it makes its tensors on the default "
            f"device ({backend.get_default_device()}); move the result with .to({str(device)!r})"
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


def _values(data):
    # Lists may hold tensors (torch.tensor([a, b]) of 0-d tensors): take their values.
    if isinstance(data, Tensor):
        return to_host(data.array)
    if isinstance(data, (list, tuple)) and any(isinstance(item, (Tensor, list, tuple)) for item in data):
        return [_values(item) for item in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array or a tensor).

    The dtype is PyTorch's choice: Python floats give the default dtype (float32), ints int64, bools bool, and
    a mix the highest of these; a tensor keeps its dtype. Unlike PyTorch, floating NumPy arrays also take the
    default dtype (float64 arrays would otherwise slip float64 into float32 models); pass ``dtype`` to keep it.
    """
    if dtype is None and isinstance(data, Tensor):
        dtype = data.dtype
    # PyTorch: with no device, a tensor's copy stays on its device; other data goes to the default device.
    stays = device is None and (isinstance(data, Tensor) or type(data).__module__.startswith("cupy"))
    data = data.array if isinstance(data, Tensor) else _values(data)
    xp = backend.for_arrays(data).xp if stays else device_array_module("tensor", device)
    if array_module(data) is not xp:  # e.g. a CuPy array into a NumPy tensor: via the host
        data = to_host(data)
    array = xp.asarray(data)
    if array.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"tensor: cannot make a tensor of {type(data).__name__} holding {array.dtype} values")
    if dtype is None:
        dtype = get_default_dtype() if array.dtype.kind == "f" else array.dtype
    return Tensor(array.astype(dtype, copy=True), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing ``array``'s memory and keeping its dtype (float64 stays float64), as in PyTorch."""
    if not isinstance(array, np.ndarray):
        raise ArgumentTypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"from_numpy: cannot make a tensor of {array.dtype} values")
    return Tensor(array)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory where it can: a tensor of that dtype is returned as it is, and a
    NumPy array keeps its dtype (PyTorch's ``as_tensor``); other data is copied as ``tensor`` copies it.
    With ``device`` the result is on that device (copied there if need be)."""
    xp = device_array_module("as_tensor", device)
    if isinstance(data, Tensor):
        data = data if device is None else data.to(device)
        return data if dtype is None or np.dtype(dtype) == data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and xp is np:
        return from_numpy(data) if dtype is None else from_numpy(data).to(dtype)
    return tensor(data, dtype=dtype, device=device)


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


def _filled(op: str, shape: tuple, fill_value, dtype, device, requires_grad: bool) -> Tensor:
    # Every filled factory ends here, naming itself in errors (zeros(device="cuda") says zeros, not full).
    if isinstance(fill_value, Tensor):
        dtype, fill_value = dtype or fill_value.dtype, fill_value.item()
    array = device_array_module(op, device).full(shape, fill_value, dtype=_fill_dtype(fill_value, dtype))
    return Tensor(array, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (its dtype follows the value if none is given)."""
    shape = _shape(size if isinstance(size, (tuple, list)) else (size,), "full")
    return _filled("full", shape, fill_value, dtype, device, requires_grad)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros, e.g. ``zeros(2, 3)`` (the default float dtype unless ``dtype`` says otherwise)."""
    return _filled("zeros", _size("zeros", sizes, size), 0, dtype or get_default_dtype(), device, requires_grad)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones, e.g. ``ones(2, 3)``."""
    return _filled("ones", _size("ones", sizes, size), 1, dtype or get_default_dtype(), device, requires_grad)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor in PyTorch; here zeros, so that a program that reads one is repeatable."""
    return _filled("empty", _size("empty", sizes, size), 0, dtype or get_default_dtype(), device, requires_grad)


def _like(op: str, input: Tensor, fill_value, dtype, device, requires_grad: bool) -> Tensor:  # noqa: A002
    # PyTorch's *_like: input's shape, dtype and device unless given.
    device = input.device if device is None else device
    return _filled(op, input.shape, fill_value, dtype or input.dtype, device, requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """A tensor of ``input``'s shape, dtype and device (unless ``dtype``, ``device`` are given) filled with
    ``fill_value``."""
    return _like("full_like", input, fill_value, dtype, device, requires_grad)


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return _like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return _like("ones_like", input, 1, dtype, device, requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    """Zeros of ``input``'s shape, dtype and device (see ``empty``)."""
    return _like("empty_like", input, 0, dtype, device, requires_grad)


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
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise ArgumentError(f"arange: unsupported range: {start} -> {end} by {step}; every bound must be finite")
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
    return Tensor(device_array_module("arange", device).asarray(values), requires_grad=requires_grad)


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
    xp = device_array_module("linspace", device)
    return Tensor(xp.asarray(values.astype(dtype)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n, m) (m = n by default)."""
    rows, cols = _shape((n, n if m is None else m), "eye")
    dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
    return Tensor(device_array_module("eye", device).eye(rows, cols, dtype=dtype), requires_grad=requires_grad)


# --- methods: x.new_zeros(2, 3) makes a tensor of x's dtype, on x's device -------------------------------


def _new(kind: str, value: int):
    def method(self: Tensor, *sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        shape, device = _size(f"new_{kind}", sizes, size), self.device if device is None else device
        return _filled(f"new_{kind}", shape, value, dtype or self.dtype, device, requires_grad)

    method.__name__ = f"new_{kind}"
    method.__doc__ = f"A tensor of {kind} with this tensor's dtype and device (unless ``dtype``, ``device`` are given)."
    return method


def new_full(self: Tensor, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``, with this tensor's dtype and device unless given."""
    shape = _shape(size if isinstance(size, (tuple, list)) else (size,), "new_full")
    return _filled("new_full", shape, fill_value, dtype or self.dtype, self.device if device is None else device,
                   requires_grad)  # fmt: skip


def new_tensor(self: Tensor, data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` with this tensor's dtype and device unless ``dtype``, ``device`` are given."""
    device = self.device if device is None else device
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
