"""Checks of exercise `multi_head_attention`: split_heads and merge_heads against reshape-and-transpose, then the
module's output, weights and gradients (inputs and parameters) against tinynet's nn.MultiheadAttention
(batch_first=True) holding the same parameters.

When the output is wrong it is compared with the outputs of the usual mistakes, computed here in NumPy from the
same parameters, and the hint names the one it matches.
"""

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

import tinynet as tn
from tinynet import nn
from tinynet.exercises.grading import WrongAnswerError, expect_close, on_drawn, part
from tinynet.tensor import to_host

# (N, L, S, heads, head_dim, seed)
SHAPES = st.tuples(
    st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
    st.integers(0, 2**16),
)  # fmt: skip

NO_TRANSPOSE = (
    "the heads are split (or merged) by a reshape without the transpose: (N, T, E) viewed as (N, heads, T, "
    "head_dim) directly mixes positions and features; view it as (N, T, heads, head_dim), then transpose(1, 2) "
    "(and merge in reverse: transpose(1, 2), then reshape to (N, T, E))"
)
NO_OUT_PROJ = "the output projection is missing: the merged heads go through self.out_proj"
MODEL_DIM = (
    "the scores are scaled by 1 / sqrt(embed_dim), not by 1 / sqrt(head_dim): each head's q·k sums head_dim products"
)
NOT_SCALED = "the scores are not scaled: divide q kᵀ by sqrt(head_dim)"


def _split(x: np.ndarray, heads: int, transpose: bool = True) -> np.ndarray:
    n, t, e = x.shape
    return x.reshape(n, t, heads, e // heads).transpose(0, 2, 1, 3) if transpose else x.reshape(n, heads, t, -1)


def _merge(x: np.ndarray, transpose: bool = True) -> np.ndarray:
    n, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, t, h * d) if transpose else x.reshape(n, t, h * d)


