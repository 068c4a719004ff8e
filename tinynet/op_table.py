"""The table of every differentiable op: its forward formula, its derivative, the kernels it calls, and
which backends compute those kernels themselves. ``tinynet ops`` prints it.

Each row is read from a Function's docstring, whose ``forward:``, ``derivative:`` and ``kernels:`` lines
are the one place an op's math is written (see ``tinynet/functions/__init__.py``); the ops listed are
those the catalogue's examples run, forward and backward, so a test that keeps the catalogue complete
keeps this table complete too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kernels import numpy_ref
from tinynet import autograd, backend

FIELDS = ("forward", "derivative", "kernels")


@dataclass
class Op:
    """One row: a Function, the three fields of its docstring, and the kernel names its ``kernels`` field names."""

    function: type
    forward: str
    derivative: str
    kernels_text: str
    kernels: tuple[str, ...]


def fields(function: type) -> dict[str, str]:
    """The ``forward:``, ``derivative:`` and ``kernels:`` entries of ``function``'s docstring, each with its
    continuation lines joined; a missing entry is left out."""
    found: dict[str, list[str]] = {}
    current = None
    for line in (function.__doc__ or "").splitlines():
        text = line.strip()
        label, _, rest = text.partition(":")
        if label in FIELDS:
            current = found.setdefault(label, [])
            current.append(rest.strip())
        elif current is not None and text and line.startswith(" " * 16):
            current.append(text)  # a wrapped entry continues, indented under its text
        else:
            current = None
    return {label: " ".join(parts) for label, parts in found.items()}


def kernel_names(text: str) -> tuple[str, ...]:
    """The names of the backend table's kernels that ``text`` mentions, in order."""
    return tuple(word for word in re.findall(r"\w+", text) if word in numpy_ref.KERNELS)


def catalogue_functions() -> list[type]:
    """Every Function the catalogue's examples run, forward and backward, in the order first met."""
    from tinynet import catalogue

    met: dict[type, None] = {}

    class Collect:
        def forward(self, function, inputs, output):
            met.setdefault(function)

        def backward(self, output, grad_output, grad_inputs):
            pass

    watcher = Collect()
    autograd.watchers().append(watcher)
    try:
        for _, fn, inputs, _ in catalogue.cases():
            fn(*inputs).sum().backward()
    finally:
        autograd.watchers().remove(watcher)
    return list(met)


def ops() -> list[Op]:
    """The table's rows, in the catalogue's order."""
    rows = []
    for function in catalogue_functions():
        entry = fields(function)
        text = entry.get("kernels", "")
        rows.append(Op(function, entry.get("forward", ""), entry.get("derivative", ""), text, kernel_names(text)))
    return rows


def overridden_by() -> dict[str, list[str]]:
    """{kernel: the backends other than the reference that compute it themselves}, whether or not they can run
    here (cupy's list is known without a GPU); a backend whose package cannot be imported is left out."""
    table: dict[str, list[str]] = {kernel: [] for kernel in numpy_ref.KERNELS}
    for name in backend.MODULES:
        try:
            kernels = backend.overrides(name)
        except ImportError:
            continue
        for kernel in kernels:
            table[kernel].append(name)
    return table


def print_table(only: set[str] | None = None) -> int:
    """Print the rows (those whose Function name is in ``only``, lower case, when given); the row count."""
    by_backend = overridden_by()

    def annotated(text: str) -> str:
        # Each kernel name followed by the backends that override it: "relu_forward [numba, cupy]".
        return re.sub(
            r"\w+",
            lambda m: f"{m[0]} [{', '.join(by_backend[m[0]]) or 'reference only'}]" if m[0] in by_backend else m[0],
            text,
        )

    rows = [op for op in ops() if only is None or op.function.__name__.lower() in only]
    print(
        "Every differentiable op: its forward, its derivative, and the kernels it calls, each followed by\n"
        "[the backends that compute it themselves]; the others run the reference's, kernels/numpy_ref/.\n"
    )
    for op in rows:
        path = op.function.__module__.replace(".", "/") + ".py"
        print(f"{op.function.__name__}  ({path})")
        print(f"  forward     {op.forward}")
        print(f"  derivative  {op.derivative}")
        print(f"  kernels     {annotated(op.kernels_text)}")
        print()
    with_kernels = sum(1 for op in rows if op.kernels)
    print(f"{len(rows)} ops: {with_kernels} call named kernels, {len(rows) - with_kernels} compute inline")
    return len(rows)
