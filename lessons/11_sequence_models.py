# %% [markdown]
# # 11 · Sequence models trained: a GRU on signals, an LSTM that reads in order
#
# Lesson 10 built the recurrent cells and showed why the gates matter. Here they learn two tasks.
# First the bidirectional GRU of the MNIST-1D paper, on lesson 09's signals read one value at a
# time. Then reviews whose meaning depends on word order ("the food was bad but the view was
# lovely"), where an embedding + LSTM succeeds and a bag of words cannot beat a coin toss.
#
# Run it: `python lessons/11_sequence_models.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import random
import time

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn
from tinynet.lesson import progress, setup
from tinynet.models import MNIST1DGRU, train_classifier

lesson = setup("11_sequence_models")
gru_steps = 80 if lesson.smoke else 8000  # MNIST-1D: the paper's recipe, Adam lr 1e-2, batches of 100
text_steps = 150 if lesson.smoke else 1000
tn.manual_seed(0)

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
def train(model, x_fit, y_fit, x_check, y_check, steps, batch_size, description) -> list[float]:
    """Lesson 09's recipe (`tinynet.models.train_classifier`: Adam, lr 1e-2, shuffled mini-batches); returns the
    held-out accuracy ten times along."""
    return train_classifier(model, x_fit, y_fit, x_check, y_check, steps, batch_size,
                            each=lambda s: progress(s, description))  # fmt: skip


# %%
x_train, y_train = tn.data.mnist1d("train")
x_test, y_test = tn.data.mnist1d("test")
tn.manual_seed(0)
gru = MNIST1DGRU()
print(gru, f"\n{sum(p.numel() for p in gru.parameters())} parameters")
started = time.perf_counter()
gru_curve = train(gru, x_train, y_train, x_test, y_test, gru_steps, 100, "GRU on MNIST-1D")
gru_seconds = time.perf_counter() - started
gru_test_acc = gru_curve[-1]
print(
    f"GRU: test accuracy {gru_test_acc:.1%} after {gru_steps} steps (paper: 91 %), "
    f"{gru_seconds:.0f} s on backend {lesson.backend} ({1000 * gru_seconds / gru_steps:.1f} ms a step)"
)
assert gru_test_acc > 0.3, f"chance is 0.10: 80 smoke steps reach ~0.44, the full run ~0.92; got {gru_test_acc:.3f}"
lesson.save_arrays("gru_curve.npz", gru_curve=gru_curve)  # what the plot needs: rerun it without retraining

# %%
gru_curve = lesson.load_arrays("gru_curve.npz")["gru_curve"]
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


# %%
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


# %%
kinds = ("one clause", "but", "though")
text_models, text_accuracy = {}, {}  # name -> model; name -> {"all" or kind: test accuracy}
for name, make in (("bag of words", BagOfWords), ("LSTM", LSTMClassifier)):
    tn.manual_seed(0)
    text_models[name] = make(len(vocabulary))
    train(text_models[name], tokens_train, labels_train, tokens_test, labels_test, text_steps, 64, name)
    with tn.no_grad():
        correct = text_models[name](tokens_test).argmax(dim=1).numpy() == labels_test.numpy()
    text_accuracy[name] = {"all": correct.mean(), **{k: correct[test_kinds == k].mean() for k in kinds}}
print(f"\n{'test accuracy':<14}" + "".join(f"{column:>12}" for column in text_accuracy["LSTM"]))
for name, scores in text_accuracy.items():
    print(f"{name:<14}" + "".join(f"{score:>12.1%}" for score in scores.values()))
assert text_accuracy["LSTM"]["all"] > 0.9, "the LSTM reads in order and gets the reviews right (1.0)"
bag_two_clause = np.mean([text_accuracy["bag of words"][k] for k in ("but", "though")])
assert bag_two_clause < 0.6, f"a bag of words can't beat a coin toss on two-clause reviews (~0.5): {bag_two_clause:.2f}"
lesson.save_arrays("text_accuracy.npz", **{name: list(scores.values()) for name, scores in text_accuracy.items()})

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

# %%
saved = lesson.load_arrays("text_accuracy.npz")  # the accuracies the training cell kept: no retraining
text_accuracy = {name: dict(zip(("all", *kinds), saved[name])) for name in saved}
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
    gru_test_acc=gru_test_acc,
    text_test_acc=float(text_accuracy["LSTM"]["all"]),
    text_though_test_acc=float(text_accuracy["LSTM"]["though"]),
    bag_test_acc=float(text_accuracy["bag of words"]["all"]),
    bag_two_clause_test_acc=float(np.mean([text_accuracy["bag of words"][k] for k in ("but", "though")])),
    gru_seconds=gru_seconds,
    gru_steps=gru_steps,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Make the GRU one-directional: how much of the 91 % came from reading backwards too?",
    "Write reviews whose meaning hinges on a word 30 tokens back and see where the LSTM starts to fail.",
    "Swap the LSTM for nn.GRU in LSTMClassifier: same accuracy, fewer parameters?",
)
