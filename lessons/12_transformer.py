# %% [markdown]
# # 12 · Transformers: an encoder-decoder that sorts, and a language model that writes docstrings
#
# Lesson 11 built attention. A **transformer** stacks it into layers: attention to mix positions, a
# small feed-forward network applied to every position on its own, and around both a residual
# connection and a LayerNorm. This lesson uses tinynet's layers, which match PyTorch's parameter for
# parameter, in the two classic arrangements:
#
# 1. **Encoder-decoder** (the original "Attention Is All You Need" design): the encoder reads the whole
#    input, the decoder writes the output one token at a time while attending to the encoder. We train
#    it to sort digit strings with **teacher forcing**, then let it write answers on its own with
#    **greedy decoding**.
# 2. **Decoder-only** (the GPT design): one stack with a causal mask, trained to predict the next
#    character of real text, the docstrings of Python's standard library. We compare its loss with
#    simple baselines in bits per character and sample text from it before and after training.
#
# Run it: `python lessons/12_transformer.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import ast
import re
import sysconfig
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup

lesson = setup("12_transformer")
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
# feed-forward. The mask is the causal one of lesson 11: decoder position t may look at positions
# 0..t only. `nn.TransformerDecoderLayer` takes it as `tgt_mask` in PyTorch's convention, a bool
# (T, T) with True = may NOT attend: the strict upper triangle.


# %%
def causal_mask(size: int):
    """(size, size) bool, True above the diagonal: position t may not attend to positions after t."""
    return tn.tensor(np.triu(np.ones((size, size), dtype=bool), k=1))


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

with tn.no_grad():
    decoder_input = shift_right(test_src[:100])
    changed = decoder_input.copy()
    changed[:, 4:] = rng.integers(0, digits, size=(100, length - 4))
    before = seq2seq(tn.tensor(test_src[:100]), tn.tensor(decoder_input)).numpy()
    after = seq2seq(tn.tensor(test_src[:100]), tn.tensor(changed)).numpy()
decoder_lookahead_change = float(np.abs(before[:, :4] - after[:, :4]).max())
print(f"scores at positions 0..3 changed by {decoder_lookahead_change} when decoder inputs 4..7 changed")

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

fig, (ax_loss, ax_pos) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
ax_loss.plot(sort_losses)
ax_loss.set(yscale="log", xlabel="step", ylabel="cross-entropy", title="Sorter: training loss (teacher forcing)")
ax_pos.plot(range(length), forced_per_position, marker="o", label="teacher-forced (true prefix)")
ax_pos.plot(range(length), greedy_per_position, marker="s", label="greedy (own prefix)")
ax_pos.set(
    xlabel="output position",
    ylabel="accuracy on 1,000 test strings",
    title=f"Per-position accuracy; exact match {exact_match:.1%}",
)
ax_pos.legend()
lesson.savefig(fig, "sorting.png")

# %% [markdown]
# ## Real text: the docstrings of Python's standard library
#
# Now a language model. Its data must be on this machine already, and there is plenty: every module
# of the standard library documents itself. We read the public modules (the `.py` files in Python's
# `stdlib` folder whose names do not start with `_`) in sorted order, the first 20 in a smoke run,
# take the docstring of every module, class and function with `ast`, and keep the printable ASCII
# characters and newlines. The last 10 % of the text, from
# modules late in the alphabet, is the validation set: modules the model never trained on.

# %%
public_modules = [p for p in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")) if not p.name.startswith("_")]
stdlib_files = public_modules[: 20 if lesson.smoke else None]
docstrings = []
for path in stdlib_files:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node)
            if docstring:
                docstrings.append(docstring)
text = re.sub(r"[^\n -~]", "", "\n\n".join(docstrings))
vocabulary = sorted(set(text))
char_id = np.zeros(128, dtype=np.int64)
char_id[[ord(c) for c in vocabulary]] = np.arange(len(vocabulary))
ids = char_id[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]  # (characters,)
split = int(0.9 * len(ids))
train_ids, val_ids = ids[:split], ids[split:]
vocab_size = len(vocabulary)
print(
    f"{len(stdlib_files)} files, {len(docstrings)} docstrings, {len(text):,} characters, "
    f"vocabulary of {vocab_size}; train {len(train_ids):,}, validation {len(val_ids):,}"
)
print(text[:300])

