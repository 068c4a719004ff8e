# %% [markdown]
# # 05 · Binary classification: logits, BCE, and measuring a classifier honestly
#
# A yes/no classifier outputs one number per sample, a probability p that the answer is "yes".
# Training it is the easy part; this lesson is as much about *measuring* it: on data it never saw,
# with the metrics that say which mistakes it makes (precision, recall, F1), how its threshold
# trades one mistake for the other (the ROC curve and its area, AUC), and how much a score would
# change with a different split (k-fold cross-validation).
#
# Run it: `python lessons/05_binary_classification.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import metrics, nn, optim
from tinynet.data import DataLoader, KFold, TensorDataset, make_classification, train_test_split
from tinynet.lesson import progress, setup

lesson = setup("05_binary_classification")
tn.manual_seed(0)
epochs = 10 if lesson.smoke else 30
folds = 5

# %% [markdown]
# ## The data
#
# scikit-learn's `make_classification`: 1,000 samples with 20 features, two classes, each class a few
# Gaussian clusters; only some features carry signal and a few labels are flipped on purpose, so no
# model can be perfect. We keep a quarter of the samples aside (`train_test_split`, stratified so
# both parts have the same share of each class) and never train on them: they estimate how the
# model does on new data.
#
# Features are standardised (mean 0, standard deviation 1) with the *training* part's statistics
# only: computing them on all the data would leak information about the held-out part.

# %%
x, y = make_classification(n_samples=1000, n_features=20, seed=0)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, seed=0)
print(f"train {x_train.shape}, held out {x_test.shape}; share of class 1: {y_train.numpy().mean():.2f}")


def standardise(train: tn.Tensor, *others: tn.Tensor) -> list[tn.Tensor]:
    """Scale every part with the mean and standard deviation of ``train`` (N, D)."""
    mean, std = train.mean(dim=0), train.std(dim=0)
    return [(part - mean) / std for part in (train, *others)]


# %% [markdown]
# ## One logit out, and the stable loss
#
# The network ends in a single linear unit: a *logit* z, any real number, with p = sigmoid(z).
# Binary cross-entropy (BCE) for target t in {0, 1} is
#
#     L = -[t log p + (1 - t) log(1 - p)]
#
# Computed in that order, sigmoid then log, it breaks for confident predictions: in float32,
# sigmoid(-200) rounds to exactly 0 and log(0) = -inf. (tinynet's `binary_cross_entropy` clamps the
# log at -100, as PyTorch does, which keeps the loss finite but wrong, and the gradient still
# vanishes.) Substituting p = 1 / (1 + e^-z) and simplifying gives a form with no overflow anywhere:
#
#     L = max(z, 0) - z t + log(1 + e^-|z|)          dL/dz = sigmoid(z) - t
#
# e^-|z| is at most 1, so nothing overflows, and the gradient is the plain error, as in lesson 03.
# That is `F.binary_cross_entropy_with_logits` (`nn.BCEWithLogitsLoss`): give it the logits, and
# apply the sigmoid yourself only when you want probabilities.

# %%
z_np = np.array([-200.0, -50.0, -5.0, 0.0, 5.0])  # logits, all with target 1
ones = tn.ones(len(z_np))
exact_loss = np.logaddexp(0, -z_np)  # log(1 + e^-z), computed stably in float64
exact_grad = 1 / (1 + np.exp(-z_np)) - 1
with np.errstate(over="ignore", divide="ignore"):
    naive = -np.log(1 / (1 + np.exp(-z_np.astype(np.float32))))  # sigmoid, then log, in NumPy
results = {}
for name, loss_fn in (
    ("sigmoid + BCE", lambda z: F.binary_cross_entropy(F.sigmoid(z), ones, reduction="none")),
    ("BCE with logits", lambda z: F.binary_cross_entropy_with_logits(z, ones, reduction="none")),
):
    z = tn.tensor(z_np, requires_grad=True)  # float32, the default
    loss = loss_fn(z)
    loss.sum().backward()
    results[name] = (loss.numpy(), z.grad.numpy())
