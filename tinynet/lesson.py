"""What every lesson script shares: its command line, its output folder, its plots and its report.

A lesson starts with ``lesson = setup("01_xor_by_hand")`` and ends with ``lesson.report(...)``,
which prints the figures it reached and writes them to ``results.json`` in the output folder (the
lesson tests read that file). Works the same run as a script or opened as a notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tinynet import backend


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


def setup(name: str, argv: list[str] | None = None) -> Lesson:
    """Parse ``[--smoke] [--backend B] [--out DIR]``, pick the backend, make the output folder."""
    parser = argparse.ArgumentParser(prog=f"python lessons/{name}.py", description=f"tinynet lesson {name}")
    parser.add_argument("--smoke", action="store_true", help="a fast run with fewer steps (used by the tests)")
    parser.add_argument("--backend", default=None, help="numpy (default), numba or cupy")
    parser.add_argument("--out", default=None, help=f"output folder (default ./tinynet-out/{name})")
    # parse_known_args: inside Jupyter, sys.argv holds the kernel's own arguments.
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if "ipykernel" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")  # headless: plots go to files
    if args.backend:
        backend.set_backend(args.backend)
    out = Path(args.out) if args.out else Path("tinynet-out") / name
    out.mkdir(parents=True, exist_ok=True)
    return Lesson(name=name, smoke=args.smoke, out=out, backend=backend.get_backend())