# %% [markdown]
# ## Baselines, in bits per character
#
# A model that gives the true next character probability p pays -log2 p **bits**; its mean over the
# validation text is the **bits per character** (bpc), the cross-entropy in base 2. 2^bpc is the
# **perplexity**: the model is as unsure as a fair choice among that many characters. Two baselines
# from counting (each count + 1, so no character gets probability 0):
#
# - **unigram**: p(c) = how often c appears in the training text, whatever came before;
# - **bigram**: p(c | previous character). A transformer that sees dozens of characters of context should
#   beat both; beating the bigram shows it uses more than the last character.

# %%
unigram = np.bincount(train_ids, minlength=vocab_size) + 1.0
unigram /= unigram.sum()
unigram_bpc = float(-np.log2(unigram[val_ids]).mean())
bigram = np.ones((vocab_size, vocab_size))
np.add.at(bigram, (train_ids[:-1], train_ids[1:]), 1)
bigram /= bigram.sum(axis=1, keepdims=True)
bigram_bpc = float(-np.log2(bigram[val_ids[:-1], val_ids[1:]]).mean())
print(
    f"validation bits per character: unigram {unigram_bpc:.3f}, bigram {bigram_bpc:.3f} "
    f"(uniform over {vocab_size} characters: {np.log2(vocab_size):.3f})"
)

# %% [markdown]
# ## A decoder-only transformer
#
# A language model has no separate input to encode: it reads the text so far and predicts the next
# character, at every position at once (teacher forcing again: the target is the input shifted left
# by one). So it is one stack of self-attention layers with a causal mask and no cross-attention. In
# PyTorch's names that is `nn.TransformerEncoderLayer` given a causal `src_mask`: "encoder" only
# means "no cross-attention". We use the pre-norm arrangement (`norm_first=True`: x + sublayer(norm(x))),
# which trains more stably, and so end with one more LayerNorm before the readout.


