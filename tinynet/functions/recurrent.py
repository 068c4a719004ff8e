"""Whole-sequence recurrences: one layer, one direction of an RNN, GRU or LSTM as a single op; and one cell step.

``tinynet.nn.recurrent``'s ``rnn_step``, ``gru_step`` and ``lstm_step`` compose a step from ops (a matmul, slices,
sigmoids, tanh ...), which autograd differentiates; a sequence of T steps that way costs some 15 small ops per step
forward and as many backward, and for small hidden sizes that Python overhead is nearly all the time. These ops run
the same equations over the whole sequence in one kernel, and backpropagation through time in one backward kernel
(written out in kernels/numpy_ref/recurrent.py); ``CellStep`` is a cell's call (nn.RNNCell, GRUCell, LSTMCell): the
input's share of the gates and those kernels over a sequence of one step.

Every op takes gi: (T, N, gates*H), the input's share of every gate at every step (x W_ih^T + b_ih for
the whole sequence, one matmul done by the caller), the recurrent weight w_hh: (gates*H, H), its bias
b_hh: (gates*H,) or None, and the initial state(s) (N, H) or None for zeros. ``reverse=True`` runs the
recurrence from the last step to the first (the second direction of a bidirectional layer); out[t] is
then still the state at step t, so the final state is out[0].
"""

from tinynet import backend
from tinynet.autograd import Function, ProductSum
from tinynet.errors import ArgumentError, ShapeError
from tinynet.functions.shape import getitem
from tinynet.tensor import Tensor


def _in_time_order(array, reverse: bool):
    """A view of array (T, ...) in the order the recurrence visits the steps."""
    return array[::-1] if reverse else array


class RNNSequence(Function):
    """An Elman RNN layer over a whole sequence.

    forward:    h_t = act(gi_t + h_{t-1} W_hhᵀ + b_hh), act tanh or relu
    derivative: backpropagation through time: da_t = (dL/dh_t + dh carried) · act', dh carried = da_t W_hh, dL/dW_hh =
                Σ_t da_tᵀ h_{t-1}
    kernels:    rnn_sequence_forward, rnn_sequence_backward, recurrent_weight_grads
    """

    @staticmethod
    def forward(ctx, gi, w_hh, b_hh, h0, nonlinearity, reverse):
        gi = _in_time_order(gi, reverse)
        out = backend.for_arrays(gi, w_hh, b_hh, h0).rnn_sequence_forward(gi, w_hh, b_hh, h0, nonlinearity)
        ctx.save_for_backward(gi, w_hh, b_hh, h0, out)
        ctx.nonlinearity, ctx.reverse = nonlinearity, reverse
        return _in_time_order(out, reverse)

    @staticmethod
    def backward(ctx, grad):
        gi, w_hh, b_hh, h0, out = ctx.saved
        table = backend.for_arrays(grad)
        grad_gi, grad_h0 = table.rnn_sequence_backward(
            _in_time_order(grad, ctx.reverse), None, gi, w_hh, b_hh, h0, out, ctx.nonlinearity
        )
        grad_w_hh, grad_b_hh = table.recurrent_weight_grads(grad_gi, out, h0, b_hh)
        return _in_time_order(grad_gi, ctx.reverse), grad_w_hh, grad_b_hh, grad_h0, None, None


class GRUSequence(Function):
    """A GRU layer over a whole sequence.

    forward:    r, z = σ(gi + gh), n = tanh(gi_n + r ⊙ gh_n), h_t = (1 - z) n + z h_{t-1}, gh = h_{t-1} W_hhᵀ + b_hh
    derivative: backpropagation through time through each gate (written out in kernels/numpy_ref/recurrent.py)
    kernels:    gru_sequence_forward, gru_sequence_backward, recurrent_weight_grads
    """

    @staticmethod
    def forward(ctx, gi, w_hh, b_hh, h0, reverse):
        gi = _in_time_order(gi, reverse)
        out, saved = backend.for_arrays(gi, w_hh, b_hh, h0).gru_sequence_forward(gi, w_hh, b_hh, h0)
        ctx.save_for_backward(gi, w_hh, b_hh, h0, out, saved)
        ctx.reverse = reverse
        return _in_time_order(out, reverse)

    @staticmethod
    def backward(ctx, grad):
        grad_out = _in_time_order(grad, ctx.reverse)
        gi, w_hh, b_hh, h0, out, saved = ctx.saved
        table = backend.for_arrays(grad_out)
        grad_gi, grad_gh, grad_h0 = table.gru_sequence_backward(grad_out, None, gi, w_hh, b_hh, h0, out, saved)
        grad_w_hh, grad_b_hh = table.recurrent_weight_grads(grad_gh, out, h0, b_hh)
        return _in_time_order(grad_gi, ctx.reverse), grad_w_hh, grad_b_hh, grad_h0, None


