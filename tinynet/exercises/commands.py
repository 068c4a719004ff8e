"""``tinynet exercises list | start NAME | check NAME`` on a workspace folder (``./tinynet-exercises`` by default).

The learner's file for exercise NAME is ``DIR/NAME.py``; the result of its last check is kept in
``DIR/.status.json`` for ``list``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tinynet.exercises.registry import EXERCISES, find
from tinynet.exercises.runner import MARK

DEFAULT_DIR = "tinynet-exercises"
DEFAULT_TIMEOUT_S = 120.0
STATUS_FILE = ".status.json"


def _statuses(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def status(folder: Path, name: str) -> str:
    """not started (no file), started (never checked, or changed since), failing or passing."""
    path = folder / f"{name}.py"
    if not path.exists():
        return "not started"
    last = _statuses(folder).get(name)
    if not isinstance(last, dict) or last.get("mtime") != path.stat().st_mtime:
        return "started"
    return "passing" if last.get("passing") else "failing"


def list_exercises(folder: str = DEFAULT_DIR) -> int:
    where = Path(folder)
    print(f"{'exercise':<24}{'lesson':<29}{'status':<13}what you build")
    for exercise in EXERCISES:
        print(f"{exercise.name:<24}{exercise.lesson:<29}{status(where, exercise.name):<13}{exercise.title}")
    print(f"\nworkspace: {where.resolve()}   start one: tinynet exercises start NAME")
    return 0


def start(name: str, folder: str = DEFAULT_DIR) -> int:
    """Copy the skeleton of ``name`` into the workspace; a file already there (the learner's work) is kept."""
    exercise = find(name)
    path = Path(folder) / f"{name}.py"
    if path.exists():
        print(f"{path} is already there (your work is kept, not overwritten); check it: tinynet exercises check {name}")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(exercise.skeleton())
    print(f"wrote {path}: {exercise.title} (lesson {exercise.lesson})")
    print(
        f"fill in the TODOs, then: tinynet exercises check {name}"
        + (f" --dir {folder}" if folder != DEFAULT_DIR else "")
    )
    return 0


def check(name: str, folder: str = DEFAULT_DIR, timeout: float = DEFAULT_TIMEOUT_S) -> int:
    """Grade ``DIR/NAME.py`` in a separate process with a time limit; print each part; 0 only if all pass."""
    exercise = find(name)
    path = Path(folder) / f"{name}.py"
    if not path.exists():
        raise SystemExit(
            f"tinynet exercises check: {path} does not exist; start it with: tinynet exercises start {name}"
        )
    expected = [title for title, _ in _part_titles(exercise)]
    results, printed, problem = _run_child(name, path, timeout)
    for line in printed:
        print(f"  (your code printed) {line}")
    done = {r["part"] for r in results}
    for title in expected:
        if title not in done:
            results.append({"part": title, "ok": False, "message": f"not run: {problem}", "hint": ""})
    for result in results:
        print(f"{'PASS' if result['ok'] else 'FAIL'}  {result['part']}")
        if not result["ok"]:
            print(f"      {result['message']}")
            if result["hint"]:
                print(f"      hint: {result['hint']}")
    passed = sum(r["ok"] for r in results)
    print(f"\n{name}: {passed} of {len(results)} parts pass")
    _record(Path(folder), name, path, passed == len(results))
    return 0 if passed == len(results) else 1


def _part_titles(exercise) -> list:
    from tinynet.exercises.grading import parts

    return parts(exercise.checks())


def _run_child(name: str, path: Path, timeout: float) -> tuple[list[dict], list[str], str]:
    """(results, lines the learner's code printed, what went wrong when parts are missing)."""
    command = [sys.executable, "-m", "tinynet.exercises.runner", name, str(path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        stdout, stderr, problem = done.stdout, done.stderr, ""
        if done.returncode not in (0, 1):
            tail = stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            problem = f"your code stopped the checker ({tail[0]})"
    except subprocess.TimeoutExpired as stop:
        stdout = stop.stdout.decode() if isinstance(stop.stdout, bytes) else stop.stdout or ""
        stderr, problem = "", f"your code did not finish within {timeout:g} s (an endless loop?)"
    results, printed = [], []
    for line in stdout.splitlines():
        if line.startswith(MARK):
            results.append(json.loads(line[len(MARK) :]))
        elif line.strip():
            printed.append(line)
    return results, printed[-20:], problem or "the checker stopped before this part"


def _record(folder: Path, name: str, path: Path, passing: bool) -> None:
    statuses = _statuses(folder)
    statuses[name] = {"passing": passing, "mtime": path.stat().st_mtime}
    try:
        (folder / STATUS_FILE).write_text(json.dumps(statuses, indent=1))
    except OSError:
        pass  # the status is a convenience for `list`; grading stands without it
