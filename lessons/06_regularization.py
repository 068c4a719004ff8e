# %% [markdown]
# # 06 · Regularization: a network that memorises, and the ways to make it generalise
#
# Give a big network a small training set and it will learn the training set by heart: 100 %
# training accuracy, and much less on images it has not seen. This is **overfitting**, and the
# tools against it are called **regularization**. This lesson overfits 100 handwritten digits on
# purpose, then tries four remedies, one at a time and then all together, each on the same network
# from the same start:
#
# - weight decay (L2): keep the weights small,
# - dropout: randomly switch hidden units off while training,
# - early stopping: keep the weights from the epoch that did best on validation data,
# - data augmentation: train on slightly moved copies of the images.
#
# A last section is about a different failure, an exploding training run, and its fix, gradient
# clipping.
#
# Run it: `python lessons/06_regularization.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import copy

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup
from tinynet.metrics import accuracy

lesson = setup("06_regularization")
epochs = 60 if lesson.smoke else 300  # (at 30, too few for the big network to overfit: smoke would teach nothing)
patience = 20  # early stopping: epochs without a better validation accuracy before we give up
tn.manual_seed(0)

# %% [markdown]
# ## Three sets: train, validation, test
#
# We train on only 100 of the 1,797 digits (10 of each). The rest is split in two halves:
#
# - the **validation** set (848 images) is what we watch during training and use to compare
#   techniques and pick a checkpoint;
# - the **test** set (849 images) is looked at once, at the very end. Anything chosen by its
#   validation score looks a little better on validation than it really is (early stopping picks
#   the best epoch *by* validation accuracy), so the honest figure is the test accuracy.

# %%
x, y = tn.data.digits()
x_train, x_rest, y_train, y_rest = tn.data.train_test_split(x, y, test_size=len(x) - 100, stratify=y, seed=0)
x_val, x_test, y_val, y_test = tn.data.train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, seed=0)
print(f"train {x_train.shape}, validation {x_val.shape}, test {x_test.shape}")

# %% [markdown]
# ## A network far too big for its data
#
# Two hidden layers of 256 units: about 85,000 weights to fit 100 images, 850 weights per image.
# Nothing stops such a network from memorising each training image separately instead of learning
# what a 3 looks like. `make_model(dropout)` builds it, with optional `Dropout` layers for later.
#
# One training function serves every technique. It trains with Adam on mini-batches of 20 and,
# after every epoch, measures the training accuracy, the validation accuracy and the validation
# loss. `tn.manual_seed(1)` inside it makes every run see the batches in the same order, and
# `tn.manual_seed(0)` before `make_model` gives every network the same starting weights: what
# differs between the runs is the technique alone.


# %%
def make_model(dropout: float = 0.0) -> nn.Sequential:
    """64 -> 256 -> 256 -> 10, with ReLU and (if dropout > 0) Dropout after each hidden layer."""
    layers = []
    for n_in in (64, 256):
        layers += [nn.Linear(n_in, 256), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers, nn.Linear(256, 10))


# %%
def one_epoch(model, optimizer, loader, augment=None) -> None:
    """One pass over the training batches in training mode (dropout active); augment: applied to each batch."""
    model.train()
    for xb, yb in loader:
        if augment is not None:
            xb = augment(xb)
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()


def measure(model, history: dict) -> None:
    """Append train and validation accuracy and the validation loss, in evaluation mode (dropout off: we measure
    the network we would use)."""
    model.eval()
    with tn.no_grad():
        history["train"].append(accuracy(model(x_train), y_train))
        val_scores = model(x_val)
        history["val"].append(accuracy(val_scores, y_val))
        history["val_loss"].append(F.cross_entropy(val_scores, y_val).item())


