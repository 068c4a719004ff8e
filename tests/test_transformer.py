"""Embedding, TransformerEncoderLayer and TransformerDecoderLayer, and a tiny transformer that learns.

Values against NumPy references built from the layers' own parameters, gradients by gradcheck,
masks passed through to attention, PyTorch's parameter names and counts.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nn_reference import decoder_layer as decoder_reference
from nn_reference import encoder_layer as encoder_reference

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn


def _params(module) -> dict:
    return {name: p.numpy() for name, p in module.named_parameters()}


def _jitter(module) -> None:
    """Move every parameter off its init (zero biases, unit norms) so a misplaced one would show."""
    for p in module.parameters():
        p.array = p.array + 0.1 * tn.randn(*p.shape, dtype=p.dtype).array


# --- embedding --------------------------------------------------------------------------------


def test_embedding_looks_up_rows(backend_name):
    weight = tn.randn(5, 3)
    indices = tn.tensor([[0, 4, 4], [2, 1, 0]])
    got = F.embedding(indices, weight).numpy()
    assert got.shape == (2, 3, 3)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(got[i, j], weight.numpy()[indices.numpy()[i, j]])


def test_embedding_repeated_indices_sum_their_gradients(backend_name):
    weight = tn.randn(4, 2, requires_grad=True)
    indices = tn.tensor([3, 1, 3, 3, 0])
    upstream = np.arange(10, dtype=np.float32).reshape(5, 2)
    F.embedding(indices, weight).backward(tn.tensor(upstream))
    expected = np.zeros((4, 2))
    for position, row in enumerate(indices.numpy()):
        expected[row] += upstream[position]
    np.testing.assert_allclose(weight.grad.numpy(), expected)  # row 3 gets 3 gradients, row 2 none


@given(num=st.integers(1, 4), dim=st.integers(1, 3), shape=st.lists(st.integers(1, 3), max_size=2))
def test_embedding_gradcheck(num, dim, shape):
    weight = tn.randn(num, dim, dtype=tn.float64, requires_grad=True)
    indices = tn.randint(0, num, shape)
    assert tn.gradcheck(lambda w: F.embedding(indices, w), [weight])


def test_embedding_module_gradcheck():
    emb = nn.Embedding(5, 3).double()
    indices = tn.tensor([[0, 2, 4], [4, 4, 1]])
    assert tn.gradcheck(lambda weight: emb(indices), [emb.weight])  # float64: perturbed in place


def test_embedding_module_init_padding_and_errors():
    emb = nn.Embedding(1000, 64, padding_idx=0)
    assert [(n, p.shape) for n, p in emb.named_parameters()] == [("weight", (1000, 64))]
    values = emb.weight.numpy()[1:]
    assert abs(values.mean()) < 0.01 and abs(values.std() - 1) < 0.01  # N(0, 1), as PyTorch
    np.testing.assert_array_equal(emb.weight.numpy()[0], 0)
    emb(tn.tensor([0, 5, 0])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[0], 0)  # the padding row never learns
    np.testing.assert_array_equal(emb.weight.grad.numpy()[5], 1)
    assert repr(emb) == "Embedding(1000, 64, padding_idx=0)"
    with pytest.raises(ValueError, match=r"embedding: index 7 is out of range for a table of 5 rows"):
        F.embedding(tn.tensor([1, 7]), tn.randn(5, 2))
    with pytest.raises(tn.DTypeError, match="embedding: input must hold integer indices, got dtype float32"):
        F.embedding(tn.tensor([1.0]), tn.randn(5, 2))


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_an_embedding_called_at_every_step_gets_one_calls_gradient(backend_name, padding_idx):
    """Called at each step of a loop, an embedding keeps its table's gradient as rows by index (autograd.RowSum),
    scattered when backward takes it: the same gradient as one call over the whole sequence, an array in .grad."""
    emb = nn.Embedding(6, 3, padding_idx=padding_idx).double()
    tokens = tn.tensor([[2, 5, 2, 0], [1, 2, 5, 5]])
    weights = tn.randn(2, 4, 3, dtype=tn.float64)
    (emb(tokens) * weights).sum().backward()
    want = emb.weight.grad.numpy().copy()
    emb.zero_grad()
    sum(((emb(tokens[:, t]) * weights[:, t]).sum() for t in range(4)), tn.tensor(0.0)).backward()
    assert type(emb.weight.grad.array) is type(emb.weight.array) and emb.weight.grad.shape == (6, 3)
    np.testing.assert_allclose(emb.weight.grad.numpy(), want, rtol=1e-12)
    expected = np.zeros((6, 3))
    for t in range(4):
        for b in range(2):
            expected[tokens.numpy()[b, t]] += weights.numpy()[b, t]
    if padding_idx is not None:
        expected[padding_idx] = 0
    np.testing.assert_allclose(want, expected, rtol=1e-12)


def test_an_embeddings_gradient_adds_to_a_tied_heads_and_to_hooks_as_an_array(backend_name):
    """A table used as a linear head too (tied weights, as in a language model): the rows' gradients become an array
    and add to the head's; hooks, autograd.grad and watchers see arrays; two paddings do not mix."""
    tn.manual_seed(0)
    weight = tn.randn(5, 3, dtype=tn.float64, requires_grad=True)
    tokens = tn.tensor([[1, 4], [4, 0], [3, 3]])

    def loss():
        total = tn.tensor(0.0, dtype=tn.float64)
        for t in range(3):
            h = F.embedding(tokens[t], weight)
            total = total + F.linear(h, weight).tanh().sum()
        return total

    (by_grad,) = tn.autograd.grad(loss(), [weight])
    assert type(by_grad.array) is np.ndarray

    def loss_of(w):
        with tn.no_grad():
            kept = weight.array.copy()
            weight.array[...] = w
            value = loss().item()
            weight.array[...] = kept
        return value

    w, step = weight.array.copy(), 1e-6
    for row, column in [(4, 1), (3, 0), (2, 2)]:  # looked up twice and in the head; looked up once; head only
        probe = np.zeros_like(w)
        probe[row, column] = step
        numeric = (loss_of(w + probe) - loss_of(w - probe)) / (2 * step)
        assert by_grad.numpy()[row, column] == pytest.approx(numeric, rel=1e-6)
    seen = []
    weight.register_post_accumulate_grad_hook(lambda w: seen.append(type(w.grad.array)))
    with tn.detect_anomaly():  # a watcher: sees every op's input gradients
        loss().backward()
    np.testing.assert_allclose(weight.grad.numpy(), by_grad.numpy(), rtol=1e-12)
    assert seen == [type(weight.array)]
    weight.grad = None
    (F.embedding(tokens[0], weight, padding_idx=1).sum() + F.embedding(tokens[0], weight).sum()).backward()
    np.testing.assert_array_equal(weight.grad.numpy()[:, 0], [0, 1, 0, 0, 2])  # row 1 gets the unpadded call's only


