# %% [markdown]
# # 13 · The transformer: an encoder-decoder that learns to sort
#
# Lesson 12 built attention. A **transformer** stacks it into layers: attention to mix positions, a
# small feed-forward network applied to every position on its own, and around both a residual
# connection and a LayerNorm. This lesson uses tinynet's layers, which match PyTorch's parameter for
# parameter, in the original arrangement of "Attention Is All You Need", the **encoder-decoder**: the
# encoder reads the whole input, the decoder writes the output one token at a time while attending to
# the encoder. We train it to sort digit strings with **teacher forcing**, then let it write answers
# on its own with **greedy decoding**. Lesson 14 uses the other classic arrangement, decoder-only (the
# GPT design), as a character language model.
#
# Run it: `python lessons/13_transformer.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup

lesson = setup("13_transformer")
sort_steps = 150 if lesson.smoke else 1000
tn.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The task: sort 8 digits
#
# Input `3 9 0 3 7 1 8 2`, output `0 1 2 3 3 7 8 9`. Every output token depends on the whole input
# (the first output is the smallest digit anywhere), so a model cannot answer position by position:
# it has to read everything first. The decoder's vocabulary has the 10 digits and one extra token,
# BOS ("beginning of sequence", id 10), which starts every output.
#
# We train on 5,000 random strings and test on 1,000 others. There are 10^8 possible strings, so the
# test strings are new to the model: it must have learned to sort, not memorised answers.

# %%
length, digits, BOS = 8, 10, 10
strings = rng.integers(0, digits, size=(6000, length))
sorted_strings = np.sort(strings, axis=1)
train_src, train_tgt = strings[:5000], sorted_strings[:5000]
test_src, test_tgt = strings[5000:], sorted_strings[5000:]
print("example:", train_src[0], "->", train_tgt[0])

# %% [markdown]
# ## The model
#
#     source digits (N, S) -> embedding + positional encoding -> encoder layers -> memory (N, S, d)
#     decoder input (N, T) -> embedding + positional encoding -> decoder layers -> Linear -> scores (N, T, 10)
#
# An encoder layer is self-attention then feed-forward. A decoder layer has three parts: **masked**
# self-attention over the output written so far, **cross-attention** whose queries come from the
# decoder and whose keys and values are the encoder's memory (this is where it reads the input), then
# feed-forward. The mask is the causal one of lesson 12: decoder position t may look at positions
# 0..t only. `nn.TransformerDecoderLayer` takes it as `tgt_mask` in PyTorch's convention, a bool
# (T, T) with True = may NOT attend: the strict upper triangle.


# %%
def causal_mask(size: int):
    """(size, size) bool, True above the diagonal: position t may not attend to positions after t."""
    return tn.tensor(np.triu(np.ones((size, size), dtype=bool), k=1))


# %%
class Seq2SeqTransformer(nn.Module):
    """An encoder-decoder transformer: source (N, S) and decoder input (N, T) token ids -> scores (N, T, 10)."""

    def __init__(self, d_model: int = 32, heads: int = 4, layers: int = 1) -> None:
        super().__init__()
        self.source_embed = nn.Embedding(digits, d_model)
        self.target_embed = nn.Embedding(digits + 1, d_model)  # the digits and BOS
        self.position = nn.PositionalEncoding(d_model, max_len=length + 1)
        self.encoder = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout=0.0, batch_first=True)
            for _ in range(layers)
        )
        self.decoder = nn.ModuleList(
            nn.TransformerDecoderLayer(d_model, heads, 2 * d_model, dropout=0.0, batch_first=True)
            for _ in range(layers)
        )
        self.readout = nn.Linear(d_model, digits)

    def encode(self, source):
        memory = self.position(self.source_embed(source))
        for layer in self.encoder:
            memory = layer(memory)
        return memory  # (N, S, d_model)

    def decode(self, decoder_input, memory):
        h = self.position(self.target_embed(decoder_input))
        mask = causal_mask(decoder_input.shape[1])
        for layer in self.decoder:
            h = layer(h, memory, tgt_mask=mask)
        return self.readout(h)  # (N, T, 10)

    def forward(self, source, decoder_input):
        return self.decode(decoder_input, self.encode(source))


# %%
seq2seq = Seq2SeqTransformer()
print(seq2seq)
print("parameters:", sum(p.numel() for p in seq2seq.parameters()))

# %% [markdown]
# ## Teacher forcing: one pass trains every position
#
# To predict output token t, the decoder needs tokens 0..t-1. During training we give it the *true*
# ones: the decoder input is the target shifted right by one, behind BOS,
#
#     decoder input:  BOS  0  1  2  3  3  7  8
#     target:          0   1  2  3  3  7  8  9
#
# and the causal mask stops position t from seeing the answer it must predict (it sits at input
# position t + 1). So one forward pass gives all 8 predictions, each from the correct prefix, and the
# loss is their mean cross-entropy. That this is honest rests entirely on the mask; we check it:
# changing the decoder input from position 4 on must leave the scores at positions 0..3 unchanged.


# %%
def shift_right(target):
    """(N, T) -> (N, T): BOS, then the target without its last token."""
    return np.concatenate([np.full((len(target), 1), BOS), target[:, :-1]], axis=1)