def _numpy_mha(params: dict, heads: int, q, k, v, scale=None, split=True, merge=True, out_proj=True) -> np.ndarray:
    """Multi-head attention in NumPy, with the mistakes a learner makes as options."""
    E = q.shape[-1]
    W, b = params["in_proj_weight"], params["in_proj_bias"]
    q, k, v = (_split(x @ W[i * E : (i + 1) * E].T + b[i * E : (i + 1) * E], heads, split) for i, x in
               enumerate((q, k, v)))  # fmt: skip
    scale = 1 / np.sqrt(E // heads) if scale is None else scale
    scores = q @ k.swapaxes(-1, -2) * scale
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = _merge(weights @ v, merge)
    return out @ params["out_proj.weight"].T + params["out_proj.bias"] if out_proj else out


def _suspects(params: dict, heads: int) -> dict[str, Callable]:
    E = params["in_proj_weight"].shape[1]
    return {
        NO_TRANSPOSE: lambda q, k, v: _numpy_mha(params, heads, q, k, v, split=False, merge=False),
        NO_TRANSPOSE + " (in split_heads)": lambda q, k, v: _numpy_mha(params, heads, q, k, v, split=False),
        NO_TRANSPOSE + " (in merge_heads)": lambda q, k, v: _numpy_mha(params, heads, q, k, v, merge=False),
        NO_OUT_PROJ: lambda q, k, v: _numpy_mha(params, heads, q, k, v, out_proj=False),
        MODEL_DIM: lambda q, k, v: _numpy_mha(params, heads, q, k, v, scale=1 / np.sqrt(E)),
        NOT_SCALED: lambda q, k, v: _numpy_mha(params, heads, q, k, v, scale=1.0),
    }


@part("split_heads and merge_heads: (N, T, E) <-> (N, heads, T, head_dim)")
def heads(learner) -> None:
    def check(shape):
        n, t, _, h, d, seed = shape
        x = np.random.default_rng(seed).standard_normal((n, t, h * d))
        module = learner.MultiheadAttention(h * d, h)
        hint = NO_TRANSPOSE if t > 1 and h > 1 else ""
        split = module.split_heads(tn.tensor(x))
        expect_close(f"split_heads of an (N, T, E) = {x.shape} input", split, _split(x, h), hint=hint)
        merged = module.merge_heads(tn.tensor(_split(x, h)))
        expect_close(f"merge_heads of an (N, heads, T, head_dim) = {_split(x, h).shape} input", merged, x, hint=hint)

    on_drawn(check, SHAPES)


def _modules(learner, shape):
    """tinynet's module and the learner's, with the same (random) parameters; the inputs, float64."""
    n, L, S, h, d, seed = shape
    E = h * d
    tn.manual_seed(seed)
    reference = nn.MultiheadAttention(E, h, batch_first=True).double()
    rng = np.random.default_rng(seed)
    with tn.no_grad():
        for p in reference.parameters():  # nonzero biases too, so that a forgotten one shows
            p.copy_(tn.tensor(rng.standard_normal(p.shape) * 0.5))
    mine = learner.MultiheadAttention(E, h)
    state = reference.state_dict()
    names, expected = sorted(mine.state_dict()), sorted(state)
    if names != expected:
        raise WrongAnswerError(
            f"the module's parameters are {names}, expected {expected}",
            "keep the parameters the skeleton creates (named as nn.MultiheadAttention names them)",
        )
    mine.load_state_dict(state)
    mine.double()
    inputs = [rng.standard_normal((n, T, E)) for T in (L, S, S)]
    return reference, mine, inputs, {k: to_host(v.array) for k, v in state.items()}


def _run(module, inputs, need_weights=True):
    """The module's output and averaged weights, and the gradients of the inputs and parameters of a fixed random
    projection of the output."""
    tensors = [tn.tensor(x, requires_grad=True) for x in inputs]
    module.zero_grad()
    out, weights = module(*tensors, need_weights=need_weights)
    if not isinstance(out, tn.Tensor):
        raise WrongAnswerError(f"forward returned {type(out).__name__} as the output, not a Tensor",
                               "return (out, weights)")  # fmt: skip
    projection = np.random.default_rng(1).standard_normal(out.shape)
    (out * tn.tensor(projection)).sum().backward()
    grads = {name: t.grad for name, t in zip(("query", "key", "value"), tensors)}
    grads.update({name: p.grad for name, p in module.named_parameters()})
    return to_host(out.array), weights, {k: None if g is None else to_host(g.array) for k, g in grads.items()}


@part("forward: output and every gradient, as nn.MultiheadAttention(batch_first=True)")
def forward(learner) -> None:
    def check(shape):
        reference, mine, inputs, params = _modules(learner, shape)
        self_attention = shape[5] % 2 == 0  # query, key and value the same tensor, half the time
        if self_attention:
            inputs = [inputs[0]] * 3
        got, _, got_grads = _run(mine, inputs)
        expected, _, expected_grads = _run(reference, inputs)
        what = "self-attention (query = key = value)" if self_attention else "attention"
        failure = None
        try:
            expect_close(f"{what}: output", got, expected)
        except WrongAnswerError as err:
            failure = err
        if failure is not None:
            matching = [h for h, f in _suspects(params, shape[3]).items() if np.allclose(got, f(*inputs))]
            raise WrongAnswerError(failure.message, "; or ".join(matching) or failure.hint)
        for name, e in expected_grads.items():
            if got_grads[name] is None:
                raise WrongAnswerError(
                    f"{what}: no gradient reached {name}",
                    "compute the output from it with tinynet operations (no .numpy() on the way), so autograd can "
                    "follow",
                )
            expect_close(f"{what}: gradient of {name}", got_grads[name], e, atol=1e-5, rtol=1e-4)

    on_drawn(check, SHAPES)


@part("the weights: averaged over the heads, (N, L, S); None with need_weights=False")
def weights(learner) -> None:
    def check(shape):
        reference, mine, inputs, _ = _modules(learner, shape)
        _, got, _ = _run(mine, inputs)
        _, expected, _ = _run(reference, inputs)
        expect_close(
            "the attention weights returned (averaged over the heads)", got, expected,
            hint="return the softmax weights (N, heads, L, S) averaged over the heads: weights.mean(dim=1) (if the "
            "output is wrong too, fix that first)",
        )  # fmt: skip
        _, none, _ = _run(mine, inputs, need_weights=False)
        if none is not None:
            raise WrongAnswerError("forward(..., need_weights=False) returned weights", "return (out, None) then")

    on_drawn(check, SHAPES, examples=8)