# --- transformer layers -----------------------------------------------------------------------


def _mha_count(d):
    return 4 * d * d + 4 * d  # in_proj (3d, d) + (3d,), out_proj (d, d) + (d,)


def _ff_count(d, ff):
    return (d * ff + ff) + (ff * d + d)  # linear1, linear2


def test_encoder_layer_parameters_as_pytorch():
    layer = nn.TransformerEncoderLayer(16, 4, 32)
    assert [n for n, _ in layer.named_parameters()] == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
        "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
    ]  # fmt: skip
    assert sum(p.numel() for p in layer.parameters()) == _mha_count(16) + _ff_count(16, 32) + 2 * 2 * 16 == 2224
    default = nn.TransformerEncoderLayer(16, 4)  # dim_feedforward=2048
    assert sum(p.numel() for p in default.parameters()) == _mha_count(16) + _ff_count(16, 2048) + 4 * 16


def test_decoder_layer_parameters_as_pytorch():
    layer = nn.TransformerDecoderLayer(16, 4, 32)
    names = [n for n, _ in layer.named_parameters()]
    assert names[:8] == [f"{m}.{p}" for m in ("self_attn", "multihead_attn") for p in (
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")]  # fmt: skip
    assert names[8:] == [
        f"{m}.{p}" for m in ("linear1", "linear2", "norm1", "norm2", "norm3") for p in ("weight", "bias")
    ]
    assert sum(p.numel() for p in layer.parameters()) == 2 * _mha_count(16) + _ff_count(16, 32) + 3 * 2 * 16 == 3344


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_numpy(backend_name, norm_first, batch_first):
    layer = nn.TransformerEncoderLayer(8, 2, 12, batch_first=batch_first, norm_first=norm_first).double().eval()
    _jitter(layer)
    x = tn.randn(3, 5, 8, dtype=tn.float64)  # batch first
    padding = np.zeros((3, 5), bool)
    padding[1, 3:] = True
    blocked = np.triu(np.ones((5, 5), bool), 1)  # True = may not attend

    def layout(t):
        return t if batch_first else t.transpose(0, 1)

    out = layout(layer(layout(x), src_mask=tn.tensor(blocked), src_key_padding_mask=tn.tensor(padding)))
    expected = encoder_reference(_params(layer), x.numpy(), 2, norm_first, blocked | padding[:, None, None, :])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-10)
    causal = layout(layer(layout(x), is_causal=True))
    np.testing.assert_allclose(causal.numpy(), encoder_reference(_params(layer), x.numpy(), 2, norm_first, blocked))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_numpy(backend_name, norm_first):
    layer = nn.TransformerDecoderLayer(8, 2, 12, batch_first=True, norm_first=norm_first).double().eval()
    _jitter(layer)
    tgt, memory = tn.randn(2, 4, 8, dtype=tn.float64), tn.randn(2, 6, 8, dtype=tn.float64)
    tgt_padding, memory_padding = np.zeros((2, 4), bool), np.zeros((2, 6), bool)
    tgt_padding[0, 3], memory_padding[1, 4:] = True, True
    memory_blocked = np.random.default_rng(0).random((4, 6)) < 0.3
    causal = np.triu(np.ones((4, 4), bool), 1)
    out = layer(
        tgt,
        memory,
        memory_mask=tn.tensor(memory_blocked),
        tgt_key_padding_mask=tn.tensor(tgt_padding),
        memory_key_padding_mask=tn.tensor(memory_padding),
        tgt_is_causal=True,
    )
    expected = decoder_reference(
        _params(layer),
        tgt.numpy(),
        memory.numpy(),
        2,
        norm_first,
        causal | tgt_padding[:, None, None, :],
        memory_blocked | memory_padding[:, None, None, :],
    )
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-10)
    with_mask = layer(tgt, memory, tgt_mask=tn.tensor(causal))  # the same causal mask, given explicitly
    np.testing.assert_allclose(with_mask.numpy(), layer(tgt, memory, tgt_is_causal=True).numpy(), rtol=1e-12)


