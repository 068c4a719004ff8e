"""Text generation from a decoder-only transformer, with a key/value cache (incremental decoding).

A decoder-only language model writes one token at a time: run the sequence so far, take the scores of the next
token at the last position, choose one, append it, repeat. Run naively, step t recomputes every layer at all t
positions although only the last one is new: the keys and values of positions 0..t-1 are the same as at step
t-1, because with a causal mask no position ever sees a later one. The **KV cache** keeps each layer's keys and
values, so that after the prompt (the *prefill*, run once) each step runs a single position through the stack:
its query attends to the cached keys and values plus its own. The tokens are the same as full recomputation;
the work per step no longer grows with the length (only attention's dot products with the cache do).

    from tinynet.generation import generate
    from tinynet.models import CharTransformer

    model = CharTransformer(vocab_size=96, d_model=64, heads=4, layers=2, context=512)
    tokens = generate(model, [5, 17, 2], steps=100)                    # greedy, with the cache
    tokens == generate(model, [5, 17, 2], steps=100, use_cache=False)  # True: the same tokens, slower

The model protocol (``tinynet.models.CharTransformer``'s attribute names): ``model(ids)`` with ids (1, T) returns
scores (1, T, vocab_size), computed as ``readout(norm(blocks(position(embed(ids)))))`` with a causal mask, where

- ``embed``: an ``nn.Embedding`` (vocab_size, d_model), the token ids to vectors;
- ``position``: an ``nn.PositionalEncoding``, adding the code of positions 0..T-1 (its ``max_len`` bounds T);
- ``blocks``: an ``nn.ModuleList`` of ``nn.TransformerEncoderLayer`` (any norm_first, activation, heads, bias;
  batch_first or not: the cached path calls their sub-modules directly), each given the causal mask;
- ``norm``: the module applied after the last block (a LayerNorm, or ``nn.Identity()``);
- ``readout``: the module from d_model to the vocabulary's scores (an ``nn.Linear``).

Generation runs in eval mode (dropout off, so that both paths compute the same function) without recording a
graph, and puts the model back in the mode it found it in.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import no_grad
from tinynet.creation import tensor
from tinynet.errors import ArgumentError, ArgumentTypeError, ShapeError
from tinynet.functions.shape import reshape, transpose
from tinynet.nn import functional as F
from tinynet.nn.attention import PositionalEncoding
from tinynet.nn.embedding import Embedding
from tinynet.nn.module import Module
from tinynet.nn.transformer import TransformerEncoderLayer
from tinynet.tensor import Tensor

PIECES = ("embed", "position", "blocks", "norm", "readout")


class KVCache:
    """Each layer's keys and values so far: arrays (N, heads, capacity, head_dim), filled up to ``length``.

    The arrays are allocated once, at a layer's first ``append``, for ``capacity`` positions, so that appending
    one position writes one slot instead of copying everything cached so far.
    """

    def __init__(self, layers: int, capacity: int) -> None:
        self.capacity = capacity
        self.keys: list = [None] * layers  # per layer: an array (N, heads, capacity, head_dim), or None until used
        self.values: list = [None] * layers
        self.lengths = [0] * layers  # positions each layer holds

    @property
    def length(self) -> int:
        """Positions that every layer holds (the next position to run is this one)."""
        return min(self.lengths, default=0)

    def append(self, layer: int, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Add ``layer``'s keys and values of new positions, key and value (N, heads, T, head_dim); return all of
        that layer's keys and values so far, (N, heads, length, head_dim) each (views of the cache)."""
        start, new = self.lengths[layer], key.shape[2]
        if start + new > self.capacity:
            raise ShapeError(
                f"KVCache: layer {layer} holds {start} positions of {self.capacity}; {new} more do not fit"
            )
        if self.keys[layer] is None:
            xp = array_module(key.array)
            n, heads, _, head_dim = key.shape
            self.keys[layer] = xp.empty((n, heads, self.capacity, head_dim), dtype=key.dtype)
            self.values[layer] = xp.empty((n, heads, self.capacity, head_dim), dtype=value.dtype)
        end = start + new
        self.keys[layer][:, :, start:end] = key.array
        self.values[layer][:, :, start:end] = value.array
        self.lengths[layer] = end
        return Tensor(self.keys[layer][:, :, :end]), Tensor(self.values[layer][:, :, :end])


def generate(
    model: Module,
    prompt_ids: list[int],
    steps: int,
    *,
    use_cache: bool = True,
    temperature: float = 0.0,
    seed: int = 0,
    max_context: int | None = None,
) -> list[int]:
    """The prompt followed by ``steps`` generated token ids (a list of len(prompt_ids) + steps ints).

    temperature 0: greedy (the highest score's token); above 0: drawn from softmax(scores / temperature) with
    ``np.random.default_rng(seed)``. use_cache: run the prompt once and then one position per step, keeping each
    layer's keys and values (the same tokens as ``use_cache=False``, which runs ``model`` on all the ids so far at
    every step). max_context (default: ``model.position.max_len``): the longest sequence allowed, prompt
    included; generating past it is refused. ``model``: see this module's docstring for the pieces it needs.
    """
    return list(prompt_ids) + [
        token
        for _, token in generate_steps(
            model,
            prompt_ids,
            steps,
            use_cache=use_cache,
            temperature=temperature,
            seed=seed,
            max_context=max_context,
        )
    ]


