"""Random tensors, as PyTorch's: rand randn randint (and their ``*_like``), randperm, normal, bernoulli,
multinomial, poisson, and the in-place initialisers ``x.uniform_()``, ``x.normal_()``...

Every draw comes from the ``generator=`` given (a ``tn.Generator``) or else the default generator
(``tinynet.random``), on the host, then moves to the backend: ``tn.manual_seed(s)`` repeats all of them, on every
backend. The numbers are NumPy's, so they are
not the same numbers PyTorch draws for the same seed; their distributions are.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import random
from tinynet.creation import _size, device_array_module
from tinynet.dtypes import get_default_dtype, int64
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from tinynet.tensor import Tensor, to_host


def _generator(op: str, generator) -> np.random.Generator:
    # A tinynet.Generator's own stream, else the default generator's (the one tn.manual_seed seeds).
    return random.generator(generator, op)


def _drawn(op: str, values: np.ndarray, dtype, requires_grad: bool, device) -> Tensor:
    xp = device_array_module(op, device)  # drawn on the host, then put on the asked-for device
    return Tensor(xp.asarray(values.astype(dtype)), requires_grad=requires_grad)


def _float_dtype(op: str, dtype) -> np.dtype:
    dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if dtype.kind != "f":
        raise DTypeError(f"{op}: draws floating-point numbers; dtype {dtype} is not a floating-point dtype")
    return dtype


def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform random numbers in [0, 1)."""
    shape, dtype = _size("rand", sizes, size), _float_dtype("rand", dtype)
    return _drawn("rand", _generator("rand", generator).random(shape), dtype, requires_grad, device)


def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal random numbers."""
    shape, dtype = _size("randn", sizes, size), _float_dtype("randn", dtype)
    return _drawn("randn", _generator("randn", generator).standard_normal(shape), dtype, requires_grad, device)


def _bounds(op: str, args: list, low, high) -> tuple[int, int]:
    # PyTorch's overloads: (high), (low, high), or either bound as a keyword.
    if len(args) == 2 and high is None:
        low, high = args
    elif len(args) == 1:
        low, high = (low, args[0]) if high is None else (args[0], high)
    elif args:
        raise ArgumentTypeError(f"{op}: expected {op}(high, size) or {op}(low, high, size), got {len(args)} bounds")
    if high is None:
        raise ArgumentTypeError(f"{op}: missing the upper bound high")
    low, high = (int(b.item()) if isinstance(b, Tensor) else int(b) for b in (low, high))
    if low >= high:
        raise ArgumentError(f"{op}: expects low < high, got low={low} >= high={high}")
    return low, high


def randint(*args, size=None, low=None, high=None, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Random integers in [low, high) (low = 0 if not given): ``randint(high, size)``, ``randint(low, high,
    size)``, or ``size=`` as a keyword; int64 unless ``dtype`` says otherwise."""
    args = list(args)
    if size is None:
        if not args or not isinstance(args[-1], (tuple, list)):
            raise ArgumentTypeError("randint: missing the size, e.g. randint(0, 10, (2, 3)) or randint(10, size=(3,))")
        size = args.pop()
    low, high = _bounds("randint", args, 0 if low is None else low, high)
    draws = _generator("randint", generator).integers(low, high, _size("randint", (), size))
    return _drawn("randint", draws, dtype or int64, requires_grad, device)


def rand_like(input: Tensor, *, generator=None, dtype=None, device=None,  # noqa: A002
              requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Uniform numbers in [0, 1) of ``input``'s shape and dtype."""
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype, device=device,
                requires_grad=requires_grad)  # fmt: skip


def randn_like(input: Tensor, *, generator=None, dtype=None, device=None,  # noqa: A002
               requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Standard normal numbers of ``input``'s shape and dtype."""
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype, device=device,
                 requires_grad=requires_grad)  # fmt: skip


