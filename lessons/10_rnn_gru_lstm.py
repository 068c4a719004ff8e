# %% [markdown]
# # 10 · Recurrent networks: RNN, GRU and LSTM, and why the gates matter
#
# A convolution (lesson 09) looks at a fixed window. A **recurrent** network reads a sequence one
# step at a time and carries a hidden state h from each step to the next, with the same weights at
# every step, so it can in principle remember anything it has read, however long ago.
#
#     h_t = f(x_t, h_{t-1})        the same f (same weights) at every step t
#
# This lesson writes the three classic cells (the plain RNN, the GRU and the LSTM) from matmul,
# sigmoid and tanh and checks them against tinynet's `nn.RNNCell`, `nn.GRUCell`, `nn.LSTMCell`.
# Then it shows the plain RNN's weakness, gradients that vanish or explode over many steps, and
# what the gates and gradient clipping do about it. Lesson 11 trains these cells on real tasks: the
# bidirectional GRU of the MNIST-1D paper, and an LSTM that reads sentences in order.
#
# Run it: `python lessons/10_rnn_gru_lstm.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import setup

lesson = setup("10_rnn_gru_lstm")  # the smoke run is the full run: nothing here trains for long
tn.manual_seed(0)

# %% [markdown]
# ## Three cells, written out
#
# x: (N, I) is the input at one step, h: (N, H) the hidden state, σ the sigmoid. Every cell first
# computes pre-activations x W_ih^T + b_ih + h W_hh^T + b_hh; the gated cells compute several at
# once (W_ih: (gates * H, I), W_hh: (gates * H, H)) and split them. PyTorch's equations:
#
# **RNN** (Elman): h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).
#
# **GRU** (gated recurrent unit), gates in the order r, z, n:
#
#     r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr)            reset gate: how much of h the candidate uses
#     z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)            update gate: how much of h to keep
#     n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn))   the candidate new state
#     h' = (1 - z) ⊙ n + z ⊙ h
#
# **LSTM** (long short-term memory), gates i, f, g, o, and a second state c, the cell:
#
#     i = σ(...), f = σ(...), g = tanh(...), o = σ(...)   (each of x W_i*^T + b_i* + h W_h*^T + b_h*)
#     c' = f ⊙ c + i ⊙ g                                   forget some of the cell, write some new
#     h' = o ⊙ tanh(c')                                    show some of it
#
# A gate is a sigmoid, a number between 0 and 1 per unit, multiplying something: a soft switch
# that the network learns to open and close depending on the input.


# %%
def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """x: (N, I), h: (N, H) -> h': (N, H)."""
    return tn.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """x: (N, I), h: (N, H) -> h': (N, H). W_ih: (3H, I), W_hh: (3H, H), gates r, z, n."""
    size = h.shape[1]
    from_x, from_h = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh  # (N, 3H) each
    r = tn.sigmoid(from_x[:, :size] + from_h[:, :size])
    z = tn.sigmoid(from_x[:, size : 2 * size] + from_h[:, size : 2 * size])
    n = tn.tanh(from_x[:, 2 * size :] + r * from_h[:, 2 * size :])
    return (1 - z) * n + z * h


def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """x: (N, I), h, c: (N, H) -> (h', c'). W_ih: (4H, I), W_hh: (4H, H), gates i, f, g, o."""
    size = h.shape[1]
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (N, 4H)
    i = tn.sigmoid(gates[:, :size])
    f = tn.sigmoid(gates[:, size : 2 * size])
    g = tn.tanh(gates[:, 2 * size : 3 * size])
    o = tn.sigmoid(gates[:, 3 * size :])
    c = f * c + i * g
    return o * tn.tanh(c), c


# %% [markdown]
# We run each over a 20-step sequence with the weights of tinynet's own cell and compare every
# hidden state. Then the whole-sequence layer `nn.LSTM`, which the rest of the lesson uses: it runs
# the same equations fused into one op over all the steps (much faster than ~15 small ops a step),
# with a backward pass written by hand, so a loop of our cell with its weights must give its
# outputs, and autograd through that loop its weight gradients. (Lesson 11 and the rest of this
# one use the layers.)

