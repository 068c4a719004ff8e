"""Scaled dot-product attention, MultiheadAttention and PositionalEncoding.

Values against naive NumPy references, gradients by gradcheck (masks included), what masks hide,
numerical safety (fully masked rows, scores of +-1e8), and PyTorch's parameter names and counts.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nn_reference import attention as attention_reference
from nn_reference import multihead_attention as mha_reference

import tinynet as tn
import tinynet.nn.functional as F
from kernels import numpy_ref
from tinynet import nn
from tinynet.functions.attention import attention_weights, attention_with_weights


def _flat(x: np.ndarray, tail: int = 2) -> np.ndarray:
    """Merge the leading (batch, head) axes into one, as the reference takes them."""
    return x.reshape(-1, *x.shape[x.ndim - tail :])


def _params(module) -> dict:
    return {name: p.numpy() for name, p in module.named_parameters()}


def _causal(length: int, source: int) -> np.ndarray:
    return np.array([[j <= i for j in range(source)] for i in range(length)])


# --- scaled_dot_product_attention ---------------------------------------------------------------


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "causal+bool"])
def test_sdpa_matches_numpy(backend_name, mask_kind):
    q, k, v = tn.randn(2, 3, 4, 5, dtype=tn.float64), tn.randn(2, 3, 6, 5, dtype=tn.float64), tn.randn(2, 3, 6, 2)
    v = v.double()
    rng = np.random.default_rng(1)
    allowed = rng.random((4, 6)) < 0.6
    allowed[1] = False  # a query that may look at nothing
    attn_mask, expected_allowed, is_causal = None, np.ones((4, 6), bool), False
    if mask_kind == "bool":
        attn_mask, expected_allowed = tn.tensor(allowed), allowed
    elif mask_kind == "float":
        attn_mask, expected_allowed = tn.tensor(np.where(allowed, 0.0, -np.inf), dtype=tn.float64), allowed
    elif mask_kind == "causal":
        is_causal, expected_allowed = True, _causal(4, 6)
    elif mask_kind == "causal+bool":
        attn_mask, is_causal, expected_allowed = tn.tensor(allowed), True, allowed & _causal(4, 6)
    # SDPA refuses a mask with is_causal, as PyTorch does: it gets the two folded into one (attention_weights
    # and MultiheadAttention fold them themselves).
    one_mask = mask_kind == "causal+bool"
    sdpa_mask, sdpa_causal = (tn.tensor(expected_allowed), False) if one_mask else (attn_mask, is_causal)
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=sdpa_mask, is_causal=sdpa_causal)
    allowed_b = np.broadcast_to(expected_allowed, (6, 4, 6))
    expected, weights = attention_reference(
        _flat(q.numpy()), _flat(k.numpy()), _flat(v.numpy()), allowed_b, 1 / math.sqrt(5)
    )
    np.testing.assert_allclose(_flat(got.numpy()), expected, rtol=1e-10, atol=1e-12)
    got_weights = attention_weights(q, k, attn_mask=attn_mask, is_causal=is_causal)
    np.testing.assert_allclose(_flat(got_weights.numpy()), weights, rtol=1e-10, atol=1e-12)


def test_sdpa_scale_and_broadcast_batch_axes():
    q, k, v = tn.randn(2, 1, 3, 4, dtype=tn.float64), tn.randn(1, 2, 5, 4, dtype=tn.float64), tn.randn(5, 3)
    got = F.scaled_dot_product_attention(q, k, v.double(), scale=0.3)
    assert got.shape == (2, 2, 3, 3)
    qb, kb = np.broadcast_to(q.numpy(), (2, 2, 3, 4)), np.broadcast_to(k.numpy(), (2, 2, 5, 4))
    vb = np.broadcast_to(v.numpy(), (2, 2, 5, 3))
    expected, _ = attention_reference(_flat(qb), _flat(kb), _flat(vb), np.ones((4, 3, 5), bool), 0.3)
    np.testing.assert_allclose(_flat(got.numpy()), expected, rtol=1e-10)


@given(
    batch=st.lists(st.integers(1, 2), max_size=2),
    length=st.integers(1, 3),
    source=st.integers(1, 3),
    features=st.integers(1, 3),
    mask_kind=st.sampled_from(["none", "bool", "causal", "float"]),
    seed=st.integers(0, 99),
)
def test_sdpa_gradcheck(batch, length, source, features, mask_kind, seed):
    rng = np.random.default_rng(seed)
    q = tn.randn(*batch, length, features, dtype=tn.float64, requires_grad=True)
    k = tn.randn(*batch, source, features, dtype=tn.float64, requires_grad=True)
    v = tn.randn(*batch, source, 2, dtype=tn.float64, requires_grad=True)
    allowed = rng.random((length, source)) < 0.6  # some rows may be fully masked
    attn_mask = None
    if mask_kind == "bool":
        attn_mask = tn.tensor(allowed)
    elif mask_kind == "float":
        attn_mask = tn.tensor(rng.standard_normal((length, source)), dtype=tn.float64)
    causal = mask_kind == "causal"
    assert tn.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask, is_causal=causal), [q, k, v])
    assert tn.gradcheck(lambda q, k: attention_weights(q, k, attn_mask, is_causal=causal), [q, k])


def test_sdpa_gradcheck_through_a_float_mask_that_requires_grad():
    q, k, v = (tn.randn(2, n, 3, dtype=tn.float64, requires_grad=True) for n in (3, 4, 4))
    bias = tn.randn(3, 4, dtype=tn.float64, requires_grad=True)  # a learned additive bias on the scores
    assert tn.gradcheck(lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, b), [q, k, v, bias])


def test_sdpa_dropout_drops_weights_with_tinynets_generator(backend_name):
    q, k, v = tn.randn(2, 3, 4, dtype=tn.float64), tn.randn(2, 5, 4, dtype=tn.float64), tn.randn(2, 5, 2)
    v = v.double()
    tn.manual_seed(7)
    got = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    _, weights = attention_reference(q.numpy(), k.numpy(), v.numpy(), np.ones((2, 3, 5), bool), 0.5)
    key = np.random.default_rng(7).integers(0, 2**32, size=2, dtype=np.uint32)  # tinynet's generator, seeded 7
    keep = numpy_ref.dropout_mask(np.empty(0), (2, 3, 5), key, 0.5) != 0
    np.testing.assert_allclose(got.numpy(), (weights * keep / 0.5) @ v.numpy(), rtol=1e-10)
    tn.manual_seed(7)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy(), got.numpy())


def test_sdpa_gradcheck_with_dropout():
    q, k, v = (tn.randn(2, n, 3, dtype=tn.float64, requires_grad=True) for n in (3, 4, 4))

    def fn(q, k, v):
        tn.manual_seed(3)  # the same dropout mask at every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, is_causal=True)

    assert tn.gradcheck(fn, [q, k, v])


def test_causal_attention_never_looks_ahead(backend_name):
    q, k, v = tn.randn(2, 6, 4), tn.randn(2, 6, 4), tn.randn(2, 6, 3)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    for t in range(6):
        k2, v2 = k.numpy().copy(), v.numpy().copy()
        k2[:, t + 1 :] = 100 * np.random.default_rng(t).standard_normal(k2[:, t + 1 :].shape)
        v2[:, t + 1 :] = -50.0
        changed = F.scaled_dot_product_attention(q, tn.tensor(k2), tn.tensor(v2), is_causal=True).numpy()
        np.testing.assert_array_equal(changed[:, : t + 1], out[:, : t + 1])
    weights = attention_weights(q, k, is_causal=True).numpy()
    assert (weights[:, np.triu_indices(6, 1)[0], np.triu_indices(6, 1)[1]] == 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1, rtol=1e-6)


def test_fully_masked_rows_give_zeros_and_finite_gradients(backend_name):
    q, k, v = (tn.randn(2, n, 4, requires_grad=True) for n in (3, 5, 5))
    mask = tn.tensor(np.array([[True] * 5, [False] * 5, [True, False, True, False, False]]))
    for attn_mask in (mask, tn.tensor(np.where(mask.numpy(), 0.0, -np.inf))):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask)
        assert np.isfinite(out.numpy()).all()
        np.testing.assert_array_equal(out.numpy()[:, 1], 0)
        out.sum().backward()
        for t in (q, k, v):
            assert np.isfinite(t.grad.numpy()).all()
        np.testing.assert_array_equal(q.grad.numpy()[:, 1], 0)
    weights = attention_weights(q, k, mask)
    np.testing.assert_array_equal(weights.numpy()[:, 1], 0)


def test_huge_inputs_stay_finite(backend_name):
    rng = np.random.default_rng(0)
    q, k = rng.choice([-1e4, 1e4], (2, 3, 4)), rng.choice([-1e4, 1e4], (2, 5, 4))  # scores of +-2e8
    v = rng.standard_normal((2, 5, 3))
    qt, kt, vt = (tn.tensor(a, requires_grad=True) for a in (q, k, v))  # float32
    out = F.scaled_dot_product_attention(qt, kt, vt)
    expected, _ = attention_reference(q, k, v, np.ones((2, 3, 5), bool), 0.5)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    for t in (qt, kt, vt):
        assert np.isfinite(t.grad.numpy()).all()


def test_sdpa_shape_and_dtype_errors():
    q = tn.randn(2, 3, 4)
    with pytest.raises(tn.ShapeError, match=r"query \(2, 3, 4\) and key \(2, 5, 3\) must have the same feature size"):
        F.scaled_dot_product_attention(q, tn.randn(2, 5, 3), tn.randn(2, 5, 3))
    with pytest.raises(tn.ShapeError, match=r"key \(2, 5, 4\) and value \(2, 6, 4\) must have the same length"):
        F.scaled_dot_product_attention(q, tn.randn(2, 5, 4), tn.randn(2, 6, 4))
    with pytest.raises(tn.ShapeError, match=r"attn_mask of shape \(4, 5\) does not broadcast to .* \(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, tn.randn(2, 5, 4), tn.randn(2, 5, 4), tn.ones(4, 5, dtype=tn.bool_))
    with pytest.raises(tn.DTypeError, match="attn_mask must be bool"):
        F.scaled_dot_product_attention(q, q, q, tn.ones(3, 3, dtype=tn.int64))
    with pytest.raises(
        tn.ShapeError, match=r"leading \(batch\) axes of query \(2, 3, 4\), key \(3, 3, 4\).* cannot broadcast"
    ):
        F.scaled_dot_product_attention(q, tn.randn(3, 3, 4), tn.randn(3, 3, 4))


# --- MultiheadAttention -------------------------------------------------------------------------


def test_multihead_attention_parameters_as_pytorch():
    mha = nn.MultiheadAttention(16, 4)
    assert [(n, p.shape) for n, p in mha.named_parameters()] == [
        ("in_proj_weight", (48, 16)), ("in_proj_bias", (48,)), ("out_proj.weight", (16, 16)), ("out_proj.bias", (16,)),
    ]  # fmt: skip
    assert sum(p.numel() for p in mha.parameters()) == 4 * 16 * 16 + 4 * 16 == 1088
    assert sum(p.numel() for p in nn.MultiheadAttention(16, 4, bias=False).parameters()) == 4 * 16 * 16
    # PyTorch's init: Xavier-uniform in_proj_weight (bound sqrt(6 / (16 + 48))), zero biases.
    bound = math.sqrt(6 / (16 + 48))
    assert np.abs(mha.in_proj_weight.numpy()).max() <= bound and np.abs(mha.in_proj_weight.numpy()).max() > 0.9 * bound
    np.testing.assert_array_equal(mha.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(mha.out_proj.bias.numpy(), 0)
    with pytest.raises(ValueError, match="embed_dim 10 must split evenly into num_heads 4"):
        nn.MultiheadAttention(10, 4)


@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_matches_numpy(backend_name, batch_first):
    mha = nn.MultiheadAttention(8, 2, batch_first=batch_first).double()
    for p in mha.parameters():  # nonzero biases, so a wrong bias slice would show
        p.array = p.array + tn.randn(*p.shape, dtype=tn.float64).array * 0.1
    query, key = tn.randn(3, 4, 8, dtype=tn.float64), tn.randn(3, 5, 8, dtype=tn.float64)  # batch first
    value = tn.randn(3, 5, 8, dtype=tn.float64)
    padding = np.zeros((3, 5), bool)
    padding[0, 3:] = padding[2, 1] = True
    blocked = np.random.default_rng(2).random((4, 5)) < 0.3

    def layout(t):
        return t if batch_first else t.transpose(0, 1)

    out, weights = mha(layout(query), layout(key), layout(value), key_padding_mask=tn.tensor(padding),
                       attn_mask=tn.tensor(blocked), average_attn_weights=False)  # fmt: skip
    expected, expected_weights = mha_reference(
        _params(mha), query.numpy(), key.numpy(), value.numpy(), 2, blocked | padding[:, None, None, :]
    )
    np.testing.assert_allclose(layout(out).numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-10, atol=1e-12)
    averaged = mha(layout(query), layout(key), layout(value), tn.tensor(padding), attn_mask=tn.tensor(blocked))[1]
    np.testing.assert_allclose(averaged.numpy(), expected_weights.mean(1), rtol=1e-10, atol=1e-12)
    fused, none = mha(layout(query), layout(key), layout(value), tn.tensor(padding), need_weights=False,
                      attn_mask=tn.tensor(blocked))  # fmt: skip
    assert none is None
    np.testing.assert_allclose(layout(fused).numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "float"])
@pytest.mark.parametrize("dtype", [tn.float32, tn.float64])
def test_attention_with_weights_gives_the_unfused_values_and_gradients(backend_name, average, mask_kind, dtype):
    """MultiheadAttention's need_weights path: out and weights from one kernel, the weights a tensor of their own
    whose gradient reaches q and k, as scaled_dot_product_attention and attention_weights give them apart."""
    rng = np.random.default_rng(3)
    masks = {
        "none": None,
        "causal": _causal(5, 5),
        "float": np.where(_causal(5, 5), rng.standard_normal((5, 5)), -np.inf),
    }
    mask = (
        None
        if masks[mask_kind] is None
        else tn.tensor(masks[mask_kind], dtype=None if mask_kind == "causal" else dtype)
    )

    def run(fused: bool):
        q, k, v = (tn.tensor(rng.standard_normal((2, 3, 5, 4)), dtype=dtype, requires_grad=True) for _ in "qkv")
        if fused:
            out, weights = attention_with_weights(q, k, v, mask, average)
        else:
            out, weights = F.scaled_dot_product_attention(q, k, v, mask), attention_weights(q, k, mask)
            weights = weights.mean(1) if average else weights
        (out.sum() + (weights * tn.tensor(rng.standard_normal(weights.shape), dtype=dtype)).sum()).backward()
        return out, weights, q.grad, k.grad, v.grad

    rng_state = rng.bit_generator.state
    fused = run(True)
    rng.bit_generator.state = rng_state
    unfused = run(False)
    tolerance = {"rtol": 1e-4, "atol": 1e-5} if dtype == tn.float32 else {"rtol": 1e-10, "atol": 1e-12}
    assert fused[1].shape == ((2, 5, 5) if average else (2, 3, 5, 5))
    for got, expected in zip(fused, unfused):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), **tolerance)


def test_multihead_attention_per_head_and_float_masks():
    mha = nn.MultiheadAttention(4, 2, batch_first=True).double()
    x = tn.randn(2, 3, 4, dtype=tn.float64)
    blocked = np.random.default_rng(4).random((2 * 2, 3, 3)) < 0.4  # (N * heads, L, S): head h of sample n at n*2+h
    out, _ = mha(x, x, x, attn_mask=tn.tensor(blocked))
    expected, _ = mha_reference(_params(mha), x.numpy(), x.numpy(), x.numpy(), 2, blocked.reshape(2, 2, 3, 3))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    additive = tn.tensor(np.where(blocked, -np.inf, 0.0), dtype=tn.float64)
    np.testing.assert_allclose(mha(x, x, x, attn_mask=additive)[0].numpy(), expected, rtol=1e-10, atol=1e-12)


def test_multihead_attention_key_padding_hides_padded_keys():
    mha = nn.MultiheadAttention(8, 4, batch_first=True)
    x = tn.randn(2, 5, 8)
    padding = tn.tensor(np.array([[False] * 3 + [True] * 2, [False] * 5]))
    out, weights = mha(x, x, x, key_padding_mask=padding, average_attn_weights=False)
    np.testing.assert_array_equal(weights.numpy()[0, :, :, 3:], 0)
    changed = x.numpy().copy()
    changed[0, 3:] = 99.0  # new padded keys and values: the real positions must not notice
    out2, _ = mha(x, tn.tensor(changed), tn.tensor(changed), key_padding_mask=padding)
    np.testing.assert_allclose(out2.numpy()[0], out.numpy()[0], rtol=1e-6)


def test_multihead_attention_causal_weights_are_zero_above_the_diagonal():
    mha = nn.MultiheadAttention(8, 2)
    x = tn.randn(5, 2, 8)  # (L, N, E)
    _, weights = mha(x, x, x, is_causal=True, average_attn_weights=False)
    assert weights.shape == (2, 2, 5, 5)
    np.testing.assert_array_equal(np.triu(weights.numpy(), 1), 0)
    causal_bool = tn.tensor(np.triu(np.ones((5, 5), bool), 1))  # True = may NOT attend, PyTorch's module convention
    np.testing.assert_allclose(mha(x, x, x, attn_mask=causal_bool)[0].numpy(), mha(x, x, x, is_causal=True)[0].numpy())


@given(length=st.integers(1, 3), source=st.integers(1, 3), batch_first=st.booleans(), need_weights=st.booleans(),
       use_masks=st.booleans())  # fmt: skip
def test_multihead_attention_gradcheck(length, source, batch_first, need_weights, use_masks):
    mha = nn.MultiheadAttention(4, 2, batch_first=batch_first).double()
    shape = (lambda t: (2, t, 4)) if batch_first else (lambda t: (t, 2, 4))
    query = tn.randn(*shape(length), dtype=tn.float64, requires_grad=True)
    key = tn.randn(*shape(source), dtype=tn.float64, requires_grad=True)
    value = tn.randn(*shape(source), dtype=tn.float64, requires_grad=True)
    padding = tn.tensor(np.arange(source) >= source - 1).reshape(1, source).expand(2, source) if use_masks else None
    blocked = tn.tensor(np.random.default_rng(length).random((length, source)) < 0.3) if use_masks else None

    def fn(q, k, v, *params):
        out, weights = mha(q, k, v, key_padding_mask=padding, attn_mask=blocked, need_weights=need_weights)
        return out if weights is None else out.sum() + (weights * weights).sum()

    assert tn.gradcheck(fn, [query, key, value, *mha.parameters()])


def test_multihead_attention_unbatched_and_shape_errors():
    mha = nn.MultiheadAttention(6, 3)
    out, weights = mha(tn.randn(4, 6), tn.randn(5, 6), tn.randn(5, 6))
    assert out.shape == (4, 6) and weights.shape == (4, 5)
    with pytest.raises(tn.ShapeError, match=r"MultiheadAttention\(embed_dim=6, num_heads=3\): the last axis"):
        mha(tn.randn(4, 2, 5), tn.randn(4, 2, 5), tn.randn(4, 2, 5))
    with pytest.raises(tn.ShapeError, match=r"key_padding_mask must have shape \(N, S\) = \(2, 5\); got \(5, 2\)"):
        mha(tn.randn(4, 2, 6), tn.randn(5, 2, 6), tn.randn(5, 2, 6), key_padding_mask=tn.ones(5, 2, dtype=tn.bool_))
    with pytest.raises(tn.ShapeError, match=r"attn_mask must have shape \(L, S\) = \(4, 5\)"):
        mha(tn.randn(4, 2, 6), tn.randn(5, 2, 6), tn.randn(5, 2, 6), attn_mask=tn.ones(5, 4, dtype=tn.bool_))


def test_multihead_attention_dropout_only_in_training():
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = tn.randn(2, 4, 8)
    _, weights = mha(x, x, x, average_attn_weights=False)
    assert (weights.numpy() == 0).any()  # dropped weights, as PyTorch returns them
    mha.eval()
    out1, w1 = mha(x, x, x)
    out2, _ = mha(x, x, x)
    np.testing.assert_array_equal(out1.numpy(), out2.numpy())
    np.testing.assert_allclose(w1.numpy().sum(-1), 1, rtol=1e-6)


# --- PositionalEncoding -----------------------------------------------------------------------


@pytest.mark.parametrize("d_model", [6, 7])
def test_positional_encoding_formula(backend_name, d_model):
    pe = nn.PositionalEncoding(d_model, max_len=20)
    x = tn.randn(2, 9, d_model)
    got = pe(x).numpy() - x.numpy()
    for pos in range(9):
        for j in range(d_model):
            i = j // 2
            angle = pos / 10000 ** (2 * i / d_model)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            np.testing.assert_allclose(got[:, pos, j], expected, atol=1e-6)
    assert [n for n, _ in pe.named_buffers()] == ["pe"] and list(pe.parameters()) == []
    with pytest.raises(tn.ShapeError, match=r"PositionalEncoding\(d_model=7, max_len=20\).*got \(1, 21, 7\)"):
        nn.PositionalEncoding(7, max_len=20)(tn.randn(1, 21, 7))


def test_positional_encoding_gradcheck_and_dropout_only_in_training():
    pe = nn.PositionalEncoding(4, max_len=10).double()
    x = tn.randn(2, 3, 4, dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(pe, [x])
    noisy = nn.PositionalEncoding(4, max_len=10, dropout=0.5)
    assert (noisy(tn.randn(2, 3, 4)).numpy() == 0).any()
    np.testing.assert_allclose(noisy.eval()(x.float()).numpy(), pe(x).numpy(), rtol=1e-6)
