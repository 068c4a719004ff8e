"""Grade a learner's file: import it, run each part of its exercise's checks, report each as PASS or FAIL.

``run_parts(exercise, path)`` does it here; ``python -m tinynet.exercises.runner NAME PATH`` does it in the process
``tinynet exercises check`` starts (with a time limit), writing each result as one line, ``MARK`` + JSON, so that
whatever the learner's code prints does not get in the way.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from tinynet.errors import NotImplementedOpError
from tinynet.exercises.grading import WrongAnswerError, learner_line, parts
from tinynet.exercises.registry import Exercise, find

MARK = "@@tinynet-part "


def load_learner(path: Path) -> ModuleType:
    """Import the learner's file as a module of its own (a fresh one each time)."""
    spec = importlib.util.spec_from_file_location(f"learner_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses and pickling look a module up by name)
    spec.loader.exec_module(module)
    return module


def run_parts(exercise: Exercise, path: Path, report=None) -> list[dict]:
    """Every part's result, {"part", "ok", "message", "hint"}, in order; ``report(result)`` is called on each as
    it comes. An import that fails fails every part with its reason."""
    results = []
    titled = parts(exercise.checks())
    try:
        learner = load_learner(path)
    except BaseException as err:  # a syntax error, a TODO raised at import, anything: every part says so
        message, hint = _explain(err, path, "importing your file")
        learner = None
    for title, check in titled:
        if learner is None:
            result = {"part": title, "ok": False, "message": message, "hint": hint}
        else:
            result = _run_one(title, check, learner, path)
        results.append(result)
        if report is not None:
            report(result)
    return results


def _run_one(title: str, check, learner: ModuleType, path: Path) -> dict:
    try:
        check(learner)
    except WrongAnswerError as failure:
        return {"part": title, "ok": False, "message": failure.message, "hint": failure.hint}
    except Exception as err:
        message, hint = _explain(err, path, "running your code")
        return {"part": title, "ok": False, "message": message, "hint": hint}
    return {"part": title, "ok": True, "message": "", "hint": ""}


def _explain(err: BaseException, path: Path, doing: str) -> tuple[str, str]:
    """(message, hint) for an error the learner's code raised: a TODO not written yet, or where it failed."""
    if isinstance(err, NotImplementedOpError):  # tinynet lacks what the learner called: not their TODO
        return f"{doing} raised {err}{learner_line(err, path)}", "tinynet has no such op yet: write it another way"
    if isinstance(err, NotImplementedError):
        return f"not written yet: {err}", f"write the code where the TODO is in {path.name}"
    if isinstance(err, SyntaxError):
        return f"{path.name}, line {err.lineno}: SyntaxError: {err.msg}", "fix the syntax there"
    return f"{doing} raised {type(err).__name__}: {err}{learner_line(err, path)}", "read the error at that line"


def main(argv: list[str]) -> int:
    name, path = argv
    results = run_parts(find(name), Path(path), report=lambda r: print(MARK + json.dumps(r), flush=True))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
