"""Exercise `lstm_cell` (lesson 10_rnn_gru_lstm): an LSTM cell from its gates, as nn.LSTMCell computes it.

One step takes x (B, I) and the state (h, c), each (B, H), and four gates, all from one product (PyTorch's layout:
weight_ih (4H, I), weight_hh (4H, H), bias_ih and bias_hh (4H,), their rows in the order i, f, g, o, H rows each):

    z = x @ weight_ih^T + bias_ih + h @ weight_hh^T + bias_hh        (B, 4H), split into i, f, g, o of (B, H)
    i = sigmoid(i)   input gate: how much of the candidate to write
    f = sigmoid(f)   forget gate: how much of the old cell state to keep
    g = tanh(g)      the candidate cell value
    o = sigmoid(o)   output gate: how much of the cell to show
    c' = f * c + i * g
    h' = o * tanh(c')

Build it from tinynet's ops (@, .T, .chunk, tn.sigmoid, tn.tanh, *, +, tn.stack): autograd gives the gradients.
Write the TODOs, then: tinynet exercises check lstm_cell
"""

import tinynet as tn


def lstm_cell(
    x: tn.Tensor, state: tuple[tn.Tensor, tn.Tensor], weight_ih: tn.Tensor, weight_hh: tn.Tensor,
    bias_ih: tn.Tensor, bias_hh: tn.Tensor,
) -> tuple[tn.Tensor, tn.Tensor]:  # fmt: skip
    """One step: x (B, I), state = (h, c), each (B, H) -> the new (h, c), each (B, H)."""
    # TODO: z, the four gates (in the order i, f, g, o), their activations, then c' and h'.
    raise NotImplementedError("lstm_cell: the gates from x and h, then the new c and h")


def lstm_sequence(
    xs: tn.Tensor, state: tuple[tn.Tensor, tn.Tensor], weight_ih: tn.Tensor, weight_hh: tn.Tensor,
    bias_ih: tn.Tensor, bias_hh: tn.Tensor,
) -> tuple[tn.Tensor, tuple[tn.Tensor, tn.Tensor]]:  # fmt: skip
    """Run the cell over xs (T, B, I) from state (h0, c0): (hs (T, B, H), the h of every step stacked, and the
    last state (h, c)). Each step starts from the state the previous step returned."""
    # TODO: a loop over t, lstm_cell on xs[t], collecting h; tn.stack the hs.
    raise NotImplementedError("lstm_sequence: the cell over each step, carrying the state")