class LSTMSequence(Function):
    """Returns (T + 1, N, H): h_t at the T steps, then the final cell state c_T, so that both are one
    output (a Function has one) and a gradient can reach c_T. ``lstm_sequence`` splits them.

    forward:    i, f, o = σ(a_i, a_f, a_o), g = tanh(a_g), c_t = f c_{t-1} + i g, h_t = o tanh(c_t), a = gi_t + h_{t-1}
                W_hhᵀ + b_hh
    derivative: backpropagation through time through each gate and the cell (written out in
                kernels/numpy_ref/recurrent.py)
    kernels:    lstm_sequence_forward, lstm_sequence_backward, recurrent_weight_grads
    """

    @staticmethod
    def forward(ctx, gi, w_hh, b_hh, h0, c0, reverse):
        xp = backend.for_arrays(gi).xp
        gi = _in_time_order(gi, reverse)
        out, c_last, saved = backend.for_arrays(gi, w_hh, b_hh, h0, c0).lstm_sequence_forward(gi, w_hh, b_hh, h0, c0)
        ctx.save_for_backward(gi, w_hh, b_hh, h0, c0, out, saved)
        ctx.reverse = reverse
        return xp.concatenate([_in_time_order(out, reverse), c_last[None]])

    @staticmethod
    def backward(ctx, grad):
        gi, w_hh, b_hh, h0, c0, out, saved = ctx.saved
        table = backend.for_arrays(grad)
        grad_gi, grad_h0, grad_c0 = table.lstm_sequence_backward(
            _in_time_order(grad[:-1], ctx.reverse), None, grad[-1], gi, w_hh, b_hh, h0, c0, out, saved
        )
        grad_w_hh, grad_b_hh = table.recurrent_weight_grads(grad_gi, out, h0, b_hh)
        return _in_time_order(grad_gi, ctx.reverse), grad_w_hh, grad_b_hh, grad_h0, grad_c0, None


class CellStep(Function):
    """One step of an RNN, GRU or LSTM cell (``kind``: "rnn", "gru" or "lstm") as one op: the input's share of the
    gates, then the layer's recurrence over a sequence of that one step (its sequence kernels with T = 1).

    forward:    gi = x W_ihᵀ + b_ih, then as RNNSequence, GRUSequence or LSTMSequence over gi as a sequence of one
    derivative: the sequence op's, then dL/dx = dL/dgi W_ih, dL/dW_ih = dL/dgiᵀ x, dL/db_ih = Σ dL/dgi over the rows;
                the weights' gradients as their factors (autograd.ProductSum: backward makes them, by matmul)
    kernels:    linear_forward, linear_backward, matmul (the weights' gradients, when backward takes them), and the
                kind's: rnn_sequence_forward, rnn_sequence_backward, gru_sequence_forward, gru_sequence_backward,
                lstm_sequence_forward, lstm_sequence_backward
    returns:    h' (N, H) for an RNN or a GRU; (2, N, H) for an LSTM: h', then c'

    Composed of a Linear, a reshape, the sequence op and its indexes, a cell's call was 5 or 6 ops each way, whose
    fixed cost (each an op and a node, the indexes' gradients each an array of zeros) came to a third of an
    LSTMCell's step of (N, H) = (32, 128) on numba.
    """

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, h, c, kind, nonlinearity):
        table = backend.for_arrays(x, w_ih, b_ih, w_hh, b_hh, h, c)
        gi, saved = table.linear_forward(x, w_ih, b_ih)[None], None
        if kind == "lstm":
            out, c_last, saved = table.lstm_sequence_forward(gi, w_hh, b_hh, h, c)
            result = table.xp.concatenate([out, c_last[None]])
        elif kind == "gru":
            out, saved = table.gru_sequence_forward(gi, w_hh, b_hh, h)
            result = out[0]
        else:
            out = table.rnn_sequence_forward(gi, w_hh, b_hh, h, nonlinearity)
            result = out[0]
        ctx.save_for_backward(x, w_ih, gi, w_hh, b_hh, h, c, out, saved)
        ctx.kind, ctx.nonlinearity = kind, nonlinearity
        return result

    @staticmethod
    def backward(ctx, grad):
        x, w_ih, gi, w_hh, b_hh, h, c, out, saved = ctx.saved
        table, grad_c = backend.for_arrays(grad), None
        if ctx.kind == "lstm":
            grad_gi, grad_h, grad_c = table.lstm_sequence_backward(
                grad[:1], None, grad[1], gi, w_hh, b_hh, h, c, out, saved
            )
            grad_gh = grad_gi
        elif ctx.kind == "gru":
            grad_gi, grad_gh, grad_h = table.gru_sequence_backward(grad[None], None, gi, w_hh, b_hh, h, out, saved)
        else:
            grad_gi, grad_h = table.rnn_sequence_backward(grad[None], None, gi, w_hh, b_hh, h, out, ctx.nonlinearity)
            grad_gh = grad_gi
        need_x, need_w_ih, need_b_ih, need_w_hh, need_b_hh = ctx.needs_input_grad[:5]
        grad_x, _, grad_b_ih = table.linear_backward(grad_gi[0], x, w_ih, need_x, False, need_b_ih)
        # The weights' gradients as their factors: a cell called at every step of a loop gets one product (ProductSum)
        grad_w_ih = ProductSum(grad_gi[0], x.astype(grad_gi.dtype, copy=False)) if need_w_ih else None
        if not need_w_hh:
            grad_w_hh = None
        elif h is None:  # h = zeros: no product
            grad_w_hh = table.xp.zeros(w_hh.shape, grad_gh.dtype)
        else:
            grad_w_hh = ProductSum(grad_gh[0], h.astype(grad_gh.dtype, copy=False))
        grad_b_hh = grad_gh[0].sum(axis=0) if need_b_hh and b_hh is not None else None
        return grad_x, grad_w_ih, grad_b_ih, grad_w_hh, grad_b_hh, grad_h, grad_c, None, None