def generate_steps(
    model: Module,
    prompt_ids: list[int],
    steps: int,
    *,
    use_cache: bool = True,
    temperature: float = 0.0,
    seed: int = 0,
    max_context: int | None = None,
) -> Iterator[tuple[np.ndarray, int]]:
    """``generate``, one step at a time: yields (scores, token) per step, scores the NumPy array (vocab_size,) of
    the next token's scores (logits) from which ``token`` was chosen. Arguments as ``generate``."""
    ids = _check_request(model, prompt_ids, steps, temperature, max_context)
    draw = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    try:
        cache = KVCache(len(model.blocks), len(ids) + steps) if use_cache else None
        device = model.embed.weight.device  # the ids go where the model is
        pending = ids  # the ids not yet run through the model (cached path: the prompt, then the last token)
        for _ in range(steps):
            with no_grad():
                if cache is None:
                    scores = model(tensor([ids], device=device)).numpy()[0, -1]
                else:
                    scores = _run_cached(model, pending, cache, device).numpy()[0, -1]
            token = _choose(scores, temperature, draw)
            ids.append(token)
            pending = [token]
            yield scores, token
    finally:
        model.train(was_training)


def _check_request(model: Module, prompt_ids, steps: int, temperature: float, max_context: int | None) -> list[int]:
    """The prompt as a list of ints, after refusing what cannot be generated (with the reason)."""
    missing = [name for name in PIECES if not isinstance(getattr(model, name, None), Module)]
    if missing:
        raise ArgumentTypeError(
            f"generate: the model needs the modules {', '.join(PIECES)} (tinynet.models.CharTransformer's "
            f"names; see tinynet.generation's docstring); {type(model).__name__} lacks {', '.join(missing)}"
        )
    kinds = [
        ("embed", model.embed, Embedding),
        ("position", model.position, PositionalEncoding),
        *((f"blocks[{i}]", block, TransformerEncoderLayer) for i, block in enumerate(model.blocks)),
    ]
    for name, module, kind in kinds:
        if not isinstance(module, kind):
            raise ArgumentTypeError(
                f"generate: model.{name} must be an nn.{kind.__name__}, got {type(module).__name__} "
                "(the cache knows how to run those alone)"
            )
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ArgumentError(f"generate: steps must be an int >= 0, got {steps!r}")
    if not temperature >= 0:  # (also refuses NaN)
        raise ArgumentError(f"generate: temperature must be >= 0 (0: greedy), got {temperature!r}")
    ids = [int(i) for i in prompt_ids]
    vocab_size = model.embed.num_embeddings
    if not ids:
        raise ArgumentError("generate: the prompt is empty; give at least one token id to start from")
    if any(not 0 <= i < vocab_size for i in ids):
        raise ArgumentError(f"generate: prompt ids must be in [0, {vocab_size}), got {ids}")
    limit = model.position.max_len
    if max_context is not None and max_context > limit:
        raise ArgumentError(
            f"generate: max_context {max_context} exceeds the positional encoding's max_len {limit}: positions "
            "beyond it have no code"
        )
    max_context = limit if max_context is None else max_context
    if len(ids) + steps > max_context:
        raise ShapeError(
            f"generate: a prompt of {len(ids)} tokens and {steps} steps make {len(ids) + steps} positions, more "
            f"than max_context {max_context}: shorten the prompt or the steps (or build the model with a longer "
            "context)"
        )
    return ids


def _run_cached(model: Module, new_ids: list[int], cache: KVCache, device) -> Tensor:
    """The scores (1, 1, vocab_size) after the last of ``new_ids``, running only those positions (start at
    cache.length) and appending their keys and values to ``cache``: the model's forward, position by position."""
    start, new = cache.length, len(new_ids)
    h = model.embed(tensor([new_ids], device=device))  # (1, T, d_model)
    h = h + Tensor(model.position.pe.array[start : start + new].astype(h.dtype, copy=False))  # positions start..
    # Query i (position start + i) may attend to keys 0..start + i: all the cache, and the new ones up to itself.
    xp = array_module(h.array)
    visible = None if new == 1 else Tensor(xp.tril(xp.ones((new, start + new), dtype=bool), k=start))
    for layer, block in enumerate(model.blocks):
        if block.norm_first:
            h = h + _attend(block, block.norm1(h), cache, layer, visible)
            h = h + _feed_forward(block, block.norm2(h))
        else:
            h = block.norm1(h + _attend(block, h, cache, layer, visible))
            h = block.norm2(h + _feed_forward(block, h))
    return model.readout(model.norm(h[:, -1:]))  # only the last position's scores are needed


def _attend(block: TransformerEncoderLayer, x: Tensor, cache: KVCache, layer: int, visible: Tensor | None) -> Tensor:
    """block's self-attention of the new positions x (1, T, E) over the cached ones and themselves -> (1, T, E)."""
    attention = block.self_attn
    n, length, width = x.shape
    projected = F.linear(x, attention.in_proj_weight, attention.in_proj_bias)  # (N, T, 3E): query, key, value
    heads = reshape(projected, n, length, 3, attention.num_heads, attention.head_dim)
    q, k, v = (transpose(heads[:, :, which], 1, 2) for which in range(3))  # each (N, heads, T, head_dim)
    keys, values = cache.append(layer, k, v)  # (N, heads, S, head_dim), S = cached + T
    out = F.scaled_dot_product_attention(q, keys, values, attn_mask=visible)
    return attention.out_proj(reshape(transpose(out, 1, 2), n, length, width))


def _feed_forward(block: TransformerEncoderLayer, x: Tensor) -> Tensor:
    return block.linear2(block.activation(block.linear1(x)))


def _choose(scores: np.ndarray, temperature: float, draw: np.random.Generator) -> int:
    """The next token: the highest score (temperature 0), or a draw from softmax(scores / temperature)."""
    if temperature == 0:
        return int(np.argmax(scores))
    scaled = scores.astype(np.float64) / temperature
    probabilities = np.exp(scaled - scaled.max())
    return int(draw.choice(len(probabilities), p=probabilities / probabilities.sum()))
