"""Classification metrics, computed on the host with NumPy: inputs are Tensors or arrays, results
are Python floats or NumPy arrays. Definitions follow scikit-learn; a 0/0 (a class never predicted,
say) counts as 0, scikit-learn's ``zero_division=0``.
"""

from __future__ import annotations

import numpy as np

from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.tensor import Tensor, to_host


def _host(x) -> np.ndarray:
    return to_host(x.array) if isinstance(x, Tensor) else np.asarray(x)


def _labels(name: str, target, pred) -> tuple[np.ndarray, np.ndarray]:
    """(target, pred) as 1-D label arrays of one length; ``pred`` may be scores ``(N, C)``: its argmax is taken."""
    target, pred = _host(target), _host(pred)
    if pred.ndim == 2 and target.ndim == 1:
        pred = pred.argmax(axis=1)
    if target.ndim != 1 or pred.shape != target.shape:
        raise ShapeError(
            f"{name}: expected target (N,) and pred (N,) labels or (N, C) scores, got target {target.shape} "
            f"and pred {pred.shape}"
        )
    return target, pred


def accuracy(pred, target) -> float:
    """The fraction of samples with ``pred == target``.

    pred: ``(N,)`` labels or ``(N, C)`` scores/logits (their argmax is the label); target: ``(N,)``.
    """
    target, pred = _labels("accuracy", target, pred)
    return float(np.mean(pred == target))


def confusion_matrix(target, pred, num_classes: int | None = None) -> np.ndarray:
    """``C[i, j]``: the number of samples of class i predicted as class j (rows: truth, as scikit-learn).

    target, pred: ``(N,)`` integer labels in ``0..num_classes-1`` (pred may be ``(N, C)`` scores).
    ``num_classes`` defaults to the largest label + 1. Returns an int64 array ``(num_classes, num_classes)``.
    """
    target, pred = _labels("confusion_matrix", target, pred)
    if target.dtype.kind not in "iub" or pred.dtype.kind not in "iub":
        raise DTypeError(f"confusion_matrix: labels must be integers, got {target.dtype} and {pred.dtype}")
    if num_classes is None:
        num_classes = int(max(target.max(initial=0), pred.max(initial=0))) + 1
    if target.size and not (0 <= min(target.min(), pred.min()) and max(target.max(), pred.max()) < num_classes):
        raise ArgumentError(
            f"confusion_matrix: labels must lie in 0..{num_classes - 1}, got target in "
            f"[{target.min()}, {target.max()}] and pred in [{pred.min()}, {pred.max()}]"
        )
    counts = np.bincount(target.astype(np.int64) * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(np.shape(num), dtype=np.float64), where=den != 0)


def _counts(name: str, target, pred, average: str, pos_label) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, predicted positives, actual positives), per class or summed, as ``average`` needs."""
    target, pred = _labels(name, target, pred)
    classes = np.union1d(target, pred)
    if average == "binary":
        if len(classes) > 2 or (len(classes) == 2 and pos_label not in classes):
            raise ArgumentError(
                f"{name}: average='binary' needs two classes including pos_label={pos_label!r}, got classes "
                f"{classes.tolist()}; use average='macro' or 'micro' for more classes"
            )
        classes = np.array([pos_label])
    elif average not in ("macro", "micro"):
        raise ArgumentError(f"{name}: average must be 'binary', 'macro' or 'micro', got {average!r}")
    is_true = target[:, None] == classes  # (N, K): sample n belongs to class k
    is_pred = pred[:, None] == classes
    counts = (is_true & is_pred).sum(0), is_pred.sum(0), is_true.sum(0)
    return tuple(c.sum(keepdims=True) for c in counts) if average == "micro" else counts


def precision(target, pred, average: str = "binary", pos_label=1) -> float:
    """Of the samples predicted as a class, the fraction that are: tp / (tp + fp).

    average: "binary" (the class ``pos_label`` only), "macro" (the mean over classes) or "micro"
    (tp and fp summed over classes first). target, pred: ``(N,)`` labels (pred may be ``(N, C)`` scores).
    """
    tp, predicted, _ = _counts("precision", target, pred, average, pos_label)
    return float(np.mean(_ratio(tp, predicted)))


def recall(target, pred, average: str = "binary", pos_label=1) -> float:
    """Of the samples of a class, the fraction predicted as it: tp / (tp + fn). Arguments as ``precision``."""
    tp, _, actual = _counts("recall", target, pred, average, pos_label)
    return float(np.mean(_ratio(tp, actual)))


def f1_score(target, pred, average: str = "binary", pos_label=1) -> float:
    """The harmonic mean of precision and recall: 2 tp / (2 tp + fp + fn). Arguments as ``precision``."""
    tp, predicted, actual = _counts("f1_score", target, pred, average, pos_label)
    return float(np.mean(_ratio(2 * tp, predicted + actual)))


def roc_curve(target, scores, pos_label=1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve: for each threshold t, the false and true positive rates of predicting ``scores >= t``.

    target: ``(N,)`` binary labels; scores: ``(N,)``, higher meaning more likely ``pos_label``.
    Returns (fpr, tpr, thresholds), one point per distinct score from the highest down, after a first
    point (0, 0) at threshold inf (scikit-learn's ``roc_curve`` with ``drop_intermediate=False``).
    """
    target, scores = _host(target), _host(scores)
    if target.ndim != 1 or scores.shape != target.shape:
        raise ShapeError(f"roc_curve: expected target (N,) and scores (N,), got {target.shape} and {scores.shape}")
    positive = target == pos_label
    if positive.all() or not positive.any():
        raise ArgumentError(f"roc_curve: needs both positive (== {pos_label!r}) and negative samples in target")
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # lowering t past a score admits all ties
    tps = np.cumsum(positive)[last_of_tie]
    fps = last_of_tie + 1 - tps
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, scores[last_of_tie]]


def roc_auc(target, scores, pos_label=1) -> float:
    """The area under the ROC curve (trapezoids): the probability that a random positive scores above a
    random negative (ties count half). Arguments as ``roc_curve``."""
    fpr, tpr, _ = roc_curve(target, scores, pos_label)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
