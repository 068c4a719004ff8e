"""Products written as index equations: einsum, and outer (``einsum("i,j->ij", a, b)``, computed as a broadcast
multiply).

``einsum`` takes PyTorch's equations: spaces anywhere, ``...`` for the broadcast dims of an operand, labels
of size 1 broadcast against the same label's size elsewhere, and with no ``->`` the output is the ``...``
dims followed by the labels used once, in alphabetical order (upper case first). Before the Function runs,
``...`` is spelt out in spare letters and size-1 labels are broadcast (so their gradients sum back), so the
Function only meets plain equations with one size per label.
"""

from __future__ import annotations

import string
from collections import Counter

from kernels.numpy_ref import array_module
from tinynet.amp_policy import autocast_op
from tinynet.autograd import Function
from tinynet.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from tinynet.functions.elementwise import mul
from tinynet.functions.shape import broadcast_to, reshape
from tinynet.tensor import Tensor

_LABELS = string.ascii_letters


class Einsum(Function):
    """A sum of products over index labels, as ``numpy.einsum`` (terms: each operand's labels).

    forward:    out[output labels] = Σ over the other labels of Π_k x_k[terms_k]
    derivative: dL/dx_k = einsum of dL/dout and the other operands onto x_k's labels (spread over labels only
                x_k has; onto the diagonal where x_k repeats a label)
    kernels:    none: computed inline with the array module's calls
    """

    @staticmethod
    def forward(ctx, *arrays, terms, output):
        ctx.save_for_backward(*arrays)
        ctx.terms, ctx.output = terms, output
        return array_module(*arrays).einsum(",".join(terms) + "->" + output, *arrays, optimize=len(arrays) > 2)

    @staticmethod
    def backward(ctx, grad):
        arrays = ctx.saved
        sizes = {label: n for term, a in zip(ctx.terms, arrays) for label, n in zip(term, a.shape)}
        return tuple(
            _operand_gradient(k, grad, arrays, ctx.terms, ctx.output, sizes) if needed else None
            for k, needed in enumerate(ctx.needs_input_grad)
        )


def _operand_gradient(k: int, grad, arrays, terms, output: str, sizes: dict):
    xp = array_module(grad)
    term = terms[k]
    labels = "".join(dict.fromkeys(term))  # each label once, in order
    others = [t for j, t in enumerate(terms) if j != k] + [output]
    operands = [a for j, a in enumerate(arrays) if j != k] + [grad]
    seen = set("".join(others))
    kept = "".join(c for c in labels if c in seen)
    g = xp.einsum(",".join(others) + "->" + kept, *operands, optimize=len(operands) > 2)
    if kept != labels:  # a label only x_k has was summed over: every value along it gets the same gradient
        g = xp.broadcast_to(g.reshape([sizes[c] if c in seen else 1 for c in labels]), [sizes[c] for c in labels])
    if labels == term:
        return g
    # x_k repeats a label (a diagonal, as in "ii->i"): the gradient goes onto that diagonal, zeros elsewhere
    full = xp.zeros(arrays[k].shape, dtype=g.dtype)
    grid = [xp.arange(sizes[c]).reshape([-1 if i == labels.index(c) else 1 for i in range(len(labels))]) for c in term]
    full[tuple(grid)] = g
    return full


