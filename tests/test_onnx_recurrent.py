"""tinynet.onnx.export of nn.RNN, nn.GRU and nn.LSTM: ONNX's RNN/GRU/LSTM nodes, run in onnxruntime, give tinynet's
outputs, for every layout (batch_first), depth, direction and with or without initial states.

Skipped (with the reason) where onnx or onnxruntime is not installed: ``pip install -e ".[onnx]"``.
"""

from __future__ import annotations

import itertools

import pytest

import tinynet as tn
import tinynet.nn as nn

onnx = pytest.importorskip("onnx", reason='onnx is not installed (pip install -e ".[onnx]")')
ort = pytest.importorskip("onnxruntime", reason='onnxruntime is not installed (pip install -e ".[onnx]")')

from tests.test_onnx import export_and_run  # noqa: E402 (after the skips: that module needs onnx too)

VOCAB, EMBED, HIDDEN, BATCH = 13, 6, 5, 3


class WordLanguageModel(nn.Module):
    """pytorch/examples' word language model: embedding -> RNN/GRU/LSTM -> linear decoder, the hidden state in
    and out. Returns (decoded, h_n) or, for an LSTM, (decoded, h_n, c_n): the exporter's outputs, flat."""

    def __init__(self, kind: str, layers: int, bidirectional: bool, batch_first: bool) -> None:
        super().__init__()
        self.encoder = nn.Embedding(VOCAB, EMBED)
        options = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first}
        if kind in ("RNN_TANH", "RNN_RELU"):
            self.rnn = nn.RNN(EMBED, HIDDEN, nonlinearity=kind[4:].lower(), **options)
        else:
            self.rnn = getattr(nn, kind)(EMBED, HIDDEN, **options)
        self.decoder = nn.Linear(HIDDEN * (2 if bidirectional else 1), VOCAB)

    def forward(self, tokens, *hidden):
        state = None if not hidden else hidden[0] if len(hidden) == 1 else tuple(hidden)
        output, final = self.rnn(self.encoder(tokens), state)
        finals = final if isinstance(final, tuple) else (final,)
        return (self.decoder(output), *finals)


def _tokens(length: int, batch_first: bool):
    return tn.randint(0, VOCAB, (BATCH, length) if batch_first else (length, BATCH))


CASES = list(
    itertools.product(("RNN_TANH", "RNN_RELU", "GRU", "LSTM"), (1, 2), (False, True), (False, True), (False, True))
)


@pytest.mark.parametrize(("kind", "layers", "bidirectional", "batch_first", "initial"), CASES)
def test_word_language_model_matches_onnxruntime(tmp_path, kind, layers, bidirectional, batch_first, initial):
    tn.manual_seed(0)
    model = WordLanguageModel(kind, layers, bidirectional, batch_first)
    states = (2 if kind == "LSTM" else 1) if initial else 0
    directions = 2 if bidirectional else 1

    def inputs(length: int) -> tuple:
        hidden = tuple(tn.randn(layers * directions, BATCH, HIDDEN) for _ in range(states))
        return (_tokens(length, batch_first), *hidden)

    time_axis = 1 if batch_first else 0
    names = ["tokens"] + [f"state_{i}" for i in range(states)]
    # The sequence length is dynamic (as a word language model's last, shorter batch needs).
    proto = export_and_run(
        tmp_path, model, inputs(7), runs=(inputs(7), inputs(4)), input_names=names,
        dynamic_axes={"tokens": {time_axis: "T"}, "output_0": {time_axis: "T"}},
    )  # fmt: skip
    onnx_op = kind[:3] if kind.startswith("RNN") else kind
    nodes = [n for n in proto.graph.node if n.op_type == onnx_op]
    assert len(nodes) == layers * directions
    directions_written = [next(a.s for a in n.attribute if a.name == "direction").decode() for n in nodes]
    assert directions_written.count("reverse") == (layers if bidirectional else 0)


def test_unbatched_input_without_bias(tmp_path):
    # (T, input) input, no bias: each node's B input is left out (""), the initial states given.
    lstm = nn.LSTM(4, 3, bias=False, bidirectional=True)

    def f(x, h, c):
        output, (h_n, c_n) = lstm(x, (h, c))
        return output, h_n, c_n

    proto = export_and_run(tmp_path, f, (tn.randn(5, 4), tn.randn(2, 3), tn.randn(2, 3)))
    lstms = [n for n in proto.graph.node if n.op_type == "LSTM"]
    assert len(lstms) == 2 and all(n.input[3] == "" and len(n.input) == 7 for n in lstms)


def test_the_recurrent_weights_keep_their_state_dict_names(tmp_path):
    model = WordLanguageModel("GRU", 1, False, False)
    proto = export_and_run(tmp_path, model, (_tokens(4, False),))
    assert {"rnn.weight_hh_l0", "rnn.bias_hh_l0", "rnn.weight_ih_l0"} <= {t.name for t in proto.graph.initializer}


@pytest.mark.parametrize("kind", ["RNNCell", "RNNCell-relu", "GRUCell", "LSTMCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_onnxruntime(tmp_path, kind, batched):
    # A cell's call is one op (functions.recurrent.CellStep): a Gemm and the layer's node over one step.
    tn.manual_seed(0)
    cell = nn.RNNCell(4, 3, nonlinearity="relu") if kind == "RNNCell-relu" else getattr(nn, kind)(4, 3)
    shape = (BATCH,) if batched else ()

    def f(x, h, c):
        if kind == "LSTMCell":
            h, c = cell(x, (h, cell(x, (h, c))[1]))  # twice: c' feeds the second call
            return h, c
        return cell(x, cell(x, h))

    runs = [tuple(tn.randn(*shape, n) for n in (4, 3, 3)) for _ in range(2)]
    proto = export_and_run(tmp_path, f, runs[0], runs=runs)
    onnx_op = kind.split("Cell")[0]
    assert sum(n.op_type == onnx_op for n in proto.graph.node) == 2