# %%
length, batch, inputs, hidden = 20, 4, 3, 5
sequence = tn.randn(length, batch, inputs)  # (T, N, I)
differences = {}
for name, library_cell in (("RNN", nn.RNNCell), ("GRU", nn.GRUCell), ("LSTM", nn.LSTMCell)):
    cell = library_cell(inputs, hidden)
    weights = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    h_ours = h_library = tn.zeros(batch, hidden)
    c_ours = c_library = tn.zeros(batch, hidden)
    largest = 0.0
    with tn.no_grad():
        for x in sequence:
            if name == "LSTM":
                h_ours, c_ours = lstm_cell(x, h_ours, c_ours, *weights)
                h_library, c_library = cell(x, (h_library, c_library))
            else:
                h_ours = (rnn_cell if name == "RNN" else gru_cell)(x, h_ours, *weights)
                h_library = cell(x, h_library)
            largest = max(largest, float(np.abs(h_ours.numpy() - h_library.numpy()).max()))
    differences[name] = largest
assert max(differences.values()) < 1e-5, f"our cells should equal nn.*Cell up to rounding (~1e-7): {differences}"

# %%
layer = nn.LSTM(inputs, hidden)
layer_output, _ = layer(sequence)  # (T, N, H)
h, c = tn.zeros(batch, hidden), tn.zeros(batch, hidden)
layer_weights = (layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0)
ours_by_step = []
for x in sequence:
    h, c = lstm_cell(x, h, c, *layer_weights)
    ours_by_step.append(h)
ours_output = tn.stack(ours_by_step)  # (T, N, H)
differences["nn.LSTM layer"] = float(np.abs(ours_output.numpy() - layer_output.numpy()).max())
for name, difference in differences.items():
    print(f"{name:>14}: max |ours - tinynet's| over 20 steps = {difference:.2e}")

# The layer's backward is backpropagation through time written by hand; autograd through our loop must agree.
probe = tn.randn(length, batch, hidden)  # a random loss sum(probe * output), so every output matters
gradients = []
for output in (layer_output, ours_output):
    layer.zero_grad()
    (probe * output).sum().backward()
    gradients.append([p.grad.numpy().copy() for p in layer_weights])
gradient_difference = max(float(np.abs(a - b).max()) for a, b in zip(*gradients))
print(f"nn.LSTM layer: max |weight gradient, fused backward - autograd through our loop| = {gradient_difference:.2e}")
cell_max_difference = max(differences.values())
assert cell_max_difference < 1e-5, f"our LSTM loop should equal nn.LSTM (~1e-7), got {cell_max_difference:.1e}"
assert gradient_difference < 1e-4, f"fused BPTT = autograd through our loop (~1e-6), got {gradient_difference:.1e}"

# %% [markdown]
# ## Backpropagation through time: why gradients vanish or explode
#
# Unroll the loop and a recurrent network is a very deep network with the same weights in every
# layer. The gradient of a loss at the last step T with respect to an early state is a product of
# one Jacobian per step in between. For the RNN, h_k = tanh(a_k) with a_k = ... + h_{k-1} W_hh^T, so
#
#     dh_k / dh_{k-1} = diag(1 - h_k^2) W_hh        and     dL/dh_t = dL/dh_T · (product over k = t+1..T)
#
# A product of T - t such matrices shrinks or grows roughly like (typical size)^(T - t):
# exponentially. Below 1 the gradient **vanishes**: the early inputs get no say in the update, and
# the network cannot learn to use anything it read long ago. Above 1 it **explodes**. And tanh's
# slope 1 - h^2 is at most 1, so staying near 1 is a knife edge.
#
# The LSTM's cell is different: c_k = f_k ⊙ c_{k-1} + i_k ⊙ g_k, so along the cell
#
#     dc_k / dc_{k-1} = diag(f_k)          (plus paths through the gates, which also depend on h)
#
# no weight matrix and no tanh slope, just the forget gate, a number the network sets per unit and
# per step. With f near 1 the gradient passes through many steps almost unchanged, and it can never
# grow (f < 1). The GRU's h' = (1 - z) ⊙ n + z ⊙ h does the same with its update gate z.
#
# We measure ||dL/dx_t||, how much the input at step t can move a loss read at the last step, for
# 60 steps. At initialisation every gate sits near σ(0) = 1/2, so the gated cells halve the gradient
# every step too; trained LSTMs learn to hold f near 1 where they need memory, and a common trick
# starts the forget gate's bias high (Gers et al., 2000; Jozefowicz et al., 2015). We show that
# state by setting the forget bias of the LSTM (and the update bias of the GRU) to 3: σ(3) = 0.95.

# %%
length, batch, inputs, hidden = 60, 32, 8, 32
sequence = tn.randn(length, batch, inputs)
readout = tn.randn(hidden)  # L = sum over the batch of readout . h_T


def input_gradient_norms(layer, x) -> np.ndarray:
    """||dL/dx_t|| for t = 0..T-1, L read from the last step's output. x: (T, N, I) -> (T,)."""
    x = x.detach().requires_grad_()
    output, _ = layer(x)
    (output[-1] * readout).sum().backward()
    return np.linalg.norm(x.grad.numpy().reshape(x.shape[0], -1), axis=1)


