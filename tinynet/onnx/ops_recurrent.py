"""ONNX mappings of the whole-sequence recurrences (``tinynet.functions.recurrent``) as ONNX's RNN, GRU and LSTM.

Each tinynet op is one layer in one direction; nn.RNN/GRU/LSTM stack them (layers, the two directions of a
bidirectional layer) with ops that have mappings of their own (cat, stack, transpose for batch_first, indexing
of the initial states), so every op here is a single-direction ONNX node: direction "forward", or "reverse"
when the op runs from the last step to the first.

The ops take gi (T, N, gates*H), the input's share of every gate already computed (x W_ihᵀ + b_ih, a Linear
the exporter has written), not x itself. ONNX's nodes compute X Wᵀ + Wb themselves, so X is gi and W is the
permutation matrix that reorders gi's gate blocks from PyTorch's order to ONNX's (LSTM i, f, g, o -> i, o, f, c;
GRU r, z, n -> z, r, h); Wb is zero. The recurrent weight and bias (w_hh, b_hh) go to R and Rb, their rows
reordered the same way by a Gather, so the initializers keep their state_dict names. (The permutation
matmul costs as much as the input matmul already done; a value that is inf or NaN in gi spreads NaN through
it, as 0 · inf is NaN.)

A float64 model writes float64 nodes, which ONNX allows but onnxruntime (1.x, CPU) does not run for these ops.
"""

from __future__ import annotations

import numpy as np

from tinynet.onnx.graph import Builder, mapping

# ONNX's gate order, as indices of the blocks in PyTorch's (tinynet's) order.
_LSTM_GATES = (0, 3, 1, 2)  # i, f, g, o -> i, o, f, c
_GRU_GATES = (1, 0, 2)  # r, z, n -> z, r, h
_RNN_GATES = (0,)


def _rows(gates: tuple[int, ...], hidden: int) -> np.ndarray:
    """Row indices that reorder a (len(gates)*H, ...) stack of gate blocks to ONNX's order."""
    return np.concatenate([np.arange(g * hidden, (g + 1) * hidden) for g in gates]).astype(np.int64)


def _recurrence(b: Builder, op_type: str, gates: tuple[int, ...], gi, w_hh, b_hh, states, reverse: bool, dtype,
                outputs: int, **attributes):  # fmt: skip
    """The ONNX node for one layer and direction: its output names (Y, Y_h[, Y_c]).

    gi: the name of the (T, N, gates*H) value, w_hh: (gates*H, H), b_hh: (gates*H,) or None, states: the initial
    (N, H) ones or None.
    """
    hidden = int(w_hh.shape[1])
    rows = _rows(gates, hidden)
    size = len(gates) * hidden
    # W: (1, gates*H, gates*H), the permutation: X Wᵀ picks gi's columns in ONNX's gate order.
    w = b.constant(np.eye(size, dtype=dtype)[rows][None], "W_gate_order")
    order = b.ints(rows, "gate_order")
    r = b.node("Unsqueeze", [b.node("Gather", [b.value(w_hh), order], axis=0), b.ints([0], "axes")])
    bias = None
    if b_hh is not None:  # B = [Wb, Rb]: gi holds b_ih already, so Wb is zero and Rb is b_hh
        rb = b.node("Gather", [b.value(b_hh), order], axis=0)
        both = b.node("Concat", [b.constant(np.zeros(size, dtype=dtype), "Wb_zeros"), rb], axis=0)
        bias = b.node("Unsqueeze", [both, b.ints([0], "axes")])
    initial = [None if s is None else b.node("Unsqueeze", [b.value(s), b.ints([0], "axes")]) for s in states]
    inputs = [gi, w, r, bias, None, *initial]  # (None: sequence_lens, every sequence is T long)
    while inputs[-1] is None:  # (trailing optional inputs left out rather than given as "")
        inputs.pop()
    direction = "reverse" if reverse else "forward"
    return b.node(
        op_type, inputs, outputs=outputs, hidden_size=hidden, direction=direction, hint=op_type.lower(), **attributes
    )


def _steps(b: Builder, y: str) -> str:
    """Y (T, 1, N, H) -> (T, N, H): the state at every step, the one direction's axis squeezed."""
    return b.node("Squeeze", [y, b.ints([1], "axes")])


@mapping("RNNSequence")
def _rnn_sequence(b: Builder, args, out, op: str = ""):
    # out (T, N, H): h_t at every step.
    gi, w_hh, b_hh, h0, nonlinearity, reverse = args
    activation = "Relu" if nonlinearity == "relu" else "Tanh"
    y, _ = _recurrence(
        b, "RNN", _RNN_GATES, b.value(gi), w_hh, b_hh, (h0,), reverse, out.dtype, 2, activations=[activation]
    )  # fmt: skip
    return _steps(b, y)


@mapping("GRUSequence")
def _gru_sequence(b: Builder, args, out, op: str = ""):
    # out (T, N, H). PyTorch's GRU applies r after the recurrent matmul: n = tanh(gi_n + r ⊙ (h W_hnᵀ + b_hn)),
    # which is ONNX's linear_before_reset=1.
    gi, w_hh, b_hh, h0, reverse = args
    y, _ = _recurrence(
        b, "GRU", _GRU_GATES, b.value(gi), w_hh, b_hh, (h0,), reverse, out.dtype, 2, linear_before_reset=1
    )
    return _steps(b, y)


@mapping("LSTMSequence")
def _lstm_sequence(b: Builder, args, out, op: str = ""):
    # out (T + 1, N, H): h_t at every step, then the final cell state c_T (ONNX's Y_c, already (1, N, H)).
    gi, w_hh, b_hh, h0, c0, reverse = args
    y, _, y_c = _recurrence(b, "LSTM", _LSTM_GATES, b.value(gi), w_hh, b_hh, (h0, c0), reverse, out.dtype, 3)
    return b.node("Concat", [_steps(b, y), y_c], axis=0)


@mapping("CellStep")
def _cell_step(b: Builder, args, out, op: str = ""):
    # out: h' (N, H), or (2, N, H) for an LSTM (h', then c'): the layer's node over a sequence of one step, its X the
    # Gemm of x and W_ih (ONNX's Y_h and Y_c are (1, N, H): one direction).
    x, w_ih, b_ih, w_hh, b_hh, h, c, kind, nonlinearity = args
    gi = b.node("Gemm", [b.value(x), b.value(w_ih), None if b_ih is None else b.value(b_ih)], transB=1)
    gi = b.node("Unsqueeze", [gi, b.ints([0], "axes")])
    if kind == "lstm":
        _, y_h, y_c = _recurrence(b, "LSTM", _LSTM_GATES, gi, w_hh, b_hh, (h, c), False, out.dtype, 3)
        return b.node("Concat", [y_h, y_c], axis=0)
    if kind == "gru":
        _, y_h = _recurrence(b, "GRU", _GRU_GATES, gi, w_hh, b_hh, (h,), False, out.dtype, 2, linear_before_reset=1)
    else:
        activation = "Relu" if nonlinearity == "relu" else "Tanh"
        _, y_h = _recurrence(b, "RNN", _RNN_GATES, gi, w_hh, b_hh, (h,), False, out.dtype, 2, activations=[activation])
    return b.node("Squeeze", [y_h, b.ints([0], "axes")])
