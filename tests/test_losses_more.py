"""Every loss against PyTorch: values, dtypes and gradients, for each reduction and option, on each backend."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynet as tn
import tinynet.nn.functional as F
from tests.torch_oracle import check, torch
from tinynet import nn

REDUCTIONS = ["mean", "sum", "none"]
LABELS = np.array([0, 3, 1, 4, 1, 2])
LABELS_3D = np.random.default_rng(1).integers(0, 4, (2, 3, 5))
WEIGHT = np.array([0.5, 1.5, 1.0, 2.0, 0.25], dtype=np.float32)


def _lf(lib):
    return lib.nn.functional


def _w(lib, values=WEIGHT, dtype=None):
    # A weight made inside the call, so it never requires grad (PyTorch refuses to differentiate class weights).
    return lib.tensor(values) if dtype is None else lib.tensor(values).double()


CROSS_ENTROPY_CASES = {
    "plain": (lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r), (6, 5), LABELS),
    "weight": (lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r, weight=_w(lib)), (6, 5), LABELS),
    "ignore_default": (
        lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r),
        (6, 5),
        np.array([0, -100, 1, 4, -100, 2]),
    ),
    "ignore_index": (lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r, ignore_index=1), (6, 5), LABELS),
    "weight_ignore": (
        lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r, weight=_w(lib), ignore_index=3),
        (6, 5),
        LABELS,
    ),
    "smoothing": (lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r, label_smoothing=0.3), (6, 5), LABELS),
    "smoothing_one": (
        lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r, label_smoothing=1.0),
        (6, 5),
        LABELS,
    ),
    "smoothing_weight_ignore": (
        lambda lib, x, y, r: _lf(lib).cross_entropy(
            x, y, reduction=r, weight=_w(lib), ignore_index=1, label_smoothing=0.2
        ),
        (6, 5),
        LABELS,
    ),
    "3d": (lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r), (2, 4, 3, 5), LABELS_3D),
    "3d_weight_smooth": (
        lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r, weight=_w(lib, WEIGHT[:4]), label_smoothing=0.1),
        (2, 4, 3, 5),
        LABELS_3D,
    ),
    "unbatched": (lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r), (5,), np.array(3)),
    "unbatched_smooth": (
        lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r, label_smoothing=0.4),
        (5,),
        np.array(3),
    ),
    "transposed": (lambda lib, x, y, r: _lf(lib).cross_entropy(x.transpose(0, 1), y, reduction=r), (5, 6), LABELS),
    "uint8_labels": (lambda lib, x, y, r: _lf(lib).cross_entropy(x, y, reduction=r), (6, 5), LABELS.astype(np.uint8)),
    "probabilities": (lambda lib, x, t, r: _lf(lib).cross_entropy(x, t.softmax(1), reduction=r), (6, 5), (6, 5)),
    "probabilities_raw": (lambda lib, x, t, r: _lf(lib).cross_entropy(x, t, reduction=r), (6, 5), (6, 5)),
    "probabilities_weight_smooth": (
        lambda lib, x, t, r: _lf(lib).cross_entropy(x, t.softmax(1), reduction=r, weight=_w(lib), label_smoothing=0.3),
        (6, 5),
        (6, 5),
    ),
    "probabilities_3d": (
        lambda lib, x, t, r: _lf(lib).cross_entropy(x, t.softmax(1), reduction=r),
        (2, 4, 3),
        (2, 4, 3),
    ),
    "probabilities_unbatched": (lambda lib, x, t, r: _lf(lib).cross_entropy(x, t.softmax(0), reduction=r), (5,), (5,)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CROSS_ENTROPY_CASES))
def test_cross_entropy_matches_pytorch(backend_name, case, reduction):
    fn, *inputs = CROSS_ENTROPY_CASES[case]
    check(lambda lib, *args: fn(lib, *args, reduction), *inputs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (2, 5, 3, 2), (5,)])
def test_nll_loss_matches_pytorch(backend_name, shape, weighted, reduction):
    rng = np.random.default_rng(2)
    target = rng.integers(0, 5, () if len(shape) == 1 else (shape[0], *shape[2:]))
    weight = {"weight": None}

    def fn(lib, x, y):
        weight["weight"] = _w(lib) if weighted else None
        return _lf(lib).nll_loss(_lf(lib).log_softmax(x, dim=0 if x.ndim == 1 else 1), y, reduction=reduction, **weight)

    check(fn, shape, target)


def test_nll_loss_with_every_target_ignored_is_nan_for_mean_with_zero_gradients(backend_name):
    check(lambda lib, x, y: _lf(lib).nll_loss(x, y, ignore_index=2), (3, 4), np.array([2, 2, 2]))
    check(lambda lib, x, y: _lf(lib).cross_entropy(x, y, label_smoothing=0.2), (3, 4), np.array([-100] * 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_on_an_empty_batch(backend_name, reduction):
    check(lambda lib, x, y: _lf(lib).cross_entropy(x, y, reduction=reduction), (0, 4), np.zeros(0, dtype=np.int64))
    check(lambda lib, x, t: _lf(lib).cross_entropy(x, t, reduction=reduction), (0, 4), (0, 4))
    check(lambda lib, x, t: _lf(lib).mse_loss(x, t, reduction=reduction), (0, 3), (0, 3))


def test_cross_entropy_in_float64(backend_name):
    check(lambda lib, x, y: _lf(lib).cross_entropy(x, y, label_smoothing=0.1), (6, 5), LABELS, dtype=np.float64)
    check(lambda lib, x, t: _lf(lib).cross_entropy(x, t), (6, 5), (6, 5), dtype=np.float64)


POINTWISE_CASES = {
    "mse": (lambda F, x, t, r: F.mse_loss(x, t, reduction=r), {}),
    "mse_weight": (lambda F, x, t, r: F.mse_loss(x, t, reduction=r, weight=(t * 0 + 2).detach()), {}),
    "l1": (lambda F, x, t, r: F.l1_loss(x, t, reduction=r), {}),
    "l1_weight": (lambda F, x, t, r: F.l1_loss(x, t, reduction=r, weight=(t * 0 + 0.5).detach()), {}),
    "smooth_l1": (lambda F, x, t, r: F.smooth_l1_loss(x, t, reduction=r), {}),
    "smooth_l1_beta": (lambda F, x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.5), {}),
    "smooth_l1_beta0": (lambda F, x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.0), {}),
    "huber": (lambda F, x, t, r: F.huber_loss(x, t, reduction=r), {}),
    "huber_delta": (lambda F, x, t, r: F.huber_loss(x, t, reduction=r, delta=0.3), {}),
    "huber_weight": (lambda F, x, t, r: F.huber_loss(x, t, reduction=r, weight=(t * 0 + 3).detach()), {}),
    "bce": (lambda F, x, t, r: F.binary_cross_entropy(x.sigmoid(), t.clip(0, 1), reduction=r), {}),
    "bce_weight": (
        lambda F, x, t, r: F.binary_cross_entropy(x.sigmoid(), t.sigmoid(), (t * 0 + 2)[0].detach(), reduction=r),
        {},
    ),
    "bce_logits": (lambda F, x, t, r: F.binary_cross_entropy_with_logits(x, t.clip(0, 1), reduction=r), {}),
    "bce_logits_weights": (
        lambda F, x, t, r: F.binary_cross_entropy_with_logits(
            x, t.sigmoid(), weight=(t * 0 + 0.5)[0].detach(), pos_weight=(t * 0 + 3)[0].detach(), reduction=r
        ),
        {},
    ),
    "kl_div": (lambda F, x, t, r: F.kl_div(x.log_softmax(-1), t.softmax(-1), reduction=r), {}),
    "kl_div_log_target": (lambda F, x, t, r: F.kl_div(x, t.log_softmax(-1), reduction=r, log_target=True), {}),
    "kl_div_zero_target": (lambda F, x, t, r: F.kl_div(x, t.relu(), reduction=r), {}),
    "soft_margin": (lambda F, x, t, r: F.soft_margin_loss(x, t.sign().detach(), reduction=r), {}),
    "multilabel_soft_margin": (lambda F, x, t, r: F.multilabel_soft_margin_loss(x, t.sigmoid(), reduction=r), {}),
    "poisson": (lambda F, x, t, r: F.poisson_nll_loss(x, t.exp(), reduction=r), {}),
    "poisson_rates_full": (
        lambda F, x, t, r: F.poisson_nll_loss(x.exp(), (t * 3).exp(), log_input=False, full=True, reduction=r),
        {},
    ),
    "gaussian": (lambda F, x, t, r: F.gaussian_nll_loss(x, t, (t * 0 + x * x).detach() + 0.1, reduction=r), {}),
    "gaussian_full_var_short": (
        lambda F, x, t, r: F.gaussian_nll_loss(x, t, (x * x).sum(-1), full=True, reduction=r),
        {},
    ),
    "gaussian_float_var": (lambda F, x, t, r: F.gaussian_nll_loss(x, t, 0.5, reduction=r), {}),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(POINTWISE_CASES))
@pytest.mark.parametrize("shape", [(4, 3), ()], ids=["2d", "0d"])
def test_pointwise_losses_match_pytorch(backend_name, case, reduction, shape):
    fn, options = POINTWISE_CASES[case]
    if case in ("bce_weight", "bce_logits_weights", "gaussian_full_var_short", "multilabel_soft_margin") and not shape:
        shape = (5,)
    check(lambda lib, x, t: fn(lib.nn.functional, x, t, reduction), shape, shape, **options)


@pytest.mark.parametrize("case", ["mse", "l1", "smooth_l1", "kl_div", "poisson", "bce_logits"])
def test_pointwise_losses_in_float64_and_non_contiguous(backend_name, case):
    fn, _ = POINTWISE_CASES[case]
    check(lambda lib, x, t: fn(lib.nn.functional, x.transpose(0, 1), t.T, "mean"), (3, 4), (3, 4), dtype=np.float64)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_over_more_numbers_than_a_row_of_squares(backend_name, reduction):
    # 6,000 values: the sum of squares goes in a row of 4096 and a remainder (functions/moments.sum_of_squares)
    check(lambda lib, x, t: _lf(lib).mse_loss(x, t, reduction=reduction), (60, 100), (60, 100))


def test_kl_div_batchmean(backend_name):
    check(lambda lib, x, t: _lf(lib).kl_div(x.log_softmax(1), t.softmax(1), reduction="batchmean"), (5, 3), (5, 3))
    check(lambda lib, x, t: _lf(lib).kl_div(x, t, reduction="batchmean", log_target=True), (), ())


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_losses_broadcast_with_a_warning_as_pytorch(backend_name, loss):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(lambda lib, x, t: getattr(_lf(lib), loss)(x, t), (4, 1), (3,))
        check(lambda lib, x, t: getattr(_lf(lib), loss)(x, t), (2, 3), (3,))
    with pytest.warns(UserWarning, match="target size"):
        getattr(F, loss)(tn.rand(4, 1), tn.rand(4))


def test_regression_loss_of_a_float_input_and_integer_target(backend_name):
    check(lambda lib, x, t: _lf(lib).mse_loss(x, t), (3,), np.array([1, 2, 3]))


EMBEDDING_CASES = {
    "margin_ranking": (lambda F, a, b, y, r: F.margin_ranking_loss(a, b, y, reduction=r), [(6,), (6,), "sign6"]),
    "margin_ranking_margin": (
        lambda F, a, b, y, r: F.margin_ranking_loss(a, b, y, margin=0.5, reduction=r),
        [(6,), (6,), "sign6"],
    ),
    "hinge": (lambda F, a, y, r: F.hinge_embedding_loss(a, y, reduction=r), [(6,), "sign6"]),
    "hinge_margin": (lambda F, a, y, r: F.hinge_embedding_loss(a, y, margin=0.3, reduction=r), [(6,), "sign6"]),
    "cosine": (lambda F, a, b, y, r: F.cosine_embedding_loss(a, b, y, reduction=r), [(6, 4), (6, 4), "sign6"]),
    "cosine_margin": (
        lambda F, a, b, y, r: F.cosine_embedding_loss(a, b, y, margin=0.2, reduction=r),
        [(6, 4), (6, 4), "sign6"],
    ),
    "cosine_unbatched": (lambda F, a, b, y, r: F.cosine_embedding_loss(a, b, y, reduction=r), [(4,), (4,), "sign0"]),
    "triplet": (lambda F, a, p, n, r: F.triplet_margin_loss(a, p, n, reduction=r), [(6, 4)] * 3),
    "triplet_p1_swap": (
        lambda F, a, p, n, r: F.triplet_margin_loss(a, p, n, p=1, swap=True, margin=2.0, reduction=r),
        [(6, 4)] * 3,
    ),
    "triplet_p3": (lambda F, a, p, n, r: F.triplet_margin_loss(a, p, n, p=3, reduction=r), [(6, 4)] * 3),
    "triplet_unbatched": (lambda F, a, p, n, r: F.triplet_margin_loss(a, p, n, reduction=r), [(4,)] * 3),
}
SIGNS = {"sign6": np.array([1, -1, 1, 1, -1, -1]), "sign0": np.array(-1)}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(EMBEDDING_CASES))
def test_embedding_losses_match_pytorch(backend_name, case, reduction):
    fn, inputs = EMBEDDING_CASES[case]
    check(lambda lib, *args: fn(lib.nn.functional, *args, reduction), *[SIGNS.get(i, i) for i in inputs])


def test_margin_ranking_loss_with_a_float_target(backend_name):
    check(lambda lib, a, b, y: _lf(lib).margin_ranking_loss(a, b, y.sign()), (5,), (5,), (5,))


# --- the modules ---------------------------------------------------------------------------------

MODULES = [
    ("CrossEntropyLoss", dict(weight="w", ignore_index=1, label_smoothing=0.1), [(6, 5), LABELS]),
    ("NLLLoss", dict(weight="w", ignore_index=3), [(6, 5), LABELS]),
    ("BCELoss", dict(weight="w"), [(6, 5), (6, 5)]),
    ("BCEWithLogitsLoss", dict(weight="w", pos_weight="w"), [(6, 5), (6, 5)]),
    ("MSELoss", {}, [(6, 5), (6, 5)]),
    ("L1Loss", {}, [(6, 5), (6, 5)]),
    ("SmoothL1Loss", dict(beta=0.5), [(6, 5), (6, 5)]),
    ("HuberLoss", dict(delta=0.5), [(6, 5), (6, 5)]),
    ("KLDivLoss", dict(reduction="batchmean", log_target=True), [(6, 5), (6, 5)]),
    ("SoftMarginLoss", {}, [(6, 5), (6, 5)]),
    ("MultiLabelSoftMarginLoss", dict(weight="w"), [(6, 5), (6, 5)]),
    ("PoissonNLLLoss", dict(full=True), [(6, 5), (6, 5)]),
    ("MarginRankingLoss", dict(margin=0.1), [(6,), (6,), SIGNS["sign6"]]),
    ("HingeEmbeddingLoss", dict(margin=0.5), [(6,), SIGNS["sign6"]]),
    ("CosineEmbeddingLoss", dict(margin=0.1), [(6, 5), (6, 5), SIGNS["sign6"]]),
    ("TripletMarginLoss", dict(margin=0.5, p=1), [(6, 5), (6, 5), (6, 5)]),
]
PREPARE = {  # inputs the loss needs in range: probabilities for BCE, counts for Poisson
    "BCELoss": lambda x, t: (x.sigmoid(), t.sigmoid()),
    "SoftMarginLoss": lambda x, t: (x, t.sign().detach()),
    "PoissonNLLLoss": lambda x, t: (x, (t * 2).exp()),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "options", "inputs"), MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_pytorch(backend_name, name, options, inputs, reduction):
    def fn(lib, *args):
        kwargs = {k: (_w(lib) if v == "w" else v) for k, v in options.items()}
        kwargs.setdefault("reduction", reduction)
        args = PREPARE.get(name, lambda *a: a)(*args)
        return getattr(lib.nn, name)(**kwargs)(*args)

    check(fn, *inputs)


def test_gaussian_nll_loss_module(backend_name):
    check(lambda lib, x, t: lib.nn.GaussianNLLLoss(full=True)(x, t, (x * x).detach() + 0.5), (4, 3), (4, 3))


def test_loss_modules_keep_class_weights_as_buffers():
    criterion = nn.CrossEntropyLoss(weight=tn.tensor([1.0, 2.0]))
    assert list(criterion.state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=tn.tensor([2.0])).state_dict()) == ["pos_weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []


@pytest.mark.parametrize("flags", [dict(size_average=False), dict(reduce=False), dict(size_average=True, reduce=True)])
def test_legacy_size_average_and_reduce_flags_choose_the_reduction_as_pytorch(backend_name, flags):
    check(lambda lib, x, t: _lf(lib).mse_loss(x, t, **flags), (3, 2), (3, 2))
    check(lambda lib, x, t: lib.nn.L1Loss(**flags)(x, t), (3, 2), (3, 2))


# --- errors ---------------------------------------------------------------------------------------

ERRORS = [
    ("cross_entropy", lambda lib: _lf(lib).cross_entropy(lib.randn(3, 4), lib.tensor([0, 1, 2]), reduction="typo"),
     ValueError, "reduction"),
    ("nll_loss", lambda lib: _lf(lib).nll_loss(lib.randn(3, 4), lib.tensor([0, 1, 2]), reduction="typo"),
     ValueError, "reduction"),
    ("cross_entropy", lambda lib: _lf(lib).cross_entropy(lib.randn(3, 4), lib.tensor([0, 1, 2]).int()),
     (RuntimeError, TypeError), "long"),
    ("cross_entropy", lambda lib: _lf(lib).cross_entropy(lib.randn(3, 4), lib.tensor([0, 1, 2]), label_smoothing=1.5),
     (RuntimeError, ValueError), "label_smoothing"),
    ("cross_entropy", lambda lib: _lf(lib).cross_entropy(lib.randn(2, 3, 4), lib.tensor([[0, 1, 2, 1, 0]] * 2)),
     (RuntimeError, ValueError), "target"),
    ("nll_loss", lambda lib: _lf(lib).nll_loss(lib.randn(3, 4), lib.tensor([0, 1, 2]), weight=lib.ones(3)),
     (RuntimeError, ValueError), "weight"),
    ("cross_entropy", lambda lib: _lf(lib).cross_entropy(lib.randn(3, 4).double(), lib.tensor([0, 1, 2]),
                                                         weight=lib.ones(4)),
     (RuntimeError, TypeError), "double|float"),
    ("binary_cross_entropy", lambda lib: _lf(lib).binary_cross_entropy(lib.rand(3, 4), lib.rand(3, 1)),
     ValueError, "size|shape"),
    ("binary_cross_entropy_with_logits",
     lambda lib: _lf(lib).binary_cross_entropy_with_logits(lib.rand(3, 4), lib.rand(3, 1)), ValueError, "size|shape"),
    ("binary_cross_entropy", lambda lib: _lf(lib).binary_cross_entropy(lib.rand(3) + 1.5, lib.rand(3)),
     (RuntimeError, ValueError), "between 0 and 1|\\[0, 1\\]"),
    ("mse_loss", lambda lib: _lf(lib).mse_loss(lib.rand(4, 2), lib.rand(3)), (RuntimeError, ValueError), "size|shape"),
    ("mse_loss", lambda lib: _lf(lib).mse_loss(lib.tensor([1, 2]), lib.tensor([1, 2])),
     (NotImplementedError, TypeError), "Long|float"),
    ("huber_loss", lambda lib: _lf(lib).huber_loss(lib.rand(3), lib.rand(3), delta=0.0), (RuntimeError, ValueError),
     "delta"),
    ("smooth_l1_loss", lambda lib: _lf(lib).smooth_l1_loss(lib.rand(3), lib.rand(3), beta=-1.0),
     (RuntimeError, ValueError), "beta"),
    ("kl_div", lambda lib: _lf(lib).kl_div(lib.rand(3), lib.rand(3), reduction="avg"), ValueError, "reduction"),
    ("gaussian_nll_loss", lambda lib: _lf(lib).gaussian_nll_loss(lib.rand(3, 2), lib.rand(3, 2), lib.rand(2, 3)),
     ValueError, "var"),
    ("gaussian_nll_loss", lambda lib: _lf(lib).gaussian_nll_loss(lib.rand(3), lib.rand(3), -lib.rand(3) - 1),
     ValueError, "var"),
    ("triplet_margin_loss", lambda lib: _lf(lib).triplet_margin_loss(lib.rand(3, 2), lib.rand(3, 2), lib.rand(2)),
     (RuntimeError, ValueError), "dim"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("op", "call", "torch_error", "words"), ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)]
)
def test_bad_loss_arguments_raise_as_pytorch_with_the_op_named(op, call, torch_error, words):
    with pytest.raises(torch_error):
        call(torch)
    with pytest.raises(tn.TinynetError, match=rf"(?i){op}.*({words})|({words}).*{op}") as caught:
        call(tn)
    assert isinstance(caught.value, torch_error)


# --- properties -----------------------------------------------------------------------------------

shapes = st.tuples(st.integers(1, 4), st.integers(2, 5))


@given(shape=shapes, smoothing=st.sampled_from([0.0, 0.25]), seed=st.integers(0, 2**16))
def test_cross_entropy_gradients_match_finite_differences(shape, smoothing, seed):
    rng = np.random.default_rng(seed)
    labels = tn.tensor(rng.integers(0, shape[1], shape[0]))
    weight = tn.tensor(rng.uniform(0.5, 2, shape[1]), dtype=tn.float64)
    x = tn.tensor(rng.standard_normal(shape), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda a: F.cross_entropy(a, labels, weight=weight, label_smoothing=smoothing), [x])
    t = tn.tensor(rng.uniform(0, 1, shape), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=smoothing), [x, t])


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_pointwise_loss_gradients_match_finite_differences(shape, seed):
    rng = np.random.default_rng(seed)

    def x(low=None):
        values = rng.standard_normal(shape) if low is None else rng.uniform(low, low + 0.8, shape)
        return tn.tensor(values, dtype=tn.float64, requires_grad=True)

    pos = tn.tensor(rng.uniform(0.5, 3, shape[1]), dtype=tn.float64)
    assert tn.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pos), [x(), x(0.1)])
    assert tn.gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), [x(), x(0.1)])
    assert tn.gradcheck(lambda a, b: F.huber_loss(a, b, delta=0.5) + F.smooth_l1_loss(a, b, beta=0.5), [x(), x()])
    assert tn.gradcheck(lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=5.0), [x(), x(), x()])


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize(
    ("labels", "ignore_index", "bad"),
    [
        ([0, 5, 1], -100, 5),  # one past the last class
        ([-1, 2, 4], -100, -1),  # negative, not the ignored index
        ([3, 7, 9], 7, 9),  # the ignored index inside the labels' range, another label outside [0, C)
        ([9, 1, 2], 1, 9),
    ],
)
def test_class_index_targets_outside_the_classes_are_refused(loss, labels, ignore_index, bad):
    x = tn.zeros(3, 5)
    with pytest.raises(tn.ArgumentError, match=rf"{loss}: target holds class {bad}, outside \[0, 4\] for C=5"):
        getattr(F, loss)(x, tn.tensor(labels), ignore_index=ignore_index)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_the_ignored_index_may_lie_among_the_classes_or_outside_them(loss):
    """Labels equal to ignore_index are skipped wherever it lies; the others are checked and counted."""
    x = tn.tensor(np.log(np.full((4, 5), 0.2, np.float32)))  # log-probabilities, and logits of 5 equal classes
    for labels, ignore_index in (([0, 7, 7, 4], 7), ([2, 2, 3, 1], 2), ([0, 1, 3, 4], 2)):
        out = getattr(F, loss)(x, tn.tensor(labels), ignore_index=ignore_index, reduction="sum")
        counted = sum(label != ignore_index for label in labels)
        assert np.isclose(out.item(), -counted * np.log(0.2), rtol=1e-5), (labels, ignore_index)
