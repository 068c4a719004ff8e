"""Every lesson runs in smoke mode, through the lesson runner, and reaches what it teaches."""

import json
import os
import subprocess
import sys

import pytest

from tinynet.cli import find_lessons

# What each lesson must show at smoke scale (checked against its results.json).
EXPECTATIONS = {
    "01_xor_by_hand": lambda f: f["final_mse"] < 0.05 and f["gradient_check_gap"] < 1e-6,
    "02_autograd": lambda f: (
        f["final_mse"] < 0.05
        and f["gap_to_hand_gradients"] < 1e-5
        and f["gradcheck_passed"]
        and f["graph_ops"] == 7  # Linear, Sigmoid, Linear, Sigmoid, then MSE's Sub, Mul, Mean
        and f["traced_ops"] == 2 * 6  # the neuron's 6 ops, each traced forward and backward
        and f["trace_chain_rule_gap"] < 1e-6
    ),
    "03_activations_and_losses": lambda f: (
        f["max_derivative_error"] < 1e-12  # autograd matches the closed-form derivatives
        and abs(f["sigmoid_max_slope"] - 0.25) < 1e-3
        and f["ce_grad_at_confident_mistake"] > 50 * f["mse_grad_at_confident_mistake"]
        and f["softmax_ce_identity_error"] < 1e-12  # d CE / d logits = softmax - onehot
        and f["softmax_ce_grad_norm"] > 10 * f["softmax_mse_grad_norm"]
        and 10 * f["ce_steps_to_correct"] < f["mse_steps_to_correct"]
        and f["naive_softmax_nan_count"] == 3
        and f["stable_softmax_finite"]
        and f["stable_softmax_error"] < 1e-12
    ),
    "04_optimizers": lambda f: (
        max(f["bowl_distance_momentum"], f["bowl_distance_adam"]) < f["bowl_distance_sgd"] / 5
        and max(f["rosenbrock_distance_momentum"], f["rosenbrock_distance_adam"]) < f["rosenbrock_distance_sgd"] / 10
        and max(f["digits_loss_momentum"], f["digits_loss_adam"]) < f["digits_loss_sgd"] / 2
        and min(f["digits_accuracy_momentum"], f["digits_accuracy_adam"], f["digits_accuracy_adam_cosine"]) > 0.85
    ),
    "05_binary_classification": lambda f: (
        f["heldout_accuracy"] > 0.9
        and min(f["heldout_precision"], f["heldout_recall"], f["heldout_f1"]) > 0.85
        and f["heldout_auc"] > 0.95
        and f["auc_pairwise_gap"] < 1e-9  # AUC = the fraction of (positive, negative) pairs ranked right
        and f["cv_mean_accuracy"] > 0.9
        and f["cv_std_accuracy"] < 0.05
        and f["logits_loss_relative_error"] < 1e-6
        and f["logits_grad_error"] < 1e-6
        and f["sigmoid_bce_grad_at_logit_minus_50"] < 1e-6  # sigmoid then BCE: the gradient vanishes
    ),
    "06_regularization": lambda f: (
        f["baseline_train_acc"] == 1.0  # the too-big network memorises its 100 training images...
        and f["baseline_val_acc"] < 0.95  # ...and does clearly worse on new ones
        and f["best_technique_val_acc"] > f["baseline_val_acc"]  # at least one technique generalises better
        and f["lowest_technique_val_loss"] < 0.95 * f["baseline_val_loss"]
        and f["weight_decay_weight_norm"] < 0.95 * f["baseline_weight_norm"]  # weight decay keeps weights smaller
        and f["grad_norm_max_before_clip"] > 1.5
        and f["grad_norm_max_after_clip"] <= 1.0 + 1e-4  # clip_grad_norm_ caps the norm at max_norm = 1
        and f["final_loss_clipped"] < f["final_loss_no_clip"] / 10  # lr = 1 trains only with clipping
    ),
    "07_mlp_digits": lambda f: (
        f["test_accuracy"] > 0.93  # chance is 0.10; 8 smoke epochs reach ~0.95, the full run ~0.98
        and f["never_inked_pixels"] > 0
        and f["change_on_never_inked_pixels"] == 0.0  # zero input, zero gradient: Adam never moves those weights
    ),
}


# Smoke runs multiply small matrices: one BLAS thread is faster for them, and steady on a busy machine.
SMOKE_ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


def test_every_lesson_has_an_expectation():
    assert sorted(p.stem for p in find_lessons()) == sorted(EXPECTATIONS)


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_lesson_smoke_run_teaches_what_it_says(name, tmp_path):
    number = name[:2]
    result = subprocess.run(
        [sys.executable, "-m", "tinynet", "lessons", "run", number, "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=SMOKE_ENV,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads((tmp_path / name / "results.json").read_text())
    assert results["smoke"] is True
    assert EXPECTATIONS[name](results["figures"]), results["figures"]
    assert list((tmp_path / name).glob("*.png")), "the lesson saved no plot"


def test_lessons_run_on_the_numba_backend_too(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinynet",
            "lessons",
            "run",
            "02",
            "--smoke",
            "--backend",
            "numba",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads((tmp_path / "02_autograd" / "results.json").read_text())
    assert results["backend"] == "numba" and EXPECTATIONS["02_autograd"](results["figures"])


def test_progress_prints_plain_lines_when_not_a_terminal(capsys):
    from tinynet.lesson import progress

    assert list(progress(range(8), "training")) == list(range(8))
    lines = capsys.readouterr().out.strip().splitlines()
    expected = ["training: 2/8", "training: 4/8", "training: 6/8", "training: 8/8"]
    assert [line.split(" (")[0] for line in lines] == expected
