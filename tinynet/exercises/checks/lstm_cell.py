"""Checks of exercise `lstm_cell`: one step's h and c, then the gradients of every input and weight, then a short
sequence, against tinynet's nn.LSTMCell with the same weights, on sizes hypothesis draws. A wrong step is compared
with the usual mistakes (gates in another order, sigmoid on g, no forget gate, no tanh on c') to name it."""

import itertools

import numpy as np
from hypothesis import strategies as st

import tinynet as tn
from tinynet import nn
from tinynet.exercises.grading import WrongAnswerError, as_array, expect_close, learner_errors, on_drawn, part
from tinynet.tensor import Tensor, to_host

NAMES = ("x", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
FORMULAS = (
    "z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh; i, f, g, o = z.chunk(4, dim=1); "
    "c' = sigmoid(f) * c + sigmoid(i) * tanh(g); h' = sigmoid(o) * tanh(c')"
)
# (B, I, H)
SIZES = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4))


def _arrays(sizes, steps: int = 0) -> list[np.ndarray]:
    """x (B, I) (or xs (steps, B, I)), h, c, weight_ih, weight_hh, bias_ih, bias_hh, as float64."""
    b, i, h = sizes
    rng = np.random.default_rng([*sizes, steps])
    x = rng.standard_normal((steps, b, i) if steps else (b, i))
    return [x, *(rng.standard_normal(s) for s in [(b, h), (b, h), (4 * h, i), (4 * h, h), (4 * h,), (4 * h,)])]


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def _numpy_step(x, h, c, w_ih, w_hh, b_ih, b_hh, order="ifgo", g_act=np.tanh, forget=True, tanh_c=True):
    """One step with a mistake or not: ``order`` says which gate each quarter of the rows is read as."""
    quarters = dict(zip(order, np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=1)))
    i, f, g, o = _sigmoid(quarters["i"]), _sigmoid(quarters["f"]), g_act(quarters["g"]), _sigmoid(quarters["o"])
    c = (f * c if forget else c) + i * g
    return o * (np.tanh(c) if tanh_c else c), c


def _mistakes():
    """(hint, keyword arguments of _numpy_step) for the usual mistakes."""
    for order in ("".join(p) for p in itertools.permutations("ifgo")):
        if order != "ifgo":
            yield (
                f"the gates in the order i, f, g, o is what PyTorch uses; yours read them as {', '.join(order)}: "
                "the rows of weight_ih are i's H rows, then f's, g's, o's",
                {"order": order},
            )
    yield "g, the candidate cell value, goes through tanh, not sigmoid (i, f and o are sigmoid)", {"g_act": _sigmoid}
    yield "c' = f * c + i * g: the forget gate f scales the old cell state", {"forget": False}
    yield "h' = o * tanh(c'): the output gate scales tanh of the new cell state, not c' itself", {"tanh_c": False}


def _hint_for(arrays, got_h, got_c) -> str:
    for hint, mistake in _mistakes():
        h, c = _numpy_step(*arrays, **mistake)
        if np.shape(got_h) == h.shape and np.allclose(got_h, h, atol=1e-5) and np.allclose(got_c, c, atol=1e-5):
            return hint
    return FORMULAS


def _reference_cell(arrays) -> nn.LSTMCell:
    w_ih = arrays[3]
    cell = nn.LSTMCell(w_ih.shape[1], w_ih.shape[0] // 4).double()
    with tn.no_grad():
        for parameter, value in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), arrays[3:]):
            parameter.copy_(tn.from_numpy(value))
    return cell


def _learner_run(learner, arrays, sequence: bool):
    """The learner's outputs and every input's gradient of a fixed random projection of them."""
    t = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    with learner_errors(learner, "lstm_sequence" if sequence else "lstm_cell", FORMULAS):
        if sequence:
            hs, (h, c) = learner.lstm_sequence(t[0], (t[1], t[2]), *t[3:])
            outputs = [hs, h, c]
        else:
            outputs = list(learner.lstm_cell(t[0], (t[1], t[2]), *t[3:]))
        for k, out in enumerate(outputs):
            if not isinstance(out, Tensor):
                raise WrongAnswerError(f"output {k} is {type(out).__name__}, not a Tensor", "return tinynet Tensors")
        _project(outputs).backward()
    return [to_host(o.array) for o in outputs], [None if a.grad is None else to_host(a.grad.array) for a in t]


