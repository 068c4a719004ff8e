"""Watching autograd run: ``trace()`` prints every op's forward value and backward gradients in order,
``detect_anomaly()`` stops at the first op that makes a NaN or an infinity.

Both are context managers (and decorators) that register with ``tinynet.autograd.watchers``.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TextIO

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import autograd
from tinynet.errors import AnomalyError
from tinynet.tensor import Tensor, to_host


class _Watching(contextlib.ContextDecorator):
    """Registered with autograd.watchers while the ``with`` block runs."""

    def __enter__(self):
        autograd.watchers().append(self)
        return self

    def __exit__(self, *exc) -> None:
        autograd.watchers().remove(self)

    def forward(self, function: type, inputs: tuple, output: Tensor) -> None: ...

    def backward(self, output: Tensor, grad_output, grad_inputs: tuple) -> None: ...


def _name(function: type) -> str:
    return function.__name__


def _shapes(values) -> str:
    return ", ".join(str(tuple(v.shape)) for v in values if hasattr(v, "shape")) or "no tensors"


def _inputs(values) -> str:
    """The array inputs of an op as "in1 (2, 3), in2 (3,)": numbered by position, numbers left out."""
    shown = [f"in{i} {tuple(v.shape)}" for i, v in enumerate(values, start=1) if hasattr(v, "shape")]
    return ", ".join(shown) or "no tensors"


class trace(_Watching):
    """Print each op as it runs: forward with the value it computed, backward with the gradient it got and
    the gradients it passed to its inputs, numbered so the two halves of the chain rule line up.

        with tn.trace():
            loss = (w * x).sum()
            loss.backward()

    prints::

        forward  #1   Mul            in1 (3,), in2 (3,) -> out (3,)  [2. 4. 6.]
        forward  #2   Sum            in1 (3,) -> out ()  12.
        backward #2   Sum            dL/dout 1. -> dL/din1 [1. 1. 1.]
        backward #1   Mul            dL/dout [1. 1. 1.] -> dL/din1 [2. 2. 2.]

    (x needs no gradient, so Mul passes one only to in1 = w.)

    ``records`` keeps every line's parts as (phase, number, op, value): the output of a forward, the
    gradient of a backward's output. file: where to print (default stdout; None prints nothing).
    """

    def __init__(self, file: TextIO | None = sys.stdout, precision: int = 4) -> None:
        self.file, self.precision = file, precision
        self.records: list[tuple[str, int, str, np.ndarray]] = []
        self._numbers: dict[int, int] = {}

    def _show(self, array) -> str:
        text = np.array2string(to_host(array), precision=self.precision, threshold=6, edgeitems=2)
        return " ".join(text.split())

    def _print(self, line: str) -> None:
        if self.file is not None:
            print(line, file=self.file)

    def forward(self, function: type, inputs: tuple, output: Tensor) -> None:
        number = self._numbers[id(output)] = len(self._numbers) + 1
        arrays = [a.array if isinstance(a, Tensor) else a for a in inputs]
        self.records.append(("forward", number, _name(function), to_host(output.array)))
        self._print(
            f"forward  #{number:<3} {_name(function):<14} {_inputs(arrays)} -> out {tuple(output.shape)}  "
            f"{self._show(output.array)}"
        )

    def backward(self, output: Tensor, grad_output, grad_inputs: tuple) -> None:
        number = self._numbers.get(id(output), 0)  # 0: an op recorded before the trace began
        node = output._node
        self.records.append(("backward", number, _name(node.function), to_host(grad_output)))
        passed = [
            f"dL/din{i} {self._show(g)}"
            for i, (parent, g) in enumerate(zip(node.inputs, grad_inputs), start=1)
            if g is not None and isinstance(parent, Tensor) and parent.requires_grad
        ]
        self._print(
            f"backward #{number:<3} {_name(node.function):<14} dL/dout {self._show(grad_output)} -> {', '.join(passed)}"
        )


def _finite(array) -> bool:
    return bool(array_module(array).isfinite(array).all())


class detect_anomaly(_Watching):
    """Raise AnomalyError at the first op whose forward output or backward gradients hold NaN or inf,
    naming the op and the shapes of its inputs: the place to look, rather than a NaN loss 50 steps later.

        with tn.detect_anomaly():
            loss = model(x).log().mean()   # AnomalyError: Log forward produced NaN or inf ...
    """

    def forward(self, function: type, inputs: tuple, output: Tensor) -> None:
        if output.dtype.kind == "f" and not _finite(output.array):
            arrays = [a.array if isinstance(a, Tensor) else a for a in inputs]
            bad = [a for a in arrays if hasattr(a, "dtype") and a.dtype.kind == "f" and not _finite(a)]
            cause = "one of its inputs already held NaN or inf" if bad else "its inputs were all finite"
            raise AnomalyError(
                f"{_name(function)} forward produced NaN or inf in its output of shape {tuple(output.shape)} "
                f"from inputs of shapes {_shapes(arrays)} ({cause})"
            )

    def backward(self, output: Tensor, grad_output, grad_inputs: tuple) -> None:
        node = output._node
        for index, g in enumerate(grad_inputs):
            if g is not None and not _finite(g):
                arrays = [a.array if isinstance(a, Tensor) else a for a in node.inputs]
                cause = (
                    "the gradient it received was already not finite"
                    if not _finite(grad_output)
                    else "the gradient it received was finite"
                )
                raise AnomalyError(
                    f"{_name(node.function)} backward produced NaN or inf in the gradient of its input {index} "
                    f"(shape {tuple(g.shape)}); its inputs have shapes {_shapes(arrays)} ({cause})"
                )