def _check(op: str, gates: int, gi: Tensor, w_hh: Tensor, b_hh: Tensor | None, *states: Tensor | None) -> None:
    """ShapeError unless gi is (T, N, gates*H), w_hh (gates*H, H), b_hh (gates*H,) and each state (N, H)."""
    size = w_hh.shape[-1] if w_hh.ndim == 2 else -1
    if w_hh.shape != (gates * size, size):
        raise ShapeError(f"{op}: expected w_hh of shape ({gates} * H, H), got {w_hh.shape}")
    if gi.ndim != 3 or gi.shape[2] != gates * size:
        raise ShapeError(f"{op}: expected gi of shape (T, N, {gates * size}) for w_hh {w_hh.shape}, got {gi.shape}")
    if b_hh is not None and b_hh.shape != (gates * size,):
        raise ShapeError(f"{op}: expected b_hh of shape ({gates * size},) for w_hh {w_hh.shape}, got {b_hh.shape}")
    for state in states:
        if state is not None and state.shape != (gi.shape[1], size):
            raise ShapeError(f"{op}: expected initial states of shape {(gi.shape[1], size)} (N, H), got {state.shape}")


def rnn_sequence(
    gi: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None = None,
    h0: Tensor | None = None,
    nonlinearity: str = "tanh",
    reverse: bool = False,
) -> Tensor:
    """h_t = act(gi_t + h_{t-1} W_hh^T + b_hh) for every step, act tanh or relu.

    gi: (T, N, H), w_hh: (H, H), b_hh: (H,) or None, h0: (N, H) or None (zeros) -> out (T, N, H).
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ArgumentError(f"rnn_sequence: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    _check("rnn_sequence", 1, gi, w_hh, b_hh, h0)
    return RNNSequence.apply(gi, w_hh, b_hh, h0, nonlinearity, reverse)


def gru_sequence(
    gi: Tensor, w_hh: Tensor, b_hh: Tensor | None = None, h0: Tensor | None = None, reverse: bool = False
) -> Tensor:
    """A GRU's states at every step (equations: ``tinynet.nn.recurrent.gru_step``), gates r, z, n.

    gi: (T, N, 3H), w_hh: (3H, H), b_hh: (3H,) or None, h0: (N, H) or None (zeros) -> out (T, N, H).
    """
    _check("gru_sequence", 3, gi, w_hh, b_hh, h0)
    return GRUSequence.apply(gi, w_hh, b_hh, h0, reverse)


def lstm_sequence(
    gi: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None = None,
    h0: Tensor | None = None,
    c0: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """An LSTM's hidden states at every step and its final cell state (equations: ``lstm_step``), gates i, f, g, o.

    gi: (T, N, 4H), w_hh: (4H, H), b_hh: (4H,) or None, h0, c0: (N, H) or None (zeros)
    -> (out (T, N, H), c_T (N, H)).
    """
    _check("lstm_sequence", 4, gi, w_hh, b_hh, h0, c0)
    both = LSTMSequence.apply(gi, w_hh, b_hh, h0, c0, reverse)
    return getitem(both, slice(None, -1)), getitem(both, -1)


def cell_step(
    kind: str,
    x: Tensor,
    w_ih: Tensor,
    b_ih: Tensor | None,
    w_hh: Tensor,
    b_hh: Tensor | None,
    h: Tensor | None,
    c: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """One step of an RNN, GRU or LSTM cell (``kind``) as one op (see CellStep); nn.RNNCell, GRUCell and LSTMCell call
    it, having checked the shapes. x: (N, in), w_ih: (gates*H, in), b_ih: (gates*H,) or None, the rest as
    ``lstm_sequence``'s -> h' (N, H), or (2, N, H) for an LSTM: h', then c'."""
    return CellStep.apply(x, w_ih, b_ih, w_hh, b_hh, h, c, kind, nonlinearity)