# %%
def train(model, optimizer, augment=None, patience=None, description="training") -> dict:
    """Train on the 100 images for `epochs` epochs; returns per-epoch "train"/"val" accuracy and "val_loss".

    augment: a function applied to every input batch (data augmentation). patience: early stopping
    (see below): stop after that many epochs without a better validation accuracy and restore the
    weights of the best epoch.
    """
    tn.manual_seed(1)
    loader = tn.data.DataLoader(tn.data.TensorDataset(x_train, y_train), batch_size=20, shuffle=True)
    history = {"train": [], "val": [], "val_loss": []}
    best_accuracy, best_epoch, best_state = -1.0, 0, None
    for epoch in progress(range(epochs), description):
        one_epoch(model, optimizer, loader, augment)
        measure(model, history)
        if patience is None:
            continue
        if history["val"][-1] > best_accuracy:
            # state_dict() shares memory with the model: without a copy, training would overwrite the "best" weights.
            best_accuracy, best_epoch, best_state = history["val"][-1], epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= patience:
            break
    if patience is not None:
        model.load_state_dict(best_state)
        history["best_epoch"] = best_epoch
    return history


# %%
def weight_norm(model) -> float:
    """sqrt(sum of w^2) over every weight matrix (biases left out): how big the weights are."""
    return float(np.sqrt(sum(float((p * p).sum().item()) for name, p in model.named_parameters() if "weight" in name)))


runs = {}  # technique -> (model, history)

# %% [markdown]
# ## The baseline: overfitting, watched
#
# Plain Adam, no regularization. Watch the two curves part: the training accuracy climbs to 100 %
# while the validation accuracy stalls far below it. The validation *loss* tells more: after about
# 20 epochs it starts to rise again. The network keeps growing more confident on its training
# images, and that confidence does not carry over: on the validation images it is more and more
# sure of its wrong answers.

# %%
tn.manual_seed(0)
model = make_model()
print(model)
print("weights:", sum(p.numel() for p in model.parameters()), "for", len(x_train), "training images")
runs["baseline"] = (model, train(model, optim.Adam(model.parameters(), lr=1e-3), description="baseline"))
baseline = runs["baseline"][1]
print(f"baseline: train accuracy {baseline['train'][-1]:.3f}, validation accuracy {baseline['val'][-1]:.3f}")
assert baseline["train"][-1] == 1.0, "the too-big network should memorise its 100 training images: train accuracy 1.0"
assert baseline["val"][-1] < 0.95, f"...and do clearly worse on new ones (~0.9), got {baseline['val'][-1]:.3f}"
lesson.save_arrays("run_baseline.npz", **baseline)  # what the plots need: rerun the plot cells without retraining

# %%
baseline = lesson.load_arrays("run_baseline.npz")
fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
ax_acc.plot(baseline["train"], label="train")
ax_acc.plot(baseline["val"], label="validation")
ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Baseline: accuracy (100 training images)")
ax_acc.legend()
ax_loss.plot(baseline["val_loss"], color="C1")
lowest = int(np.argmin(baseline["val_loss"]))
ax_loss.axvline(lowest, color="gray", linestyle=":", label=f"lowest, epoch {lowest}")
ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Baseline: validation loss")
ax_loss.legend()
lesson.savefig(fig, "overfitting.png")

# %% [markdown]
# ## 1. Weight decay (L2 regularization)
#
# Add a penalty for big weights to the loss: L + (lambda / 2) * sum w^2. Its gradient is lambda w,
# so every step also pulls each weight a little towards zero. Small weights make a smoother
# function of the input, one that cannot bend around each training image separately.
#
# With SGD, adding lambda w to the gradient (`optim.SGD(..., weight_decay=lambda)`) is exactly
# that penalty. With Adam it is not quite: Adam divides every gradient by its running size, which
# would also shrink the pull of the penalty on weights with large gradients. **AdamW** therefore
# *decouples* the decay: it shrinks the weights directly, w <- w (1 - lr * lambda), then takes the
# Adam step. Here lambda = 1 and lr = 1e-3: each step removes 0.1 % of every weight, and only
# weights that the data keeps pushing back up survive.

# %%
tn.manual_seed(0)
model = make_model()
optimizer = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0)
runs["weight decay"] = (model, train(model, optimizer, description="weight decay"))
lesson.save_arrays("run_weight_decay.npz", **runs["weight decay"][1])

