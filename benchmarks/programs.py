"""Real PyTorch programs (tests/programs/, as a learner writes them) trained on tinynet (numba) and on PyTorch.

Each program's ``train(model)`` - its whole training run, a few steps on data it makes itself - is timed from a
fresh ``make_model()`` in a process per framework, started afresh every round, rounds alternating which goes first
(as model_steps.py); the table gives the median over rounds of each framework's median run and of the ratio within
a round. These runs are short, so what they measure is mostly each op's fixed cost, where model_steps.py measures
the kernels.

    python benchmarks/programs.py                       # every program, 3 rounds, 2 threads
    python benchmarks/programs.py --only gpt,makemore --rounds 5

Needs PyTorch (pip install -e ".[bench]").
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from model_steps import command_line, library

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from program_cases import CASES, load_program

REPEATS = 9


def _worker(framework: str, names: list[str], threads: int) -> None:
    """Time each program's training run in this process; print {name: median ms} as JSON."""
    library(framework, threads)  # (the programs import it themselves)
    times = {}
    for case in (case for case in CASES if case.id in names):
        program = load_program(case.program, framework)
        steps = {} if case.steps is None else {"steps": case.steps}
        program.train(program.make_model(*case.args), **steps)  # compiles (numba), warms up
        runs = []
        for _ in range(REPEATS):
            model = program.make_model(*case.args)
            start = time.perf_counter()
            program.train(model, **steps)
            runs.append((time.perf_counter() - start) * 1e3)
        times[case.id] = float(np.median(runs))
    print(json.dumps(times))


def main(argv: list[str] | None = None) -> int:
    return command_line(argv, __doc__, __file__, [case.id for case in CASES], _worker, "program")


if __name__ == "__main__":
    sys.exit(main())