(loss_sb, grad_sb), (loss_wl, grad_wl) = results.values()
print(f"{'':>8} | {'loss L':^47} | {'dL/dz':^35}")
print(f"{'logit z':>8} | {'naive NumPy':>11} {'sigmoid+BCE':>11} {'with logits':>11} {'exact':>11} | "
      f"{'sigmoid+BCE':>11} {'with logits':>11} {'exact':>11}")  # fmt: skip
for z0, *losses, grad_1, grad_2, grad_3 in zip(z_np, naive, loss_sb, loss_wl, exact_loss, grad_sb, grad_wl, exact_grad):
    print(f"{z0:8.0f} | " + " ".join(f"{v:11.4g}" for v in losses) + f" | {grad_1:11.4g} {grad_2:11.4g} {grad_3:11.4g}")
logits_loss_error = float(np.abs(loss_wl - exact_loss).max() / exact_loss.max())
logits_grad_error = float(np.abs(grad_wl - exact_grad).max())
sigmoid_bce_grad_at_minus_50 = float(abs(grad_sb[1]))
assert logits_loss_error < 1e-6 and logits_grad_error < 1e-6, "the with-logits form should equal the exact values"
assert sigmoid_bce_grad_at_minus_50 < 1e-6, "sigmoid then BCE: at logit -50 its gradient vanishes"

# %% [markdown]
# ## Training: an MLP with a logit output
#
# 20 -> 32 -> 1, ReLU in between, Adam, mini-batches of 32. We record the loss on both parts each
# epoch. Watch the left plot below: the training loss keeps falling, but the held-out loss stops
# falling after about 8 epochs and then slowly creeps back up. From there on the model is
# memorising its training samples (overfitting) rather than learning the pattern; stopping at the
# held-out minimum ("early stopping") or weight decay are the usual cures.


# %%
def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1))


def train(model: nn.Module, x: tn.Tensor, y: tn.Tensor, epochs: int, watch=None, description="training") -> list:
    """Adam on BCE-with-logits; y: (N,) labels 0/1. ``watch``: an (x, y) pair whose loss is recorded per epoch."""
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    loader = DataLoader(TensorDataset(x, y.float()), batch_size=32, shuffle=True)
    history = []
    for _ in progress(range(epochs), description):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)  # (B, 1) logits -> (B,), the shape of the targets
            loss.backward()
            optimizer.step()
        if watch is not None:
            with tn.no_grad():
                history.append([loss_fn(model(part_x).squeeze(1), part_y.float()).item() for part_x, part_y in watch])
    return history


def probabilities(model: nn.Module, x: tn.Tensor) -> np.ndarray:
    with tn.no_grad():
        return F.sigmoid(model(x).squeeze(1)).numpy()


# %%
x_train_s, x_test_s = standardise(x_train, x_test)
model = make_model()
history = np.array(train(model, x_train_s, y_train, epochs, watch=[(x_train_s, y_train), (x_test_s, y_test)]))
p_test = probabilities(model, x_test_s)
y_true = y_test.numpy()

# %% [markdown]
# ## Metrics at a threshold
#
# Predict "1" when p >= 0.5. Counting the four outcomes on the held-out part (TP: true positives,
# FP: false positives, FN: false negatives, TN: true negatives):
#
#     accuracy  = (TP + TN) / N      the fraction right
#     precision = TP / (TP + FP)     of the samples we called 1, how many are
#     recall    = TP / (TP + FN)     of the samples that are 1, how many we found
#     F1        = 2 precision recall / (precision + recall)
#
# Accuracy alone hides which way the model errs; on a data set with 1% positives, "always 0" is
# 99% accurate and useless (its recall is 0).

