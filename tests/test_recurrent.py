"""RNN, GRU, LSTM and their cells: PyTorch's equations, names, shapes and counts; gradients; learning.

The cells are compared with NumPy re-implementations of PyTorch's documented equations written out gate
by gate below; the layers with a loop of cells over time, layers and directions. Budget: ~60 s.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynet as tn
from tinynet import nn

small = st.integers(1, 3)

CELLS = {"RNN": nn.RNNCell, "GRU": nn.GRUCell, "LSTM": nn.LSTMCell}
LAYERS = {"RNN": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


# --- NumPy references: PyTorch's equations, one gate at a time --------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def rnn_cell_reference(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh)."""
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    return np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)


def gru_cell_reference(x, h, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's GRU: r, z, n from the rows of the weights in that order; b_hn inside r * (...)."""
    w_ir, w_iz, w_in = np.split(w_ih, 3)
    w_hr, w_hz, w_hn = np.split(w_hh, 3)
    b_ir, b_iz, b_in = np.split(b_ih, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    r = _sigmoid(x @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
    z = _sigmoid(x @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
    n = np.tanh(x @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
    return (1 - z) * n + z * h


def lstm_cell_reference(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's LSTM: gates i, f, g, o from the rows of the weights in that order."""
    w_ii, w_if, w_ig, w_io = np.split(w_ih, 4)
    w_hi, w_hf, w_hg, w_ho = np.split(w_hh, 4)
    b_ii, b_if, b_ig, b_io = np.split(b_ih, 4)
    b_hi, b_hf, b_hg, b_ho = np.split(b_hh, 4)
    i = _sigmoid(x @ w_ii.T + b_ii + h @ w_hi.T + b_hi)
    f = _sigmoid(x @ w_if.T + b_if + h @ w_hf.T + b_hf)
    g = np.tanh(x @ w_ig.T + b_ig + h @ w_hg.T + b_hg)
    o = _sigmoid(x @ w_io.T + b_io + h @ w_ho.T + b_ho)
    c_next = f * c + i * g
    return o * np.tanh(c_next), c_next


def _cell_params(cell):
    rows = GATES[_kind(cell)] * cell.hidden_size
    biases = [p.numpy() if p is not None else np.zeros(rows) for p in (cell.bias_ih, cell.bias_hh)]
    return cell.weight_ih.numpy(), cell.weight_hh.numpy(), *biases


def _kind(module) -> str:
    return type(module).__name__.replace("Cell", "")


def _expected_parameter_count(kind, input_size, hidden, num_layers=1, bias=True, bidirectional=False):
    """PyTorch's count: per layer and direction gates*H*in_k + gates*H*H (+ 2*gates*H of biases)."""
    g, d = GATES[kind], 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else d * hidden
        total += d * (g * hidden * layer_input + g * hidden * hidden + (2 * g * hidden if bias else 0))
    return total


# --- cells -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "RNN-relu", "GRU", "LSTM"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("given_state", [True, False])
def test_cells_match_numpy(backend_name, kind, bias, batch, given_state):
    kwargs = {"nonlinearity": "relu"} if kind == "RNN-relu" else {}
    cell = CELLS[kind.split("-")[0]](4, 5, bias=bias, **kwargs).double()
    lead = () if batch is None else (batch,)
    x = tn.randn(*lead, 4, dtype=tn.float64)
    h, c = tn.randn(*lead, 5, dtype=tn.float64), tn.randn(*lead, 5, dtype=tn.float64)
    h_np = h.numpy() if given_state else np.zeros((*lead, 5))
    c_np = c.numpy() if given_state else np.zeros((*lead, 5))
    params = _cell_params(cell)
    if isinstance(cell, nn.LSTMCell):
        got_h, got_c = cell(x, (h, c) if given_state else None)
        want_h, want_c = lstm_cell_reference(x.numpy(), h_np, c_np, *params)
        np.testing.assert_allclose(got_c.numpy(), want_c, rtol=1e-10, atol=1e-12)
    else:
        got_h = cell(x, h if given_state else None)
        if isinstance(cell, nn.GRUCell):
            want_h = gru_cell_reference(x.numpy(), h_np, *params)
        else:
            want_h = rnn_cell_reference(x.numpy(), h_np, *params, cell.nonlinearity)
    assert got_h.shape == (*lead, 5)
    np.testing.assert_allclose(got_h.numpy(), want_h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_cell_parameters_names_shapes_and_init(kind):
    cell = CELLS[kind](7, 16)
    g = GATES[kind]
    assert {n: p.shape for n, p in cell.named_parameters()} == {
        "weight_ih": (g * 16, 7),
        "weight_hh": (g * 16, 16),
        "bias_ih": (g * 16,),
        "bias_hh": (g * 16,),
    }
    assert sum(p.numel() for p in CELLS[kind](7, 16, bias=False).parameters()) == g * 16 * 7 + g * 16 * 16
    values = np.concatenate([p.numpy().ravel() for p in cell.parameters()])
    bound = 1 / math.sqrt(16)  # U(-1/sqrt(H), 1/sqrt(H)) for every parameter
    assert np.abs(values).max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.1 * bound  # spread like a uniform, not a constant


@given(kind=st.sampled_from(["RNN", "RNN-relu", "GRU", "LSTM"]), batch=st.integers(0, 3), sizes=st.tuples(small, small))
def test_cells_gradcheck(kind, batch, sizes):
    input_size, hidden = sizes
    kwargs = {"nonlinearity": "relu"} if kind == "RNN-relu" else {}
    cell = CELLS[kind.split("-")[0]](input_size, hidden, **kwargs).double()
    lead = (batch,) if batch else ()  # batch 0 stands for an unbatched input
    x = tn.randn(*lead, input_size, dtype=tn.float64, requires_grad=True)
    h = tn.randn(*lead, hidden, dtype=tn.float64, requires_grad=True)
    c = tn.randn(*lead, hidden, dtype=tn.float64, requires_grad=True)
    params = list(cell.parameters())
    if isinstance(cell, nn.LSTMCell):
        assert tn.gradcheck(lambda x, h, c, *p: tn.cat(cell(x, (h, c)), dim=-1), [x, h, c, *params])
    else:
        assert tn.gradcheck(lambda x, h, *p: cell(x, h), [x, h, *params])


# --- layers against a loop of cells ------------------------------------------------------------------


def _cells_of(layer, index: int, suffix: str):
    """The cell with the weights of one layer and direction of ``layer``."""
    kind = _kind(layer)
    input_size = layer.input_size if index == 0 else layer.num_directions * layer.hidden_size
    kwargs = {"nonlinearity": layer.nonlinearity} if kind == "RNN" else {}
    cell = CELLS[kind](input_size, layer.hidden_size, bias=layer.bias, **kwargs).double()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")[: 4 if layer.bias else 2]:
        getattr(cell, name).array = getattr(layer, f"{name}{suffix}").array.copy()
    return cell


def _loop_of_cells(layer, x, states):
    """Run ``layer`` step by step with cells. x: (T, N, in); states: per state, (L*D, N, H)."""
    lstm = _kind(layer) == "LSTM"
    finals = [[] for _ in states]
    for k in range(layer.num_layers):
        outputs = []
        for d, suffix in enumerate([f"_l{k}", f"_l{k}_reverse"][: layer.num_directions]):
            cell = _cells_of(layer, k, suffix)
            state = [s[k * layer.num_directions + d] for s in states]
            steps = range(x.shape[0] - 1, -1, -1) if d else range(x.shape[0])
            out = [None] * x.shape[0]
            for t in steps:
                state = list(cell(x[t], tuple(state))) if lstm else [cell(x[t], state[0])]
                out[t] = state[0]
            outputs.append(tn.stack(out))
            for final, s in zip(finals, state):
                final.append(s)
        x = tn.cat(outputs, dim=2)
    return x, [tn.stack(f) for f in finals]


LAYER_CONFIGS = [
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=1, bidirectional=True, batch_first=True),
    dict(num_layers=3, batch_first=True),
    dict(num_layers=2, bidirectional=True, bias=False),
]


@pytest.mark.parametrize("kind", ["RNN", "RNN-relu", "GRU", "LSTM"])
@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("given_state", [True, False])
def test_layers_equal_a_loop_of_cells(backend_name, kind, config, given_state):
    kwargs = {"nonlinearity": "relu"} if kind == "RNN-relu" else {}
    layer = LAYERS[kind.split("-")[0]](3, 4, **config, **kwargs).double()
    length, batch, d = 5, 2, layer.num_directions
    x = tn.randn(length, batch, 3, dtype=tn.float64)
    states = [tn.randn(layer.num_layers * d, batch, 4, dtype=tn.float64) for _ in range(1 + (kind == "LSTM"))]
    if not given_state:
        states_in, states = None, [tn.zeros(*s.shape, dtype=tn.float64) for s in states]
    else:
        states_in = tuple(states) if kind == "LSTM" else states[0]
    layer_input = tn.transpose(x, 0, 1) if layer.batch_first else x
    output, finals = layer(layer_input, states_in)
    finals = list(finals) if kind == "LSTM" else [finals]
    want_output, want_finals = _loop_of_cells(layer, x, states)
    if layer.batch_first:
        output = tn.transpose(output, 0, 1)
    assert output.shape == (length, batch, d * 4)
    np.testing.assert_allclose(output.numpy(), want_output.numpy(), rtol=1e-10, atol=1e-12)
    for got, want in zip(finals, want_finals):
        assert got.shape == (layer.num_layers * d, batch, 4)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "RNN-relu", "GRU", "LSTM"])
@pytest.mark.parametrize("given_state", [True, False])
def test_a_loop_of_cells_gets_the_layers_weight_gradients(backend_name, kind, given_state):
    """A cell called at every step sums its weights' gradients over the steps as factors (autograd.ProductSum),
    made into arrays when backward takes them: the same gradients as the layer's, whose kernels sum over time."""
    kwargs = {"nonlinearity": "relu"} if kind == "RNN-relu" else {}
    layer = LAYERS[kind.split("-")[0]](3, 4, **kwargs).double()
    x = tn.randn(5, 2, 3, dtype=tn.float64)
    weights = tn.randn(5, 2, 4, dtype=tn.float64)
    states = [tn.randn(1, 2, 4, dtype=tn.float64) for _ in range(1 + (kind == "LSTM"))] if given_state else None
    output, _ = layer(x, None if states is None else tuple(states) if kind == "LSTM" else states[0])
    (output * weights).sum().backward()
    cell, lstm = _cells_of(layer, 0, "_l0"), kind == "LSTM"
    state = (tuple(s[0] for s in states) if lstm else states[0][0]) if given_state else None
    outputs = []
    for t in range(5):
        state = cell(x[t], state)
        outputs.append(state[0] if lstm else state)
    (tn.stack(outputs) * weights).sum().backward()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        got, want = getattr(cell, name).grad, getattr(layer, f"{name}_l0").grad
        assert isinstance(got.array, type(want.array)) and got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_a_cells_weight_gradient_adds_to_other_uses_and_to_hooks_as_an_array():
    """Where the weight is used outside the cell too, its factors become an array and add to that use's gradient;
    autograd.grad, hooks and watchers (tn.debug) get arrays, and a second backward of a kept graph adds as much."""
    tn.manual_seed(0)
    cell = nn.GRUCell(3, 4).double()
    x = tn.randn(3, 2, 3, dtype=tn.float64)

    def loss():
        h = None
        for t in range(3):
            h = cell(x[t], h)
        return h.sum() + (cell.weight_hh**2).sum()

    value = loss()
    (by_grad,) = tn.autograd.grad(value, [cell.weight_hh], retain_graph=True)
    seen = []
    cell.weight_hh.register_post_accumulate_grad_hook(lambda w: seen.append(type(w.grad.array)))
    value.backward(retain_graph=True)
    np.testing.assert_allclose(cell.weight_hh.grad.numpy(), by_grad.numpy(), rtol=1e-12)
    value.backward()
    np.testing.assert_allclose(cell.weight_hh.grad.numpy(), 2 * by_grad.numpy(), rtol=1e-12)
    assert seen == [np.ndarray, np.ndarray]

    def loss_of(w):  # the same loss by finite differences: the gradient is the sum over the steps and the square
        with tn.no_grad():
            kept = cell.weight_hh.array.copy()
            cell.weight_hh.array[...] = w
            value = loss().item()
            cell.weight_hh.array[...] = kept
        return value

    w, step = cell.weight_hh.array.copy(), 1e-6
    probe = np.zeros_like(w)
    probe[5, 2] = step
    numeric = (loss_of(w + probe) - loss_of(w - probe)) / (2 * step)
    assert by_grad.numpy()[5, 2] == pytest.approx(numeric, rel=1e-6)
    tracer = tn.trace(file=None)
    for watcher in (tracer, tn.detect_anomaly()):  # watchers see each op's input gradients
        cell.zero_grad()
        with watcher:
            loss().backward()
        np.testing.assert_allclose(cell.weight_hh.grad.numpy(), by_grad.numpy(), rtol=1e-12)
    assert [record[2] for record in tracer.records if record[0] == "backward"].count("CellStep") == 3


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_unbatched_input_is_a_batch_of_one(kind):
    layer = LAYERS[kind](3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = tn.randn(6, 3)
    h0 = [tn.randn(4, 4) for _ in range(1 + (kind == "LSTM"))]
    hx = tuple(h0) if kind == "LSTM" else h0[0]
    hx_batched = tuple(h.unsqueeze(1) for h in h0) if kind == "LSTM" else h0[0].unsqueeze(1)
    output, finals = layer(x, hx)
    want_output, want_finals = layer(x.unsqueeze(0), hx_batched)  # batch_first: (1, T, in)
    assert output.shape == (6, 8)
    np.testing.assert_allclose(output.numpy(), want_output.numpy()[0], rtol=1e-6)
    for got, want in zip(*([finals, want_finals] if kind == "LSTM" else [[finals], [want_finals]])):
        assert got.shape == (4, 4)
        np.testing.assert_allclose(got.numpy(), want.numpy()[:, 0], rtol=1e-6)


def test_last_output_is_the_final_state():
    # Forward direction: output[-1] is h_n; reverse direction: output[0] is h_n (it read the sequence backwards).
    gru = nn.GRU(2, 3, num_layers=2, bidirectional=True)
    output, h_n = gru(tn.randn(5, 4, 2))
    np.testing.assert_array_equal(output.numpy()[-1, :, :3], h_n.numpy()[2])
    np.testing.assert_array_equal(output.numpy()[0, :, 3:], h_n.numpy()[3])


# --- shapes, names, parameter counts (PyTorch's) ------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize(
    "input_size, hidden, num_layers, bias, bidirectional",
    [(1, 6, 1, True, True), (10, 20, 2, True, False), (3, 5, 3, False, True), (4, 1, 2, True, True)],
)
def test_parameter_names_shapes_and_counts(kind, input_size, hidden, num_layers, bias, bidirectional):
    layer = LAYERS[kind](input_size, hidden, num_layers=num_layers, bias=bias, bidirectional=bidirectional)
    g, d = GATES[kind], 2 if bidirectional else 1
    expected = {}
    for k in range(num_layers):
        for suffix in [f"_l{k}", f"_l{k}_reverse"][:d]:
            expected[f"weight_ih{suffix}"] = (g * hidden, input_size if k == 0 else d * hidden)
            expected[f"weight_hh{suffix}"] = (g * hidden, hidden)
            if bias:
                expected[f"bias_ih{suffix}"] = (g * hidden,)
                expected[f"bias_hh{suffix}"] = (g * hidden,)
    assert [(n, p.shape) for n, p in layer.named_parameters()] == list(expected.items())  # PyTorch's order
    count = sum(p.numel() for p in layer.parameters())
    assert count == _expected_parameter_count(kind, input_size, hidden, num_layers, bias, bidirectional)
    values = np.concatenate([p.numpy().ravel() for p in layer.parameters()])
    assert np.abs(values).max() <= 1 / math.sqrt(hidden)


def test_parameter_counts_written_out():
    # Per direction: 3H*in + 3H*H + 2*3H = 18 + 108 + 36 = 162; two directions.
    assert sum(p.numel() for p in nn.GRU(1, 6, bidirectional=True).parameters()) == 2 * (18 + 108 + 36) == 324
    # LSTM(10, 20, 2): layer 0: 80*10 + 80*20 + 160 = 2560; layer 1: 80*20 + 80*20 + 160 = 3360.
    assert sum(p.numel() for p in nn.LSTM(10, 20, num_layers=2).parameters()) == 2560 + 3360
    # RNN(4, 3) without bias: 3*4 + 3*3.
    assert sum(p.numel() for p in nn.RNN(4, 3, bias=False).parameters()) == 21


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_shapes(kind, batch_first, bidirectional):
    layer = LAYERS[kind](3, 5, num_layers=3, batch_first=batch_first, bidirectional=bidirectional)
    d = 2 if bidirectional else 1
    x = tn.randn(*((2, 7) if batch_first else (7, 2)), 3)
    output, finals = layer(x)
    assert output.shape == ((2, 7, d * 5) if batch_first else (7, 2, d * 5))
    for state in finals if kind == "LSTM" else (finals,):
        assert state.shape == (3 * d, 2, 5)  # h0/h_n are never batch first, as in PyTorch


def test_reprs_follow_pytorch():
    assert repr(nn.GRU(1, 6, bidirectional=True)) == "GRU(1, 6, bidirectional=True)"
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.RNN(2, 3, nonlinearity="relu", dropout=0.5)) == "RNN(2, 3, nonlinearity='relu', dropout=0.5)"
    assert repr(nn.LSTMCell(3, 4, bias=False)) == "LSTMCell(3, 4, bias=False)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity='relu')"


def test_state_dict_round_trip():
    a, b = nn.LSTM(3, 4, num_layers=2, bidirectional=True), nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    b.load_state_dict(a.state_dict())
    x = tn.randn(5, 2, 3)
    np.testing.assert_array_equal(a(x)[0].numpy(), b(x)[0].numpy())


# --- gradients ---------------------------------------------------------------------------------------


@settings(max_examples=12)
@given(
    kind=st.sampled_from(["RNN", "GRU", "LSTM"]),
    length=st.integers(1, 4),
    batch=st.integers(1, 3),
    sizes=st.tuples(small, small),
    batch_first=st.booleans(),
)
def test_two_layer_bidirectional_gradcheck(kind, length, batch, sizes, batch_first):
    input_size, hidden = sizes
    layer = LAYERS[kind](input_size, hidden, num_layers=2, bidirectional=True, batch_first=batch_first).double()
    x = tn.randn(*((batch, length) if batch_first else (length, batch)), input_size, dtype=tn.float64)
    x.requires_grad_()
    states = [tn.randn(4, batch, hidden, dtype=tn.float64, requires_grad=True) for _ in range(1 + (kind == "LSTM"))]

    def fn(x, *states_and_params):
        states = states_and_params[: len(states_and_params) - len(params)]
        output, finals = layer(x, tuple(states) if kind == "LSTM" else states[0])
        finals = finals if kind == "LSTM" else (finals,)
        return tn.cat([output.flatten(), *(f.flatten() for f in finals)])

    params = list(layer.parameters())
    assert tn.gradcheck(fn, [x, *states, *params])


@settings(max_examples=10)
@given(length=st.integers(1, 4), batch=st.integers(1, 3), sizes=st.tuples(small, small))
def test_gru_gradcheck_without_initial_state(length, batch, sizes):
    input_size, hidden = sizes
    gru = nn.GRU(input_size, hidden, num_layers=2, bidirectional=True).double()
    x = tn.randn(length, batch, input_size, dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda x, *p: gru(x)[0], [x, *gru.parameters()])


# --- dropout between layers ---------------------------------------------------------------------------


def test_dropout_only_between_layers_and_only_in_training():
    torn = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    plain = nn.GRU(3, 4, num_layers=2)
    plain.load_state_dict(torn.state_dict())
    x = tn.randn(6, 2, 3)
    out_train, h_train = torn(x)
    out_plain, h_plain = plain(x)
    # The first layer's input is never dropped: its final state matches; the second layer's does not.
    np.testing.assert_allclose(h_train.numpy()[0], h_plain.numpy()[0], rtol=1e-6)
    assert not np.allclose(out_train.numpy(), out_plain.numpy())
    torn.eval()
    np.testing.assert_allclose(torn(x)[0].numpy(), out_plain.numpy(), rtol=1e-6)
    single = nn.GRU(3, 4, dropout=0.9)  # one layer: nothing lies between layers, nothing is dropped
    single_plain = nn.GRU(3, 4)
    single_plain.load_state_dict(single.state_dict())
    np.testing.assert_allclose(single(x)[0].numpy(), single_plain(x)[0].numpy(), rtol=1e-6)


def test_dropout_one_feeds_zeros_to_the_upper_layer():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=1.0).double()
    output, _ = lstm(tn.randn(5, 2, 3, dtype=tn.float64))
    upper = _cells_of(lstm, 1, "_l1")
    h = c = tn.zeros(2, 4, dtype=tn.float64)
    for t in range(5):
        h, c = upper(tn.zeros(2, 4, dtype=tn.float64), (h, c))
        np.testing.assert_allclose(output.numpy()[t], h.numpy(), rtol=1e-10)


# --- errors -------------------------------------------------------------------------------------------


def test_layer_input_errors_name_the_layer_and_the_expected_shape():
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(tn.ShapeError, match=r"GRU\(input_size=3, hidden_size=4\).*\(T, N, 3\).*\(5, 2, 7\)"):
        gru(tn.randn(5, 2, 7))
    with pytest.raises(tn.ShapeError, match=r"\(N, T, 3\).*got \(5, 2, 2, 3\)"):
        nn.LSTM(3, 4, batch_first=True)(tn.randn(5, 2, 2, 3))
    with pytest.raises(tn.ShapeError, match=r"RNN.*got \(3,\)"):
        nn.RNN(3, 4)(tn.randn(3))
    with pytest.raises(tn.DTypeError, match="floating point"):
        gru(tn.zeros(5, 2, 3, dtype=tn.int64))
    with pytest.raises(tn.ShapeError, match=r"sequence is empty .*\(2, 0, 3\)"):
        nn.LSTM(3, 4, batch_first=True)(tn.randn(2, 0, 3))


def test_initial_state_errors_print_the_expected_shape():
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(tn.ShapeError, match=r"h0 of shape .* = \(4, 2, 4\).*got \(2, 2, 4\)"):
        gru(tn.randn(5, 2, 3), tn.zeros(2, 2, 4))
    with pytest.raises(tn.ShapeError, match=r"h0 .*\(4, 4\) for unbatched input, got \(4, 1, 4\)"):
        gru(tn.randn(5, 3), tn.zeros(4, 1, 4))
    lstm = nn.LSTM(3, 4)
    with pytest.raises(tn.ShapeError, match=r"c0 of shape .* = \(1, 2, 4\).*got \(1, 3, 4\)"):
        lstm(tn.randn(5, 2, 3), (tn.zeros(1, 2, 4), tn.zeros(1, 3, 4)))
    with pytest.raises(tn.ShapeError, match=r"pair \(h0, c0\)"):
        lstm(tn.randn(5, 2, 3), tn.zeros(1, 2, 4))


def test_cell_errors():
    with pytest.raises(tn.ShapeError, match=r"GRUCell\(input_size=3, hidden_size=4\).*\(N, 3\).*got \(2, 5\)"):
        nn.GRUCell(3, 4)(tn.randn(2, 5))
    with pytest.raises(tn.ShapeError, match=r"hidden state of shape \(2, 4\).*got \(3, 4\)"):
        nn.RNNCell(3, 4)(tn.randn(2, 3), tn.zeros(3, 4))
    with pytest.raises(tn.ShapeError, match=r"pair \(h, c\)"):
        nn.LSTMCell(3, 4)(tn.randn(2, 3), tn.zeros(2, 4))


def test_constructor_errors():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNNCell: nonlinearity"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="num_layers must be an integer >= 1, got 0"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout .* \[0, 1\], got 1.5"):
        nn.GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size one > 0, got 3 and 0"):
        nn.GRUCell(3, 0)


# --- learning ----------------------------------------------------------------------------------------


def test_gru_learns_to_tell_whether_a_sequence_has_more_ones():
    """Binary sequences of length 9: is the majority 1? The GRU must count over the whole sequence."""
    rng = np.random.default_rng(0)

    def batch(n):
        bits = rng.integers(0, 2, size=(n, 9))
        return tn.tensor(bits[..., None].astype(np.float32)), tn.tensor((bits.sum(1) > 4).astype(np.float32))

    gru, head = nn.GRU(1, 8, batch_first=True), nn.Linear(8, 1)
    params = [*gru.parameters(), *head.parameters()]
    optimizer = tn.optim.Adam(params, lr=0.03)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(200):
        x, y = batch(64)
        _, h_n = gru(x)
        loss = loss_fn(head(h_n[0]).reshape(-1), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = batch(1000)
    with tn.no_grad():
        predicted = head(gru(x)[1][0]).reshape(-1).numpy() > 0
    assert (predicted == y.numpy().astype(bool)).mean() > 0.95
