"""Reference solution of exercise `lstm_cell` (must pass every part)."""

import tinynet as tn


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = state
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    i, f, g, o = z.chunk(4, dim=1)
    i, f, g, o = tn.sigmoid(i), tn.sigmoid(f), tn.tanh(g), tn.sigmoid(o)
    c = f * c + i * g
    h = o * tn.tanh(c)
    return h, c


def lstm_sequence(xs, state, weight_ih, weight_hh, bias_ih, bias_hh):
    hs = []
    for t in range(xs.shape[0]):
        state = lstm_cell(xs[t], state, weight_ih, weight_hh, bias_ih, bias_hh)
        hs.append(state[0])
    return tn.stack(hs), state
