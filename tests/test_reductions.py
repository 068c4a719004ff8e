"""Reductions, scans and sorts against PyTorch: values, dtypes, indices and gradients, on every backend.

Each case runs one function on PyTorch and on tinynet (tests/torch_oracle.py); the edge cases are PyTorch's
own: 0-size dims, 0-d tensors, negative and tuple dims, integer and bool inputs, ties, NaN, corrections larger
than the count.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch_oracle import check, torch

import tinynet as tn

INTS = np.array([[3, -1, 4], [1, -5, 9]])
BOOLS = np.array([[True, False, True], [False, False, True]])
WITH_ZEROS = np.array([[1.5, 0.0, -2.0, 3.0], [0.0, 2.0, 0.0, -1.0], [1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
TIES = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [2.0, 2.0, 2.0, 2.0, 2.0]], dtype=np.float32)
WITH_NAN = np.array([[0.5, np.nan, -1.0, 2.0], [1.0, 2.0, 3.0, 4.0]], dtype=np.float32)

# id -> (fn(lib, *inputs), inputs, check's options)
REDUCTIONS = {
    "sum": (lambda t, x: x.sum(), [(3, 4)], {}),
    "sum dim": (lambda t, x: x.sum(1), [(3, 4, 5)], {}),
    "sum negative dim": (lambda t, x: x.sum(-2), [(3, 4, 5)], {}),
    "sum tuple keepdim": (lambda t, x: x.sum((0, 2), keepdim=True), [(3, 4, 5)], {}),
    "sum list": (lambda t, x: x.sum([0, -1]), [(3, 4, 5)], {}),
    "sum axis keepdims": (lambda t, x: x.sum(axis=1, keepdims=True), [(3, 4)], {}),
    "sum empty tuple": (lambda t, x: x.sum(()), [(3, 4)], {}),
    "sum 0-d": (lambda t, x: x.sum(0), [()], {}),
    "sum 0-d -1 keepdim": (lambda t, x: x.sum(-1, True), [()], {}),
    "sum zero-size": (lambda t, x: x.sum(0), [(4, 0)], {}),
    "sum zero-size both": (lambda t, x: x.sum((0, 1)), [(4, 0)], {}),
    "sum dtype": (lambda t, x: x.sum(dtype=t.float64), [(3, 4)], {}),
    "sum ints": (lambda t, x: x.sum(1), [INTS], {}),
    "sum bools": (lambda t, x: x.sum(), [BOOLS], {}),
    "sum int8": (lambda t, x: x.sum(), [INTS.astype(np.int8)], {}),
    "sum ints dtype": (lambda t, x: x.sum(dtype=t.float32), [INTS], {}),
    "torch.sum": (lambda t, x: t.sum(x, 1, True), [(3, 4)], {}),
    "sum transposed": (lambda t, x: x.transpose(0, 1).sum(0), [(3, 4)], {}),
    "mean": (lambda t, x: x.mean(), [(3, 4, 5, 6)], {}),
    "mean axis tuple": (lambda t, x: x.mean(axis=(1, 2)), [(3, 4, 5, 6)], {}),
    "mean zero-size": (lambda t, x: x.mean(axis=(1, 3)), [(1, 0, 3, 0, 5)], {}),
    "mean 0-d": (lambda t, x: x.mean(), [()], {}),
    "mean dtype": (lambda t, x: x.mean(1, dtype=t.float64), [(3, 4)], {}),
    "mean ints dtype": (lambda t, x: x.mean(dtype=t.float32), [INTS], {}),
    "mean float64": (lambda t, x: x.mean(0, True), [(3, 4)], {"dtype": np.float64}),
    "prod": (lambda t, x: x.prod(), [(2, 3)], {}),
    "prod dim": (lambda t, x: x.prod(dim=1), [(3, 4, 5)], {}),
    "prod keepdim": (lambda t, x: x.prod(1, keepdim=True), [(3, 4, 5)], {}),
    "prod 0-d": (lambda t, x: x.prod(-1), [()], {}),
    "prod zeros rows": (lambda t, x: x.prod(1), [WITH_ZEROS], {}),
    "prod zeros cols": (lambda t, x: x.prod(0), [WITH_ZEROS], {}),
    "prod zeros all": (lambda t, x: x.prod(), [WITH_ZEROS[2:]], {}),
    "prod empty": (lambda t, x: x.prod(1), [(2, 0)], {}),
    "prod ints": (lambda t, x: x.prod(0), [INTS], {}),
    "prod bools": (lambda t, x: x.prod(), [BOOLS], {}),
    "amax": (lambda t, x: x.amax(), [(3, 4)], {}),
    "amax tuple": (lambda t, x: x.amax((0, 2), keepdim=True), [(3, 4, 5)], {}),
    "amax ties": (lambda t, x: x.amax(1), [TIES], {}),
    "amin ties": (lambda t, x: t.amin(x, dim=-1), [TIES], {}),
    "amax zero-size kept": (lambda t, x: x.amax(0), [(2, 0)], {}),
    "max": (lambda t, x: x.max(), [(45, 3)], {}),
    "max ties": (lambda t, x: x.max().mul(0.5), [np.array([[1.0, 1.0, 0.0, 1.0]], dtype=np.float32)], {}),
    "max dim": (lambda t, x: x.max(1), [(3, 4, 5)], {}),
    "max dim values": (lambda t, x: x.max(axis=1)[0], [(3, 4, 5)], {}),
    "max dim keepdim": (lambda t, x: t.max(x, -1, keepdim=True), [(3, 4)], {}),
    "max dim ties": (lambda t, x: x.max(1), [TIES], {}),
    "max 0-d dim": (lambda t, x: x.max(0), [()], {}),
    "max ints": (lambda t, x: x.max(), [INTS], {}),
    "max bools": (lambda t, x: x.max(), [BOOLS], {}),
    "max dim ints": (lambda t, x: x.max(0), [INTS], {}),
    "max nan": (lambda t, x: x.max(), [WITH_NAN], {}),
    "max of two": (lambda t, x, y: t.max(x, y), [(3, 4), (4,)], {}),
    "max other=": (lambda t, x, y: x.max(other=y), [(3, 4), (3, 4)], {}),
    "min": (lambda t, x: x.min(), [(3, 3)], {}),
    "min dim": (lambda t, x: x.min(dim=0), [(3, 4)], {}),
    "min of two": (lambda t, x, y: t.min(x, y), [(3, 4), (3, 1)], {}),
    "argmax": (lambda t, x: x.argmax(), [(10, 20)], {}),
    "argmax dim keepdim": (lambda t, x: x.argmax(1, True), [(10, 20)], {}),
    "argmax keepdim no dim": (lambda t, x: x.argmax(keepdim=True), [(4, 5)], {}),
    "argmax ties": (lambda t, x: x.argmax(), [np.array([1, 2, 2])], {}),
    "argmin ints": (lambda t, x: x.argmin(0), [INTS], {}),
    "argmin 0-d": (lambda t, x: x.argmin(0), [()], {}),
    "logsumexp": (lambda t, x: t.logsumexp(x, dim=0), [(45, 65)], {}),
    "logsumexp keepdim": (lambda t, x: x.logsumexp(1, True), [(4, 5)], {}),
    "logsumexp tuple": (lambda t, x: x.logsumexp((0, 2)), [(3, 4, 5)], {}),
    "logsumexp 0-d": (lambda t, x: x.logsumexp(-1), [()], {}),
    "logsumexp large": (lambda t, x: x.logsumexp(1), [(3, 4)], {"low": 500, "high": 600}),
    "logsumexp -inf": (lambda t, x: x.logsumexp(1), [np.array([[-np.inf, -np.inf], [0.0, -np.inf]])], {}),
    "logsumexp empty": (lambda t, x: x.logsumexp(1), [(2, 0)], {}),
    "logsumexp ints": (lambda t, x: x.logsumexp(1), [INTS], {}),
    "nansum": (lambda t, x: x.nansum(1), [WITH_NAN], {}),
    "nansum ints": (lambda t, x: t.nansum(x), [INTS], {}),
    "nanmean": (lambda t, x: x.nanmean(1), [WITH_NAN], {}),
    "nanmean all nan": (lambda t, x: t.nanmean(x), [np.array([np.nan, np.nan], dtype=np.float32)], {}),
    "any": (lambda t, x: x.any(), [(3, 4)], {}),
    "any axis": (lambda t, x: x.any(axis=(1, 2)), [BOOLS.reshape(2, 3, 1)], {}),
    "any zero-size": (lambda t, x: x.any(axis=(1, 3)), [(1, 0, 3, 0, 5)], {}),
    "all": (lambda t, x: x.all(), [BOOLS], {}),
    "all dim keepdim": (lambda t, x: x.all(1, keepdim=True), [BOOLS], {}),
    "all zero-size": (lambda t, x: t.all(x, dim=(1, 3)), [(1, 0, 3, 0, 5)], {}),
    "all empty tuple": (lambda t, x: x.all(dim=()), [WITH_ZEROS], {}),
    "all uint8": (lambda t, x: x.all(), [np.array([1, 2], dtype=np.uint8)], {}),
    "any 0-d": (lambda t, x: x.any(0), [()], {}),
    "count_nonzero": (lambda t, x: t.count_nonzero(x), [WITH_ZEROS], {}),
    "count_nonzero dim": (lambda t, x: x.count_nonzero(dim=0), [WITH_ZEROS], {}),
    "count_nonzero tuple": (lambda t, x: x.count_nonzero((0, 1)), [INTS], {}),
}

MOMENTS = {
    "var": (lambda t, x: x.var(), [(15, 25, 35)], {}),
    "var correction 0": (lambda t, x: x.var(correction=0), [(5, 6)], {}),
    "var correction 5": (lambda t, x: x.var(correction=5), [(5, 6)], {}),
    "var dim": (lambda t, x: x.var(0), [(5, 6, 7)], {}),
    "var list": (lambda t, x: x.var([1, 2]), [(5, 6, 7)], {}),
    "var keepdim": (lambda t, x: x.var(0, keepdim=True, correction=0), [(5, 6)], {}),
    "var unbiased=False": (lambda t, x: x.var(1, unbiased=False), [(5, 6)], {}),
    "var positional unbiased": (lambda t, x: x.var(0, False, True), [(5, 6)], {}),
    "var bool first": (lambda t, x: x.var(False), [(5, 6)], {}),
    "var fractional correction": (lambda t, x: x.var(0, correction=0.5), [(5, 6)], {}),
    "var correction = count": (lambda t, x: x.var(correction=30), [(5, 6)], {}),
    "var correction above count dim": (lambda t, x: x.var(1, correction=50), [(10, 2)], {}),
    "var one in axis": (lambda t, x: x.var(axis=(0, 3)), [(1, 2, 3, 1, 5)], {}),
    "var one in axis correction 0": (lambda t, x: x.var(axis=(0, 3), correction=0), [(1, 2, 3, 1, 5)], {}),
    "var zero in axis": (lambda t, x: x.var(axis=(1, 3)), [(1, 0, 3, 0, 5)], {}),
    "var zero in axis correction 5": (lambda t, x: x.var(axis=(1, 3), correction=5), [(1, 0, 3, 0, 5)], {}),
    "var 0-d correction 0": (lambda t, x: x.var(correction=0), [()], {}),
    "var 0-d": (lambda t, x: x.var(0), [()], {}),
    "var float64": (lambda t, x: x.var(1), [(4, 5)], {"dtype": np.float64}),
    "var transposed": (lambda t, x: x.transpose(0, 1).var(1), [(4, 5)], {}),
    "std": (lambda t, x: x.std(), [(15, 25, 35)], {}),
    "std dim": (lambda t, x: x.std(2), [(5, 6, 7)], {}),
    "std correction 5 dim": (lambda t, x: x.std(axis=(0, 4), correction=5), [(1, 2, 3, 1, 5)], {}),
    "std correction above count": (lambda t, x: x.std(1, correction=5), [(4, 3)], {}),
    "std zero in axis": (lambda t, x: x.std(axis=(1, 3)), [(1, 0, 3, 0, 5)], {}),
    "std keepdim": (lambda t, x: x.std(0, keepdim=True, correction=0), [(5, 6)], {}),
    "std no spread": (lambda t, x: x.std(1), [np.ones((2, 3), dtype=np.float32)], {}),
    "std one element correction 0": (lambda t, x: x.std(correction=0), [(1,)], {}),
    "std huge float32": (lambda t, x: x.std(), [np.array([1e20, -1e20, 0.0], dtype=np.float32)], {}),
    "var huge float32": (lambda t, x: x.var(), [np.array([1e20, -1e20, 0.0], dtype=np.float32)], {"grad": False}),
    "std unbiased": (lambda t, x: x.std(0, True, True), [(4, 3)], {}),
    "std_mean": (lambda t, x: t.stack(t.std_mean(x)), [(15, 25, 35)], {}),
    "std_mean correction": (lambda t, x: t.std_mean(x, correction=5), [(6, 7)], {}),
    "std_mean axis": (lambda t, x: t.stack(t.std_mean(x, axis=(1, 2))), [(3, 4, 5, 6)], {}),
    "std_mean keepdim": (lambda t, x: t.std_mean(x, keepdim=True, correction=0), [(4, 5)], {}),
    "var_mean": (lambda t, x: t.var_mean(x, 1), [(4, 5)], {}),
    "var_mean unbiased": (lambda t, x: t.var_mean(x, dim=1, unbiased=False), [(4, 5)], {}),
    "norm": (lambda t, x: x.norm(), [(3, 4)], {}),
    "norm p=1": (lambda t, x: x.norm(p=1), [(3, 4)], {}),
    "norm p=inf dim": (lambda t, x: x.norm(p=math.inf, dim=1), [(3, 4)], {}),
    "norm p=-inf": (lambda t, x: x.norm(p=-math.inf), [(3, 4)], {}),
    "norm p=3 dim keepdim": (lambda t, x: x.norm(3, 1, True), [(3, 4)], {}),
    "norm p=0": (lambda t, x: x.norm(p=0), [WITH_ZEROS], {}),
    "norm fro dim": (lambda t, x: x.norm(p="fro", dim=1), [(3, 4)], {}),
    "norm tuple p=1": (lambda t, x: t.norm(x, p=1, dim=(0, 1)), [(3, 4)], {}),
    "norm of zeros": (lambda t, x: x.norm(dim=1), [np.zeros((2, 3), dtype=np.float32)], {}),
    "norm dtype": (lambda t, x: x.norm(dtype=t.float64), [(3, 4)], {}),
    "norm 0-d": (lambda t, x: x.norm(), [()], {}),
    "norm empty dim": (lambda t, x: x.norm(dim=1), [(2, 0)], {}),
    "norm p=0.5 with zeros": (lambda t, x: x.norm(p=0.5, dim=1), [WITH_ZEROS], {}),
    "norm beyond float32": (lambda t, x: x.norm(), [np.array([1e20, 1e20], dtype=np.float32)], {"grad": False}),
    "norm inf ties": (lambda t, x: x.norm(p=math.inf), [np.array([1.0, -3.0, 3.0], dtype=np.float32)], {}),
    # the 2-norm's sum of squares by einsum: over everything in rows of 4096 with a remainder, over some dims
    "norm of many numbers": (lambda t, x: x.norm(), [(3, 5000)], {}),
    "norm dims 0 and 2": (lambda t, x: x.norm(dim=(0, 2)), [(4, 3, 5)], {}),
    "norm dim 0 keepdim": (lambda t, x: x.norm(dim=0, keepdim=True), [(6, 7)], {}),
    "norm float64 long rows": (lambda t, x: x.norm(dim=-1), [(5, 9000)], {"dtype": np.float64}),
    "norm float16": (lambda t, x: x.norm(dim=1), [(3, 4)], {"dtype": np.float16, "rtol": 1e-2, "atol": 1e-3}),
}

SCANS = {
    "cumsum": (lambda t, x: t.cumsum(x, dim=0), [(10,)], {}),
    "cumsum dims": (lambda t, x: x.cumsum(-1), [(5, 6, 7)], {}),
    "cumsum middle": (lambda t, x: x.cumsum(1), [(5, 6, 7)], {}),
    "cumsum axis": (lambda t, x: x.cumsum(axis=0), [(20, 3)], {}),
    "cumsum 0-d": (lambda t, x: x.cumsum(0), [()], {}),
    "cumsum zero-size": (lambda t, x: x.cumsum(1), [(2, 0, 4)], {}),
    "cumsum ints": (lambda t, x: x.cumsum(1), [INTS.astype(np.int32)], {}),
    "cumsum bools": (lambda t, x: x.cumsum(0), [BOOLS], {}),
    "cumsum dtype": (lambda t, x: x.cumsum(0, dtype=t.float64), [(4, 3)], {}),
    "cumsum transposed": (lambda t, x: x.transpose(0, 1).cumsum(1), [(4, 3)], {}),
    "cumprod": (lambda t, x: x.cumprod(0), [(10,)], {}),
    "cumprod dims": (lambda t, x: x.cumprod(dim=-1), [(5, 6, 7)], {}),
    "cumprod zeros": (lambda t, x: x.cumprod(1), [WITH_ZEROS], {}),
    "cumprod zeros cols": (lambda t, x: x.cumprod(0), [WITH_ZEROS], {}),
    "cumprod zero first": (lambda t, x: x.cumprod(0), [np.array([0.0, 2.0, 3.0, 0.0, 5.0], dtype=np.float32)], {}),
    "cumprod 0-d": (lambda t, x: x.cumprod(0), [()], {}),
    "cumprod zero-size": (lambda t, x: x.cumprod(0), [(0, 3)], {}),
    "cumprod ints": (lambda t, x: x.cumprod(1), [INTS], {}),
    "cummax": (lambda t, x: t.cummax(x, dim=0), [(20,)], {}),
    "cummax values": (lambda t, x: x.cummax(1).values, [(5, 6, 7)], {}),
    "cummax ties": (lambda t, x: x.cummax(1), [TIES], {}),
    "cummax nan": (lambda t, x: x.cummax(1), [WITH_NAN], {}),
    "cummax 0-d": (lambda t, x: x.cummax(0), [()], {}),
    "cummax zero-size": (lambda t, x: x.cummax(1), [(2, 0, 4)], {}),
    "cummax ints": (lambda t, x: x.cummax(0), [INTS], {}),
    "cummax bools": (lambda t, x: x.cummax(1), [BOOLS], {}),
    "cummin": (lambda t, x: x.cummin(-1), [(4, 9)], {}),
    "cummin ties": (lambda t, x: x.cummin(1), [-TIES], {}),
    "logcumsumexp": (lambda t, x: t.logcumsumexp(x, dim=0), [(45, 65)], {}),
    "logcumsumexp dim 1": (lambda t, x: x.logcumsumexp(1), [(5, 7)], {}),
    "logcumsumexp 0-d": (lambda t, x: x.logcumsumexp(-1), [()], {}),
    "logcumsumexp wide range": (lambda t, x: x.logcumsumexp(0), [np.array([0.0, 100.0, -50.0], np.float32)], {}),
    "logcumsumexp -inf": (lambda t, x: x.logcumsumexp(0), [np.array([-np.inf, 2.0, -np.inf], np.float32)], {}),
    "logcumsumexp float64": (lambda t, x: x.logcumsumexp(1), [(3, 8)], {"dtype": np.float64}),
}

SORTS = {
    "sort": (lambda t, x: x.sort(), [(8, 45)], {}),
    "sort dim 0 descending": (lambda t, x: x.sort(0, True), [(8, 4, 6)], {}),
    "sort keywords": (lambda t, x: t.sort(x, dim=1, descending=False), [(8, 4, 6)], {}),
    "sort stable ties": (lambda t, x: x.sort(stable=True), [np.array([0, 1] * 9)], {}),
    "sort stable ties descending": (lambda t, x: x.sort(stable=True, descending=True), [np.array([0, 1] * 9)], {}),
    "sort ties gradient": (lambda t, x: x.sort(dim=1, stable=True), [TIES], {}),
    "sort nan": (lambda t, x: x.sort(1), [WITH_NAN], {}),
    "sort nan descending": (lambda t, x: x.sort(1, descending=True), [WITH_NAN], {}),
    "sort bools": (lambda t, x: x.sort(stable=True), [BOOLS], {}),
    "sort 0-d": (lambda t, x: x.sort(), [()], {}),
    "sort zero-size": (lambda t, x: x.sort(1), [(2, 0)], {}),
    "sort transposed": (lambda t, x: x.transpose(0, 1).sort(1), [(5, 4)], {}),
    "argsort": (lambda t, x: x.argsort(), [(5, 6)], {}),
    "argsort descending dim": (lambda t, x: t.argsort(x, 0, True), [(5, 6)], {}),
    "argsort stable": (lambda t, x: x.argsort(stable=True), [np.array([3.0, 1.0, 2.0, 1.0])], {}),
    "topk": (lambda t, x: x.topk(3), [(10,)], {}),
    "topk smallest dim": (lambda t, x: x.topk(5, 1, False), [(10, 12, 6)], {}),
    "topk dim 0 largest": (lambda t, x: x.topk(5, 0, True, True), [(10, 12, 6)], {}),
    "topk -1 keywords": (lambda t, x: x.topk(k=2, dim=-1, largest=False, sorted=True), [(4, 6)], {}),
    "topk 0": (lambda t, x: x.topk(0), [(4,)], {}),
    "topk 0-d": (lambda t, x: x.topk(1), [()], {}),
    "topk nan": (lambda t, x: x.topk(2), [WITH_NAN], {}),
    "kthvalue": (lambda t, x: x.kthvalue(3), [(4, 7)], {}),
    "kthvalue dim keepdim": (lambda t, x: t.kthvalue(x, 2, 0, True), [(4, 7)], {}),
    "kthvalue 0-d": (lambda t, x: x.kthvalue(1), [()], {}),
    "median": (lambda t, x: x.median(), [(5, 7)], {}),
    "median even count": (lambda t, x: x.median(), [np.array([4.0, 1.0, 2.0, 3.0], np.float32)], {}),
    "median dim": (lambda t, x: x.median(1), [(5, 6)], {}),
    "median dim keepdim": (lambda t, x: t.median(x, dim=0, keepdim=True), [(5, 6)], {}),
    "median ties": (lambda t, x: x.median(-1), [np.zeros((2, 3), dtype=np.float32)], {}),
    "median nan": (lambda t, x: x.median(), [WITH_NAN], {}),
    "median nan dim": (lambda t, x: x.median(1), [WITH_NAN], {}),
    "median ints": (lambda t, x: x.median(), [INTS], {}),
    "median 0-d": (lambda t, x: x.median(0), [()], {}),
    "median empty": (lambda t, x: x.median(), [(0,)], {"grad": False}),
    "median zero-size kept": (lambda t, x: x.median(0), [(2, 0)], {}),
    "nanmedian": (lambda t, x: x.nanmedian(), [WITH_NAN], {}),
    "nanmedian dim": (lambda t, x: x.nanmedian(1), [WITH_NAN], {}),
    "mode": (lambda t, x: x.mode(1), [np.array([[4.0, 1.0, 1.0, 3.0], [2.0, 3.0, 3.0, 2.0]], np.float32)], {}),
    "mode all equal": (lambda t, x: x.mode(), [np.zeros((2, 3), dtype=np.float32)], {}),
    "mode dim 0": (lambda t, x: x.mode(0, True), [np.array([[1, 2], [1, 3], [2, 3]])], {}),
    "mode 0-d": (lambda t, x: x.mode(), [()], {}),
    "unique": (lambda t, x: x.unique(), [np.array([3.0, 1.0, 2.0, 1.0], np.float32)], {"grad": False}),
    "unique inverse counts": (
        lambda t, x: t.unique(x, return_inverse=True, return_counts=True),
        [np.array([[3, 1], [2, 1]])],
        {},
    ),
    "unique dim": (lambda t, x: t.unique(x, dim=0), [np.array([[3, 1], [3, 1], [0, 2]])], {}),
}

CASES = {**REDUCTIONS, **MOMENTS, **SCANS, **SORTS}


@pytest.mark.parametrize("name", CASES)
def test_matches_pytorch(backend_name, name):
    fn, inputs, options = CASES[name]
    with np.errstate(all="ignore"):  # the inf and NaN cases: the oracle's loss sums inf values, and may warn
        check(fn, *inputs, **options)


def test_std_of_huge_float32_values_does_not_overflow():
    x = tn.tensor(np.array([1e20, -1e20, 0.0], dtype=np.float32))
    assert x.std().item() == pytest.approx(1e20, rel=1e-6)
    assert math.isinf(x.var().item())  # 1e40 is beyond float32, in PyTorch too


def test_std_gradient_is_zero_where_there_is_no_spread():
    x = tn.ones(2, 3, requires_grad=True)
    x.std(1).sum().backward()
    assert np.array_equal(x.grad.numpy(), np.zeros((2, 3), np.float32))


def test_var_with_correction_above_the_count_is_inf_and_nan_without_spread():
    assert math.isinf(tn.tensor([1.0, 2.0, 4.0]).var(correction=5).item())
    assert math.isnan(tn.ones(3).var(correction=3).item())


def test_max_min_with_a_dim_return_named_values_and_indices():
    x = tn.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 5.0]])
    out = x.max(1)
    assert isinstance(out, tuple) and out.values.tolist() == [3.0, 5.0] and out.indices.tolist() == [0, 1]
    values, indices = x.min(dim=0, keepdim=True)
    assert values.shape == indices.shape == (1, 3) and indices.dtype == tn.int64


# --- errors: where PyTorch refuses, tinynet refuses with its own error naming the op ------------------------

DIM_ERRORS = {
    "sum": lambda x: x.sum(5),
    "sum 0-d": lambda x: x.sum(1),
    "prod": lambda x: x.prod(-3),
    "logsumexp": lambda x: x.logsumexp(2),
    "cumsum": lambda x: x.cumsum(2),
    "cumprod": lambda x: x.cumprod(-3),
    "cummax": lambda x: x.cummax(2),
    "logcumsumexp": lambda x: x.logcumsumexp(-3),
    "sort": lambda x: x.sort(2),
    "topk": lambda x: x.topk(1, 3),
    "median": lambda x: x.median(2),
    "norm": lambda x: x.norm(dim=2),
    "any": lambda x: x.any(2),
}


@pytest.mark.parametrize("name", DIM_ERRORS)
def test_a_dim_out_of_range_is_an_index_error_naming_the_op(name):
    fn = DIM_ERRORS[name]
    shape = () if name.endswith("0-d") else (2, 3)
    with pytest.raises(IndexError):
        fn(torch.zeros(shape))
    with pytest.raises(tn.IndexingError, match=rf"{name.split()[0]}: dim -?\d is out of range"):
        fn(tn.zeros(*shape))


VALUE_ERRORS = {
    "mean of integers": (lambda x: x.mean(), INTS, tn.DTypeError, "mean.*int64"),
    "var of integers": (lambda x: x.var(), INTS, tn.DTypeError, "var.*int64"),
    "std of integers": (lambda x: x.std(0), INTS, tn.DTypeError, "std.*int64"),
    "nanmean of integers": (lambda x: x.nanmean(), INTS, tn.DTypeError, "nanmean"),
    "norm of integers": (lambda x: x.norm(), INTS, tn.DTypeError, "norm"),
    "logcumsumexp of integers": (lambda x: x.logcumsumexp(0), INTS, tn.DTypeError, "logcumsumexp"),
    "argmax of bools": (lambda x: x.argmax(), BOOLS, tn.DTypeError, "argmax.*bool"),
    "topk of bools": (lambda x: x.topk(1), BOOLS, tn.DTypeError, "topk.*bool"),
    "max of nothing": (lambda x: x.max(), np.zeros((0, 3)), tn.ShapeError, r"max.*\(0, 3\).*empty"),
    "max along an empty dim": (lambda x: x.max(1), np.zeros((2, 0)), IndexError, "max: dim 1.*empty"),
    "amax along an empty dim": (lambda x: x.amax(1), np.zeros((2, 0)), IndexError, "amax: dim 1.*empty"),
    "argmax of nothing": (lambda x: x.argmax(), np.zeros((0,)), tn.ShapeError, "argmax.*empty"),
    "median along an empty dim": (lambda x: x.median(1), np.zeros((2, 0)), IndexError, "median: dim 1.*empty"),
    "mode along an empty dim": (lambda x: x.mode(1), np.zeros((2, 0)), IndexError, "mode: dim 1.*empty"),
    "inf norm of nothing": (lambda x: x.norm(math.inf), np.zeros((0,)), tn.ShapeError, "norm.*empty"),
    "topk too many": (lambda x: x.topk(5), np.zeros(4), ValueError, "topk: k=5.*size 4"),
    "topk negative": (lambda x: x.topk(-1), np.zeros(4), ValueError, "topk: k=-1"),
    "kthvalue too far": (lambda x: x.kthvalue(5), np.zeros((2, 4)), ValueError, "kthvalue: k=5"),
    "kthvalue zero": (lambda x: x.kthvalue(0), np.zeros((2, 4)), ValueError, "kthvalue: k=0"),
    "max of a dim tuple": (lambda x: x.max((0, 1)), np.zeros((2, 4)), TypeError, "max: dim must be a single int"),
    "prod of a dim tuple": (lambda x: x.prod((0, 1)), np.zeros((2, 4)), TypeError, "prod: dim must be a single int"),
    "sum of a float dim": (lambda x: x.sum(1.0), np.zeros((2, 4)), TypeError, "sum: dim must be an int"),
}


@pytest.mark.parametrize("name", VALUE_ERRORS)
def test_what_pytorch_refuses_tinynet_refuses_naming_the_op(name):
    fn, values, error, message = VALUE_ERRORS[name]
    with pytest.raises((RuntimeError, IndexError, TypeError, ValueError)):
        fn(torch.tensor(values))
    with pytest.raises(error, match=message) as raised:
        fn(tn.tensor(values))
    assert isinstance(raised.value, tn.TinynetError)


def test_var_refuses_both_unbiased_and_correction():
    with pytest.raises(tn.ArgumentError, match=r"var.*unbiased.*correction"):
        tn.ones(3).var(unbiased=True, correction=0)


def test_a_repeated_dim_names_the_op_and_the_dims():
    with pytest.raises(tn.ShapeError, match=r"logsumexp.*\(1, -1\).*twice"):
        tn.ones(2, 3).logsumexp((1, -1))


# --- gradients against finite differences, on drawn shapes (float64) --------------------------------------


@st.composite
def shaped(draw, min_dims=1, max_dims=3):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=min_dims, max_size=max_dims)))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).standard_normal(shape)
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return values, dim


def _leaf(values):
    return tn.tensor(values, dtype=tn.float64, requires_grad=True)


GRADIENT_OPS = {
    "prod": lambda x, d: x.prod(d),
    "logsumexp": lambda x, d: x.logsumexp(d),
    "var": lambda x, d: x.var(d, correction=0),
    "std": lambda x, d: x.std(d, correction=0) if x.shape[d] > 1 else x.sum(d),
    "norm": lambda x, d: x.norm(dim=d),
    "norm p=3": lambda x, d: x.norm(3, d),
    "cumsum": lambda x, d: x.cumsum(d),
    "cumprod": lambda x, d: x.cumprod(d),
    "logcumsumexp": lambda x, d: x.logcumsumexp(d),
    "cummax": lambda x, d: x.cummax(d).values,
    "sort": lambda x, d: (
        x.sort(d, descending=True).values
        * tn.arange(x.shape[d]).double().reshape([-1 if i == d % x.ndim else 1 for i in range(x.ndim)])
    ),
    "topk": lambda x, d: x.topk(1, d).values,
    "median": lambda x, d: x.median(d).values,
    "max dim": lambda x, d: x.max(d).values,
}


@pytest.mark.parametrize("name", GRADIENT_OPS)
@given(case=shaped())
def test_gradients_match_finite_differences(name, case):
    values, dim = case
    fn = GRADIENT_OPS[name]
    assert tn.gradcheck(lambda x: fn(x, dim), [_leaf(values)])


@given(case=shaped(), zeros=st.lists(st.integers(0, 63), max_size=3))
def test_prod_and_cumprod_gradients_with_zeros(case, zeros):
    values, dim = case
    flat = values.reshape(-1)
    flat[[z % flat.size for z in zeros]] = 0.0
    assert tn.gradcheck(lambda x: x.prod(dim), [_leaf(values)])
    assert tn.gradcheck(lambda x: x.cumprod(dim), [_leaf(values)])
