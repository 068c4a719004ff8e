# %% [markdown]
# # 14 · A character language model: a decoder-only transformer that writes docstrings
#
# Lesson 13 trained an encoder-decoder. The other classic arrangement is **decoder-only** (the GPT
# design): one stack of self-attention layers with a causal mask, trained to predict the next
# character of real text, here the docstrings of Python's standard library. We compare its loss with
# simple baselines in bits per character, and sample text from it before and after training.
#
# Run it: `python lessons/14_char_language_model.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import ast
import re
import sysconfig
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import optim
from tinynet.generation import generate
from tinynet.lesson import progress, setup
from tinynet.models import CharTransformer

lesson = setup("14_char_language_model")
tn.manual_seed(0)
rng = np.random.default_rng(0)


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
assert bigram_bpc < unigram_bpc < np.log2(vocab_size), "each baseline should beat the one that knows less"

# %% [markdown]
# ## A decoder-only transformer
#
# A language model has no separate input to encode: it reads the text so far and predicts the next
# character, at every position at once (teacher forcing again: the target is the input shifted left
# by one). So it is one stack of self-attention layers with a causal mask and no cross-attention. In
# PyTorch's names that is `nn.TransformerEncoderLayer` given a causal `src_mask`: "encoder" only
# means "no cross-attention". We use the pre-norm arrangement (`norm_first=True`: x + sublayer(norm(x))),
# which trains more stably, and so end with one more LayerNorm before the readout.
#
# The model is `tinynet.models.CharTransformer` (read it there: twenty lines), the reference decoder-only model
# that `tinynet.generation` also runs: an `nn.Embedding`, an `nn.PositionalEncoding`, a `ModuleList` of
# `nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True)`, each
# given the causal mask of lesson 12 (True above the diagonal: position t may not attend to later ones), then a
# `LayerNorm` and a `Linear` readout to the vocabulary.

# %%
if lesson.smoke:
    context, lm_steps, lm_batch = 32, 80, 16
    lm = CharTransformer(vocab_size, d_model=32, heads=4, layers=1, context=context)
else:
    context, lm_steps, lm_batch = 64, 1500, 32
    lm = CharTransformer(vocab_size, d_model=64, heads=4, layers=2, context=context)
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


# %%
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
assert val_bpc < initial_val_bpc - 2, f"training should cut the bits per character (smoke ~6.8 -> 3.9): {val_bpc:.2f}"
assert val_bpc < unigram_bpc - 0.3, f"...well below the unigram baseline (full run: 2.68 vs 4.79): {val_bpc:.2f}"
lesson.save_arrays("language_model.npz", train_bpc=train_bpc, val_curve=val_curve)  # for the plot: no retraining

# %%
sample_after = sample(lm, prompt, sample_length)
print("sample after training (temperature 0.8):\n" + sample_after)
for temperature in (0.5, 1.2):
    print(f"temperature {temperature}:\n" + sample(lm, prompt, sample_length // 2, temperature))

# %%
saved = lesson.load_arrays("language_model.npz")
train_bpc, val_curve = saved["train_bpc"], saved["val_curve"]  # val_curve: (evaluations, 2) of (step, bpc)
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.plot(range(1, len(train_bpc) + 1), train_bpc, alpha=0.5, label="training batches")
ax.plot(val_curve[:, 0], val_curve[:, 1], marker="o", label="validation")
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

# %%
lesson.report(
    lm_characters=len(text),
    lm_vocabulary=vocab_size,
    unigram_bpc=unigram_bpc,
    bigram_bpc=bigram_bpc,
    lm_initial_val_bpc=initial_val_bpc,
    lm_val_bpc=val_bpc,
    lm_val_perplexity=2**val_bpc,
    lm_final_train_bpc=float(np.mean(train_bpc[-20:])),
    lm_steps=lm_steps,
)

# %% [markdown]
# ## Faster writing: a cache of keys and values
#
# `sample` runs the whole text so far through the model for every character it writes, although only the last
# position is new: under the causal mask no position sees a later one, so every layer's keys and values of the
# earlier positions are the same as at the step before. `tinynet.generation.generate` keeps them, a **KV cache**:
# it runs the prompt once (the *prefill*), then one position per step, whose query attends to the cached keys and
# values. The same characters come out (greedy here: the most likely one each time), with less work per step,
# and the gap grows with the length: `benchmarks/generation.py` measures it at 256 generated characters. Here the
# text may be as long as the positional encoding (`context` positions), so the gain is smaller.

# %%
prompt_ids = [int(char_id[ord(c)]) for c in prompt]
new_characters = context - len(prompt_ids)  # generate does not slide a window: it stops at the model's context
texts, seconds = {}, {}
for use_cache in (False, True):
    runs = []
    for _ in range(3):  # the fastest of 3 runs: the least disturbed by whatever else the machine does
        began = time.perf_counter()
        written_ids = generate(lm, prompt_ids, new_characters, use_cache=use_cache)
        runs.append(time.perf_counter() - began)
    texts[use_cache], seconds[use_cache] = "".join(vocabulary[i] for i in written_ids), min(runs)
    print(f"{'with' if use_cache else 'without'} the cache: {new_characters / min(runs):,.0f} characters/s")
    print(texts[use_cache])
assert texts[True] == texts[False], "the cache must not change what the model writes"
print(f"same text; the cache made generation {seconds[False] / seconds[True]:.1f}x faster at {context} characters")

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Sample the language model at temperatures 0.5, 1 and 1.5 and rank the samples by their bits per character.",
    "Double the context length of the language model: does validation bpc drop, and what does it cost per step?",
    "Train it on your own project's docstrings: how many bits per character does it need on text it never saw?",
)
