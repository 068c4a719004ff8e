"""Fuzzing the public ops: random shapes, dtypes and arguments, valid and invalid.

Every call must either give a result or raise a TinynetError (whose message a learner can act on): never
a raw IndexError, ValueError or TypeError from deep inside NumPy or a kernel, and never a hang. On each CPU
backend the result must be the NumPy reference backend's (and an error the same error).
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import backend

CPU_BACKENDS = [
    pytest.param(name, marks=pytest.mark.skipif(not backend.status(name)[0], reason=backend.status(name)[1]))
    for name in ("numpy", "numba")
]
# FUZZ_EXAMPLES=1000 for a deeper search than CI's.
fuzz = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 40)), deadline=None, suppress_health_check=list(HealthCheck)
)

DTYPES = [np.float32, np.float64, np.int64, np.bool_]
sizes = st.integers(0, 4)
shapes = st.lists(sizes, min_size=0, max_size=4).map(tuple)
small_ints = st.integers(-3, 4)


def _array(draw, shape=None, dtype=None) -> np.ndarray:
    shape = draw(shapes) if shape is None else shape
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    values = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape) * 3
    return values.astype(dtype)


def _tensor(draw, shape=None, dtype=None, grad=None) -> tn.Tensor:
    array = _array(draw, shape, dtype)
    wants_grad = draw(st.booleans()) if grad is None else grad
    return tn.tensor(array, dtype=array.dtype, requires_grad=wants_grad and array.dtype.kind == "f")


def _float_tensor(draw, shape=None) -> tn.Tensor:
    return _tensor(draw, shape, draw(st.sampled_from([np.float32, np.float64])), grad=True)


# Each case draws its arguments and returns a function that makes the call (so that it can run on each
# backend with the same data).
@st.composite
def case_unary(draw):
    name = draw(st.sampled_from(["relu", "sigmoid", "tanh", "gelu", "elu", "leaky_relu", "softplus"]))
    x = _tensor(draw)
    return lambda: getattr(F, name)(x)


@st.composite
def case_elementwise_method(draw):
    name = draw(st.sampled_from(["exp", "log", "sqrt", "abs", "neg"]))
    x = _tensor(draw)
    return lambda: getattr(x, name)()


@st.composite
def case_softmax(draw):
    fn, x, dim = draw(st.sampled_from([F.softmax, F.log_softmax])), _tensor(draw), draw(small_ints)
    return lambda: fn(x, dim)


@st.composite
def case_binary(draw):
    op = draw(st.sampled_from(["add", "sub", "mul", "truediv", "pow", "matmul", "maximum", "minimum"]))
    a, b = _tensor(draw), _tensor(draw)
    fns = {"maximum": tn.maximum, "minimum": tn.minimum}
    if op in fns:
        return lambda: fns[op](a, b)
    return lambda: getattr(a, f"__{op}__")(b)


@st.composite
def case_reduction(draw):
    name = draw(st.sampled_from(["sum", "mean", "max", "min", "var", "std", "argmax", "amax"]))
    x = _tensor(draw)
    dim = draw(st.one_of(st.none(), small_ints, st.tuples(small_ints, small_ints)))
    keepdim = draw(st.booleans())
    return lambda: getattr(x, name)(dim=dim, keepdim=keepdim)


@st.composite
def case_shape(draw):
    x = _tensor(draw)
    kind = draw(st.sampled_from(["reshape", "transpose", "permute", "squeeze", "unsqueeze", "flatten", "index"]))
    if kind == "reshape":
        new = draw(st.lists(st.integers(-1, 5), max_size=4).map(tuple))
        return lambda: x.reshape(*new)
    if kind == "transpose":
        a, b = draw(small_ints), draw(small_ints)
        return lambda: x.transpose(a, b)
    if kind == "permute":
        dims = draw(st.lists(small_ints, max_size=4))
        return lambda: x.permute(*dims)
    if kind in ("squeeze", "unsqueeze"):
        dim = draw(small_ints)
        return lambda: getattr(x, kind)(dim)
    if kind == "flatten":
        a, b = draw(small_ints), draw(small_ints)
        return lambda: x.flatten(a, b)
    index = draw(
        st.one_of(
            small_ints,
            st.tuples(small_ints, small_ints),
            st.builds(slice, st.none() | small_ints, st.none() | small_ints, st.none() | st.integers(-2, 2)),
            st.lists(st.integers(-5, 5), max_size=3).map(lambda v: tn.tensor(np.array(v, dtype=np.int64))),
        )
    )
    return lambda: x[index]


@st.composite
def case_join(draw):
    fn = draw(st.sampled_from([tn.cat, tn.stack]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    tensors = [_tensor(draw, dtype=dtype) for _ in range(draw(st.integers(0, 3)))]
    dim = draw(small_ints)
    return lambda: fn(tensors, dim)


@st.composite
def case_conv(draw):
    fn = draw(st.sampled_from([F.conv1d, F.conv2d]))
    spatial = 1 if fn is F.conv1d else 2
    x = _float_tensor(draw, tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=5))))
    w = _float_tensor(draw, tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=5))))
    bias = draw(st.one_of(st.none(), st.integers(0, 4).map(lambda n: tn.randn(n))))
    geometry = {k: draw(st.integers(lo, 3)) for k, lo in (("stride", -1), ("padding", -1), ("dilation", -1))}
    if draw(st.booleans()):
        geometry["stride"] = (geometry["stride"],) * draw(st.integers(1, spatial + 1))
    return lambda: fn(x, w, bias, **geometry)


@st.composite
def case_pool(draw):
    fn = draw(st.sampled_from([F.max_pool1d, F.avg_pool1d, F.max_pool2d, F.avg_pool2d]))
    x = _float_tensor(draw, tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=5))))
    kernel, stride, padding = draw(st.integers(-1, 4)), draw(st.none() | st.integers(-1, 3)), draw(st.integers(-1, 3))
    return lambda: fn(x, kernel, stride, padding)


@st.composite
def case_layer_norm(draw):
    x = _float_tensor(draw)
    normalized = tuple(draw(st.lists(st.integers(0, 4), max_size=2)))
    return lambda: F.layer_norm(x, normalized)


@st.composite
def case_losses(draw):
    kind = draw(st.sampled_from(["cross_entropy", "nll_loss", "mse_loss", "bce_logits", "bce"]))
    x = _float_tensor(draw)
    if kind in ("cross_entropy", "nll_loss"):
        dtype = draw(st.sampled_from([np.int64, np.int32, np.float32, np.bool_]))
        labels = np.array(draw(st.lists(st.integers(-2, 5), max_size=5)), dtype=dtype)
        if draw(st.booleans()):
            labels = labels.reshape(-1, 1)
        return lambda: getattr(F, kind)(x, tn.tensor(labels, dtype=labels.dtype))
    target = _tensor(draw)
    fn = {"mse_loss": F.mse_loss, "bce_logits": F.binary_cross_entropy_with_logits, "bce": F.binary_cross_entropy}
    reduction = draw(st.sampled_from(["mean", "sum", "none", "max"]))
    return lambda: fn[kind](x, target, reduction=reduction)


@st.composite
def case_embedding(draw):
    dtype = draw(st.sampled_from([np.int64, np.float32]))
    indices = np.array(draw(st.lists(st.integers(-2, 6), max_size=5)), dtype=dtype)
    weight = _float_tensor(draw, tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3))))
    return lambda: F.embedding(tn.tensor(indices, dtype=indices.dtype), weight)


@st.composite
def case_attention(draw):
    q, k, v = (_float_tensor(draw, tuple(draw(st.lists(st.integers(0, 4), max_size=4)))) for _ in range(3))
    mask = None
    if draw(st.booleans()):
        mask = _tensor(draw, dtype=draw(st.sampled_from([np.bool_, np.float32])), grad=False)
    causal = draw(st.booleans())
    return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


@st.composite
def case_dropout(draw):
    x, p, training = _float_tensor(draw), draw(st.floats(-0.5, 1.5)), draw(st.booleans())
    return lambda: F.dropout(x, p, training)


CASES = {name[len("case_") :]: value for name, value in globals().items() if name.startswith("case_")}


def _outcome(call, backend_name: str):
    """(result arrays or None, error type or None) of ``call`` on ``backend_name``, with a fixed seed. A
    KernelError is never an outcome: the op accepted its inputs and a kernel failed on them, a bug."""
    with tn.use_backend(backend_name), np.errstate(all="ignore"):
        tn.manual_seed(0)
        try:
            out = call()
        except tn.KernelError:
            raise
        except tn.TinynetError as err:
            return None, type(err)
        results = [out] if isinstance(out, tn.Tensor) else list(out)
        if any(t.requires_grad for t in results):
            sum(t.sum() for t in results if t.requires_grad).backward()  # the backward must work too
        return [t.numpy() for t in results], None


@pytest.mark.parametrize("backend_name", CPU_BACKENDS)
@pytest.mark.parametrize("case", sorted(CASES))
@fuzz
@given(data=st.data())
def test_every_call_gives_the_reference_result_or_a_tinynet_error(backend_name, case, data):
    call = data.draw(CASES[case]())
    expected, expected_error = _outcome(call, "numpy")
    got, error = _outcome(call, backend_name)
    assert error is expected_error
    if expected is not None:
        for g, e in zip(got, expected, strict=True):
            assert g.shape == e.shape and g.dtype == e.dtype
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5, equal_nan=True)
