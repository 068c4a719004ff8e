"""The exercises' checks, tested: every reference solution passes, every planted bug fails naming its fault, the
untouched skeleton fails every part saying what to write; and `tinynet exercises list/start/check` as a learner
runs them (a separate process, a time limit)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinynet.exercises import EXERCISES, find
from tinynet.exercises.runner import load_learner, run_parts

HERE = Path(__file__).parent / "exercises"
SOLUTIONS = HERE / "solutions"  # the reference solution of each exercise: must pass
READY = [e.name for e in EXERCISES if (SOLUTIONS / f"{e.name}.py").exists()]
# The planted bugs of each (bugs/NAME.py: BUGS, a list of (name, solution text, replacement, fault regex)).
BUGS = {
    name: load_learner(HERE / "bugs" / f"{name}.py").BUGS for name in READY if (HERE / "bugs" / f"{name}.py").exists()
}


def _grade(name: str, text: str, tmp_path: Path) -> list[dict]:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return run_parts(find(name), path)


def _failures(results: list[dict]) -> str:
    return "\n".join(f"{r['part']}: {r['message']} (hint: {r['hint']})" for r in results if not r["ok"])


def test_every_exercise_has_a_skeleton_checks_a_solution_and_two_planted_bugs():
    lessons = Path(__file__).parent.parent / "lessons"
    for exercise in EXERCISES:
        assert "TODO" in exercise.skeleton(), exercise.name
        assert (lessons / f"{exercise.lesson}.py").exists(), f"{exercise.name}: no lesson {exercise.lesson}"
        assert f"(lesson {exercise.lesson})" in exercise.skeleton().splitlines()[0], exercise.name
        assert exercise.checks() is not None
    assert READY == [e.name for e in EXERCISES], "exercises without a reference solution"
    assert all(len(BUGS.get(name, [])) >= 2 for name in READY), "every exercise needs two planted bugs"


@pytest.mark.parametrize("name", READY)
def test_the_reference_solution_passes_every_part(name, tmp_path):
    results = _grade(name, (SOLUTIONS / f"{name}.py").read_text(), tmp_path)
    assert results and all(r["ok"] for r in results), _failures(results)


@pytest.mark.parametrize("name", READY)
def test_the_untouched_skeleton_fails_every_part_saying_what_to_write(name, tmp_path):
    results = _grade(name, find(name).skeleton(), tmp_path)
    for result in results:
        assert not result["ok"], f"{result['part']} passes on the skeleton"
        assert "not written yet" in result["message"] or "TODO" in result["hint"], result


CASES = [(name, bug) for name in READY for bug in BUGS.get(name, [])]


@pytest.mark.parametrize(("name", "bug"), CASES, ids=[f"{name}-{bug[0]}" for name, bug in CASES])
def test_a_planted_bug_fails_and_the_failure_names_the_fault(name, bug, tmp_path):
    _, old, new, fault = bug
    solution = (SOLUTIONS / f"{name}.py").read_text()
    assert old in solution, f"the bug's text is not in solutions/{name}.py"
    results = _grade(name, solution.replace(old, new), tmp_path)
    failures = _failures(results)
    assert failures, "the planted bug passes every part"
    assert re.search(fault, failures, re.DOTALL), f"the failure does not name the fault {fault!r}:\n{failures}"


def _tinynet(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tinynet", "exercises", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_start_then_check_then_list_as_a_learner_runs_them(tmp_path):
    started = _tinynet("start", "value", cwd=tmp_path)
    assert started.returncode == 0 and (tmp_path / "tinynet-exercises" / "value.py").exists(), started.stderr
    (tmp_path / "tinynet-exercises" / "value.py").write_text("# my work\n")
    again = _tinynet("start", "value", cwd=tmp_path)
    assert again.returncode == 0 and "kept" in again.stdout
    assert (tmp_path / "tinynet-exercises" / "value.py").read_text() == "# my work\n"
    (tmp_path / "tinynet-exercises" / "value.py").write_text((SOLUTIONS / "value.py").read_text())
    checked = _tinynet("check", "value", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "FAIL" not in checked.stdout and checked.stdout.count("PASS") == len(checked.stdout.split("PASS")) - 1
    listed = _tinynet("list", cwd=tmp_path)
    assert re.search(r"^value\s+02_autograd\s+passing", listed.stdout, re.MULTILINE), listed.stdout
    assert re.search(r"^adam\s+04_optimizers\s+not started", listed.stdout, re.MULTILINE)


def test_check_reports_an_endless_loop_and_a_crash_instead_of_hanging(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "value.py").write_text("while True:\n    pass\n")
    stuck = _tinynet("check", "value", "--dir", str(folder), "--timeout", "5", cwd=tmp_path)
    assert stuck.returncode == 1 and "did not finish within 5 s" in stuck.stdout
    (folder / "value.py").write_text("import os\nos._exit(3)\n")
    crashed = _tinynet("check", "value", "--dir", str(folder), cwd=tmp_path)
    assert crashed.returncode == 1 and "stopped the checker" in crashed.stdout
    unknown = _tinynet("check", "nope", cwd=tmp_path)
    assert unknown.returncode != 0 and "no exercise is called 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
