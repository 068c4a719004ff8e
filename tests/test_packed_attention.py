"""MultiheadAttention's fused self-attention (one in_proj product, one packed attention op) against PyTorch.

Self-attention without weights (query, key and value one tensor, need_weights=False: what every
TransformerEncoderLayer runs) takes ``packed_self_attention``; these tests hold its outputs and every gradient
(input and parameters) to PyTorch's MultiheadAttention with the same parameters, for each layout and mask, and
check that the other cases (masks that need a gradient, dropout in training) still reach the general path.
"""

import numpy as np
import pytest

import tinynet as tn
from tinynet import nn
from tinynet.errors import ShapeError
from tinynet.functions.attention import packed_self_attention

torch = pytest.importorskip("torch", reason="these tests compare with PyTorch, which is not installed")

EMBED, HEADS, BATCH, LENGTH = 8, 2, 3, 5


def _pair(batch_first: bool, bias: bool = True):
    """A PyTorch MultiheadAttention and a tinynet one with its parameters (moved off their zero biases)."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(EMBED, HEADS, bias=bias, batch_first=batch_first)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ours = nn.MultiheadAttention(EMBED, HEADS, bias=bias, batch_first=batch_first)
    ours.load_state_dict({name: tn.tensor(value.detach().numpy()) for name, value in theirs.state_dict().items()})
    return theirs, ours


def _masks(kind: str, rng) -> dict:
    """Keyword arguments of forward for a mask ``kind``, as NumPy arrays (True = may NOT attend)."""
    causal = np.triu(np.ones((LENGTH, LENGTH), bool), k=1)
    if kind == "none":
        return {}
    if kind == "causal_bool":
        return {"attn_mask": causal}
    if kind == "causal_float":
        return {"attn_mask": np.where(causal, -np.inf, 0.0).astype(np.float32)}
    if kind == "is_causal":
        return {"attn_mask": causal, "is_causal": True}
    if kind == "float":
        return {"attn_mask": rng.standard_normal((LENGTH, LENGTH)).astype(np.float32)}
    if kind == "per_head":
        return {"attn_mask": rng.random((BATCH * HEADS, LENGTH, LENGTH)) < 0.3}
    if kind == "padding":
        padding = np.zeros((BATCH, LENGTH), bool)
        padding[0, -2:] = padding[2, -1] = True
        return {"key_padding_mask": padding}
    if kind == "padding+causal":
        padding = np.zeros((BATCH, LENGTH), bool)
        padding[1, -2:] = True
        return {"key_padding_mask": padding, "attn_mask": causal}
    raise ValueError(kind)


def _run(lib, module, x: np.ndarray, masks: dict):
    """Forward (self-attention, no weights) and backward from a fixed upstream gradient; output and gradients."""
    tensor = lib.tensor(x, requires_grad=True)
    kwargs = {name: lib.tensor(value) if isinstance(value, np.ndarray) else value for name, value in masks.items()}
    out, weights = module(tensor, tensor, tensor, need_weights=False, **kwargs)
    assert weights is None
    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(lib.tensor(upstream))
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return out.detach().numpy(), tensor.grad.numpy(), grads


def _compare(ours, theirs) -> None:
    (out, dx, dparams), (t_out, t_dx, t_dparams) = ours, theirs
    np.testing.assert_allclose(out, t_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-4, atol=1e-5)
    assert dparams.keys() == t_dparams.keys()
    for name in dparams:
        np.testing.assert_allclose(dparams[name], t_dparams[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize(
    "kind", ["none", "causal_bool", "causal_float", "is_causal", "float", "per_head", "padding", "padding+causal"]
)
@pytest.mark.parametrize("batch_first", [True, False])
def test_self_attention_matches_pytorch(backend_name, kind, batch_first):
    rng = np.random.default_rng(0)
    theirs, ours = _pair(batch_first)
    shape = (BATCH, LENGTH, EMBED) if batch_first else (LENGTH, BATCH, EMBED)
    x = rng.standard_normal(shape).astype(np.float32)
    masks = _masks(kind, rng)
    if kind == "is_causal":  # PyTorch takes is_causal only as a hint beside the mask it describes
        theirs_masks = {"attn_mask": masks["attn_mask"], "is_causal": True}
    else:
        theirs_masks = masks
    _compare(_run(tn, ours, x, masks), _run(torch, theirs, x, theirs_masks))


def test_self_attention_without_bias_and_unbatched_matches_pytorch(backend_name):
    rng = np.random.default_rng(2)
    theirs, ours = _pair(batch_first=False, bias=False)
    x = rng.standard_normal((LENGTH, EMBED)).astype(np.float32)
    masks = _masks("causal_bool", rng)
    _compare(_run(tn, ours, x, masks), _run(torch, theirs, x, masks))


def test_encoder_layer_takes_the_fused_op_and_matches_its_general_path(backend_name):
    """A pre-norm encoder layer under a causal mask: one PackedSelfAttention node, and the same output and
    gradients as the layer computed by the general path (need_weights=True gives the same values)."""
    layer = nn.TransformerEncoderLayer(EMBED, HEADS, 16, dropout=0.0, batch_first=True, norm_first=True)
    x = tn.randn(BATCH, LENGTH, EMBED, requires_grad=True)
    mask = tn.tensor(np.triu(np.ones((LENGTH, LENGTH), bool), k=1))
    out = layer(x, src_mask=mask)
    names = set()
    stack = [out._node]
    while stack:
        node = stack.pop()
        if node is not None:
            names.add(node.function.__name__)
            stack.extend(getattr(t, "_node", None) for t in node.inputs if t is not None)
    assert "PackedSelfAttention" in names and "Attention" not in names
    out.sum().backward()
    fused_dx = x.grad.numpy()
    x.grad = None
    attention, _ = layer.self_attn(*(layer.norm1(x),) * 3, attn_mask=mask, need_weights=True)
    general = x + attention
    general = general + layer._feed_forward(layer.norm2(general))
    np.testing.assert_allclose(out.detach().numpy(), general.detach().numpy(), rtol=1e-5, atol=1e-6)
    general.sum().backward()
    np.testing.assert_allclose(fused_dx, x.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_a_float_mask_that_needs_a_gradient_gets_one():
    _, ours = _pair(batch_first=True)
    x = tn.randn(BATCH, LENGTH, EMBED)
    mask = tn.randn(LENGTH, LENGTH, requires_grad=True)
    out, _ = ours(x, x, x, need_weights=False, attn_mask=mask)
    out.sum().backward()
    assert mask.grad is not None and np.abs(mask.grad.numpy()).sum() > 0


def test_dropout_in_training_still_drops():
    _, ours = _pair(batch_first=True)
    ours.dropout = 0.5
    x = tn.randn(BATCH, LENGTH, EMBED)
    ours.train()
    first, _ = ours(x, x, x, need_weights=False)
    second, _ = ours(x, x, x, need_weights=False)
    assert not np.allclose(first.numpy(), second.numpy())
    ours.eval()
    first, _ = ours(x, x, x, need_weights=False)
    second, _ = ours(x, x, x, need_weights=False)
    np.testing.assert_array_equal(first.numpy(), second.numpy())


def test_packed_self_attention_equals_sdpa_on_the_split_heads(backend_name):
    qkv = tn.randn(2, 4, 3 * 6, dtype=tn.float64, requires_grad=True)
    got = packed_self_attention(qkv, 3, is_causal=True)
    q, k, v = (t.reshape(2, 4, 3, 2).transpose(1, 2) for t in qkv.split(6, dim=-1))
    expected = tn.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(2, 4, 6)
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    upstream = tn.randn(2, 4, 6, dtype=tn.float64)
    (grad,) = tn.autograd.grad(got, [qkv], upstream)
    (expected_grad,) = tn.autograd.grad(expected, [qkv], upstream)
    np.testing.assert_allclose(grad.numpy(), expected_grad.numpy(), rtol=1e-10, atol=1e-12)
    assert tn.gradcheck(lambda t: packed_self_attention(t, 3, is_causal=True), [qkv])


def test_packed_self_attention_shape_errors():
    with pytest.raises(ShapeError, match="3 \\* heads \\* head_dim"):
        packed_self_attention(tn.randn(2, 4, 10), 2)


def test_onnx_export_of_an_encoder_layer_runs_the_separate_ops(tmp_path):
    """While the exporter watches the ops, the layer runs as its separate ops (which ONNX maps); the exported
    model gives the fused eager layer's values."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported model")
    layer = nn.TransformerEncoderLayer(EMBED, HEADS, 16, dropout=0.0, batch_first=True, norm_first=True).eval()
    mask = tn.tensor(np.triu(np.ones((LENGTH, LENGTH), bool), k=1))

    class Causal(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return self.layer(x, src_mask=mask)

    model, x = Causal(), tn.randn(BATCH, LENGTH, EMBED)
    tn.onnx.export(model, (x,), str(tmp_path / "layer.onnx"))
    session = ort.InferenceSession(str(tmp_path / "layer.onnx"))
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)