# %% [markdown]
# ## 2. Dropout, and why models have a train and an eval mode
#
# Dropout zeroes each hidden value with probability p (here 0.5) on every forward pass, a new
# random choice each time, and multiplies the survivors by 1 / (1 - p) so their expected value
# stays the same. No unit can rely on any particular other unit being there, so the network cannot
# build the fragile, hyper-specific feature combinations that memorising needs; it is a bit like
# training a crowd of thinned-out networks that share their weights.
#
# At test time we want the whole network and no randomness. `model.train()` and `model.eval()`
# switch every layer between the two behaviours: in eval mode `Dropout` is the identity. Forgetting
# `model.eval()` before measuring is a classic bug: the predictions come out noisy and worse.

# %%
drop = nn.Dropout(p=0.5)
ones = tn.ones(2, 8)
print("train mode, twice (new zeros each call, survivors scaled to 2):")
print(drop(ones).numpy(), "\n", drop(ones).numpy(), sep="")
drop.eval()
print("eval mode (the identity):\n", drop(ones).numpy(), sep="")

tn.manual_seed(0)
model = make_model(dropout=0.5)
runs["dropout"] = (model, train(model, optim.Adam(model.parameters(), lr=1e-3), description="dropout"))
lesson.save_arrays("run_dropout.npz", **runs["dropout"][1])

# %% [markdown]
# ## 3. Early stopping: keep the best checkpoint
#
# The baseline got no better after its first 20 or so epochs: its validation accuracy stopped
# climbing and its validation loss turned upwards. Everything after that was wasted time, or worse,
# time spent memorising. Early stopping watches the validation accuracy: after each epoch, if it
# is the best so far, save a copy of the weights (`copy.deepcopy(model.state_dict())`); if
# `patience` epochs pass without a new best, stop and load the saved copy back
# (`model.load_state_dict(best)`). It costs nothing but a validation pass per epoch, saves the
# remaining training time, and combines with everything else.
#
# This run is the baseline again (same start, same batches), stopped early. Here its gain is
# mostly time; with a longer run, or a model whose validation accuracy falls as it overfits, it
# also saves you from keeping a worse model.

# %%
tn.manual_seed(0)
model = make_model()
early = train(model, optim.Adam(model.parameters(), lr=1e-3), patience=patience, description="early stopping")
runs["early stopping"] = (model, early)
print(f"trained {len(early['val'])} of {epochs} epochs; kept the weights of epoch {early['best_epoch']}")
lesson.save_arrays("run_early_stopping.npz", **runs["early stopping"][1])

# %% [markdown]
# ## 4. Data augmentation: more training images, for free
#
# The best regularizer is more data. We cannot get more digits, but we know changes that do not
# change the digit: a 3 moved a little is still a 3. So every batch gets a freshly moved copy of
# its images, and the network never sees exactly the same image twice.
#
# The move is done with tensor operations. A shift matrix S (the identity with its rows moved by
# one) moves the rows of an 8x8 image A by one pixel when multiplied on the left, S @ A, and its
# columns when multiplied on the right, A @ S^T. One of three matrices per image and direction
# (up/none/down, left/none/right) gives whole-pixel moves; mixing the moved image with the original,
#
#     A' = (1 - a) A + a (S_rows @ A @ S_cols^T),  a random in [0, 0.5],
#
# moves it by a fraction a of a pixel (linear interpolation). Why not whole pixels? An 8x8 digit
# is already centred and nearly fills the frame: a whole-pixel move is 12 % of its size and pushes
# strokes off the edge. (Try `amount = tn.ones(n, 1, 1)` below: on 100 images it does worse than
# no augmentation at all. Augmentations must keep the images plausible.)

# %%
eye, blank_row = tn.eye(8), tn.zeros(1, 8)
shifts = tn.stack([tn.cat([eye[1:], blank_row]), eye, tn.cat([blank_row, eye[:-1]])])  # (3, 8, 8): up, none, down


