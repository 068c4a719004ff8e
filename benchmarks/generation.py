"""What the key/value cache buys in generation: tokens per second, cached against full recomputation.

    python benchmarks/generation.py --threads 1                 # 64 and 256 tokens, 5 repeats (about a minute)
    python benchmarks/generation.py --tokens 256 --repeat 9

The model is lesson 14's full-size language model, ``tinynet.models.CharTransformer`` (vocabulary 96, d_model 64,
4 heads, 2 layers), with its positional encoding long enough for the prompt and the longest generation (random
weights: the work per token does not depend on what was learned). For each length, ``tinynet.generation.generate``
writes that many tokens greedily after a 32-token prompt, with the cache (the prompt once, then one position per
step) and without (the whole sequence so far at every step); both give the same tokens, checked. After a warm-up
of each, the repeats interleave the two (one recomputed run, then one cached, per repeat) so that the machine's
drift falls on both alike; printed: the median tokens per second of each and the median of the per-repeat
speed-ups with its 25-75th percentile range, as a Markdown table (the one in README.md).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # (run from anywhere)

import tinynet as tn
from tinynet.generation import generate
from tinynet.models import CharTransformer

VOCAB, PROMPT = 96, 32


def measure(model: CharTransformer, prompt: list[int], tokens: int, repeat: int) -> dict[bool, list[float]]:
    """Seconds per run of ``tokens`` generated tokens, per use_cache, over ``repeat`` interleaved repeats."""
    outputs = {use_cache: generate(model, prompt, tokens, use_cache=use_cache) for use_cache in (False, True)}
    if outputs[True] != outputs[False]:  # (the warm-up run doubles as the check)
        raise AssertionError(f"the cache changed the tokens at {tokens} generated tokens")
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):
        for use_cache in (False, True):
            gc.collect()
            start = time.perf_counter()
            generate(model, prompt, tokens, use_cache=use_cache)
            times[use_cache].append(time.perf_counter() - start)
    return times


def row(tokens: int, times: dict[bool, list[float]]) -> str:
    speedups = np.array(times[False]) / np.array(times[True])
    low, mid, high = np.percentile(speedups, [25, 50, 75])
    return (
        f"| {tokens} | {tokens / np.median(times[False]):,.0f} | {tokens / np.median(times[True]):,.0f} "
        f"| {mid:.1f}x ({low:.1f}-{high:.1f}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", default="64,256", help="generated tokens per run, comma-separated (64,256)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each kind per length (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: BLAS's own choice)")
    options = parser.parse_args()
    if options.threads is not None:  # (threadpoolctl: installed with the bench extra)
        import threadpoolctl

        threadpoolctl.threadpool_limits(options.threads, user_api="blas")
    lengths = [int(n) for n in options.tokens.split(",")]
    tn.manual_seed(0)
    model = CharTransformer(VOCAB, d_model=64, heads=4, layers=2, context=PROMPT + max(lengths))
    prompt = [int(i) for i in np.random.default_rng(0).integers(0, VOCAB, size=PROMPT)]
    print(
        f"tinynet generation benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
        f"backend {tn.get_backend()}, BLAS threads {options.threads or 'default'}, {options.repeat} repeats, "
        f"prompt {PROMPT} tokens\n"
    )
    print("| generated tokens | recomputed (tokens/s) | cached (tokens/s) | speed-up (25-75%) |")
    print("|---|---|---|---|")
    for tokens in lengths:
        print(row(tokens, measure(model, prompt, tokens, options.repeat)), flush=True)
    print(f"\nsame tokens with and without the cache; load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