def randint_like(input: Tensor, *bounds, low=None, high=None, generator=None, dtype=None, device=None,  # noqa: A002
                 requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Random integers in [low, high) of ``input``'s shape and dtype: ``randint_like(x, high)`` or
    ``randint_like(x, low, high)``."""
    low, high = _bounds("randint_like", list(bounds), 0 if low is None else low, high)
    return randint(low, high, input.shape, generator=generator, dtype=dtype or input.dtype, device=device,
                   requires_grad=requires_grad)  # fmt: skip


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0, ..., n - 1 (int64 unless ``dtype`` says otherwise)."""
    if n < 0:
        raise ArgumentError(f"randperm: n must be non-negative, got {n}")
    return _drawn("randperm", _generator("randperm", generator).permutation(n), dtype or int64, requires_grad, device)


def _probabilities(op: str, p: Tensor) -> np.ndarray:
    if p.dtype.kind != "f":
        raise DTypeError(f"{op}: expects floating-point probabilities, got {p.dtype}")
    values = to_host(p.array)
    if not bool(((values >= 0) & (values <= 1)).all()):
        raise ArgumentError(f"{op}: every probability must be in [0, 1]")
    return values


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:  # noqa: A002
    """1 with probability ``input`` (elementwise), else 0, in ``input``'s dtype; with ``p``, every element is
    1 with probability p (input gives the shape and dtype only)."""
    if p is None:
        probability = _probabilities("bernoulli", input)
    else:
        probability = _probabilities("bernoulli", p if isinstance(p, Tensor) else Tensor(np.asarray(float(p))))
    draws = _generator("bernoulli", generator).random(input.shape) < probability
    return _drawn("bernoulli", draws, input.dtype, False, None)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:  # noqa: A002
    """Indices drawn from the categories of each row, each with probability proportional to its weight.
    input: (C,) or (N, C) non-negative weights -> (num_samples,) or (N, num_samples), int64."""
    if input.ndim not in (1, 2):
        raise ShapeError(f"multinomial: input must be 1 or 2 dim (C,) or (N, C), got shape {input.shape}")
    if input.dtype.kind != "f":
        raise DTypeError(f"multinomial: expects floating-point weights, got {input.dtype}")
    rows = to_host(input.array).reshape(-1, input.shape[-1]).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any() or (rows.sum(1) <= 0).any():
        raise ArgumentError("multinomial: invalid distribution: weights must be finite, >= 0, with a positive sum")
    if num_samples <= 0:
        raise ArgumentError(f"multinomial: num_samples must be positive, got {num_samples}")
    if not replacement and num_samples > rows.shape[1]:
        raise ArgumentError(
            f"multinomial: cannot draw {num_samples} samples without replacement from {rows.shape[1]} categories"
        )
    rng = _generator("multinomial", generator)
    if replacement:
        draws = np.stack([rng.choice(len(row), num_samples, p=row / row.sum()) for row in rows])
    else:
        # An exponential race, as PyTorch's: each category's time is E / weight; the first num_samples to arrive
        # win. Weight-0 categories arrive last (at infinity), so they are drawn only once the others are used up.
        with np.errstate(divide="ignore"):
            times = rng.standard_exponential(rows.shape) / rows
        draws = np.argsort(times, axis=1, kind="stable")[:, :num_samples]
    return _drawn("multinomial", draws.reshape(*input.shape[:-1], num_samples), int64, False, None)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Normal numbers with mean ``mean`` and standard deviation ``std``: tensors (broadcast together; their
    dtype) or numbers (then ``size`` is needed; the default float dtype)."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        shape = np.broadcast_shapes(*(t.shape for t in tensors))
        dtype = dtype or tensors[0].dtype
    elif size is None:
        raise ArgumentTypeError("normal: with a number for both mean and std, give the size, e.g. normal(0, 1, (2, 3))")
    else:
        shape, dtype = _size("normal", (), size), _float_dtype("normal", dtype)
    means, stds = (to_host(v.array) if isinstance(v, Tensor) else v for v in (mean, std))
    if not bool(np.all(np.asarray(stds) >= 0)):  # (NaN fails it too, as in PyTorch)
        raise ArgumentError(f"normal: expects std >= 0.0, but found std {np.min(stds)}")
    draws = means + stds * _generator("normal", generator).standard_normal(shape)
    return _drawn("normal", np.asarray(draws), dtype, requires_grad, device)


def poisson(input: Tensor, generator=None) -> Tensor:  # noqa: A002
    """Counts drawn from a Poisson distribution with rate ``input`` (elementwise, >= 0), in its dtype."""
    rates = to_host(input.array)
    if input.dtype.kind != "f" or bool((rates < 0).any()):
        raise ArgumentError("poisson: rates must be a floating-point tensor of values >= 0")
    return _drawn("poisson", _generator("poisson", generator).poisson(rates), input.dtype, False, None)


# --- in-place initialisers: x.uniform_(-1, 1) (x must not require grad while autograd records) ---------


def _fill(self: Tensor, op: str, values) -> Tensor:
    return self._inplace(op, array_module(self.array).asarray(np.asarray(values).astype(self.dtype)))


def _between(op: str, args: tuple, names: dict, defaults: tuple) -> tuple:
    # PyTorch names these bounds `from` and `to` (a Python keyword: only reachable as **{"from": a}).
    values = list(args) + [names.pop(name, default) for name, default in zip(("from", "to"), defaults[len(args) :])]
    if names:
        raise ArgumentTypeError(f"{op}: unexpected arguments {sorted(names)}")
    return tuple(values)


def uniform_(self: Tensor, *args, generator=None, **names) -> Tensor:
    """Fill with uniform numbers in [from, to) (default [0, 1)): ``x.uniform_(-1, 1)``."""
    low, high = _between("uniform_", args, names, (0.0, 1.0))
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ArgumentError(f"uniform_: expects a finite [from, to) range with from <= to, got from={low}, to={high}")
    return _fill(self, "uniform_", _generator("uniform_", generator).uniform(low, high, self.shape))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with normal numbers of mean ``mean`` and standard deviation ``std``."""
    if not std >= 0:  # (NaN fails it too, as in PyTorch)
        raise ArgumentError(f"normal_: expects std >= 0.0, got {std}")
    return _fill(self, "normal_", mean + std * _generator("normal_", generator).standard_normal(self.shape))


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 1 with probability ``p`` (a number or a tensor broadcast to this shape), else 0."""
    probability = _probabilities("bernoulli_", p if isinstance(p, Tensor) else Tensor(np.asarray(float(p))))
    return _fill(self, "bernoulli_", _generator("bernoulli_", generator).random(self.shape) < probability)


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with exponential numbers of rate ``lambd`` (mean 1 / lambd)."""
    if lambd <= 0:
        raise ArgumentError(f"exponential_: expects lambd > 0.0, got {lambd}")
    return _fill(self, "exponential_", _generator("exponential_", generator).exponential(1 / lambd, self.shape))


def random_(self: Tensor, *args, generator=None, **names) -> Tensor:
    """Fill with whole numbers in [from, to): ``x.random_(10)`` is [0, 10), ``x.random_(2, 5)`` [2, 5); with no
    bounds, [0, 2^mantissa bits] for floats (every integer exact) and [0, max] for integers."""
    if len(args) == 1 and not names:
        args = (0, args[0])
    low, high = _between("random_", args, names, (0, None))
    if high is None:
        high = 2 ** (np.finfo(self.dtype).nmant + 1) + 1 if self.dtype.kind == "f" else int(np.iinfo(self.dtype).max)
    if low >= high:
        raise ArgumentError(f"random_: expects 'from' to be less than 'to', got from={low} >= to={high}")
    return _fill(self, "random_", _generator("random_", generator).integers(low, high, self.shape))


__all__ = [
    "bernoulli", "multinomial", "normal", "poisson", "rand", "rand_like", "randint", "randint_like", "randn",
    "randn_like", "randperm",
]  # fmt: skip
# Tensor methods (attached through tinynet.creation.METHODS).
METHODS = {
    "bernoulli": bernoulli, "multinomial": multinomial, "bernoulli_": bernoulli_, "exponential_": exponential_,
    "normal_": normal_, "random_": random_, "uniform_": uniform_,
}  # fmt: skip