def augment(xb):
    """Move every image by a random fraction (up to half) of a pixel. xb: (N, 64) -> (N, 64)."""
    n = len(xb)
    images = xb.reshape(n, 8, 8)
    rows, cols = tn.randint(0, 3, (n,)), tn.randint(0, 3, (n,))
    moved = shifts[rows] @ images @ shifts[cols].transpose(1, 2)  # (N, 8, 8): a whole-pixel move each
    amount = 0.5 * tn.rand(n, 1, 1)
    return ((1 - amount) * images + amount * moved).reshape(n, 64)


examples = augment(x_train[:1].expand(6, 64)).numpy()
fig, axes = plt.subplots(1, 7, figsize=(9, 1.8), layout="constrained")
for ax, image, title in zip(axes, [x_train[0].numpy(), *examples], ["original"] + [f"copy {i + 1}" for i in range(6)]):
    ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
fig.suptitle("Data augmentation: one training image and six randomly moved copies")
lesson.savefig(fig, "augmentation.png")

tn.manual_seed(0)
model = make_model()
optimizer = optim.Adam(model.parameters(), lr=1e-3)
runs["augmentation"] = (model, train(model, optimizer, augment=augment, description="augmentation"))
lesson.save_arrays("run_augmentation.npz", **runs["augmentation"][1])

# %% [markdown]
# ## 5. All of them together
#
# The techniques attack overfitting from different sides (smaller weights, redundant units, a
# well-chosen stopping point, more varied data), so they combine: in practice one uses several at
# once. Same network and start, with dropout, AdamW's weight decay, augmented batches and early
# stopping.

# %%
tn.manual_seed(0)
model = make_model(dropout=0.5)
optimizer = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0)
combined = train(model, optimizer, augment=augment, patience=patience, description="all combined")
runs["all combined"] = (model, combined)
lesson.save_arrays("run_all_combined.npz", **runs["all combined"][1])

# %% [markdown]
# ## The summary
#
# For every technique: the best validation accuracy reached during training, then the validation
# and test accuracy of the model we end up with (the last epoch's weights; with early stopping,
# the restored checkpoint), its validation loss, and the size of its weights (weight decay's
# signature: the same 100 % on the training images with smaller weights).

# %%
summary = {}
for name, (model, history) in runs.items():
    model.eval()
    with tn.no_grad():
        val_scores = model(x_val)
        summary[name] = {
            "best val acc": max(history["val"]),
            "kept val acc": accuracy(val_scores, y_val),
            "val loss": F.cross_entropy(val_scores, y_val).item(),
            "test acc": accuracy(model(x_test), y_test),
            "weight norm": weight_norm(model),
        }
print(f"{'technique':16}" + "".join(f"{column:>14}" for column in summary["baseline"]))
for name, row in summary.items():
    print(f"{name:16}" + "".join(f"{value:14.3f}" for value in row.values()))
best_technique = max((name for name in summary if name != "baseline"), key=lambda name: summary[name]["kept val acc"])
print(f"best on validation: {best_technique}")
decayed, plain = summary["weight decay"]["weight norm"], summary["baseline"]["weight norm"]
assert decayed < 0.95 * plain, f"weight decay should keep the weights smaller: norm {decayed:.1f} vs {plain:.1f}"
columns = list(summary["baseline"])
lesson.save_arrays("summary.npz", names=list(summary), **{c: [row[c] for row in summary.values()] for c in columns})

# %% [markdown]
# ## All the curves, side by side
#
# The first six panels are one run each: training accuracy (blue) and validation accuracy
# (orange). Dropout and augmentation make the training task harder, so their training curves rise
# more slowly. The seventh overlays the validation loss of every run, the eighth compares the kept
# models.
#
# Read the accuracies with care. 1 % of the validation set is 8 images, and one run's numbers move
# by about that much with the seed, the number of epochs or the backend, so a single technique's
# gain of a point may be noise; the test set, which chose nothing, says whether a gain on
# validation was real. The validation loss is steadier: the regularized networks are less
# confidently wrong. On your own problems try the cheap ones first: early stopping always,
# augmentation wherever you know a change that keeps the label, then weight decay and dropout,
# tuned on the validation set.

