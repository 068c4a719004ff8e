"""float16 on the numba backend: Numba compiles no float16, so its kernels that cannot take it declare the dtypes
they compute, and the backend table sends float16 inputs to the reference, saying so (a warning once, and
``Backend.dtype_limits`` for ``tinynet info``) instead of failing with Numba's NotImplementedError."""

import warnings

import numpy as np
import pytest
from test_backend import _inputs

import tinynet as tn
import tinynet.nn.functional as F
from kernels import numpy_ref
from tinynet import backend

numba_cpu = pytest.importorskip("kernels.numba_cpu", reason="the numba backend needs numba")

FALLBACK_WARNING = "ignore:backend 'numba' has no float16 kernels"


@pytest.fixture
def fresh_numba(monkeypatch) -> backend.Backend:
    """A new numba kernel table, active, that has warned about nothing yet (the loaded one may have)."""
    table = backend.Backend("numba", numba_cpu)
    monkeypatch.setitem(backend._loaded, "numba", table)
    with tn.use_backend("numba"):
        yield table


def _results(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.filterwarnings(FALLBACK_WARNING)
@pytest.mark.parametrize(
    "kernel",
    numpy_ref.KERNELS,
)
def test_every_numba_kernel_takes_float16_as_the_reference_does(kernel):
    """Each entry of numba's table, on float16 inputs: the reference's results, in float16, never an error."""
    table = backend.Backend("numba", numba_cpu)
    args, options = _inputs(kernel, np.random.default_rng(0), np.float16)
    copies = [tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args) for _ in "ab"]
    got = getattr(table, kernel)(*copies[0], **options)
    expected = getattr(numpy_ref, kernel)(*copies[1], **options)
    if expected is None:  # an in-place kernel (the optimizer steps): compare what it updated
        got, expected = copies
    for g, e in zip(_results(got), _results(expected), strict=True):
        if isinstance(e, np.ndarray):
            assert g.dtype == e.dtype, f"{kernel}: {g.dtype}, the reference {e.dtype}"
            np.testing.assert_allclose(g, e, rtol=2e-3, atol=2e-3, err_msg=kernel)


def _pools_and_convs(x, w, wt):
    """A float16 network of every pooling and convolution kernel: conv2d, max and avg pools, conv1d (on 2-D
    kernels), a transposed convolution."""
    y = F.max_pool2d(F.conv2d(x, w, padding=1), 2, 2, padding=1)
    y = F.avg_pool2d(F.conv_transpose2d(y, wt, stride=2), 2)
    z = F.max_pool1d(F.conv1d(x.flatten(2), w[:, :, 0], padding=1), 3)
    return y.sum() + z.sum()


@pytest.mark.filterwarnings(FALLBACK_WARNING)
def test_float16_pools_and_convolutions_on_numba_equal_numpys(fresh_numba):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype(np.float16) for s in [(2, 3, 6, 5), (4, 3, 3, 3), (4, 2, 3, 3)]]
    results = {}
    for name in ("numpy", "numba"):
        with tn.use_backend(name):
            inputs = [tn.tensor(a, dtype=tn.float16, requires_grad=True) for a in arrays]
            loss = _pools_and_convs(*inputs)
            loss.backward()
            results[name] = [loss, *(t.grad for t in inputs)]
    for got, expected in zip(results["numba"], results["numpy"], strict=True):
        assert got.dtype == expected.dtype == tn.float16
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert fresh_numba.dtype_fallbacks == {"float16"}


def test_the_fallback_is_declared_and_warned_once(fresh_numba):
    limited = {k for k in numpy_ref.KERNELS if k.startswith(("conv", "max_pool", "avg_pool"))}
    assert limited <= set(fresh_numba.dtype_limits)
    assert all(fresh_numba.dtype_limits[k] == ("float32", "float64") for k in limited)
    x = tn.randn(1, 2, 4, 4, dtype=tn.float16)
    with pytest.warns(UserWarning, match=r"backend 'numba' has no float16 kernels for .*conv2d_forward.*max_pool2d"):
        F.max_pool2d(x, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: neither this op again nor another float16 op warns again
        F.max_pool2d(x, 2)
        F.conv2d(x, tn.randn(3, 2, 3, 3, dtype=tn.float16))
    assert fresh_numba.dtype_fallbacks == {"float16"}


def test_float32_and_float64_still_run_numbas_own_kernels(fresh_numba, monkeypatch):
    calls = []
    own = numba_cpu.max_pool2d_forward

    def counting(*args):
        calls.append(args[0].dtype)
        return own(*args)

    counting.dtypes = own.dtypes
    monkeypatch.setattr(numba_cpu, "max_pool2d_forward", counting)
    table = backend.Backend("numba", numba_cpu)
    monkeypatch.setitem(backend._loaded, "numba", table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (tn.float32, tn.float64):
            F.max_pool2d(tn.randn(1, 2, 4, 4, dtype=dtype), 2)
    assert calls == [np.float32, np.float64] and table.dtype_fallbacks == set()
