"""tinynet.generation: the key/value cache gives the tokens and the scores of full recomputation, and refuses
what it cannot generate."""

import numpy as np
import pytest

import tinynet as tn
from tinynet import nn
from tinynet.errors import ArgumentError, ArgumentTypeError, ShapeError
from tinynet.generation import KVCache, generate, generate_steps
from tinynet.models import CharTransformer, causal_mask

VOCAB, CONTEXT = 23, 40
PROMPTS = [[3], [1, 4, 1, 5, 9], [7, 0, 22, 2, 13, 13, 8, 6, 11, 19, 4, 3]]


@pytest.fixture
def model() -> CharTransformer:
    tn.manual_seed(4)
    return CharTransformer(VOCAB, d_model=16, heads=2, layers=2, context=CONTEXT)


class PostNormLM(nn.Module):
    """The protocol with other layer options: post-norm, GELU, no biases, an Identity final norm."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 12)
        self.position = nn.PositionalEncoding(12, max_len=CONTEXT)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(12, 3, 20, dropout=0.0, activation="gelu", batch_first=True, bias=False)
            for _ in range(3)
        )
        self.norm = nn.Identity()
        self.readout = nn.Linear(12, VOCAB)

    def forward(self, x: tn.Tensor) -> tn.Tensor:
        h = self.position(self.embed(x))
        for block in self.blocks:
            h = block(h, src_mask=causal_mask(x.shape[1]))
        return self.readout(self.norm(h))


@pytest.mark.parametrize("prompt", PROMPTS)
def test_cached_greedy_tokens_are_full_recomputations(model, prompt):
    steps = CONTEXT - len(prompt)  # up to the end of the positional encoding
    cached = generate(model, prompt, steps)
    assert cached == generate(model, prompt, steps, use_cache=False)
    assert cached[: len(prompt)] == prompt and len(cached) == CONTEXT
    assert all(0 <= t < VOCAB for t in cached)


@pytest.mark.parametrize("temperature, seed", [(0.7, 0), (1.5, 3)])
def test_cached_sampled_tokens_are_full_recomputations(model, temperature, seed):
    for prompt in PROMPTS:
        steps = CONTEXT - len(prompt)
        kwargs = dict(temperature=temperature, seed=seed)
        cached = generate(model, prompt, steps, **kwargs)
        assert cached == generate(model, prompt, steps, use_cache=False, **kwargs)
        assert cached == generate(model, prompt, steps, **kwargs)  # the seed makes the draws repeat
    other_seed = generate(model, PROMPTS[1], 30, temperature=temperature, seed=seed + 1)
    assert other_seed != generate(model, PROMPTS[1], 30, temperature=temperature, seed=seed)


def test_sampling_draws_from_softmax_of_scores_over_temperature(model):
    # The first draw with the generator of the same seed, from the scores the model gives (computed here).
    prompt, temperature = PROMPTS[2], 0.8
    with tn.no_grad():
        scores = model(tn.tensor([prompt])).numpy()[0, -1].astype(np.float64) / temperature
    p = np.exp(scores - scores.max())
    for seed in range(5):
        expected = np.random.default_rng(seed).choice(VOCAB, p=p / p.sum())
        assert generate(model, prompt, 1, temperature=temperature, seed=seed)[-1] == expected


@pytest.mark.parametrize("make", [lambda: None, PostNormLM], ids=["CharTransformer", "post-norm-gelu-no-bias"])
def test_cached_scores_equal_full_recomputation_last_position(model, make):
    model = make() or model
    prompt = PROMPTS[1]
    steps = CONTEXT - len(prompt)
    cached = list(generate_steps(model, prompt, steps, temperature=1.0, seed=7))
    full = list(generate_steps(model, prompt, steps, use_cache=False, temperature=1.0, seed=7))
    assert len(cached) == len(full) == steps
    ids = list(prompt)
    for (cached_scores, cached_token), (full_scores, full_token) in zip(cached, full):
        assert cached_scores.shape == (VOCAB,)
        np.testing.assert_allclose(cached_scores, full_scores, rtol=0, atol=1e-5)
        with tn.no_grad():  # and both are the model's own last-position scores on the ids so far
            np.testing.assert_allclose(full_scores, model(tn.tensor([ids])).numpy()[0, -1], rtol=0, atol=1e-6)
        assert cached_token == full_token
        ids.append(cached_token)


class RecordingEmbedding(nn.Embedding):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.seen: list[tuple] = []

    def forward(self, indices):
        self.seen.append(tuple(indices.shape))
        return super().forward(indices)


def test_cache_runs_the_prompt_once_then_one_position_per_step(model):
    recording = RecordingEmbedding(VOCAB, 16)
    recording.weight = model.embed.weight
    model.embed = recording
    generate(model, PROMPTS[2], 6)
    assert recording.seen == [(1, len(PROMPTS[2]))] + [(1, 1)] * 5  # the last token is never run
    recording.seen.clear()
    generate(model, PROMPTS[2], 6, use_cache=False)
    assert recording.seen == [(1, len(PROMPTS[2]) + i) for i in range(6)]


def test_mode_and_gradients_are_left_alone(model):
    model.train()
    generate(model, PROMPTS[0], 3)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    generate(model, PROMPTS[0], 3, use_cache=False)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_steps_zero_returns_the_prompt(model):
    assert generate(model, PROMPTS[1], 0) == PROMPTS[1]


def test_refuses_beyond_max_context(model):
    with pytest.raises(ShapeError, match="max_context 40"):
        generate(model, PROMPTS[1], CONTEXT - len(PROMPTS[1]) + 1)
    with pytest.raises(ShapeError, match="max_context 8"):
        generate(model, PROMPTS[1], 4, max_context=8, use_cache=False)
    assert len(generate(model, PROMPTS[1], 3, max_context=8)) == 8
    with pytest.raises(ArgumentError, match="max_len 40"):
        generate(model, PROMPTS[0], 1, max_context=CONTEXT + 1)


class NoReadout(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 8)
        self.position = nn.PositionalEncoding(8, max_len=CONTEXT)
        self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)])
        self.norm = nn.LayerNorm(8)


def test_refuses_a_model_without_the_pieces(model):
    with pytest.raises(ArgumentTypeError, match="lacks readout"):
        generate(NoReadout(), [1], 2)
    with pytest.raises(ArgumentTypeError, match="lacks embed, position, blocks, norm, readout"):
        generate(nn.Sequential(nn.Embedding(VOCAB, 8), nn.Linear(8, VOCAB)), [1], 2)
    model.blocks.append(nn.Linear(16, 16))
    with pytest.raises(ArgumentTypeError, match=r"blocks\[2\] must be an nn.TransformerEncoderLayer"):
        generate(model, [1], 2)


def test_refuses_bad_requests(model):
    with pytest.raises(ArgumentError, match="prompt is empty"):
        generate(model, [], 3)
    with pytest.raises(ArgumentError, match=r"\[0, 23\)"):
        generate(model, [1, VOCAB], 3)
    with pytest.raises(ArgumentError, match="temperature"):
        generate(model, [1], 3, temperature=-0.5)
    with pytest.raises(ArgumentError, match="steps"):
        generate(model, [1], -1)


def test_kv_cache_appends_and_refuses_overflow():
    cache = KVCache(layers=2, capacity=5)
    assert cache.length == 0
    first = tn.randn(1, 2, 3, 4)
    keys, values = cache.append(0, first, first * 2)
    np.testing.assert_array_equal(keys.numpy(), first.numpy())
    assert cache.length == 0  # layer 1 holds nothing yet
    cache.append(1, first, first)
    second = tn.randn(1, 2, 2, 4)
    keys, values = cache.append(0, second, second * 2)
    np.testing.assert_array_equal(values.numpy(), np.concatenate([first.numpy(), second.numpy()], axis=2) * 2)
    assert keys.shape == (1, 2, 5, 4) and cache.lengths == [5, 3] and cache.length == 3
    with pytest.raises(ShapeError, match="holds 5 positions of 5"):
        cache.append(0, tn.randn(1, 2, 1, 4), tn.randn(1, 2, 1, 4))