# %%
y_pred = (p_test >= 0.5).astype(np.int64)
scores = {
    "accuracy": metrics.accuracy(y_pred, y_true),
    "precision": metrics.precision(y_true, y_pred),
    "recall": metrics.recall(y_true, y_pred),
    "f1": metrics.f1_score(y_true, y_pred),
}
print("confusion matrix (rows: truth 0/1, columns: predicted 0/1):\n", metrics.confusion_matrix(y_true, y_pred))
print("held-out scores at threshold 0.5:", {k: round(v, 3) for k, v in scores.items()})

# %% [markdown]
# ## The threshold trade-off, the ROC curve and AUC
#
# 0.5 is only a default. Raise the threshold and the model says "1" less often: precision rises
# (fewer false alarms), recall falls (more misses). Which point is right depends on what a mistake
# costs: a cancer screen wants high recall, a spam filter high precision.
#
# The ROC curve shows every threshold at once: the true positive rate (recall) against the false
# positive rate FP / (FP + TN), from the highest threshold (nothing called 1, the point (0, 0)) to
# the lowest (everything called 1, the point (1, 1)). A useless model follows the diagonal. The area
# under it, **AUC**, has a plain meaning: the probability that a random positive sample gets a higher
# score than a random negative one. We check that by comparing all positive-negative pairs.

# %%
fpr, tpr, _ = metrics.roc_curve(y_true, p_test)
auc = metrics.roc_auc(y_true, p_test)
positives, negatives = p_test[y_true == 1], p_test[y_true == 0]
pairwise = positives[:, None] - negatives[None, :]  # (P, N): every positive against every negative
auc_by_pairs = float(np.mean(pairwise > 0) + 0.5 * np.mean(pairwise == 0))
print(f"AUC {auc:.4f}; fraction of (positive, negative) pairs ranked right: {auc_by_pairs:.4f}")
assert abs(auc - auc_by_pairs) < 1e-9, "AUC is exactly the fraction of (positive, negative) pairs ranked right"
assert auc > 0.95, f"the held-out AUC should be high (0.982 in the full run): {auc:.3f}"

thresholds = np.linspace(0.02, 0.98, 49)
tradeoff = np.array(
    [
        [fn(y_true, (p_test >= t).astype(np.int64)) for fn in (metrics.precision, metrics.recall, metrics.f1_score)]
        for t in thresholds
    ]
)  # (thresholds, 3)

# %%
fig, (ax_loss, ax_tradeoff, ax_roc) = plt.subplots(1, 3, figsize=(15, 4.3))
ax_loss.plot(np.arange(1, epochs + 1), history[:, 0], label="training part")
ax_loss.plot(np.arange(1, epochs + 1), history[:, 1], label="held-out part")
ax_loss.set(xlabel="epoch", ylabel="BCE loss", title="Loss on the training and held-out parts")
ax_loss.legend()
for column, name in enumerate(("precision", "recall", "F1")):
    ax_tradeoff.plot(thresholds, tradeoff[:, column], label=name)
ax_tradeoff.axvline(0.5, color="gray", ls=":", label="threshold 0.5")
ax_tradeoff.set(xlabel="threshold on p", ylabel="score on the held-out part", title="The threshold trade-off")
ax_tradeoff.legend(loc="lower left")
ax_roc.plot(fpr, tpr, label=f"MLP (AUC {auc:.3f})")
ax_roc.plot([0, 1], [0, 1], color="gray", ls=":", label="chance (AUC 0.5)")
ax_roc.set(xlabel="false positive rate", ylabel="true positive rate (recall)", title="ROC curve, held-out part")
ax_roc.set_aspect("equal")
ax_roc.legend(loc="lower right")
fig.tight_layout()
lesson.savefig(fig, "binary_classification.png")

