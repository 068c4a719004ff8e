"""Checks of exercise `attention`: the causal mask, then attention without a mask, with is_causal, with a bool and
with a float attn_mask, each output and each input's gradient against tinynet's F.scaled_dot_product_attention.

When the output is wrong, it is compared with the outputs of the usual mistakes (computed here in NumPy, NaN and
all, as the learner's code would give them), and the hint names the one it matches.
"""

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

import tinynet as tn
import tinynet.nn.functional as F
from tinynet.exercises.grading import (
    WrongAnswerError,
    expect_close,
    expect_same_function,
    input_gradients,
    on_drawn,
    part,
)

# (batch axes, L, S, E, Ev, seed): small, with L != S drawn too.
SHAPES = st.tuples(
    st.lists(st.integers(1, 3), max_size=2).map(tuple),
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(0, 2**16),
)


def _inputs(shape) -> tuple[list[np.ndarray], np.random.Generator]:
    batch, L, S, E, Ev, seed = shape
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((*batch, n, f)) for n, f in ((L, E), (S, E), (S, Ev))]
    return arrays, rng


def _numpy_attention(q, k, v, mask=None, scale=None, axis=-1) -> np.ndarray:
    """What a learner's attention computes, mistakes included: mask bool (True = attend) or float; softmax along
    ``axis``; a row with no key allowed gives NaN (as -inf everywhere does)."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf) if mask.dtype == bool else scores + mask
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = np.exp(scores - scores.max(axis=axis, keepdims=True))
        return shifted / shifted.sum(axis=axis, keepdims=True) @ v


def _compare(what: str, learner_fn: Callable, reference_fn: Callable, arrays, suspects: dict[str, Callable]) -> None:
    """The learner's output and gradients (of query, key, value) are the reference's; on a failure, the hint names
    the suspects (hint -> NumPy function of the arrays) whose output the learner's matches."""
    failure = None
    try:
        expect_same_function(what, learner_fn, reference_fn, arrays, ["query", "key", "value"])
    except WrongAnswerError as err:
        failure = err
    if failure is None:
        return
    got, _ = input_gradients(learner_fn, arrays)
    matching = [h for h, suspect in suspects.items() if np.allclose(got, suspect(*arrays), equal_nan=True)]
    # Raised here, outside the except, and always from this line: hypothesis then sees one failure, not several.
    raise WrongAnswerError(failure.message, "; or ".join(matching) or failure.hint)


NOT_SCALED = "the scores are not scaled: multiply q kᵀ by scale = 1 / sqrt(E), E the size of the query's last axis"
SCALED_BY_E = "the scores are scaled by 1 / E, not by 1 / sqrt(E)"
WRONG_AXIS = (
    "the softmax runs over the wrong axis: it must normalise over the keys (the last axis, -1), so that each "
    "query's weights sum to 1"
)


def _common_suspects(mask=None) -> dict[str, Callable]:
    """The mistakes any part can show, with the part's mask."""
    return {
        NOT_SCALED: lambda q, k, v: _numpy_attention(q, k, v, mask, scale=1.0),
        SCALED_BY_E: lambda q, k, v: _numpy_attention(q, k, v, mask, scale=1 / q.shape[-1]),
        WRONG_AXIS: lambda q, k, v: _numpy_attention(q, k, v, mask, axis=-2),
    }


def _causal(L: int, S: int, diagonal: int = 0) -> np.ndarray:
    return np.tril(np.ones((L, S), dtype=bool), diagonal)


@part("causal_mask(L, S): True on and below the diagonal, as bool")
def causal_mask(learner) -> None:
    for L, S in ((1, 1), (3, 3), (2, 4), (4, 2)):
        got = learner.causal_mask(L, S)
        if not isinstance(got, tn.Tensor) or got.dtype != tn.bool:
            raise WrongAnswerError(
                f"causal_mask({L}, {S}) returned {type(got).__name__} of dtype {getattr(got, 'dtype', None)}, "
                "expected a bool tinynet Tensor", "make it with dtype=tn.bool (True = may attend)"
            )  # fmt: skip
        got = got.numpy().astype(int)  # (compared as 0 / 1)
        expected = _causal(L, S).astype(int)
        if got.shape == (L, S) and (got == _causal(L, S, -1).astype(int)).all():
            hint = "the diagonal is missing: query i may attend to key i itself (tril with diagonal 0)"
        elif got.shape == (L, S) and (got == _causal(L, S, 1).astype(int)).all():
            hint = "one diagonal too many: query i may attend to keys 0..i, not i + 1 (tril with diagonal 0)"
        elif got.shape == (L, S) and (got == 1 - _causal(L, S, -1)).all():
            hint = "the mask is inverted: True marks the keys a query MAY attend to (on and below the diagonal)"
        elif got.shape == (L, S) and (got == np.triu(np.ones((L, S), dtype=int))).all():
            hint = "that is the upper triangle: query i (row i) may attend to keys 0..i (columns), the lower one"
        else:
            hint = "row i (query i) is True in columns 0..i: the lower triangle, diagonal included (.tril())"
        expect_close(f"causal_mask({L}, {S})", got, expected, hint=hint)