# %%
histories = {name: lesson.load_arrays(f"run_{name.replace(' ', '_')}.npz") for name in runs}
saved = lesson.load_arrays("summary.npz")
summary = {name: {c: saved[c][i] for c in columns} for i, name in enumerate(saved["names"])}
fig, axes = plt.subplots(2, 4, figsize=(17, 7.5), layout="constrained")
for ax, (name, history) in zip(axes.flat, histories.items()):
    ax.plot(history["train"], label="train")
    ax.plot(history["val"], label="validation")
    if "best_epoch" in history:
        ax.axvline(history["best_epoch"], color="gray", linestyle=":", label="kept checkpoint")
    ax.set(xlabel="epoch", ylabel="accuracy", title=f"{name}: best validation {max(history['val']):.1%}")
    ax.set_ylim(0.5, 1.01)
    ax.legend(loc="lower right")
ax_loss, ax_bars = axes[1, 2], axes[1, 3]
for name, history in histories.items():
    ax_loss.semilogy(history["val_loss"], label=name)
ax_loss.set(xlabel="epoch", ylabel="cross-entropy (log scale)", title="Validation loss of every run")
ax_loss.legend(fontsize=8)
names = list(summary)
positions = np.arange(len(names))
for offset, column in ((-0.2, "kept val acc"), (0.2, "test acc")):
    ax_bars.bar(positions + offset, [summary[name][column] for name in names], width=0.4, label=column)
ax_bars.axhline(summary["baseline"]["kept val acc"], color="gray", linestyle=":", label="baseline, validation")
ax_bars.set_xticks(positions, names, rotation=30, ha="right")
heights = [row[column] for row in summary.values() for column in ("kept val acc", "test acc")]
ax_bars.set(ylim=(min(heights) - 0.02, max(heights) + 0.02), ylabel="accuracy", title="Accuracy of the kept models")
ax_bars.legend(loc="upper left", fontsize=8)
fig.suptitle("Regularization on 100 training images: accuracy curves of every technique, validation loss, kept models")
lesson.savefig(fig, "regularization_curves.png")

# %% [markdown]
# ## Gradient clipping: a guard against one huge step
#
# A different problem: a learning rate that is too large. Plain SGD steps by lr * gradient, so one
# batch with a big gradient throws the weights far away, the loss jumps up instead of down, and
# the next gradient is bigger still. (Adam is protected by its per-weight scaling, so we use SGD with
# lr = 1.5 here: at 1 this network sits on the edge, and whether it blows up depends on the last bits
# of the arithmetic.)
#
# `nn.utils.clip_grad_norm_(model.parameters(), max_norm)` measures the length of all the
# gradients together, ||g|| = sqrt(sum of g^2 over every parameter), and if it is above max_norm,
# scales every gradient by max_norm / ||g||. The direction is kept, only the step length is
# capped: no step is longer than lr * max_norm. It returns the norm *before* clipping, which is
# worth logging. It is not a regularizer; it keeps training stable (recurrent networks, whose
# gradients are products over many time steps, need it most).


# %%
def gradient_norm(model) -> float:
    """||g||: the length of all the gradients together."""
    return float(np.sqrt(sum(float((p.grad * p.grad).sum().item()) for p in model.parameters())))


