"""What every lesson script shares: its command line, its output folder, its plots and its report.

A lesson starts with ``lesson = setup("01_xor_by_hand")`` and ends with ``lesson.report(...)``,
which prints the figures it reached and writes them to ``results.json`` in the output folder (the
lesson tests read that file); its last cell calls ``lesson.what_next(...)``: the lesson's exercises and ideas to
try. Works the same run as a script or opened as a notebook (Jupyter, VS Code), where ``TINYNET_SMOKE=1`` in the
environment asks for the smoke run that ``--smoke`` asks for on the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tinynet import backend
from tinynet.errors import BackendError


@dataclass
class Lesson:
    """A running lesson: ``smoke`` (a fast, smaller run), ``out`` (where files go), ``backend``."""

    name: str
    smoke: bool
    out: Path
    backend: str
    figures: dict = field(default_factory=dict)

    def savefig(self, fig, filename: str) -> Path:
        """Save a matplotlib figure as ``out/filename`` and close it."""
        import matplotlib.pyplot as plt

        path = self.out / filename
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        print(f"  saved {path}")
        return path

    def report(self, **figures) -> None:
        """Print the figures this lesson reached and write them to ``out/results.json``."""
        self.figures.update(figures)
        print(f"\n== {self.name} ({'smoke' if self.smoke else 'full'} run, backend {self.backend}) ==")
        for key, value in self.figures.items():
            print(f"  {key}: {value:.6g}" if isinstance(value, float) else f"  {key}: {value}")
        results = {"lesson": self.name, "smoke": self.smoke, "backend": self.backend, "figures": self.figures}
        (self.out / "results.json").write_text(json.dumps(results, indent=2))

    def save_arrays(self, filename: str, **arrays) -> Path:
        """Keep a training run's results (``out/filename``, a ``.npz``) so the plotting cells below it can rerun
        at once, even in a fresh kernel, with ``load_arrays``."""
        import numpy as np

        path = self.out / filename
        np.savez(path, **arrays)
        return path

    def load_arrays(self, filename: str) -> dict:
        """What ``save_arrays(filename, ...)`` kept, as a dict of NumPy arrays."""
        import numpy as np

        with np.load(self.out / filename) as saved:
            return {key: saved[key] for key in saved.files}

    def what_next(self, *ideas: str) -> list[str]:
        """Print this lesson's exercises (from the exercise registry: how to start and check each) and ``ideas``
        to try next; return the exercises' names."""
        from tinynet.exercises.registry import EXERCISES

        mine = [exercise for exercise in EXERCISES if exercise.lesson == self.name]
        if mine:
            print(f"\nExercises for {self.name}: build it yourself, then let the checker name what is off")
            for exercise in mine:
                print(f"  {exercise.name}: {exercise.title}")
                print(f"    tinynet exercises start {exercise.name}   then   tinynet exercises check {exercise.name}")
        if ideas:
            print("\nWhat to try next:")
            for idea in ideas:
                print(f"  - {idea}")
        return [exercise.name for exercise in mine]


def setup(name: str, argv: list[str] | None = None) -> Lesson:
    """Parse ``[--smoke] [--backend B] [--out DIR]``, pick the backend, make the output folder.

    ``TINYNET_SMOKE=1`` in the environment also asks for a smoke run: a notebook has no command line of its own.
    """
    parser = argparse.ArgumentParser(prog=f"python lessons/{name}.py", description=f"tinynet lesson {name}")
    parser.add_argument("--smoke", action="store_true", help="a fast run with fewer steps (used by the tests)")
    parser.add_argument(
        "--backend", default=None, help="numpy (the reference; default unless TINYNET_BACKEND says), numba or cupy"
    )
    parser.add_argument("--out", default=None, help=f"output folder (default ./tinynet-out/{name})")
    # parse_known_args: inside Jupyter, sys.argv holds the kernel's own arguments.
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if "ipykernel" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")  # headless: plots go to files
        _stop_quietly(name)
    if args.backend:
        try:
            backend.set_backend(args.backend)
        except BackendError as err:  # say why in one line, not a traceback
            raise SystemExit(f"{name}: {err}") from None
    out = Path(args.out) if args.out else Path("tinynet-out") / name
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # one line, not a traceback (a file in the way, a read-only place)
        raise SystemExit(f"{name}: cannot write output to {str(out)!r} ({err.strerror or err}); pass --out a folder "
                         "you can write to") from None  # fmt: skip
    smoke = args.smoke or os.environ.get("TINYNET_SMOKE", "0") not in ("", "0")
    lesson = Lesson(name=name, smoke=smoke, out=out, backend=backend.get_backend())
    # The header says which backend computes: the figures are the same on each, the times are not.
    print(f"== {name}: {'smoke' if smoke else 'full'} run on backend {lesson.backend} ==", flush=True)
    return lesson


def _stop_quietly(name: str) -> None:
    """Ctrl-C: one line, not a traceback (Python still exits as killed by SIGINT: status 130 in a shell);
    a closed pipe (``| head``): nothing. Other errors keep their traceback: it is the lesson's to show."""
    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:
        if issubclass(kind, KeyboardInterrupt):
            print(f"{name}: interrupted (Ctrl-C)", file=sys.stderr)
        elif issubclass(kind, BrokenPipeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # quiet Python's flush at exit
        else:
            previous(kind, value, traceback)

    sys.excepthook = hook


def progress(items: Iterable, description: str = "", total: int | None = None) -> Iterator:
    """Yield from ``items`` while drawing a progress bar on a terminal; elsewhere print a few plain lines.

    Use it around training loops: ``for step in progress(range(steps), "training"): ...``
    """
    total = len(items) if total is None and hasattr(items, "__len__") else total
    interactive = sys.stderr.isatty()
    start, last_line = time.perf_counter(), -1
    for count, item in enumerate(items, start=1):
        yield item
        if not total:
            continue
        if interactive:
            filled = int(30 * count / total)
            rate = count / max(time.perf_counter() - start, 1e-9)
            sys.stderr.write(f"\r{description} [{'#' * filled}{'.' * (30 - filled)}] {count}/{total} {rate:.0f}/s")
            if count == total:
                sys.stderr.write("\n")
        elif (line := 4 * count // total) > last_line and line > 0:  # at 25, 50, 75 and 100 %
            last_line = line
            print(f"{description}: {count}/{total} ({time.perf_counter() - start:.1f} s)", flush=True)


def plot_losses(ax, losses: dict, title: str, window: int = 50, level: float | None = None, level_label: str = ""):
    """Each of ``losses`` ({name: values per step}) faint, and its mean over ``window`` steps on top (losses that
    jump from step to step, a GAN's), with an optional horizontal line at ``level``."""
    import numpy as np

    for k, (name, values) in enumerate(losses.items()):
        ax.plot(values, alpha=0.25, color=f"C{k}")
        mean = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(values)), mean, color=f"C{k}", label=f"{name} (mean of {window} steps)")
    if level is not None:
        ax.axhline(level, color="gray", linestyle=":", label=level_label)
    ax.set(xlabel="step", title=title)
    ax.legend(loc="upper right")
