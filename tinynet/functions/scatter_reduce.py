"""scatter_reduce: the values an index sends to one position, reduced (sum, prod, mean, amax or amin) together
with, or without, the value already there. ``tinynet.functions.indexing`` exports it; it works on the same flat
positions (``targets``: where in the flattened input each value of src goes).
"""

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.autograd import Function


class ScatterReduce(Function):
    """At every position an index names, the reduction of the values sent there (and of its own, if
    include_self); the other positions keep their value.

    forward:    out = x, then out[p] = reduce({x[p] if include_self} ∪ {src values sent to p}) at each position p
                the index names, reduce being sum, prod, mean, amax or amin
    derivative: dL/dx[p] = dL/dout[p] · ∂out[p]/∂x[p] (0 where x[p] was left out), dL/dsrc = dL/dout[p] ·
                ∂out[p]/∂src at the p each value went to: 1 for sum; 1/count for mean; the product of the other
                values for prod; for amax, amin 1/(number of values equal to the result) if equal to it, else 0
    kernels:    scatter_add in forward for sum and mean; prod, amax and amin inline
    """

    @staticmethod
    def forward(ctx, x, src, targets, used, reduce, include_self):
        xp = array_module(x)
        values = src[used].reshape(-1)
        out = x.copy()
        flat = out.reshape(-1)
        named = xp.zeros(flat.size, dtype=bool)
        named[targets] = True
        own = ~named if not include_self else xp.ones_like(named)  # positions whose own value takes part
        if reduce in ("sum", "mean"):
            flat[~own] = 0
            backend.for_arrays(flat, values).scatter_add(flat, targets, values)
            if reduce == "mean":
                counts = (_counts(targets, flat.size) + own)[named]
                if flat.dtype.kind == "f":
                    flat[named] = flat[named] / counts.astype(flat.dtype)
                else:  # PyTorch floors an integer mean
                    flat[named] = flat[named] // counts
        else:
            combine_at(flat, targets, values, reduce, include_self)
        ctx.save_for_backward(x.reshape(-1), values, flat)
        ctx.targets, ctx.used, ctx.own, ctx.reduce, ctx.src_shape = targets, used, own, reduce, src.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        need_x, need_src, *_ = ctx.needs_input_grad
        xp = array_module(grad)
        self_share, src_share = _shares(ctx, grad.dtype)
        flat, at = grad.reshape(-1), ctx.targets
        grad_x = grad_src = None
        if need_x:
            grad_x = xp.where(ctx.own, flat * self_share, 0).astype(grad.dtype).reshape(grad.shape)
        if need_src:
            grad_src = xp.zeros(ctx.src_shape, dtype=grad.dtype)
            grad_src[ctx.used] = (flat[at] * src_share).reshape(grad_src[ctx.used].shape)
        return grad_x, grad_src, None, None, None, None


def _shares(ctx, dtype) -> tuple:
    """(∂out[p]/∂x[p] for every position p, ∂out[p]/∂v for every src value v, p the position v went to)."""
    x, values, result = ctx.saved
    xp, at, own, size = array_module(x), ctx.targets, ctx.own, x.size
    if ctx.reduce == "sum":
        return 1, 1
    if ctx.reduce == "mean":
        counts = _counts(at, size) + own
        share = 1 / xp.maximum(counts, 1).astype(dtype)
        return share, share[at]
    if ctx.reduce in ("amax", "amin"):
        # Ties share the gradient evenly. As PyTorch, a position's own value counts among the ties even when
        # include_self leaves it out (it then gets no share itself).
        self_ties, src_ties = x == result, values == result[at]
        ties = xp.maximum(_counts(at, size, src_ties) + self_ties, 1).astype(dtype)
        return self_ties / ties, src_ties / ties[at]
    # prod: the derivative by one factor is the product of the others. Computed as result / factor while no
    # factor is 0; with one zero factor, only that factor's derivative is nonzero: the product of the rest.
    zeros = _counts(at, size, values == 0) + (own & (x == 0))
    rest = xp.where(own & (x != 0), x, 1)
    combine_at(rest, at, xp.where(values == 0, 1, values), "prod", True)

    def others(factor, product, zero_count, nonzero_product):
        divided = product / xp.where(factor == 0, 1, factor)
        return xp.where(zero_count == 0, divided, xp.where((zero_count == 1) & (factor == 0), nonzero_product, 0))

    return others(x, result, zeros, rest), others(values, result[at], zeros[at], rest[at])


def _counts(targets, size: int, where=None):
    """How many entries of ``targets`` (only those where ``where`` is true, if given) name each of ``size``
    positions."""
    xp = array_module(targets)
    return xp.bincount(targets if where is None else targets[where], minlength=size)


def combine_at(flat, targets, values, reduce: str, include_self: bool) -> None:
    """flat[targets[i]] = op(flat[targets[i]], values[i]) for every i in order, op multiply, maximum or minimum
    (for reduce prod, amax, amin); without include_self, a position's first value replaces its own.

    Repeated positions are the difficulty: a fancy assignment writes each position once. So the values go in
    rounds: the first value of every position in round 0, the second in round 1..., no position twice a
    round. That is as many rounds as the most repeated position has values, each a few array calls, on any
    array library (NumPy's ``multiply.at`` has no CuPy counterpart).
    """
    xp = array_module(flat)
    op = {"prod": xp.multiply, "amax": xp.maximum, "amin": xp.minimum}[reduce]
    order = xp.argsort(targets, kind="stable")
    ordered = targets[order]
    first = xp.ones(ordered.shape, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    rank = xp.arange(ordered.size) - xp.flatnonzero(first)[xp.cumsum(first) - 1]  # its place among its position's
    for r in range(int(rank.max()) + 1 if rank.size else 0):
        pick = order[rank == r]
        at = targets[pick]
        flat[at] = values[pick] if r == 0 and not include_self else op(flat[at], values[pick])