optimizer = optim.Adam(seq2seq.parameters(), lr=3e-3)
sort_losses = []
for _ in progress(range(sort_steps), "training the sorter"):
    batch = rng.integers(0, len(train_src), size=64)
    scores = seq2seq(tn.tensor(train_src[batch]), tn.tensor(shift_right(train_tgt[batch])))
    loss = F.cross_entropy(scores.reshape(-1, digits), tn.tensor(train_tgt[batch]).reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    sort_losses.append(loss.item())
assert np.mean(sort_losses[-10:]) < np.mean(sort_losses[:10]) / 3, "the teacher-forced loss should fall (2.4 -> ~0.1)"

# %%
with tn.no_grad():
    decoder_input = shift_right(test_src[:100])
    changed = decoder_input.copy()
    changed[:, 4:] = rng.integers(0, digits, size=(100, length - 4))
    before = seq2seq(tn.tensor(test_src[:100]), tn.tensor(decoder_input)).numpy()
    after = seq2seq(tn.tensor(test_src[:100]), tn.tensor(changed)).numpy()
decoder_lookahead_change = float(np.abs(before[:, :4] - after[:, :4]).max())
print(f"scores at positions 0..3 changed by {decoder_lookahead_change} when decoder inputs 4..7 changed")
assert decoder_lookahead_change < 1e-5, "the causal mask: later decoder inputs must not change earlier scores"

# %% [markdown]
# ## Greedy decoding: writing the answer without the answer
#
# At test time there is no target to shift. The decoder starts from BOS alone, predicts the first
# token, appends its own prediction (the highest-scoring digit: **greedy**), runs again on the longer
# input, and so on, 8 times. The encoder runs once; its memory is reused at every step. (A real
# system would also stop at an end-of-sequence token; ours always writes 8 digits.)
#
# Greedy decoding is harder than teacher forcing: a mistake at step t becomes part of the input for
# every later step. We measure both on the 1,000 test strings: per-position accuracy with the true
# prefix (teacher-forced) and with the model's own (greedy), and the fraction of strings sorted
# exactly right, every digit.


# %%
def greedy_decode(model, source):
    """source (N, S) digits -> (N, length) digits, each step the highest-scoring next digit."""
    with tn.no_grad():
        memory = model.encode(tn.tensor(source))
        written = np.full((len(source), 1), BOS)
        for _ in range(length):
            next_scores = model.decode(tn.tensor(written), memory).numpy()[:, -1]  # (N, 10)
            written = np.concatenate([written, next_scores.argmax(axis=1)[:, None]], axis=1)
    return written[:, 1:]


greedy = greedy_decode(seq2seq, test_src)
with tn.no_grad():
    forced = seq2seq(tn.tensor(test_src), tn.tensor(shift_right(test_tgt))).argmax(dim=-1).numpy()
exact_match = float((greedy == test_tgt).all(axis=1).mean())
greedy_per_position = (greedy == test_tgt).mean(axis=0)
forced_per_position = (forced == test_tgt).mean(axis=0)
print(f"greedy decoding, test strings sorted exactly right: {exact_match:.1%}")
for source, written in zip(test_src[:4], greedy[:4]):
    print(f"  {''.join(map(str, source))} -> {''.join(map(str, written))}")
assert exact_match > 0.8, f"greedy decoding should sort most strings (smoke ~0.96, full 1.0): {exact_match:.3f}"
assert greedy_per_position.mean() > 0.95, f"per-digit greedy accuracy ~0.99, got {greedy_per_position.mean():.3f}"
lesson.save_arrays(  # what the plot needs: rerun the plot cell without retraining
    "sorting.npz", sort_losses=sort_losses, forced_per_position=forced_per_position,
    greedy_per_position=greedy_per_position, exact_match=exact_match,
)  # fmt: skip

# %%
saved = lesson.load_arrays("sorting.npz")
sort_losses, forced_per_position, greedy_per_position = (saved[key] for key in list(saved)[:3])
fig, (ax_loss, ax_pos) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
ax_loss.plot(sort_losses)
ax_loss.set(yscale="log", xlabel="step", ylabel="cross-entropy", title="Sorter: training loss (teacher forcing)")
ax_pos.plot(range(length), forced_per_position, marker="o", label="teacher-forced (true prefix)")
ax_pos.plot(range(length), greedy_per_position, marker="s", label="greedy (own prefix)")
ax_pos.set(
    xlabel="output position",
    ylabel="accuracy on 1,000 test strings",
    title=f"Per-position accuracy; exact match {float(saved['exact_match']):.1%}",
)
ax_pos.legend()
lesson.savefig(fig, "sorting.png")

# %%
lesson.report(
    sort_exact_match=exact_match,
    sort_greedy_token_accuracy=float(greedy_per_position.mean()),
    sort_teacher_forced_token_accuracy=float(forced_per_position.mean()),
    decoder_lookahead_change=decoder_lookahead_change,
    sort_steps=sort_steps,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Decode the sorter with beam search (width 3) instead of greedy and compare exact matches.",
    "Train on strings of 8 digits and test on strings of 12: what does the positional encoding do?",
    "Use 2 encoder and 2 decoder layers with d_model 16: fewer steps to sort, or more?",
)
