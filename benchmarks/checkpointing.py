"""What activation checkpointing buys and costs: saved bytes, peak memory and step time, with and without.

    python benchmarks/checkpointing.py             # both models, 9 repeats (about a minute on 2 cores)
    python benchmarks/checkpointing.py --repeat 21 --only mlp --threads 1   # on a busy machine

Two models, each trained for one step (forward, loss, backward, SGD step) as written and with every layer run
under ``tinynet.utils.checkpoint.checkpoint(layer, x, use_reentrant=False)``:

- ``mlp``: a deep residual MLP, 16 blocks of Linear(256, 1024), GELU, Linear(1024, 256), batch 64;
- ``transformer``: 8 nn.TransformerEncoderLayer (d_model 128, 4 heads, feed-forward 512, dropout 0.1,
  batch_first), batch 8 of 64 positions.

For each: the bytes saved for backward (``tn.memory_report`` of the loss: deterministic), the peak memory of a step
(``tn.memory.track_peak``: NumPy's arrays and Python's objects, one step on its own, since tracemalloc slows the
step down), and the median step time over interleaved repeats (one plain step, then one checkpointed, per repeat,
so that the machine's drift falls on both alike), with the median of the per-repeat ratios and its 25-75th
percentile range. Prints a Markdown table (the one in README.md).
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
from tinynet import nn
from tinynet.memory import format_bytes, track_peak
from tinynet.utils.checkpoint import checkpoint


class Checkpointed(nn.Module):
    """Runs ``layers`` one after the other, each under checkpoint() when ``checkpointed``, with residual adds
    around them when ``residual``."""

    def __init__(self, layers: list[nn.Module], residual: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.residual, self.checkpointed = residual, False

    def forward(self, x: tn.Tensor) -> tn.Tensor:
        for layer in self.layers:
            y = checkpoint(layer, x, use_reentrant=False) if self.checkpointed else layer(x)
            x = x + y if self.residual else y
        return x


def mlp() -> tuple[nn.Module, tn.Tensor]:
    width = 256
    blocks = [nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)) for _ in range(16)]
    return Checkpointed(blocks, residual=True), tn.randn(64, width)


def transformer() -> tuple[nn.Module, tn.Tensor]:
    layers = [nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.1, batch_first=True) for _ in range(8)]
    return Checkpointed(layers, residual=False), tn.randn(8, 64, 128)


MODELS = {"mlp": mlp, "transformer": transformer}


def step(model: nn.Module, x: tn.Tensor, optimizer) -> None:
    optimizer.zero_grad()
    loss = model(x).square().mean()
    loss.backward()
    optimizer.step()


def measure(name: str, repeat: int) -> dict:
    tn.manual_seed(0)
    model, x = MODELS[name]()
    optimizer = tn.optim.SGD(model.parameters(), lr=1e-4)
    found: dict = {"saved": {}, "peak": {}, "times": {False: [], True: []}}
    for checkpointed in (False, True):
        model.checkpointed = checkpointed
        found["saved"][checkpointed] = tn.memory_report(model(x).square().mean()).total_bytes
        step(model, x, optimizer)  # warm-up
        gc.collect()
        with track_peak() as peak:
            step(model, x, optimizer)
        found["peak"][checkpointed] = peak.peak_bytes
    for _ in range(repeat):
        for checkpointed in (False, True):
            model.checkpointed = checkpointed
            gc.collect()
            start = time.perf_counter()
            step(model, x, optimizer)
            found["times"][checkpointed].append(time.perf_counter() - start)
    return found


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def row(name: str, found: dict) -> str:
    saved, peak, times = found["saved"], found["peak"], found["times"]
    ratios = np.array(times[True]) / np.array(times[False])
    low, mid, high = np.percentile(ratios, [25, 50, 75])
    return (
        f"| {name} | {format_bytes(saved[False])} | {format_bytes(saved[True])} | {saved[True] / saved[False]:.2f} "
        f"| {format_bytes(peak[False])} | {format_bytes(peak[True])} | {peak[True] / peak[False]:.2f} "
        f"| {_ms(np.median(times[False]))} | {_ms(np.median(times[True]))} | {mid:.2f}x ({low:.2f}-{high:.2f}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed steps of each kind (default 9)")
    parser.add_argument("--only", default=",".join(MODELS), help="models, comma-separated (mlp,transformer)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: BLAS's own choice)")
    options = parser.parse_args()
    if options.threads is not None:  # (threadpoolctl: installed with the bench extra)
        import threadpoolctl

        threadpoolctl.threadpool_limits(options.threads, user_api="blas")
    print(
        f"tinynet checkpointing benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
        f"backend {tn.get_backend()}, BLAS threads {options.threads or 'default'}, {options.repeat} repeats\n"
    )
    print(
        "| model | saved plain | saved checkpointed | ratio | peak plain | peak checkpointed | ratio "
        "| step plain | step checkpointed | time ratio (25-75%) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in options.only.split(","):
        print(row(name, measure(name, options.repeat)), flush=True)
    print(f"\nload at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