@settings(max_examples=8)
@given(length=st.integers(1, 3), norm_first=st.booleans(), activation=st.sampled_from(["relu", "gelu"]),
       padded=st.booleans())  # fmt: skip
def test_encoder_layer_gradcheck(length, norm_first, activation, padded):
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.2, activation=activation, norm_first=norm_first).double()
    _jitter(layer)
    src = tn.randn(length, 2, 4, dtype=tn.float64, requires_grad=True)
    padding = tn.tensor(np.arange(length)[None, :].repeat(2, 0) >= max(length - 1, 1)) if padded else None

    def fn(src, *params):
        tn.manual_seed(2)  # the same dropout masks at every evaluation
        return layer(src, src_key_padding_mask=padding, is_causal=True)

    assert tn.gradcheck(fn, [src, *layer.parameters()])


@settings(max_examples=6)
@given(tgt_len=st.integers(1, 3), mem_len=st.integers(1, 3), norm_first=st.booleans())
def test_decoder_layer_gradcheck(tgt_len, mem_len, norm_first):
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.2, batch_first=True, norm_first=norm_first).double()
    _jitter(layer)
    tgt = tn.randn(2, tgt_len, 4, dtype=tn.float64, requires_grad=True)
    memory = tn.randn(2, mem_len, 4, dtype=tn.float64, requires_grad=True)
    memory_padding = tn.tensor(np.array([[False] * mem_len, [False] + [True] * (mem_len - 1)]))

    def fn(tgt, memory, *params):
        tn.manual_seed(2)
        return layer(tgt, memory, memory_key_padding_mask=memory_padding, tgt_is_causal=True)

    assert tn.gradcheck(fn, [tgt, memory, *layer.parameters()])


def test_decoder_layer_causal_target_and_padded_memory_hide_what_they_should():
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    tgt, memory = tn.randn(2, 5, 8), tn.randn(2, 6, 8)
    padding = tn.tensor(np.array([[False] * 4 + [True] * 2] * 2))
    out = layer(tgt, memory, tgt_is_causal=True, memory_key_padding_mask=padding).numpy()
    future, padded = tgt.numpy().copy(), memory.numpy().copy()
    future[:, 3:] += 5.0
    padded[:, 4:] = -7.0
    changed = layer(tn.tensor(future), tn.tensor(padded), tgt_is_causal=True, memory_key_padding_mask=padding).numpy()
    np.testing.assert_allclose(changed[:, :3], out[:, :3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(changed[:, 3:], out[:, 3:])


def test_transformer_layers_dropout_only_in_training_and_bad_activation():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = tn.randn(4, 2, 8)
    assert not np.allclose(layer(x).numpy(), layer(x).numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    with pytest.raises(ValueError, match=r"activation must be one of \['gelu', 'relu'\] or a function, got 'tanh'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


# --- a tiny transformer learns ----------------------------------------------------------------


class TinyReverser(nn.Module):
    """Embedding + positions + one encoder layer + a linear read-out: predicts each token of x reversed."""

    def __init__(self, vocab: int, length: int, d_model: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.PositionalEncoding(d_model, max_len=length)
        self.encoder = nn.TransformerEncoderLayer(d_model, 4, 64, dropout=0.0, batch_first=True)
        self.readout = nn.Linear(d_model, vocab)

    def forward(self, tokens: tn.Tensor) -> tn.Tensor:
        return self.readout(self.encoder(self.position(self.embed(tokens))))


def test_a_tiny_transformer_learns_to_reverse_sequences():
    # Reversing needs attention (another position's token) and positions (which one): neither alone does it.
    vocab, length, batch = 6, 6, 32
    model = TinyReverser(vocab, length)
    optimizer = tn.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(300):
        tokens = rng.integers(0, vocab, (batch, length))
        logits = model(tn.tensor(tokens))
        loss = F.cross_entropy(logits.reshape(batch * length, vocab), tn.tensor(tokens[:, ::-1].reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[:10]) > 1.5  # about log(6) = 1.79 at the start: guessing
    assert np.mean(losses[-10:]) < 0.1
    fresh = rng.integers(0, vocab, (64, length))
    with tn.no_grad():
        predicted = model.eval()(tn.tensor(fresh)).argmax(-1).numpy()
    assert (predicted == fresh[:, ::-1]).mean() > 0.95