def train_sgd(clip: float | None, steps: int = 150) -> tuple[list, list, list]:
    """SGD with a too-large learning rate; returns per-step loss and gradient norm before and after clipping."""
    tn.manual_seed(0)
    model = make_model()
    optimizer = optim.SGD(model.parameters(), lr=1.5)
    tn.manual_seed(1)
    loader = tn.data.DataLoader(tn.data.TensorDataset(x_train, y_train), batch_size=20, shuffle=True)
    losses, before, after = [], [], []
    for _ in progress(range(steps // len(loader)), f"SGD lr=1.5, clip={clip}"):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            before.append(gradient_norm(model))
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
            after.append(gradient_norm(model))
            optimizer.step()
            losses.append(loss.item())
    return losses, before, after


# %%
max_norm = 1.0
loss_plain, norm_plain, _ = train_sgd(clip=None)
loss_clipped, norm_before, norm_after = train_sgd(clip=max_norm)
last = len(loss_plain) // 5  # compare the last fifth of the steps
print(f"SGD lr=1.5, no clipping: mean loss over the last {last} steps {np.mean(loss_plain[-last:]):.3f}")
print(f"SGD lr=1.5, clipped at {max_norm}: mean loss over the last {last} steps {np.mean(loss_clipped[-last:]):.3f}")
print(f"gradient norm in the clipped run: up to {max(norm_before):.2f} before clipping, {max(norm_after):.2f} after")
assert max(norm_after) <= max_norm + 1e-4, f"clip_grad_norm_ caps the norm at {max_norm}, got {max(norm_after):.3f}"
assert np.mean(loss_clipped[-last:]) < np.mean(loss_plain[-last:]) / 10, "lr = 1.5 should train only with clipping"
clip_run = dict(loss_plain=loss_plain, loss_clipped=loss_clipped, norm_before=norm_before, norm_after=norm_after)
lesson.save_arrays("clipping.npz", **clip_run)

# %%
clip_run = lesson.load_arrays("clipping.npz")
loss_plain, loss_clipped, norm_before, norm_after = (clip_run[key] for key in clip_run)
fig, (ax_norm, ax_loss) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
ax_norm.semilogy(norm_before, label="before clipping", color="C3")
ax_norm.semilogy(norm_after, label="after clipping", color="C0")
ax_norm.axhline(max_norm, color="gray", linestyle=":", label=f"max_norm = {max_norm}")
ax_norm.set(xlabel="step", ylabel="gradient norm ||g||", title="Gradient norm in the clipped run")
ax_norm.legend()
ax_loss.semilogy(loss_plain, label="no clipping", color="C3", alpha=0.8)
ax_loss.semilogy(loss_clipped, label=f"clip_grad_norm_(max_norm={max_norm})", color="C0", alpha=0.8)
ax_loss.set(xlabel="step", ylabel="training loss (batch)", title="SGD with lr = 1.5: training loss")
ax_loss.legend()
lesson.savefig(fig, "gradient_clipping.png")

# %%
lesson.report(
    baseline_train_acc=baseline["train"][-1],
    baseline_val_acc=summary["baseline"]["kept val acc"],
    baseline_test_acc=summary["baseline"]["test acc"],
    weight_decay_val_acc=summary["weight decay"]["kept val acc"],
    dropout_val_acc=summary["dropout"]["kept val acc"],
    early_stopping_val_acc=summary["early stopping"]["kept val acc"],
    augmentation_val_acc=summary["augmentation"]["kept val acc"],
    best_technique=best_technique,
    best_technique_val_acc=summary[best_technique]["kept val acc"],
    best_technique_test_acc=summary[best_technique]["test acc"],
    baseline_val_loss=summary["baseline"]["val loss"],
    lowest_technique_val_loss=min(row["val loss"] for name, row in summary.items() if name != "baseline"),
    all_combined_val_acc=summary["all combined"]["kept val acc"],
    all_combined_test_acc=summary["all combined"]["test acc"],
    baseline_weight_norm=summary["baseline"]["weight norm"],
    weight_decay_weight_norm=summary["weight decay"]["weight norm"],
    grad_norm_max_before_clip=max(norm_before),
    grad_norm_max_after_clip=max(norm_after),
    final_loss_no_clip=float(np.mean(loss_plain[-last:])),
    final_loss_clipped=float(np.mean(loss_clipped[-last:])),
    epochs=epochs,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Double the training set to 200 images: which technique still helps?",
    "Sweep weight_decay over 1e-4 .. 1e-1 on a log scale and plot validation accuracy against it.",
    "Replace dropout with nn.BatchNorm1d: does it regularise too, and what do train/eval modes do to it?",
)