@autocast_op("einsum")
def einsum(equation: str, *operands) -> Tensor:
    """The sum of products the equation describes: ``einsum("ij,jk->ik", a, b)`` is a @ b, ``"ii"`` the trace,
    ``"bij->bji"`` a batched transpose. Operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands or not all(isinstance(t, Tensor) for t in operands):
        raise ArgumentTypeError(f"einsum: expected one or more tensors, got {[type(t).__name__ for t in operands]}")
    if len({t.dtype for t in operands}) > 1:
        raise DTypeError(f"einsum: all operands must have one dtype, got {[str(t.dtype) for t in operands]}")
    equation = "".join(equation.split())
    terms, output = _spelt_out(equation, operands)
    sizes = _label_sizes(equation, terms, operands)
    operands = [
        t if t.shape == tuple(sizes[c] for c in term) else broadcast_to(t, [sizes[c] for c in term])
        for t, term in zip(operands, terms)
    ]
    return Einsum.apply(*operands, terms=tuple(terms), output=output)


def _spelt_out(equation: str, operands) -> tuple[list[str], str]:
    """(each operand's labels, the output's labels), with ``...`` replaced by spare letters and the implicit
    output made explicit."""
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ArgumentError(
            f"einsum: the equation {equation!r} names {len(terms)} operands, but {len(operands)} were given"
        )
    for term in [*terms, rhs]:
        if set(term.replace("...", "")) - set(_LABELS) or term.count("...") > 1:
            raise ArgumentError(
                f"einsum: invalid subscripts {term!r} in {equation!r}: use letters, and '...' at most once per operand"
            )
    broadcast_dims = []
    for i, (term, t) in enumerate(zip(terms, operands)):
        named = len(term.replace("...", ""))
        if t.ndim < named or ("..." not in term and t.ndim != named):
            raise ShapeError(f"einsum: subscripts {term!r} name {named} dims, but operand {i} has shape {t.shape}")
        broadcast_dims.append(t.ndim - named)
    spare = "".join(c for c in _LABELS if c not in equation)[: max(broadcast_dims)]
    terms = [term.replace("...", spare[len(spare) - n :] if n else "") for term, n in zip(terms, broadcast_dims)]
    if not arrow:
        counts = Counter("".join(terms))
        return terms, spare + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in spare))
    output = rhs.replace("...", spare)
    for c in output:
        if output.count(c) > 1 or c not in "".join(terms):
            raise ArgumentError(f"einsum: output subscript {c!r} in {equation!r} appears twice, or in no operand")
    return terms, output


def _label_sizes(equation: str, terms: list[str], operands) -> dict[str, int]:
    """Each label's size; a size 1 broadcasts against another size, any other mismatch is an error."""
    sizes: dict[str, int] = {}
    for i, (term, t) in enumerate(zip(terms, operands)):
        own: dict[str, int] = {}
        for c, n in zip(term, t.shape):
            if own.setdefault(c, n) != n:
                raise ShapeError(
                    f"einsum: operand {i} repeats label {c!r} on dims of sizes {own[c]} and {n} ({t.shape})"
                )
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise ShapeError(
                    f"einsum: label {c!r} has size {n} in operand {i} but {sizes[c]} elsewhere in {equation!r} "
                    f"(shapes {[tuple(t.shape) for t in operands]})"
                )
    return sizes


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002 (PyTorch's names)
    """The outer product of two vectors (N,) and (M,): out[i, j] = input[i] * vec2[j], (N, M)."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(f"outer: expects two 1-d tensors, got shapes {input.shape} and {vec2.shape}")
    return mul(reshape(input, input.shape[0], 1), vec2)


ger = outer


@autocast_op("tensordot")
def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Sum over ``dims`` pairs of axes: an int n (a's last n with b's first n) or two lists ([a's], [b's]).
    a: (*free_a, *summed), b: (*summed, *free_b) for an int -> (*free_a, *free_b)."""
    if isinstance(dims, int) or (hasattr(dims, "ndim") and dims.ndim == 0):
        n = int(dims)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ArgumentError(
                f"tensordot: dims={n} must be in [0, {min(a.ndim, b.ndim)}] for shapes {a.shape}, {b.shape}"
            )
        axes_a, axes_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        axes_a, axes_b = ([d] if isinstance(d, int) else [int(i) for i in d] for d in dims)
    if len(axes_a) != len(axes_b):
        raise ArgumentError(f"tensordot: {len(axes_a)} axes of a against {len(axes_b)} of b: give as many of each")
    letters = iter(string.ascii_letters)
    term_a, term_b = [next(letters) for _ in range(a.ndim)], [next(letters) for _ in range(b.ndim)]
    for i, j in zip(axes_a, axes_b):
        term_b[j % b.ndim] = term_a[i % a.ndim]
    summed = {term_a[i % a.ndim] for i in axes_a}
    out = [c for c in term_a if c not in summed] + [c for c in term_b if c not in summed]
    return einsum(f"{''.join(term_a)},{''.join(term_b)}->{''.join(out)}", a, b)


__all__ = ["einsum", "ger", "outer", "tensordot"]
METHODS: dict = {"outer": outer, "ger": ger}