def with_gate_bias(layer, gate: int, value: float):
    """Centre one gate's pre-activation on `value` (bias_ih = value, bias_hh = 0); gate: index in PyTorch's order."""
    size = layer.hidden_size
    layer.bias_ih_l0.array[gate * size : (gate + 1) * size] = value
    layer.bias_hh_l0.array[gate * size : (gate + 1) * size] = 0.0
    return layer


# %%
tn.manual_seed(1)
layers = {
    "RNN (tanh)": nn.RNN(inputs, hidden),
    "GRU": nn.GRU(inputs, hidden),
    "LSTM": nn.LSTM(inputs, hidden),
    "GRU, update gate open (z ≈ 0.95)": with_gate_bias(nn.GRU(inputs, hidden), gate=1, value=3.0),
    "LSTM, forget gate open (f ≈ 0.95)": with_gate_bias(nn.LSTM(inputs, hidden), gate=1, value=3.0),
}
gradient_norms = {name: input_gradient_norms(layer, sequence) for name, layer in layers.items()}
first_over_last = {name: norms[0] / norms[-1] for name, norms in gradient_norms.items()}
for name, ratio in first_over_last.items():
    print(f"{name:>34}: ||dL/dx_0|| / ||dL/dx_59|| = {ratio:.1e}")
assert first_over_last["RNN (tanh)"] < 1e-8, "a tanh RNN's gradient should vanish over 60 steps (~5e-15)"
assert first_over_last["LSTM, forget gate open (f ≈ 0.95)"] > 0.1, "with f ~ 0.95 the LSTM should keep it (~1.3)"
assert first_over_last["GRU, update gate open (z ≈ 0.95)"] > 0.01, "so should the GRU with z ~ 0.95 (~0.12)"

# %% [markdown]
# The plain RNN has no such knob. Give its W_hh a size ("gain") by making it an orthogonal matrix
# (which keeps lengths) times a number: below 1 it vanishes faster; at 1 the tanh slopes still
# shrink it; above 1 the network turns chaotic and the gradient explodes, 10,000-fold over 60 steps
# at gain 2.

# %%
orthogonal, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((hidden, hidden)))
exploding_norms = {}
for gain in (0.5, 1.0, 1.5, 2.0):
    tn.manual_seed(1)
    rnn = nn.RNN(inputs, hidden)
    rnn.weight_hh_l0.array[...] = tn.tensor(gain * orthogonal).array
    exploding_norms[gain] = input_gradient_norms(rnn, sequence)
rnn_gain2_first_over_last = exploding_norms[2.0][0] / exploding_norms[2.0][-1]
assert rnn_gain2_first_over_last > 100, (
    f"at gain 2 the gradient should explode (~1.4e4): {rnn_gain2_first_over_last:.1e}"
)

# %%
fig, (ax_vanish, ax_explode) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
for name, norms in gradient_norms.items():
    ax_vanish.semilogy(norms / norms[-1], label=name, linestyle="--" if "open" in name else "-")
ax_vanish.set(xlabel="input time step t (the loss reads the output at t = 59)", ylabel="||dL/dx_t|| / ||dL/dx_59||")
ax_vanish.set_title("Vanishing gradients: how much each input step can matter")
ax_vanish.legend(fontsize=8)
for gain, norms in exploding_norms.items():
    ax_explode.semilogy(norms / norms[-1], label=f"W_hh = {gain} x orthogonal")
ax_explode.set(xlabel="input time step t", ylabel="||dL/dx_t|| / ||dL/dx_59||")
ax_explode.set_title("Plain RNN: the size of W_hh decides vanish or explode")
ax_explode.legend(fontsize=8)
lesson.savefig(fig, "vanishing_exploding_gradients.png")

# %% [markdown]
# ## Exploding gradients in training, and clipping
#
# Vanishing gradients make a network slow to learn long-range structure; exploding ones wreck the
# training run. A task that needs memory: read 10 random numbers and output their sum (divided by
# sqrt(10), so the target has variance 1). To add up, the RNN must carry what it has read from step
# to step, so training pushes W_hh towards gain 1, the edge between vanishing and exploding. Plain
# SGD with a large learning rate (0.3) trains for a while, then one batch gives a gradient a few
# times larger than usual; the long step it causes lands the weights where the gradients are
# larger still, and within a few steps the run is lost.
#
# `nn.utils.clip_grad_norm_(parameters, max_norm)` measures the norm of all gradients together
# (as one long vector) and, if it exceeds max_norm, scales them all down to max_norm: the direction
# of the step is kept, only its length is capped. It returns the norm before clipping.

