"""Every lesson runs in smoke mode, through the lesson runner, and reaches what it teaches."""

import json
import subprocess
import sys

import pytest

from tinynet.cli import find_lessons

# What each lesson must show at smoke scale (checked against its results.json).
EXPECTATIONS = {
    "01_xor_by_hand": lambda f: f["final_mse"] < 0.05 and f["gradient_check_gap"] < 1e-6,
    "02_autograd": lambda f: f["final_mse"] < 0.05 and f["gap_to_hand_gradients"] < 1e-5 and f["gradcheck_passed"],
}


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
    assert [line.split(" (")[0] for line in lines] == ["training: 2/8", "training: 4/8", "training: 6/8", "training: 8/8"]
