# %% [markdown]
# # 12 · Attention: a soft lookup, its masks, its heads, and where positions come from
#
# A convolution mixes each position with a fixed window of neighbours; a recurrent network passes a
# state along the sequence one step at a time. **Attention** lets every position look at every other
# position directly, and decide from the content how much of each to take. It is the one new idea
# inside a transformer, and this lesson builds it from tensor operations:
#
# - scaled dot-product attention written out, checked against `F.scaled_dot_product_attention`;
# - why the scores are divided by sqrt(d);
# - masks: padding (ignore keys that are not there) and causal (never look ahead);
# - several heads at once, checked against `nn.MultiheadAttention`;
# - positional encodings, because attention by itself cannot tell the order of its inputs;
# - a small attention model trained to reverse sequences of digits, and its attention maps.
#
# Run it: `python lessons/12_attention.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup
from tinynet.metrics import accuracy

lesson = setup("12_attention")
train_steps = 250 if lesson.smoke else 1000
tn.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Attention is a soft dictionary lookup
#
# A Python dict finds the one key equal to the query and returns its value. Attention compares a
# **query** with *every* **key**, turns the match scores into weights that sum to 1, and returns the
# weighted average of the **values**. For L queries and S keys/values of d features:
#
#     scores  = Q K^T / sqrt(d)          Q: (L, d), K: (S, d)  ->  scores: (L, S)
#     weights = softmax(scores)          along each row: row i says how much query i takes from each key
#     out     = weights V                V: (S, dv)            ->  out: (L, dv)
#
# Batches and heads are extra leading axes, (N, L, d) or (N, heads, L, d): `@` works on the last two
# axes and broadcasts the rest. Below is the whole thing in four lines of tensor operations, compared
# with tinynet's fused `F.scaled_dot_product_attention` (one kernel forward, one backward) on the
# output and on the gradients that autograd finds for Q, K and V. They agree to float32 rounding
# (exactly, on the NumPy reference kernels, which do these same operations).


# %%
def attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d)) v. q: (..., L, d), k: (..., S, d), v: (..., S, dv);
    mask: bool, broadcastable to (..., L, S), True = may attend. -> out (..., L, dv), weights (..., L, S)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = tn.where(mask, scores, -math.inf)  # exp(-inf) = 0: a masked key gets weight exactly 0
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


q, k, v = (tn.randn(2, 5, 16, requires_grad=True) for _ in range(3))  # a batch of 2, 5 positions, d = 16
out, weights = attention(q, k, v)
fused = F.scaled_dot_product_attention(q, k, v)
from_scratch_difference = float(np.abs(out.numpy() - fused.numpy()).max())

upstream = tn.randn(2, 5, 16)  # stands for the gradient arriving from above: L = sum(out * upstream)
grads = {}
for name, result in (("scratch", out), ("fused", fused)):
    for t in (q, k, v):
        t.grad = None
    (result * upstream).sum().backward()
    grads[name] = [t.grad.numpy().copy() for t in (q, k, v)]
grad_difference = max(float(np.abs(a - b).max()) for a, b in zip(grads["scratch"], grads["fused"]))
print(
    f"from scratch vs F.scaled_dot_product_attention: output {from_scratch_difference:.1e}, "
    f"gradients {grad_difference:.1e}"
)

# %% [markdown]
# ## Why divide by sqrt(d)
#
# If the entries of q and k are independent with mean 0 and variance 1, then q . k is a sum of d
# such products, so its variance is d and its typical size sqrt(d). With d = 1024, scores of +-30
# are normal, and softmax of such scores puts nearly all the weight on one key: the output no longer
# averages anything, and the softmax is flat in every direction but one, so its gradients nearly
# vanish. Dividing by sqrt(d) brings the scores back to variance 1 whatever d is. Below, next to the
# weights of the example above (row i: query i), 8 keys for growing d: the spread of the scores and the
# average largest weight, with and without the division.

# %%
dims = [4, 16, 64, 256, 1024]
score_std = {"q . k": [], "q . k / sqrt(d)": []}
largest_weight = {"q . k": [], "q . k / sqrt(d)": []}
for d in dims:
    q_many, k_many = tn.randn(500, 1, d), tn.randn(500, 8, d)  # 500 queries, 8 keys each
    raw = (q_many @ k_many.transpose(-2, -1)).reshape(500, 8)
    for label, scores in (("q . k", raw), ("q . k / sqrt(d)", raw / math.sqrt(d))):
        score_std[label].append(float(scores.numpy().std()))
        largest_weight[label].append(float(scores.softmax(dim=-1).numpy().max(axis=1).mean()))
