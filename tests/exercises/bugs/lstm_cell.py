"""Planted bugs of exercise `lstm_cell` (see tests/test_exercises.py): (name, text of solutions/lstm_cell.py,
what replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    (
        "gates_in_the_wrong_order",
        "i, f, g, o = z.chunk(4, dim=1)",
        "i, f, o, g = z.chunk(4, dim=1)",
        r"gates in the order i, f, g, o is what PyTorch uses; yours read them as i, f, o, g",
    ),
    (
        "sigmoid_on_g",
        "tn.tanh(g), tn.sigmoid(o)",
        "tn.sigmoid(g), tn.sigmoid(o)",
        r"g, the candidate cell value, goes through tanh",
    ),
    (
        "no_forget_gate",
        "c = f * c + i * g",
        "c = c + i * g",
        r"forget gate f scales the old cell state",
    ),
    (
        "sequence_restarts_from_the_first_state",
        "        state = lstm_cell(xs[t], state, weight_ih, weight_hh, bias_ih, bias_hh)\n        hs.append(state[0])",
        "        new = lstm_cell(xs[t], state, weight_ih, weight_hh, bias_ih, bias_hh)\n        hs.append(new[0])",
        r"each step starts from the state the previous step returned",
    ),
]