@part("no mask: output and gradients, as F.scaled_dot_product_attention")
def no_mask(learner) -> None:
    def check(shape):
        arrays, _ = _inputs(shape)
        _compare(
            "scaled_dot_product_attention(q, k, v)", learner.scaled_dot_product_attention,
            F.scaled_dot_product_attention, arrays, _common_suspects(),
        )  # fmt: skip

    on_drawn(check, SHAPES)
    arrays, _ = _inputs(((2,), 3, 4, 3, 2, 7))
    _compare(
        "scaled_dot_product_attention(q, k, v, scale=0.3)",
        lambda q, k, v: learner.scaled_dot_product_attention(q, k, v, scale=0.3),
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3), arrays,
        {"the scale argument is ignored: use it when it is given, 1 / sqrt(E) only when it is None": lambda q, k,
         v: _numpy_attention(q, k, v)},
    )  # fmt: skip


@part("is_causal=True: query i attends to keys 0..i")
def causal(learner) -> None:
    def check(shape):
        arrays, _ = _inputs(shape)
        L, S = arrays[0].shape[-2], arrays[1].shape[-2]
        suspects = {
            "the diagonal is excluded: query i may attend to key i itself (tril, diagonal 0)": lambda q, k,
            v: _numpy_attention(q, k, v, _causal(L, S, -1)),
            "one key too many: query i may attend to keys 0..i, not 0..i + 1 (tril, diagonal 0)": lambda q, k,
            v: _numpy_attention(q, k, v, _causal(L, S, 1)),
            "the causal mask is inverted: True marks the keys a query may attend to, so mask out where it is False":
            lambda q, k, v: _numpy_attention(q, k, v, ~_causal(L, S)),
            "is_causal is ignored: with is_causal=True, mask the keys after each query (causal_mask(L, S))": lambda q,
            k, v: _numpy_attention(q, k, v),
            **_common_suspects(_causal(L, S)),
        }  # fmt: skip
        _compare(
            "scaled_dot_product_attention(q, k, v, is_causal=True)",
            lambda q, k, v: learner.scaled_dot_product_attention(q, k, v, is_causal=True),
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), arrays, suspects,
        )  # fmt: skip

    on_drawn(check, SHAPES)


def _bool_mask(shape, rng) -> np.ndarray:
    """(L, S) or (..., L, S) random bool mask with a True and a False in every row (so neither it nor its inverse
    masks a whole row: that row's weights would be 0/0)."""
    batch, L, S = shape[0], shape[1], shape[2]
    mask = rng.random((*batch[len(batch) // 2 :], L, S)) < 0.5
    rows = mask.reshape(-1, S)
    for row in rows:
        on = rng.permutation(S)[:2]
        row[on[0]], row[on[1]] = True, False
    return rows.reshape(mask.shape)


@part("a bool attn_mask: True = may attend")
def bool_mask(learner) -> None:
    def check(shape):
        arrays, rng = _inputs(shape)
        mask = _bool_mask(shape, rng)
        suspects = {
            "the mask's sense is inverted: in F.scaled_dot_product_attention a True means 'may attend' (take part); "
            "set the score to -inf where the mask is False": lambda q, k, v: _numpy_attention(q, k, v, ~mask),
            "the mask is ignored: where it is False the score must become -inf": lambda q, k,
            v: _numpy_attention(q, k, v),
            "a bool mask is added to the scores: that is what a float mask does; a bool one selects (masked_fill)":
            lambda q, k, v: _numpy_attention(q, k, v, mask.astype(float)),
            **_common_suspects(mask),
        }  # fmt: skip
        _compare(
            "scaled_dot_product_attention(q, k, v, attn_mask=bool mask)",
            lambda q, k, v: learner.scaled_dot_product_attention(q, k, v, attn_mask=tn.tensor(mask)),
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=tn.tensor(mask)), arrays, suspects,
        )  # fmt: skip

    on_drawn(check, SHAPES.filter(lambda s: s[2] >= 2))


@part("a float attn_mask: added to the scores")
def float_mask(learner) -> None:
    def check(shape):
        arrays, rng = _inputs(shape)
        batch, L, S = shape[:3]
        mask = rng.standard_normal((*batch[len(batch) // 2 :], L, S)) * 2
        suspects = {
            "the float mask is ignored: add it to the scaled scores": lambda q, k, v: _numpy_attention(q, k, v),
            "the float mask is added before the scaling: add it to q kᵀ * scale, not to q kᵀ": lambda q, k,
            v: _numpy_attention(q, k, v, mask / np.sqrt(q.shape[-1])),
            **_common_suspects(mask),
        }  # fmt: skip
        _compare(
            "scaled_dot_product_attention(q, k, v, attn_mask=float mask)",
            lambda q, k, v: learner.scaled_dot_product_attention(q, k, v, attn_mask=tn.tensor(mask)),
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=tn.tensor(mask)), arrays, suspects,
        )  # fmt: skip

    on_drawn(check, SHAPES)
