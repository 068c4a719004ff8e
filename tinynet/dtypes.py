"""Dtypes and PyTorch's type-promotion rules, in one place.

tinynet's dtypes are NumPy's (``tn.float32 is np.dtype("float32")``), under PyTorch's names too
(``tn.float``, ``tn.long``...). When an op meets operands of different dtypes, ``result_type`` decides the
dtype it computes in, as PyTorch does - not as NumPy does:

- Categories rank bool < integer < floating point. The result's category is the highest among the
  operands; an integer tensor with a Python float gives the *default* float dtype (float32), not float64.
- Within the winning category, tensors with dimensions outrank 0-d tensors, which outrank Python numbers:
  ``float32 tensor * float64 0-d tensor`` stays float32 (a 0-d tensor is treated like a number), while
  ``int tensor * float64 0-d tensor`` is float64 (the 0-d tensor brought the category).
"""

from __future__ import annotations

import numpy as np

from tinynet.errors import DTypeError, TinynetError

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

_default = float32


def bfloat16() -> np.dtype:
    """The bfloat16 dtype (``tn.bfloat16``), from the ml_dtypes package, which NumPy lacks: imported when first
    asked for. Tensors of it can be made and converted; most ops compute in float32 and up."""
    try:
        import ml_dtypes
    except ImportError:
        raise TinynetError(
            "tn.bfloat16 needs the ml_dtypes package (NumPy has no bfloat16): pip install ml_dtypes"
        ) from None
    return np.dtype(ml_dtypes.bfloat16)


def get_default_dtype() -> np.dtype:
    """The dtype floating-point data gets when none is given (float32 unless changed)."""
    return _default


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float16, float32 or float64) the dtype of new floating-point tensors and of
    Python floats in mixed arithmetic, as ``torch.set_default_dtype``."""
    global _default
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise DTypeError(f"set_default_dtype: expected a floating-point dtype, got {dtype}")
    _default = dtype


def _category(dtype: np.dtype) -> int:
    return {"b": 0, "u": 1, "i": 1, "f": 2}.get(dtype.kind, 3)


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The smallest dtype both fit in, as ``torch.promote_types``: an integer meeting a float takes the
    float's dtype (NumPy would widen int64 + float32 to float64)."""
    a, b = np.dtype(a), np.dtype(b)
    if a.kind == "f" and b.kind != "f":
        return a
    if b.kind == "f" and a.kind != "f":
        return b
    return np.promote_types(a, b)


def _scalar_dtype(value) -> np.dtype:
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    return _default  # a Python float is read in the default float dtype


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    # A higher priority class (dimensioned tensors over 0-d tensors over numbers) keeps its dtype unless the
    # lower one brings a higher category, or the higher one is only bool.
    if higher is None:
        return lower
    if lower is None or (_category(higher) >= _category(lower) and higher != bool_):
        return higher
    return promote_types(higher, lower)


def result_type(*operands) -> np.dtype:
    """The dtype PyTorch computes ``operands`` (tensors, arrays or Python numbers) in, as ``torch.result_type``."""
    classes: list[np.dtype | None] = [None, None, None]  # dimensioned tensors, 0-d tensors, Python numbers
    for value in operands:
        if isinstance(value, (int, float, bool)):
            rank, dtype = 2, _scalar_dtype(value)
        else:
            data = getattr(value, "array", value)  # a Tensor's array, or an array
            rank, dtype = (0 if data.ndim else 1), data.dtype
        classes[rank] = dtype if classes[rank] is None else promote_types(classes[rank], dtype)
    return _combine(classes[0], _combine(classes[1], classes[2]))


def is_floating_point(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def finfo(dtype=None) -> np.finfo:
    """Limits of a floating-point dtype (the default one if none is given), as ``torch.finfo``."""
    return np.finfo(dtype or _default)


def iinfo(dtype) -> np.iinfo:
    """Limits of an integer dtype, as ``torch.iinfo``."""
    return np.iinfo(dtype)
