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
# what the gates and gradient clipping do about it. Last, two tasks: the bidirectional GRU of the
# MNIST-1D paper, and an LSTM that reads sentences in order, where a bag of words cannot succeed.
#
# Run it: `python lessons/10_rnn_gru_lstm.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import random
import time

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup
from tinynet.metrics import accuracy
from tinynet.models import MNIST1DGRU

lesson = setup("10_rnn_gru_lstm")
gru_steps = 80 if lesson.smoke else 8000  # MNIST-1D: the paper's recipe, Adam lr 1e-2, batches of 100
text_steps = 150 if lesson.smoke else 1000
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
# outputs, and autograd through that loop its weight gradients.

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


losses_plain, norms_plain = train_summing_rnn(clip=False)
losses_clipped, norms_clipped = train_summing_rnn(clip=True)
unclipped_diverged = len(losses_plain) < len(losses_clipped)
clipped_final_loss = float(np.mean(losses_clipped[-20:]))
print(
    f"no clipping: {'diverged at step ' + str(len(losses_plain)) if unclipped_diverged else 'finished'}, "
    f"largest gradient norm {max(norms_plain):.3g}"
)
print(f"clipped at 1: loss {losses_clipped[0]:.2f} -> {clipped_final_loss:.2f} (mean of the last 20 steps)")

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

# %% [markdown]
# ## A bidirectional GRU on MNIST-1D
#
# Back to lesson 09's signals, now read as sequences: one value per step, 40 steps. The paper's GRU
# (`tinynet.models.MNIST1DGRU`) is small, hidden size 6, and **bidirectional**: one GRU reads the
# signal left to right, a second one right to left, and at every step their two states are put side
# by side, so each step's output knows about the whole signal. A linear layer reads all 40 outputs
# (40 * 2 * 6 = 480 features) and gives 10 logits. The recipe is lesson 09's: Adam, lr 1e-2,
# batches of 100. The paper reports 91 % test accuracy, below its CNN's 94 %, for at least ten times
# the CNN's training time: 40 small steps, each waiting for the one before, are slower than three
# convolutions over the whole signal at once. The lesson prints how long ours takes.