# %%
sum_length = 10


def train_summing_rnn(clip: bool, steps: int = 100, lr: float = 0.3) -> tuple[list[float], list[float]]:
    """SGD on the summing task; returns the loss and the gradient norm (before clipping) of each step."""
    tn.manual_seed(3)
    rnn, head = nn.RNN(1, 32), nn.Linear(32, 1)
    parameters = [*rnn.parameters(), *head.parameters()]
    optimizer = optim.SGD(parameters, lr=lr)
    losses, norms = [], []
    for _ in range(steps):
        x = tn.randn(sum_length, 32, 1)  # (T, N, 1): a fresh batch of 32 sequences every step
        target = x.sum(dim=0) / sum_length**0.5  # (N, 1)
        output, _ = rnn(x)
        loss = F.mse_loss(head(output[-1]), target)
        if not loss.item() < 1e3:  # diverged (or NaN): stop before the numbers overflow
            break
        optimizer.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(parameters, max_norm=1.0 if clip else float("inf"))
        optimizer.step()
        losses.append(loss.item())
        norms.append(norm.item())
    return losses, norms


# %%
losses_plain, norms_plain = train_summing_rnn(clip=False)
losses_clipped, norms_clipped = train_summing_rnn(clip=True)
lesson.save_arrays(  # what the plot needs: rerun the plot cell below without retraining
    "clipping.npz", losses_plain=losses_plain, norms_plain=norms_plain, losses_clipped=losses_clipped,
    norms_clipped=norms_clipped,
)  # fmt: skip
unclipped_diverged = len(losses_plain) < len(losses_clipped)
clipped_final_loss = float(np.mean(losses_clipped[-20:]))
print(
    f"no clipping: {'diverged at step ' + str(len(losses_plain)) if unclipped_diverged else 'finished'}, "
    f"largest gradient norm {max(norms_plain):.3g}"
)
print(f"clipped at 1: loss {losses_clipped[0]:.2f} -> {clipped_final_loss:.2f} (mean of the last 20 steps)")
assert unclipped_diverged, "SGD at lr 0.3 without clipping should blow up (at step 33 of 100)"
assert clipped_final_loss < 0.5, (
    f"with clipping it should train (~0.32; predicting 0 scores ~1): {clipped_final_loss:.2f}"
)

# %%
saved = lesson.load_arrays("clipping.npz")
losses_plain, norms_plain, losses_clipped, norms_clipped = (saved[key] for key in saved)
fig, (ax_loss, ax_norm) = plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained")
ax_loss.semilogy(losses_plain, label="SGD, no clipping")
ax_loss.semilogy(losses_clipped, label="SGD, gradients clipped to norm 1")
ax_loss.set(
    xlabel="training step", ylabel="MSE (log scale)", title="Learning to sum 10 numbers with an RNN (SGD, lr 0.3)"
)
ax_loss.legend()
ax_norm.semilogy(norms_plain, label="no clipping")
ax_norm.semilogy(norms_clipped, label="with clipping (norm before the cut)")
ax_norm.axhline(1.0, color="gray", linestyle=":", label="max_norm = 1")
ax_norm.set(xlabel="training step", ylabel="gradient norm", title="Gradient norm at each step")
ax_norm.legend()
lesson.savefig(fig, "gradient_clipping.png")

# %%
lesson.report(
    cell_max_difference=cell_max_difference,
    layer_gradient_difference=gradient_difference,
    rnn_grad_first_over_last=float(first_over_last["RNN (tanh)"]),
    lstm_grad_first_over_last=float(first_over_last["LSTM"]),
    lstm_open_forget_grad_first_over_last=float(first_over_last["LSTM, forget gate open (f ≈ 0.95)"]),
    gru_open_update_grad_first_over_last=float(first_over_last["GRU, update gate open (z ≈ 0.95)"]),
    rnn_gain2_grad_first_over_last=float(rnn_gain2_first_over_last),
    unclipped_diverged=unclipped_diverged,
    unclipped_max_grad_norm=float(max(norms_plain)),
    clipped_final_loss=clipped_final_loss,
    clipped_first_loss=float(losses_clipped[0]),
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Initialise the LSTM's forget-gate bias to 1 (a common trick) and redo the 60-step gradient ratio.",
    "Clip by value instead (nn.utils.clip_grad_value_): does the summing RNN still train at lr 0.3?",
    "Lesson 11 trains these cells: a bidirectional GRU on MNIST-1D and an LSTM that reads reviews in order.",
)
