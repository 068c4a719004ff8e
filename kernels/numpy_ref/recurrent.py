"""Recurrent layers over a whole sequence: RNN, GRU and LSTM, one layer and direction per call.

gi: (T, N, gates*H) is the input's share of every gate at every step (x W_ih^T + b_ih, one matmul for the
whole sequence, done by the caller), in the order the steps run: a reverse direction passes gi flipped in
time. w_hh: (gates*H, H); b_hh: (gates*H,) or None; h0 (and c0): (N, H) or None for zeros. The forwards loop
over time because each step needs the previous h; the backwards ("backpropagation through time") loop over
time in reverse, carrying dL/dh back one step at a time, and return the gates' gradients: grad_w_hh is then one
matmul over every step (recurrent_weight_grads), which a caller running one step at a time can make once for all.
"""

from kernels.numpy_ref.activations import relu_forward, sigmoid_forward
from kernels.numpy_ref.common import array_module


def _initial_state(state, like):
    """The initial state, or zeros (N, H) shaped like one step of ``like`` (T, N, H) when None."""
    return array_module(like).zeros_like(like[0]) if state is None else state.astype(like.dtype, copy=False)


def _previous_states(out, h0):
    """h_{t-1} for every step t: h0, then out[:-1]. out: (T, N, H) -> (T, N, H)."""
    xp = array_module(out)
    return xp.concatenate([_initial_state(h0, out)[None], out[:-1]])


def recurrent_weight_grads(grad_gh, out, h0, b_hh):
    """The recurrent weights' gradients after a sequence's backward: grad_w_hh = the sum over t, n of grad_gh^T h_{t-1}
    (one matmul), grad_b_hh = the sum of grad_gh (None without bias).

    grad_gh: (T, N, gates*H), dL/d(h_{t-1} W_hh^T + b_hh) (grad_gi for an RNN and an LSTM, the GRU's own);
    out, h0: as the forward got and returned them -> grad_w_hh (gates*H, H), grad_b_hh (gates*H,) or None.
    """
    rows = grad_gh.shape[0] * grad_gh.shape[1]
    grad_w_hh = grad_gh.reshape(rows, -1).T @ _previous_states(out, h0).reshape(rows, -1)
    return grad_w_hh, None if b_hh is None else grad_gh.sum(axis=(0, 1))


def rnn_sequence_forward(gi, w_hh, b_hh, h0, nonlinearity):
    """An Elman RNN over a sequence: h_t = act(gi_t + h_{t-1} W_hh^T + b_hh), act "tanh" or "relu".

    gi: (T, N, H), w_hh: (H, H), b_hh: (H,) or None, h0: (N, H) or None -> out (T, N, H): h_1 .. h_T.
    Backward needs nothing more than out (act' is 1 - h^2 for tanh, h > 0 for relu).
    """
    xp = array_module(gi)
    out = xp.empty(gi.shape, dtype=xp.result_type(gi, w_hh))
    h = _initial_state(h0, out)
    for t in range(gi.shape[0]):
        pre = gi[t] + h @ w_hh.T
        if b_hh is not None:
            pre = pre + b_hh
        h = relu_forward(pre) if nonlinearity == "relu" else xp.tanh(pre)
        out[t] = h
    return out


def rnn_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, nonlinearity):
    """Gradients of rnn_sequence_forward.

    grad_out: (T, N, H), dL/d(out) from later layers; grad_hT: (N, H) or None, extra dL/dh_T (from h_n);
    the rest as the forward got and returned them
    -> grad_gi (T, N, H), grad_h0 (N, H).
    Each step: dh_t = grad_out_t + (dh carried from t+1); da_t = dh_t * act'; dh_{t-1} = da_t W_hh. The recurrent
    pre-activation is gi + h W^T + b: grad_gi is its gradient for W and b too (recurrent_weight_grads).
    """
    xp = array_module(grad_out)
    grad_gi = xp.empty_like(out)
    dh = xp.zeros_like(out[0]) if grad_hT is None else grad_hT
    for t in reversed(range(out.shape[0])):
        dh = dh + grad_out[t]
        h = out[t]
        grad_gi[t] = dh * (h > 0) if nonlinearity == "relu" else dh * (1 - h * h)
        dh = grad_gi[t] @ w_hh
    return grad_gi, dh


def gru_sequence_forward(gi, w_hh, b_hh, h0):
    """A GRU over a sequence, PyTorch's equations. With gh = h_{t-1} W_hh^T + b_hh split into r, z, n parts:

    r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}.
    gi: (T, N, 3H), w_hh: (3H, H), b_hh: (3H,) or None, h0: (N, H) or None
    -> out (T, N, H): h_1 .. h_T; saved (T, N, 4H): r, z, n and gh_n at every step, for backward.
    """
    xp = array_module(gi)
    length, batch, size = gi.shape[0], gi.shape[1], w_hh.shape[1]
    dtype = xp.result_type(gi, w_hh)
    out = xp.empty((length, batch, size), dtype=dtype)
    saved = xp.empty((length, batch, 4 * size), dtype=dtype)
    h = _initial_state(h0, out)
    for t in range(length):
        gh = h @ w_hh.T
        if b_hh is not None:
            gh = gh + b_hh
        rz = sigmoid_forward(gi[t, :, : 2 * size] + gh[:, : 2 * size])
        r, z = rz[:, :size], rz[:, size:]
        n = xp.tanh(gi[t, :, 2 * size :] + r * gh[:, 2 * size :])
        h = n + z * (h - n)
        out[t] = h
        saved[t] = xp.concatenate([rz, n, gh[:, 2 * size :]], axis=1)
    return out, saved