# %%
def train_classifier(model, x_fit, y_fit, x_check, y_check, steps, batch_size, description) -> list[float]:
    """Adam (lr 1e-2) on shuffled mini-batches for `steps` steps; returns the held-out accuracy ten times along."""
    tn.manual_seed(1)
    loader = tn.data.DataLoader(tn.data.TensorDataset(x_fit, y_fit), batch_size=batch_size, shuffle=True)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    curve = []
    # cycle: the loader's batches without end, reshuffled after each pass (the recipe counts steps, not epochs)
    for step, (xb, yb) in zip(progress(range(1, steps + 1), description), tn.data.cycle(loader)):
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        if step % (steps // 10) == 0:
            with tn.no_grad():
                curve.append(accuracy(model(x_check), y_check))
    return curve


x_train, y_train = tn.data.mnist1d("train")
x_test, y_test = tn.data.mnist1d("test")
tn.manual_seed(0)
gru = MNIST1DGRU()
print(gru, f"\n{sum(p.numel() for p in gru.parameters())} parameters")
started = time.perf_counter()
gru_curve = train_classifier(gru, x_train, y_train, x_test, y_test, gru_steps, 100, "GRU on MNIST-1D")
gru_seconds = time.perf_counter() - started
gru_test_acc = gru_curve[-1]
print(
    f"GRU: test accuracy {gru_test_acc:.1%} after {gru_steps} steps (paper: 91 %), "
    f"{gru_seconds:.0f} s on backend {lesson.backend} ({1000 * gru_seconds / gru_steps:.1f} ms a step)"
)

fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
ax.plot(np.arange(1, 11) * (gru_steps // 10), gru_curve, marker=".", label="our bidirectional GRU")
ax.axhline(0.91, color="C1", linestyle="--", label="paper's GRU (91 %)")
ax.axhline(0.94, color="C2", linestyle=":", label="paper's CNN (94 %, lesson 09)")
ax.set(xlabel="training step", ylabel="test accuracy", ylim=(0, 1), title="Bidirectional GRU (hidden 6) on MNIST-1D")
ax.legend(loc="lower right")
lesson.savefig(fig, "gru_mnist1d.png")

# %% [markdown]
# ## Reading in order: an LSTM on sentences
#
# Words are sequences too. We generate short reviews from a small grammar, so the task is exact and
# builds in a second:
#
#     the food was great                                positive
#     the food was not great                            negative
#     the staff was rude but the view was lovely        positive: after "but", the second clause decides
#     the view was lovely though the staff was rude     positive: with "though", the first one does
#
# In two-clause reviews the clauses always disagree, so swapping them gives the same words, the same
# counts and the opposite label. A model that sees only *which* words occur (a **bag of words**)
# therefore cannot beat a coin toss on them. A recurrent network reads in order, and to get "though"
# right it must *remember* the first clause's verdict while it reads the second: the word that
# tells which clause counts comes in the middle, the deciding clause may be long gone by the end.
#
# Words become numbers in two steps: each word gets an integer id (0 is reserved for padding), and
# `nn.Embedding(vocabulary, 16)` turns every id into a learned 16-dimensional vector. Reviews have
# different lengths; we pad them to 11 tokens on the *left*, so that the last step of every
# sequence is the review's last word and the final hidden state has just read it.

# %%
nouns = ["food", "service", "movie", "music", "room", "staff", "plot", "view"]
positive = ["good", "great", "lovely", "excellent", "fine", "superb"]
negative = ["bad", "awful", "boring", "terrible", "poor", "rude"]
vocabulary = ["<pad>", "the", "was", "not", "but", "though", *nouns, *positive, *negative]
word_id = {word: index for index, word in enumerate(vocabulary)}
max_words = 11  # "the X was not Y but the X was not Y"


def clause(rng) -> tuple[list[str], int]:
    """A clause 'the <noun> was [not] <adjective>' and its sentiment, +1 or -1."""
    polarity, negated = rng.choice([1, -1]), rng.random() < 0.5
    adjective = rng.choice(positive if polarity > 0 else negative)
    words = ["the", rng.choice(nouns), "was", *(["not"] if negated else []), adjective]
    return words, -polarity if negated else polarity


def review(rng) -> tuple[str, int]:
    """One clause (20 %), or two that disagree joined by 'but' (the second decides) or 'though' (the
    first decides), 40 % each; returns (review, label: 1 positive, 0 negative)."""
    words, sentiment = clause(rng)
    if rng.random() < 0.2:
        return " ".join(words), int(sentiment > 0)
    second, second_sentiment = clause(rng)
    while second_sentiment == sentiment:
        second, second_sentiment = clause(rng)
    joiner = rng.choice(["but", "though"])
    overall = second_sentiment if joiner == "but" else sentiment
    return " ".join([*words, joiner, *second]), int(overall > 0)


def kind(text: str) -> str:
    return "but" if " but " in text else "though" if " though " in text else "one clause"


def encode(texts: list[str]) -> tn.Tensor:
    """Token ids, left-padded with 0: (N, max_words) int64."""
    ids = np.zeros((len(texts), max_words), dtype=np.int64)
    for row, text in enumerate(texts):
        words = text.split()
        ids[row, max_words - len(words) :] = [word_id[w] for w in words]
    return tn.tensor(ids)


rng = random.Random(0)  # Python's generator: quick at picking one word from a short list
reviews = dict(review(rng) for _ in range(4000))  # a dict drops repeated reviews
texts = sorted(reviews)  # a fixed order, then a seeded shuffle before the split
rng.shuffle(texts)
split = int(0.75 * len(texts))
train_texts, test_texts = texts[:split], texts[split:]
tokens_train, tokens_test = encode(train_texts), encode(test_texts)
labels_train = tn.tensor(np.array([reviews[t] for t in train_texts]))
labels_test = tn.tensor(np.array([reviews[t] for t in test_texts]))
test_kinds = np.array([kind(t) for t in test_texts])
print(f"{len(texts)} distinct reviews: {split} to train, {len(test_texts)} to test; {len(vocabulary)} words")
for text in texts[:3]:
    print(f"  {reviews[text]}  {text}")

# %% [markdown]
# Two models with the same embedding size:
#
# - **bag of words**: add up the word vectors (any order gives the same sum; the padding vector is
#   zero), then an MLP. It knows which words occur and how often, nothing about their order.
# - **LSTM**: the word vectors go through `nn.LSTM(16, 32)` in order; a linear layer reads the last
#   hidden state. Applied to every step's state instead, the same layer gives the network's verdict
#   after each word, which lets us watch it read.


# %%
class BagOfWords(nn.Module):
    """tokens (N, T) -> logits (N, 2) from the sum of the word vectors."""

    def __init__(self, vocabulary_size: int, embedding: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, embedding, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(embedding, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, tokens):
        return self.mlp(self.embed(tokens).sum(dim=1))


class LSTMClassifier(nn.Module):
    """tokens (N, T) -> logits (N, 2) from the LSTM's last hidden state."""

    def __init__(self, vocabulary_size: int, embedding: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, embedding, padding_idx=0)
        self.lstm = nn.LSTM(embedding, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def verdicts(self, tokens):
        """The logits after every word: (N, T, 2)."""
        output, _ = self.lstm(self.embed(tokens))  # (N, T, hidden)
        return self.head(output)

    def forward(self, tokens):
        return self.verdicts(tokens)[:, -1]


kinds = ("one clause", "but", "though")
text_models, text_accuracy = {}, {}  # name -> model; name -> {"all" or kind: test accuracy}
for name, make in (("bag of words", BagOfWords), ("LSTM", LSTMClassifier)):
    tn.manual_seed(0)
    text_models[name] = make(len(vocabulary))
    train_classifier(text_models[name], tokens_train, labels_train, tokens_test, labels_test, text_steps, 64, name)
    with tn.no_grad():
        correct = text_models[name](tokens_test).argmax(dim=1).numpy() == labels_test.numpy()
    text_accuracy[name] = {"all": correct.mean(), **{k: correct[test_kinds == k].mean() for k in kinds}}
print(f"\n{'test accuracy':<14}" + "".join(f"{column:>12}" for column in text_accuracy["LSTM"]))
for name, scores in text_accuracy.items():
    print(f"{name:<14}" + "".join(f"{score:>12.1%}" for score in scores.values()))

# %% [markdown]
# The bag of words is at a coin toss on two-clause reviews, as it must be, and does not reliably
# learn even the single clauses it could in principle get right: most of its training reviews are
# ones it cannot fit, and they drown the rest. The LSTM gets them all.
#
# Watch it read: the probability it gives "positive" after each word. Only the last verdict was
# ever trained, so the ones in between need not make sense as answers; they show where its state
# changes: at "not", at the adjective, at "but" or "though".

# %%
shown = [next(t for t in test_texts if kind(t) == k and " not " in t) for k in kinds]
with tn.no_grad():
    readings = F.softmax(text_models["LSTM"].verdicts(encode(shown)), dim=2).numpy()[:, :, 1]  # (3, T)
fig, axes = plt.subplots(len(shown), 1, figsize=(9, 6.6), layout="constrained")
for ax, text, reading in zip(axes, shown, readings):
    words = text.split()
    ax.plot(reading[max_words - len(words) :], marker="o")
    ax.axhline(0.5, color="gray", linestyle=":")
    ax.set(xticks=range(len(words)), xticklabels=words, ylim=(-0.05, 1.05), ylabel="P(positive)")
    ax.set_title(f"label: {'positive' if reviews[text] else 'negative'}", fontsize=10)
fig.suptitle("The trained LSTM's verdict after each word of three test reviews")
lesson.savefig(fig, "lstm_reading.png")

fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
columns = list(text_accuracy["LSTM"])
positions = np.arange(len(columns))
for offset, (name, scores) in zip((-0.2, 0.2), text_accuracy.items()):
    ax.bar(positions + offset, list(scores.values()), width=0.4, label=name)
ax.axhline(0.5, color="gray", linestyle=":", label="coin toss")
ax.set(xticks=positions, xticklabels=columns, ylabel="test accuracy", ylim=(0, 1.25))
ax.set_title("Word order matters: bag of words against LSTM, by kind of review")
ax.legend(loc="upper center", ncols=3)
lesson.savefig(fig, "text_accuracy.png")

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
    unclipped_max_grad_norm=max(norms_plain),
    clipped_final_loss=clipped_final_loss,
    clipped_first_loss=losses_clipped[0],
    gru_test_acc=gru_test_acc,
    text_test_acc=float(text_accuracy["LSTM"]["all"]),
    text_though_test_acc=float(text_accuracy["LSTM"]["though"]),
    bag_test_acc=float(text_accuracy["bag of words"]["all"]),
    bag_two_clause_test_acc=float(np.mean([text_accuracy["bag of words"][k] for k in ("but", "though")])),
    gru_steps=gru_steps,
)