print("std of the scores:", {key: np.round(values, 2).tolist() for key, values in score_std.items()})
print("mean largest weight:", {key: np.round(values, 3).tolist() for key, values in largest_weight.items()})

# %%
fig, (ax_weights, ax_std, ax_max) = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
image = ax_weights.imshow(weights.numpy()[0], cmap="viridis", vmin=0)
ax_weights.set(xlabel="key position j", ylabel="query position i", title="Random q, k (d = 16)\n(each row sums to 1)")
fig.colorbar(image, ax=ax_weights, label="weight")
steps = range(len(dims))  # d grows 4x per step: evenly spaced ticks instead of a log axis
for label in score_std:
    ax_std.plot(steps, score_std[label], marker="o", label=label)
    ax_max.plot(steps, largest_weight[label], marker="o", label=label)
ax_std.plot(steps, np.sqrt(dims), color="gray", linestyle=":", label="sqrt(d)")
ax_std.set(xticks=steps, xticklabels=dims, xlabel="d (features per query and key)", ylabel="std of the scores")
ax_std.set_title("Unscaled scores grow like sqrt(d)")
ax_max.axhline(1 / 8, color="gray", linestyle=":", label="uniform (1/8)")
ax_max.set(xticks=steps, xticklabels=dims, xlabel="d", ylabel="mean of the largest of 8 weights")
ax_max.set_title("Unscaled softmax saturates")
ax_std.legend()
ax_max.legend()
lesson.savefig(fig, "scaled_dot_product.png")

# %% [markdown]
# ## Masks: keys that are not there, and keys in the future
#
# A mask says which keys a query may look at. Masked scores become -inf before the softmax, so their
# weights are exactly 0 and the other weights still sum to 1. Two masks cover most uses:
#
# - **Padding.** Sequences of different lengths are padded to one length to make a batch. The padded
#   positions hold no data, so no query may attend to them. Here a batch of two sequences of lengths 5
#   and 3; if the mask works, the short sequence gives the same output (to rounding) as on its own.
# - **Causal.** A model that predicts the next token must not peek at it: query i may only attend to
#   keys 0..i, the lower triangle. We check it two ways: every weight above the diagonal is 0, and
#   changing the later inputs leaves the earlier outputs unchanged.
#
# Mind the conventions, which follow PyTorch and disagree: in `F.scaled_dot_product_attention` (and our
# `attention`) a bool True means "may attend"; in `nn.MultiheadAttention`'s `attn_mask` and
# `key_padding_mask` a bool True means "masked out".

# %%
lengths = [5, 3]
x = tn.randn(2, 5, 8)  # positions 3 and 4 of the second sequence are padding
key_is_real = tn.tensor(np.arange(5)[None, :] < np.array(lengths)[:, None])  # (2, 5)
padded_out, padded_weights = attention(x, x, x, mask=key_is_real.reshape(2, 1, 5))
alone_out, _ = attention(x[1:, :3], x[1:, :3], x[1:, :3])
padding_weight = float(padded_weights.numpy()[1][:, 3:].max())
padding_difference = float(np.abs(padded_out.numpy()[1, :3] - alone_out.numpy()[0]).max())
mha = nn.MultiheadAttention(8, 1, batch_first=True)
_, mha_weights = mha(x, x, x, key_padding_mask=~key_is_real.numpy())  # True = padding, PyTorch's way round
print(
    f"padding: largest weight on a padded key {padding_weight}, {mha_weights.numpy()[1][:, 3:].max()} "
    f"in nn.MultiheadAttention; short sequence vs alone {padding_difference:.1e}"
)
assert padding_weight == 0.0, f"a masked key gets weight exactly 0 (exp(-inf)), got {padding_weight}"

# %%
causal = tn.tensor(np.tril(np.ones((5, 5), dtype=bool)))  # (5, 5): query i may see keys 0..i
causal_out, causal_weights = attention(x, x, x, mask=causal)
causal_lookahead_weight = float(causal_weights.numpy()[:, ~causal.numpy()].max())
fused_causal_out = F.scaled_dot_product_attention(x, x, x, is_causal=True)
causal_vs_fused = float(np.abs(causal_out.numpy() - fused_causal_out.numpy()).max())
changed_future = x.numpy().copy()
changed_future[:, 3:] = rng.normal(size=(2, 2, 8))  # new inputs at positions 3 and 4
changed_out, _ = attention(*[tn.tensor(changed_future)] * 3, mask=causal)
causal_future_change = float(np.abs(changed_out.numpy()[:, :3] - causal_out.numpy()[:, :3]).max())
print(
    f"causal: largest weight above the diagonal {causal_lookahead_weight}; change of outputs 0..2 when "
    f"inputs 3..4 change {causal_future_change}; vs is_causal=True {causal_vs_fused:.1e}"
)

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
panels = [
    (padded_weights.numpy()[1], "Padding: sequence of length 3\npadded to 5 (keys 3, 4 masked)"),
    (causal.numpy().astype(float), "Causal mask\n(1 = may attend)"),
    (causal_weights.numpy()[0], "Causal attention weights\n(upper triangle exactly 0)"),
]
for ax, (matrix, title) in zip(axes, panels):
    image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
    ax.set(xlabel="key position j", ylabel="query position i", title=title)