def gru_sequence_backward(grad_out, grad_hT, gi, w_hh, b_hh, h0, out, saved):
    """Gradients of gru_sequence_forward, from its out and saved.

    grad_out: (T, N, H), dL/d(out); grad_hT: (N, H) or None, extra dL/dh_T; the rest as the forward got
    and returned them -> grad_gi (T, N, 3H), grad_gh (T, N, 3H), grad_h0 (N, H).
    Each step, with dh = dL/dh_t: dn = dh (1 - z), dz = dh (h_{t-1} - n), and through the activations
    da_n = dn (1 - n^2), da_z = dz z (1 - z), da_r = (da_n ⊙ gh_n) r (1 - r). The gate pre-activations
    are gi + gh, except n's, which is gi_n + r ⊙ gh_n: so grad_gi = (da_r, da_z, da_n) while
    grad_gh = (da_r, da_z, r ⊙ da_n). Then dL/dh_{t-1} = dh z + grad_gh W_hh.
    """
    xp = array_module(grad_out)
    size = out.shape[2]
    h_prev = _previous_states(out, h0)
    grad_gi = xp.empty((*out.shape[:2], 3 * size), dtype=saved.dtype)
    grad_gh = xp.empty_like(grad_gi)
    dh = xp.zeros_like(out[0]) if grad_hT is None else grad_hT
    for t in reversed(range(out.shape[0])):
        dh = dh + grad_out[t]
        r, z, n, gh_n = (saved[t, :, k * size : (k + 1) * size] for k in range(4))
        da_n = dh * (1 - z) * (1 - n * n)
        da_z = dh * (h_prev[t] - n) * z * (1 - z)
        da_r = da_n * gh_n * r * (1 - r)
        grad_gi[t] = xp.concatenate([da_r, da_z, da_n], axis=1)
        grad_gh[t] = xp.concatenate([da_r, da_z, r * da_n], axis=1)
        dh = dh * z + grad_gh[t] @ w_hh
    return grad_gi, grad_gh, dh


def lstm_sequence_forward(gi, w_hh, b_hh, h0, c0):
    """An LSTM over a sequence, PyTorch's equations. With a = gi_t + h_{t-1} W_hh^T + b_hh split into i, f, g, o:

    i, f, o = σ(a_i), σ(a_f), σ(a_o), g = tanh(a_g), c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t).
    gi: (T, N, 4H), w_hh: (4H, H), b_hh: (4H,) or None, h0, c0: (N, H) or None
    -> out (T, N, H): h_1 .. h_T; c_T (N, H); saved (T, N, 5H): i, f, g, o and c_t at every step.
    """
    xp = array_module(gi)
    length, batch, size = gi.shape[0], gi.shape[1], w_hh.shape[1]
    dtype = xp.result_type(gi, w_hh)
    out = xp.empty((length, batch, size), dtype=dtype)
    saved = xp.empty((length, batch, 5 * size), dtype=dtype)
    h, c = _initial_state(h0, out), _initial_state(c0, out)
    for t in range(length):
        a = gi[t] + h @ w_hh.T
        if b_hh is not None:
            a = a + b_hh
        i, f, o = (sigmoid_forward(a[:, k * size : (k + 1) * size]) for k in (0, 1, 3))
        g = xp.tanh(a[:, 2 * size : 3 * size])
        c = f * c + i * g
        h = o * xp.tanh(c)
        out[t] = h
        saved[t] = xp.concatenate([i, f, g, o, c], axis=1)
    return out, c, saved


def lstm_sequence_backward(grad_out, grad_hT, grad_cT, gi, w_hh, b_hh, h0, c0, out, saved):
    """Gradients of lstm_sequence_forward, from its out and saved.

    grad_out: (T, N, H), dL/d(out); grad_hT, grad_cT: (N, H) or None, extra dL/dh_T and dL/dc_T; the rest
    as the forward got and returned them
    -> grad_gi (T, N, 4H), grad_h0 (N, H), grad_c0 (N, H).
    Each step, with dh = dL/dh_t and dc = dL/dc_t (carried from t+1): dc += dh o (1 - tanh(c_t)^2);
    do = dh tanh(c_t), di = dc g, dg = dc i, df = dc c_{t-1}; the pre-activations' gradient da is these
    times σ' or tanh'; it is grad_gi and grad_gh alike. Then dh_{t-1} = da W_hh and dc_{t-1} = dc f.
    """
    xp = array_module(grad_out)
    size = out.shape[2]
    c_prev = _previous_states(saved[..., 4 * size :], c0)
    grad_gi = xp.empty((*out.shape[:2], 4 * size), dtype=saved.dtype)
    dh = xp.zeros_like(out[0]) if grad_hT is None else grad_hT
    dc = xp.zeros_like(out[0]) if grad_cT is None else grad_cT
    for t in reversed(range(out.shape[0])):
        dh = dh + grad_out[t]
        i, f, g, o, c = (saved[t, :, k * size : (k + 1) * size] for k in range(5))
        tanh_c = xp.tanh(c)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        grad_gi[t] = xp.concatenate(
            [dc * g * i * (1 - i), dc * c_prev[t] * f * (1 - f), dc * i * (1 - g * g), dh * tanh_c * o * (1 - o)],
            axis=1,
        )
        dh = grad_gi[t] @ w_hh
        dc = dc * f
    return grad_gi, dh, dc