def _reference_run(arrays, sequence: bool):
    cell = _reference_cell(arrays)
    x, h, c = (Tensor(a.copy(), requires_grad=True) for a in arrays[:3])
    if sequence:
        hs, state = [], (h, c)
        for step in range(x.shape[0]):
            state = cell(x[step], state)
            hs.append(state[0])
        outputs = [tn.stack(hs), *state]
    else:
        outputs = list(cell(x, (h, c)))
    _project(outputs).backward()
    parameters = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    return [to_host(o.array) for o in outputs], [to_host(a.grad.array) for a in (x, h, c, *parameters)]


def _project(outputs) -> Tensor:
    rng = np.random.default_rng(0)
    return sum((o * Tensor(rng.standard_normal(o.shape))).sum() for o in outputs)


@part("one step: h and c as nn.LSTMCell's with the same weights")
def one_step(learner) -> None:
    def check(sizes):
        arrays = _arrays(sizes)
        with learner_errors(learner, "lstm_cell", FORMULAS):
            h, c = learner.lstm_cell(*(Tensor(a) for a in arrays[:1]), (Tensor(arrays[1]), Tensor(arrays[2])),
                                     *(Tensor(a) for a in arrays[3:]))  # fmt: skip
        expected_h, expected_c = _numpy_step(*arrays)
        hint = _hint_for(arrays, to_host(h.array), to_host(c.array)) if isinstance(h, Tensor) else FORMULAS
        what = f"lstm_cell, x (B, I) = {arrays[0].shape}, H = {arrays[1].shape[1]}"
        expect_close(f"{what}: c'", c, expected_c, atol=1e-5, rtol=1e-4, hint=hint)
        expect_close(f"{what}: h'", h, expected_h, atol=1e-5, rtol=1e-4, hint=hint)
        reference_h, _ = _reference_cell(arrays)(*(Tensor(a) for a in arrays[:1]), (Tensor(arrays[1]),
                                                                                  Tensor(arrays[2])))  # fmt: skip
        expect_close(f"{what}: h' against nn.LSTMCell", h, reference_h, atol=1e-5, rtol=1e-4, hint=hint)

    on_drawn(check, SIZES, 15)


def _check_gradients(learner, sizes, sequence: bool) -> None:
    arrays = _arrays(sizes, steps=4 if sequence else 0)
    got_out, got = _learner_run(learner, arrays, sequence)
    expected_out, expected = _reference_run(arrays, sequence)
    what = f"lstm_sequence over 4 steps, x (B, I) = {arrays[1].shape[0], arrays[0].shape[-1]}, H = {sizes[2]}"
    if not sequence:
        what = f"lstm_cell, x (B, I) = {arrays[0].shape}, H = {sizes[2]}"
    if sequence:
        hint = "each step starts from the state the previous step returned"
        step = [arrays[0][0], *arrays[1:]]
        with learner_errors(learner, "lstm_cell", FORMULAS):
            h, _ = learner.lstm_cell(Tensor(step[0]), (Tensor(step[1]), Tensor(step[2])), *map(Tensor, step[3:]))
        if not np.allclose(as_array(h, "h'"), _numpy_step(*step)[0], atol=1e-5, rtol=1e-4):
            hint = "lstm_cell itself is wrong (see the first part): fix it first"
    else:
        hint = _hint_for(arrays, *got_out)
    for name, g, e in zip(("hs" if sequence else "h'", "h", "c"), got_out, expected_out):
        expect_close(f"{what}: output {name}", g, e, atol=1e-5, rtol=1e-4, hint=hint)
    for name, g, e in zip(NAMES, got, expected):
        if g is None:
            raise WrongAnswerError(
                f"{what}: no gradient reached {name}",
                "build everything from tinynet's ops on the tensors given (no .numpy(), no .detach(), no new "
                "tensors from their values): autograd then reaches every input",
            )
        expect_close(f"{what}: gradient of {name}", g, e, atol=1e-4, rtol=1e-3, hint=hint)


@part("one step's gradients: of x, h, c and the four weights, as nn.LSTMCell's")
def step_gradients(learner) -> None:
    on_drawn(lambda sizes: _check_gradients(learner, sizes, sequence=False), SIZES, 10)


@part("a sequence of 4 steps: every h, the last state, and every gradient")
def sequence(learner) -> None:
    on_drawn(lambda sizes: _check_gradients(learner, sizes, sequence=True), SIZES, 8)