fig.colorbar(image, ax=axes, label="weight")
lesson.savefig(fig, "masks.png")

# %% [markdown]
# ## Several heads
#
# One softmax per query gives one way of mixing. **Multi-head attention** runs h attentions side by
# side on smaller projections and joins their outputs, so one head can follow, say, the previous
# position while another follows the same digit. For an input x: (N, T, E) and h heads of E/h features:
#
#     Q, K, V = x W_q^T + b_q, x W_k^T + b_k, x W_v^T + b_v           each (N, T, E)
#     split:    (N, T, E) -> (N, T, h, E/h) -> (N, h, T, E/h)          reshape, then swap the axes
#     attend:   each head on its own: softmax(Q_h K_h^T / sqrt(E/h)) V_h -> (N, h, T, E/h)
#     join:     back to (N, T, E), then one more projection W_o
#
# `nn.MultiheadAttention` keeps W_q, W_k, W_v stacked in `in_proj_weight` (3E, E) and W_o in
# `out_proj`. Below we do the steps by hand with its weights and compare. Asked with
# `average_attn_weights=False` it returns each head's weights (N, h, L, S).


# %%
def split_heads(t, heads):
    """(N, T, E) -> (N, heads, T, E / heads)."""
    n, length, features = t.shape
    return t.reshape(n, length, heads, features // heads).transpose(1, 2)


heads, embed = 4, 16
mha = nn.MultiheadAttention(embed, heads, batch_first=True)
x = tn.randn(2, 6, embed)
w_q, w_k, w_v = (mha.in_proj_weight[i * embed : (i + 1) * embed] for i in range(3))
b_q, b_k, b_v = (mha.in_proj_bias[i * embed : (i + 1) * embed] for i in range(3))
q, k, v = (split_heads(F.linear(x, w, b), heads) for w, b in ((w_q, b_q), (w_k, b_k), (w_v, b_v)))
head_out, head_weights = attention(q, k, v)  # (2, 4, 6, 4), (2, 4, 6, 6)
joined = head_out.transpose(1, 2).reshape(2, 6, embed)
by_hand = mha.out_proj(joined)
library_out, library_weights = mha(x, x, x, average_attn_weights=False)
multihead_difference = max(
    float(np.abs(by_hand.numpy() - library_out.numpy()).max()),
    float(np.abs(head_weights.numpy() - library_weights.numpy()).max()),
)
print(f"multi-head by hand vs nn.MultiheadAttention: {multihead_difference:.1e}")

# %%
fig, axes = plt.subplots(1, heads, figsize=(12, 3.2), layout="constrained")
for head, ax in enumerate(axes):
    image = ax.imshow(library_weights.numpy()[0, head], cmap="viridis", vmin=0, vmax=library_weights.numpy().max())
    ax.set(xlabel="key position", ylabel="query position" if head == 0 else None, title=f"head {head}")
fig.colorbar(image, ax=axes, label="weight")
fig.suptitle("Four heads, four different mixings of the same 6 inputs (random weights, before any training)")
lesson.savefig(fig, "heads.png")

# %% [markdown]
# ## Attention cannot see order: positional encodings
#
# Shuffle the inputs of self-attention and its outputs come out shuffled the same way, otherwise
# unchanged: the scores depend on what q_i and k_j hold, never on i or j. We check it. So on its own
# attention cannot even tell "12" from "21", let alone reverse a sequence. The fix is to put the
# position into the input: add to the vector of position pos a code that depends on pos.
# "Attention Is All You Need" uses sines and cosines of geometrically spaced frequencies:
#
#     PE[pos, 2i]   = sin(pos / 10000^(2i/d))
#     PE[pos, 2i+1] = cos(pos / 10000^(2i/d))
#
# Feature pair i turns at its own speed, from one turn every 2 pi positions (i = 0) to very slowly
# (i near d/2): like the hands of a clock, the fast pairs tell nearby positions apart and the slow
# ones far positions. The dot product PE[p] . PE[q] depends only on the distance p - q, which is
# what the score of a query and a key can use. `nn.PositionalEncoding(d)` adds the code to its input.

# %%
order = rng.permutation(6)
shuffled_out, _ = mha(x[:, order], x[:, order], x[:, order])
permutation_error = float(np.abs(shuffled_out.numpy() - library_out.numpy()[:, order]).max())
print(f"self-attention of shuffled inputs vs shuffled outputs: {permutation_error:.1e}")

d_model, positions = 64, 100
pe = nn.PositionalEncoding(d_model, max_len=positions).pe.numpy()  # (100, 64)
pos, pair = np.arange(positions)[:, None], np.arange(0, d_model, 2)[None, :]
pe_by_formula = np.zeros((positions, d_model))
pe_by_formula[:, 0::2] = np.sin(pos / 10000 ** (pair / d_model))
pe_by_formula[:, 1::2] = np.cos(pos / 10000 ** (pair / d_model))
pe_formula_difference = float(np.abs(pe - pe_by_formula).max())
print(f"nn.PositionalEncoding vs the formula: {pe_formula_difference:.1e}")

# %%
fig, (ax_pe, ax_dot) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
image = ax_pe.imshow(pe, cmap="RdBu_r", aspect="auto", vmin=-1, vmax=1)
ax_pe.set(
    xlabel="feature (even: sin, odd: cos; frequency falls to the right)",
    ylabel="position",
    title=f"Sinusoidal positional encoding, d = {d_model}",
)
fig.colorbar(image, ax=ax_pe, label="PE[pos, feature]")
image = ax_dot.imshow(pe @ pe.T, cmap="viridis")
ax_dot.set(
    xlabel="position q", ylabel="position p", title="PE[p] . PE[q]: largest on the diagonal,\nalike along each diagonal"
)
fig.colorbar(image, ax=ax_dot, label="dot product")
lesson.savefig(fig, "positional_encoding.png")

# %% [markdown]
# ## Training attention to reverse a sequence
#
# The task: read 8 digits, output them in reverse order. Output position i must copy input position
# 7 - i, whatever the digits are, so the right attention map is known in advance: the anti-diagonal.
#
# The model is as small as it can be: embed each digit (a learned vector per digit, `nn.Embedding`),
# add the positional encoding, one self-attention layer with one head, and a linear layer from each
# output vector to 10 digit scores. There is no other path from input position j to output position
# i than the attention weight w_ij, so to get the digits right it has to learn to look at the right
# place, from the positions alone: the digit at a position says nothing about where it must go.
# The query and key maps are linear, and that suffices, because the code of position 7 - i is a fixed
# linear function of the code of i: each sin/cos pair is reflected and turned, as in
# sin(w (7 - i)) = sin(7w) cos(w i) - cos(7w) sin(w i). Each output position is one 10-way
# classification; the loss is their mean cross-entropy.

# %%
length, digits = 8, 10
sequences = rng.integers(0, digits, size=(3000, length))
reversed_sequences = sequences[:, ::-1].copy()
x_train, y_train = tn.tensor(sequences[:2500]), tn.tensor(reversed_sequences[:2500])
x_val, y_val = tn.tensor(sequences[2500:]), tn.tensor(reversed_sequences[2500:])


class Reverser(nn.Module):
    """digits (N, T) -> digit scores (N, T, 10) and attention weights (N, T, T) (row: output position)."""

    def __init__(self, d_model: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(digits, d_model)
        self.position = nn.PositionalEncoding(d_model, max_len=length)
        self.attention = nn.MultiheadAttention(d_model, num_heads=1, batch_first=True)
        self.readout = nn.Linear(d_model, digits)

    def forward(self, x):
        h = self.position(self.embed(x))  # (N, T, d_model)
        mixed, weights = self.attention(h, h, h, need_weights=True)
        return self.readout(mixed), weights


# %%
model = Reverser()
optimizer = optim.Adam(model.parameters(), lr=1e-2)
losses, val_accuracies = [], []
for step in progress(range(train_steps), "training"):
    batch = rng.integers(0, 2500, size=64)
    scores, _ = model(x_train[batch])
    loss = F.cross_entropy(scores.reshape(-1, digits), y_train[batch].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    if step % 25 == 24:
        with tn.no_grad():
            val_accuracies.append(accuracy(model(x_val)[0].argmax(dim=-1).reshape(-1), y_val.reshape(-1)))
lesson.save_arrays("reversal_training.npz", losses=losses, val_accuracies=val_accuracies)  # for the plots

# %%
with tn.no_grad():
    val_scores, val_weights = model(x_val)  # (500, 8, 10), (500, 8, 8)
task_accuracy = accuracy(val_scores.argmax(dim=-1).reshape(-1), y_val.reshape(-1))
sequence_accuracy = float((val_scores.argmax(dim=-1).numpy() == reversed_sequences[2500:]).all(axis=1).mean())
val_weights = val_weights.numpy()
expected = length - 1 - np.arange(length)  # output i reads input 7 - i
weight_on_expected = float(val_weights[:, np.arange(length), expected].mean())
argmax_on_expected = float((val_weights.argmax(axis=-1) == expected).mean())
print(f"held-out digits right: {task_accuracy:.4f}, whole sequences right: {sequence_accuracy:.4f}")
print(
    f"mean attention weight on the expected position: {weight_on_expected:.3f} (uniform would be "
    f"{1 / length:.3f}); largest weight on it: {argmax_on_expected:.1%} of output positions"
)
assert argmax_on_expected > 0.9, f"the largest weight should sit on the mirrored position (1.0): {argmax_on_expected}"
lesson.save_arrays("reversal_attention.npz", val_weights=val_weights, predicted=val_scores.argmax(dim=-1).numpy())

# %%
saved = lesson.load_arrays("reversal_training.npz")  # what training kept: rerun this cell without retraining
losses, val_accuracies = saved["losses"], saved["val_accuracies"]
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
ax_loss.plot(losses)
ax_loss.set(yscale="log", xlabel="step", ylabel="cross-entropy", title="Training loss (batches of 64 sequences)")
ax_acc.plot(np.arange(1, len(val_accuracies) + 1) * 25, val_accuracies, marker=".")
ax_acc.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.02), title="Held-out digits reversed correctly")
lesson.savefig(fig, "reversal_training.png")

# %% [markdown]
# ## The attention maps
#
# Row i of a map shows where output position i looked. Three held-out sequences, then the average
# over all 500: the weight sits on the anti-diagonal, as the task demands. It is not one-hot: about
# 0.6 of each row goes to the right position and the rest leaks to its neighbours, whose positional
# codes are similar. The model has no reason to sharpen further: the readout only needs the right
# digit's value to dominate the mixture, and it does; the expected position gets the largest weight
# in (nearly) every row.

# %%
saved = lesson.load_arrays("reversal_attention.npz")
val_weights = saved["val_weights"]
fig, axes = plt.subplots(1, 4, figsize=(14, 3.8), layout="constrained")
for ax, index in zip(axes[:3], range(3)):
    image = ax.imshow(val_weights[index], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(length), sequences[2500 + index])
    ax.set_yticks(range(length), saved["predicted"][index])
    ax.set(xlabel="input digits (key positions)", ylabel="output digits (query positions)")
    ax.set_title(f"held-out sequence {index}")
image = axes[3].imshow(val_weights.mean(axis=0), cmap="viridis", vmin=0, vmax=1)
axes[3].set(xlabel="input position", ylabel="output position", title="mean over 500 held-out sequences")
fig.colorbar(image, ax=axes, label="attention weight")
fig.suptitle("Where each output position looks when reversing: the anti-diagonal")
lesson.savefig(fig, "reversal_attention.png")

# %%
lesson.report(
    from_scratch_max_difference=from_scratch_difference,
    from_scratch_grad_max_difference=grad_difference,
    max_weight_unscaled_d1024=largest_weight["q . k"][-1],
    max_weight_scaled_d1024=largest_weight["q . k / sqrt(d)"][-1],
    padding_weight=padding_weight,
    padding_output_difference=padding_difference,
    causal_lookahead_weight=causal_lookahead_weight,
    causal_future_change=causal_future_change,
    causal_vs_fused_difference=causal_vs_fused,
    multihead_max_difference=multihead_difference,
    permutation_equivariance_error=permutation_error,
    pe_formula_difference=pe_formula_difference,
    task_accuracy=task_accuracy,
    sequence_accuracy=sequence_accuracy,
    attention_on_expected_position=weight_on_expected,
    attention_argmax_on_expected=argmax_on_expected,
    train_steps=train_steps,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Train the reversal model without positional encoding: the permutation check predicts what happens.",
    "Change the task to sorting the digits: what do the attention maps look like then?",
    "Use 2 heads of size 8 instead of 1 of size 16 and compare the maps.",
)