# %% [markdown]
# ## k-fold cross-validation: how much to trust one number
#
# The held-out score above comes from one split of 250 samples; another split would give another
# number. `KFold(5)` cuts the data into 5 parts and trains 5 fresh models, each tested on one part
# and trained on the other four, so every sample is tested exactly once. The mean of the 5 scores
# is a steadier estimate, and their spread says how far a single split could have been off.
# (Standardisation is redone inside each fold, from that fold's training part only.)
#
# Keep the sizes in mind: an accuracy a measured on n samples is uncertain by about
# sqrt(a (1 - a) / n), the binomial standard error: 0.014 for a = 0.95 on our 250 held-out samples.
# So the single split and the cross-validation mean may differ by a point or so by luck alone, and
# the spread of five folds is itself only a rough estimate.

# %%
fold_accuracy = []
for fold, (train_idx, test_idx) in enumerate(KFold(folds, shuffle=True, seed=0).split(len(y))):
    train_idx, test_idx = tn.tensor(train_idx), tn.tensor(test_idx)
    fold_x_train, fold_x_test = standardise(x[train_idx], x[test_idx])
    fold_model = make_model()
    train(fold_model, fold_x_train, y[train_idx], epochs, description=f"fold {fold + 1}/{folds}")
    fold_pred = (probabilities(fold_model, fold_x_test) >= 0.5).astype(np.int64)
    fold_accuracy.append(metrics.accuracy(fold_pred, y[test_idx]))
cv_mean, cv_std = float(np.mean(fold_accuracy)), float(np.std(fold_accuracy))
print("accuracy per fold:", np.round(fold_accuracy, 3), f" mean {cv_mean:.3f} +- {cv_std:.3f}")
assert cv_mean > 0.9 and cv_std < 0.05, f"5-fold accuracy ~0.94 +- 0.004 (full run), got {cv_mean:.3f} +- {cv_std:.3f}"
standard_error = np.sqrt(scores["accuracy"] * (1 - scores["accuracy"]) / len(y_true))
print(f"single held-out split: {scores['accuracy']:.3f} +- {standard_error:.3f} (binomial standard error)")

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(np.arange(1, folds + 1), fold_accuracy, "o", ms=9, label="accuracy of each fold")
ax.axhline(cv_mean, color="k", label=f"mean {cv_mean:.3f}")
ax.axhspan(cv_mean - cv_std, cv_mean + cv_std, color="gray", alpha=0.3, label=f"mean +- 1 std ({cv_std:.3f})")
ax.axhline(scores["accuracy"], color="tab:red", ls="--", label=f"single held-out split {scores['accuracy']:.3f}")
ax.set(xlabel="fold", ylabel="accuracy on the fold's test part", title=f"{folds}-fold cross-validation")
ax.set_xticks(np.arange(1, folds + 1))
low, high = min(*fold_accuracy, scores["accuracy"]), max(*fold_accuracy, scores["accuracy"])
ax.set_ylim(low - 0.6 * (high - low) - 0.01, high + 0.2 * (high - low) + 0.01)  # room below for the legend
ax.legend(loc="lower center", ncol=2, fontsize=9)
lesson.savefig(fig, "cross_validation.png")

# %%
lesson.report(
    **{f"heldout_{name}": value for name, value in scores.items()},
    heldout_auc=auc,
    auc_pairwise_gap=abs(auc - auc_by_pairs),
    cv_mean_accuracy=cv_mean,
    cv_std_accuracy=cv_std,
    logits_loss_relative_error=logits_loss_error,
    logits_grad_error=logits_grad_error,
    sigmoid_bce_grad_at_logit_minus_50=sigmoid_bce_grad_at_minus_50,
    epochs=epochs,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Make the classes imbalanced (weights=[0.9] in make_classification): what happens to accuracy vs F1 and AUC?",
    "Use BCEWithLogitsLoss(pos_weight=...) to trade precision for recall, and find the threshold that does the same.",
    "Repeat the 5-fold cross-validation with 10 folds: does the spread shrink?",
)