# %%
class CharTransformer(nn.Module):
    """Character ids (N, T) -> next-character scores (N, T, vocab_size), each from characters 0..t only."""

    def __init__(self, d_model: int, heads: int, layers: int, context: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = nn.PositionalEncoding(d_model, max_len=context)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.readout = nn.Linear(d_model, vocab_size)

    def forward(self, x):
        h = self.position(self.embed(x))
        mask = causal_mask(x.shape[1])
        for block in self.blocks:
            h = block(h, src_mask=mask)
        return self.readout(self.norm(h))


if lesson.smoke:
    context, lm_steps, lm_batch = 32, 80, 16
    lm = CharTransformer(d_model=32, heads=4, layers=1, context=context)
else:
    context, lm_steps, lm_batch = 64, 1500, 32
    lm = CharTransformer(d_model=64, heads=4, layers=2, context=context)
print("language model parameters:", sum(p.numel() for p in lm.parameters()))

# %% [markdown]
# ## Sampling with a temperature
#
# To write text, start from a prompt, compute the distribution of the next character, draw one, append
# it, repeat (the context is the last `context` characters). Dividing the scores by a **temperature**
# before the softmax reshapes the distribution: below 1 it favours the likely characters (safer, more
# repetitive text), above 1 it flattens towards uniform. A fixed NumPy generator makes the samples
# repeat from run to run. Before training, the model writes noise.


# %%
def sample(model, prompt: str, characters: int, temperature: float = 0.8, seed: int = 0) -> str:
    """prompt followed by `characters` characters drawn from the model, one at a time."""
    draw = np.random.default_rng(seed)
    written = [int(char_id[ord(c)]) for c in prompt]
    with tn.no_grad():
        for _ in range(characters):
            scores = model(tn.tensor([written[-context:]])).numpy()[0, -1] / temperature
            probabilities = np.exp(scores - scores.max())
            written.append(int(draw.choice(vocab_size, p=probabilities / probabilities.sum())))
    return "".join(vocabulary[i] for i in written)


prompt = "Return the "
sample_length = 80 if lesson.smoke else 300
sample_before = sample(lm, prompt, sample_length)
print("sample before training:\n" + sample_before)

# %% [markdown]
# ## Training
#
# Each step takes `lm_batch` windows of `context + 1` characters at random places in the training
# text: the first `context` characters are the input, the last `context` the targets. Every so often
# we measure the loss on fixed windows of the validation text.


# %%
def windows(source, starts):
    """Inputs and next-character targets, each (len(starts), context), from source[start : start + context + 1]."""
    rows = np.stack([source[s : s + context + 1] for s in starts])
    return tn.tensor(rows[:, :-1]), tn.tensor(rows[:, 1:])


def bits_per_character(model, source, starts):
    with tn.no_grad():
        x, y = windows(source, starts)
        return F.cross_entropy(model(x).reshape(-1, vocab_size), y.reshape(-1)).item() / np.log(2)


val_starts = np.arange(0, len(val_ids) - context - 1, context)[: 100 if lesson.smoke else 400]
initial_val_bpc = bits_per_character(lm, val_ids, val_starts)
optimizer = optim.Adam(lm.parameters(), lr=1e-2 if lesson.smoke else 3e-3)
scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=lm_steps)
train_bpc, val_curve = [], [(0, initial_val_bpc)]
for step in progress(range(1, lm_steps + 1), "training the language model"):
    x, y = windows(train_ids, rng.integers(0, len(train_ids) - context - 1, size=lm_batch))
    loss = F.cross_entropy(lm(x).reshape(-1, vocab_size), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    train_bpc.append(loss.item() / np.log(2))
    if step % (lm_steps // 5) == 0:
        val_curve.append((step, bits_per_character(lm, val_ids, val_starts)))
val_bpc = val_curve[-1][1]
print(
    f"validation: {initial_val_bpc:.3f} -> {val_bpc:.3f} bits per character, perplexity {2**val_bpc:.2f} "
    f"(unigram {unigram_bpc:.3f}, bigram {bigram_bpc:.3f})"
)

sample_after = sample(lm, prompt, sample_length)
print("sample after training (temperature 0.8):\n" + sample_after)
for temperature in (0.5, 1.2):
    print(f"temperature {temperature}:\n" + sample(lm, prompt, sample_length // 2, temperature))

fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.plot(range(1, lm_steps + 1), train_bpc, alpha=0.5, label="training batches")
ax.plot(*zip(*val_curve), marker="o", label="validation")
ax.axhline(unigram_bpc, color="gray", linestyle="--", label=f"unigram baseline ({unigram_bpc:.2f})")
ax.axhline(bigram_bpc, color="black", linestyle=":", label=f"bigram baseline ({bigram_bpc:.2f})")
ax.set(
    xlabel="step",
    ylabel="bits per character",
    ylim=(0, max(7.0, initial_val_bpc + 0.2)),
    title="Character-level transformer on standard-library docstrings",
)
ax.legend()
lesson.savefig(fig, "language_model_loss.png")

# %% [markdown]
# ## Where the model is surprised
#
# The loss is an average; the bits spent on each character show what the model has learned. Below, a
# stretch of validation prose (the first window that is nearly all letters and spaces) with each
# character's cost -log2 p: the middle and end of words and common phrases come cheap, the first
# letter of a new word and rare names cost the most.

# %%
letters_and_space = [i for i, c in enumerate(vocabulary) if c.isalpha() or c == " "]
prose_fraction = [np.isin(val_ids[s : s + context + 1], letters_and_space).mean() for s in val_starts]
start = int(val_starts[np.argmax(np.array(prose_fraction) > 0.95)])
x, y = windows(val_ids, [start])
with tn.no_grad():
    log_probabilities = F.log_softmax(lm(x), dim=-1).numpy()[0]  # (context, vocab_size)
surprise = -log_probabilities[np.arange(context), y.numpy()[0]] / np.log(2)
fig, ax = plt.subplots(figsize=(12, 3), layout="constrained")
ax.bar(range(context), surprise, color=plt.cm.viridis(surprise / max(surprise.max(), 1e-9)))
labels = [{" ": "␣", "\n": "\\n"}.get(vocabulary[i], vocabulary[i]) for i in y.numpy()[0]]  # show space, newline
ax.set_xticks(range(context), labels, fontsize=8)
ax.set(
    xlim=(-0.6, context - 0.4),
    ylabel="bits (-log2 p)",
    title="Cost of each next character in a stretch of validation text (x-axis: the character to predict)",
)
lesson.savefig(fig, "surprise.png")

lesson.report(
    sort_exact_match=exact_match,
    sort_greedy_token_accuracy=float(greedy_per_position.mean()),
    sort_teacher_forced_token_accuracy=float(forced_per_position.mean()),
    decoder_lookahead_change=decoder_lookahead_change,
    lm_characters=len(text),
    lm_vocabulary=vocab_size,
    unigram_bpc=unigram_bpc,
    bigram_bpc=bigram_bpc,
    lm_initial_val_bpc=initial_val_bpc,
    lm_val_bpc=val_bpc,
    lm_val_perplexity=2**val_bpc,
    lm_final_train_bpc=float(np.mean(train_bpc[-20:])),
    sort_steps=sort_steps,
    lm_steps=lm_steps,
)
