"""tinynet.metrics against scikit-learn's definitions (zero_division=0), on random and edge-case labels."""

import warnings

import numpy as np
import pytest
import sklearn.metrics
from hypothesis import given
from hypothesis import strategies as st

import tinynet as tn
from tinynet import metrics


@st.composite
def label_pairs(draw, max_classes=5):
    """(target, pred): N labels each in 0..K-1; small N, so classes never predicted or never present are common."""
    k = draw(st.integers(2, max_classes))
    n = draw(st.integers(1, 30))
    labels = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    return np.array(draw(labels)), np.array(draw(labels))


def sk(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the 0/0 cases we compare on purpose
        return fn(*args, **kwargs)


@given(label_pairs())
def test_accuracy_and_confusion_matrix_match_scikit_learn(pair):
    target, pred = pair
    k = int(max(target.max(), pred.max())) + 1
    assert metrics.accuracy(pred, target) == pytest.approx(sklearn.metrics.accuracy_score(target, pred))
    expected = sk(sklearn.metrics.confusion_matrix, target, pred, labels=list(range(k)))
    np.testing.assert_array_equal(metrics.confusion_matrix(target, pred), expected)
    bigger = metrics.confusion_matrix(tn.tensor(target), tn.tensor(pred), num_classes=k + 2)
    assert bigger.shape == (k + 2, k + 2) and bigger.dtype == np.int64
    np.testing.assert_array_equal(bigger[:k, :k], expected)
    assert bigger[k:].sum() == bigger[:, k:].sum() == 0


@pytest.mark.parametrize("average", ["macro", "micro"])
@given(pair=label_pairs())
def test_multiclass_scores_match_scikit_learn(average, pair):
    target, pred = pair
    for ours, theirs in ((metrics.precision, sklearn.metrics.precision_score),
                         (metrics.recall, sklearn.metrics.recall_score),
                         (metrics.f1_score, sklearn.metrics.f1_score)):  # fmt: skip
        expected = sk(theirs, target, pred, average=average, zero_division=0)
        assert ours(target, pred, average=average) == pytest.approx(expected)
        assert isinstance(ours(tn.tensor(target), tn.tensor(pred), average=average), float)


@pytest.mark.parametrize("pos_label", [0, 1])
@given(pair=label_pairs(max_classes=2))
def test_binary_scores_match_scikit_learn(pos_label, pair):
    target, pred = pair
    for ours, theirs in ((metrics.precision, sklearn.metrics.precision_score),
                         (metrics.recall, sklearn.metrics.recall_score),
                         (metrics.f1_score, sklearn.metrics.f1_score)):  # fmt: skip
        expected = sk(theirs, target, pred, pos_label=pos_label, zero_division=0)
        assert ours(target, pred, pos_label=pos_label) == pytest.approx(expected)


def test_a_class_never_predicted_scores_zero_precision():
    target, pred = np.array([0, 1, 1, 2]), np.array([0, 0, 0, 2])
    # class 1: never predicted, so its precision is 0/0 = 0; macro precision = (1/3 + 0 + 1) / 3
    assert metrics.precision(target, pred, average="macro") == pytest.approx((1 / 3 + 0 + 1) / 3)
    assert metrics.recall(target, pred, average="macro") == pytest.approx((1 + 0 + 1) / 3)
    assert metrics.precision(np.array([1, 0]), np.array([0, 0])) == 0.0


def test_scores_accept_logits():
    logits = np.array([[2.0, 0.1, 0.3], [0.1, 0.2, 3.0], [1.0, 5.0, 0.0], [0.0, 0.0, 1.0]])
    target = np.array([0, 2, 0, 1])
    assert metrics.accuracy(tn.tensor(logits), tn.tensor(target)) == 0.5
    assert metrics.f1_score(target, logits, average="macro") == pytest.approx(
        sklearn.metrics.f1_score(target, logits.argmax(1), average="macro")
    )
    np.testing.assert_array_equal(
        metrics.confusion_matrix(target, logits), sklearn.metrics.confusion_matrix(target, logits.argmax(1))
    )


@given(
    scores=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0]), min_size=2, max_size=30),
    data=st.data(),
)
def test_roc_curve_and_auc_match_scikit_learn_with_ties(scores, data):
    target = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(scores), max_size=len(scores))))
    scores = np.array(scores)
    if target.min() == target.max():
        with pytest.raises(ValueError, match="both positive"):
            metrics.roc_auc(target, scores)
        return
    fpr, tpr, thresholds = metrics.roc_curve(tn.tensor(target), tn.tensor(scores, dtype=tn.float64))
    fpr_sk, tpr_sk, thresholds_sk = sklearn.metrics.roc_curve(target, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, fpr_sk)
    np.testing.assert_allclose(tpr, tpr_sk)
    np.testing.assert_array_equal(thresholds, thresholds_sk)
    assert metrics.roc_auc(target, scores) == pytest.approx(sklearn.metrics.roc_auc_score(target, scores))


def test_roc_auc_is_the_probability_a_positive_outranks_a_negative():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 2, 40)
    scores = rng.normal(size=40) + target
    pos, neg = scores[target == 1], scores[target == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert metrics.roc_auc(target, scores) == pytest.approx(pairs)


def test_metric_errors():
    with pytest.raises(tn.ShapeError, match=r"accuracy.*\(3,\).*\(2,\)"):
        metrics.accuracy(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"binary.*\[0, 1, 2\]"):
        metrics.precision(np.array([0, 1, 2]), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="pos_label=1"):
        metrics.recall(np.array([2, 3]), np.array([2, 3]))
    with pytest.raises(ValueError, match="average"):
        metrics.f1_score(np.array([0, 1]), np.array([0, 1]), average="weighted")
    with pytest.raises(ValueError, match=r"0\.\.1"):
        metrics.confusion_matrix(np.array([0, 2]), np.array([0, 1]), num_classes=2)
    with pytest.raises(tn.DTypeError, match="integers"):
        metrics.confusion_matrix(np.array([0.5]), np.array([0]))
    with pytest.raises(tn.ShapeError, match="roc_curve"):
        metrics.roc_curve(np.array([0, 1]), np.array([0.1, 0.2, 0.3]))
