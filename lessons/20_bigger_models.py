# %% [markdown]
# # 20 · Training bigger models: data parallelism, mixed precision, checkpointing, the KV cache
#
# A model outgrows one processor in four ways, and each has a standard answer that PyTorch programs use:
#
# - **too slow**: split every batch over several processes (**ranks**) that each hold a copy of the model and
#   average their gradients with an **all-reduce** (`DistributedDataParallel`);
# - **too much arithmetic and memory per number**: compute in 16-bit floats where it is safe (**autocast**) and
#   scale the loss so that small gradients do not round to zero (**GradScaler**);
# - **too many activations kept for backward**: keep only some and recompute the rest (**checkpointing**);
# - **too slow to generate text**: keep each layer's keys and values instead of recomputing them (**KV cache**).
#
# The first part needs real processes. Run the lesson under MPI's launcher and it is itself the 2-rank program:
# `OMP_NUM_THREADS=1 mpiexec -n 2 python lessons/20_bigger_models.py --smoke` (add `--allow-run-as-root` as
# root). Run as one process (`tinynet lessons run 20`), it starts that 2-rank job for the first part itself, when
# `mpiexec` is installed (`pip install -e ".[distributed]"`), and reads its results.
#
# Run it: `python lessons/20_bigger_models.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.distributed as dist
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.cli import LESSONS_DIR
from tinynet.generation import generate_steps
from tinynet.lesson import progress, setup
from tinynet.memory import format_bytes, record_modules, track_peak
from tinynet.models import CharTransformer
from tinynet.nn.parallel import DistributedDataParallel as DDP  # noqa: N817 (as PyTorch programs write it)
from tinynet.utils.checkpoint import checkpoint_sequential

lesson = setup("20_bigger_models")
world = int(os.environ.get("WORLD_SIZE", "1"))  # set by mpiexec (tinynet.distributed gives it PyTorch's name)
data_parallel_only = "--data-parallel-only" in sys.argv  # the 2-rank job this lesson starts for part 1
first_rank = os.environ.get("RANK", "0") == "0"  # under mpiexec every rank runs the cells before the job; one prints
x_digits, y_digits = tn.data.digits()  # (1797, 64) pixels in [0, 1], (1797,) labels

# %% [markdown]
# ## 1. Data parallelism: two ranks, one model
#
# Each rank holds the same model and takes its own half of every batch. The loss is a mean, so the gradient of
# the whole batch's loss is the mean of the two halves' gradients (for equal halves): if the ranks average their
# gradients, every rank holds the whole batch's gradient and takes the same step. First, in this one process,
# the arithmetic that claim rests on (float64, so that only rounding separates the two sides):


# %%
def digits_mlp(width: int = 64) -> nn.Sequential:
    """x: (N, 64) pixels -> scores (N, 10)."""
    return nn.Sequential(nn.Linear(64, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 10))


def flat_gradient(model: nn.Module, x: tn.Tensor, y: tn.Tensor) -> np.ndarray:
    """The gradient of the mean cross-entropy of model on (x, y), all parameters in one NumPy vector."""
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])


tn.manual_seed(0)
model = digits_mlp().double()
x64, y64 = x_digits[:64].double(), y_digits[:64]
halves = [flat_gradient(model, x64[rank::2], y64[rank::2]) for rank in (0, 1)]  # rank r: rows r, r + 2, ...
whole = flat_gradient(model, x64, y64)
halves_gap = float(np.abs(halves[0] - halves[1]).max())
average_gap = float(np.abs((halves[0] + halves[1]) / 2 - whole).max())
if first_rank:
    print(f"the halves' gradients differ by up to {halves_gap:.3f}; their mean is the whole batch's: {average_gap:.1e}")
assert halves_gap > 1e-3 and average_gap < 1e-12, "each half sees other digits; the average is exact"

# %% [markdown]
# ### The 2-rank program
#
# Below is the program every rank runs, written as a PyTorch program would be (`dist.init_process_group`,
# `dist.all_reduce`, `DDP`). It measures three things:
#
# 1. **The all-reduce makes the ranks agree**: each rank computes the gradient of its half; they differ. After
#    `dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)` on every parameter, the ranks hold identical gradients,
#    equal to the whole batch's.
# 2. **DDP on 2 ranks equals 1 process on the whole batch**: `DDP(model)` does that all-reduce inside
#    `backward` (in buckets, while backward still runs). After training, each rank's model equals a copy trained
#    in one process on whole batches.
# 3. **Scaling**: steps per second of a larger MLP on a batch of 1024 digits, by rank 0 alone, then by the 2 ranks
#    with 512 digits each (the best of 3 rounds of each). Each rank runs on one core (`OMP_NUM_THREADS=1`).


# %%
def agreement(rank: int, world: int) -> dict:
    """Part 1: the gradients of each rank's half, before and after the all-reduce, against the whole batch."""
    tn.manual_seed(0)  # the same model on every rank
    model = digits_mlp().double()
    mine = flat_gradient(model, x64[rank::world], y64[rank::world])
    for p in model.parameters():
        dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)  # in place, on every rank: the mean over the ranks
    averaged = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    before, after = [None] * world, [None] * world
    dist.all_gather_object(before, mine)  # every rank's gradient, on every rank (to compare them)
    dist.all_gather_object(after, averaged)
    whole = flat_gradient(model, x64, y64)
    return {
        "gradient_gap_between_ranks_before": max(float(np.abs(g - before[0]).max()) for g in before),
        "gradient_gap_between_ranks_after": max(float(np.abs(g - after[0]).max()) for g in after),
        "allreduce_vs_whole_batch": float(np.abs(averaged - whole).max()),
    }


# %%
def ddp_against_one_process(rank: int, world: int, steps: int) -> dict:
    """Part 2: DDP on `world` ranks against a copy trained on whole batches (float64, SGD with momentum)."""
    tn.manual_seed(rank)  # a different model on each rank: DDP starts them all from rank 0's
    model = digits_mlp().double()
    ddp = DDP(model)
    reference = copy.deepcopy(model)  # rank 0's weights now, trained below in this one process
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    order, losses = np.random.default_rng(0), []  # the same batches on every rank
    for _ in range(steps):
        batch = tn.tensor(order.choice(len(x_digits), 64, replace=False))
        x, y = x_digits[batch].double(), y_digits[batch]
        opt.zero_grad()
        F.cross_entropy(ddp(x[rank::world]), y[rank::world]).backward()  # all-reduced inside backward
        opt.step()
        ref_opt.zero_grad()
        loss = F.cross_entropy(reference(x), y)
        loss.backward()
        ref_opt.step()
        losses.append(float(loss))
    gap = max(float((p - q).abs().max()) for p, q in zip(model.parameters(), reference.parameters()))
    everyone = [None] * world
    dist.all_gather_object(everyone, np.concatenate([p.numpy().ravel() for p in model.parameters()]))
    spread = max(float(np.abs(w - everyone[0]).max()) for w in everyone)
    return {"ddp_vs_one_process": gap, "ddp_parameter_spread_between_ranks": spread, "ddp_losses": losses}


# %%
def steps_per_second(model: nn.Module, x: tn.Tensor, y: tn.Tensor, steps: int) -> float:
    """SGD steps per second on (x, y), after 2 untimed steps (warm-up)."""
    opt = optim.SGD(model.parameters(), lr=0.01)
    for step in range(steps + 2):
        if step == 2:
            start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return steps / (time.perf_counter() - start)


def scaling(rank: int, world: int, steps: int) -> dict:
    """Part 3: one rank on the whole batch of 1024, then every rank on its 1024 / world (float32, width 512)."""
    x, y = x_digits[:1024], y_digits[:1024]
    tn.manual_seed(0)
    model, ddp = digits_mlp(512), DDP(digits_mlp(512))
    alone, together = [], []
    for _ in range(3):  # the best of 3 rounds: the rate least disturbed by whatever else the machine runs
        alone.append(steps_per_second(model, x, y, steps) if rank == 0 else 0.0)
        dist.barrier()  # the other ranks wait here (sleeping) while rank 0 runs alone
        rate = steps_per_second(ddp, x[rank::world], y[rank::world], steps)
        everyone = [None] * world
        dist.all_gather_object(everyone, rate)
        together.append(min(everyone))  # a DDP step ends when every rank's does
    return {"steps_per_s_1_rank": max(alone), "steps_per_s_all_ranks": max(together)}


# %%
def data_parallel_job(ddp_steps: int, timed_steps: int) -> dict | None:
    """Every rank of the mpiexec job runs this; rank 0 returns the figures, the others None."""
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    figures = {"ranks": world, **agreement(rank, world), **ddp_against_one_process(rank, world, ddp_steps)}
    figures.update(scaling(rank, world, timed_steps))
    dist.destroy_process_group()
    return figures if rank == 0 else None


def mpiexec_command() -> list[str] | None:
    """How to start 2 ranks here (Open MPI's wheel puts mpiexec beside this Python), or None without MPI."""
    found = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if found is None or importlib.util.find_spec("mpi4py") is None:
        return None
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30).stdout
    extra = ["--allow-run-as-root", "--oversubscribe"] if "Open MPI" in version or "OpenRTE" in version else []
    return [found, "-n", "2", *extra]


# %% [markdown]
# ### Run it
#
# Under `mpiexec` this process is one of the ranks and runs the job itself. As one process, it starts the same
# file on 2 ranks with `--data-parallel-only` (they stop after this part) and reads rank 0's figures from a file.
# After the job, only rank 0 goes on with the rest of the lesson.

# %%
ddp_steps, timed_steps = (20, 10) if lesson.smoke else (200, 50)
job_file = lesson.out / "data_parallel.json"
if world > 1:
    figures = data_parallel_job(ddp_steps, timed_steps)
    if figures is not None:
        job_file.write_text(json.dumps(figures))
    if figures is None or data_parallel_only:
        raise SystemExit(0)  # this rank's part is done: rank 0 alone goes on with the lesson
elif (command := mpiexec_command()) is not None:
    child_out = lesson.out / "data_parallel_job"
    command += [sys.executable, str(LESSONS_DIR / "20_bigger_models.py"), "--data-parallel-only", "--out"]
    command += [str(child_out), *(["--smoke"] if lesson.smoke else [])]
    one_core = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    print("starting the 2-rank job:", " ".join(command))
    job = subprocess.run(command, capture_output=True, text=True, env=one_core, timeout=600)
    assert job.returncode == 0, f"the 2-rank job failed:\n{job.stdout[-2000:]}\n{job.stderr[-2000:]}"
    job_file.write_text((child_out / "data_parallel.json").read_text())
else:
    print("no mpiexec here (pip install -e '.[distributed]'): part 1 ran only its one-process arithmetic above")
    job_file.write_text(json.dumps({"ranks": 1}))
data_parallel = json.loads(job_file.read_text())

# %% [markdown]
# ### What the ranks saw
#
# Before the all-reduce the two ranks' gradients differ (each saw other digits); after it they are identical to
# the last bit (every rank received the same sum) and equal the whole batch's gradient up to float64 rounding.
# DDP trains each rank's copy exactly as one process trains on whole batches: the same model after every step.
#
# **Scaling, honestly.** With the global batch fixed, 2 ranks each do half the arithmetic, so the best case is
# twice the steps per second. This machine shows less: it has 2 cores, shared with other work, so the two ranks
# compete with everything else; a step also pays costs that do not shrink with the batch (Python's per-op
# overhead, the all-reduce of all the gradients, which grows with the model, not the batch). What 2 cores cannot
# show at all: ranks on different machines, where the all-reduce crosses a network, and many ranks, where it
# takes more messages. The speed-up measured here is a sample of this machine at this moment, not a law.

# %%
if data_parallel["ranks"] > 1:
    print(f"gradients between ranks: {data_parallel['gradient_gap_between_ranks_before']:.3f} apart before the "
          f"all-reduce, {data_parallel['gradient_gap_between_ranks_after']:.1g} after; "
          f"vs the whole batch {data_parallel['allreduce_vs_whole_batch']:.1e}")  # fmt: skip
    print(f"DDP vs one process after {ddp_steps} steps: {data_parallel['ddp_vs_one_process']:.1e}")
    alone, together, ranks = (data_parallel[k] for k in ("steps_per_s_1_rank", "steps_per_s_all_ranks", "ranks"))
    print(f"steps/s, batch of 1024: 1 rank {alone:.1f}, {ranks} ranks {together:.1f} ({together / alone:.2f}x)")
    assert data_parallel["gradient_gap_between_ranks_after"] == 0.0, "after the all-reduce every rank agrees"
    assert data_parallel["allreduce_vs_whole_batch"] < 1e-12, "the average of the halves is the whole batch's"
    assert data_parallel["ddp_vs_one_process"] < 1e-9, "DDP = one process on the whole batch (~1e-15)"

# %% [markdown]
# ## 2. Mixed precision: float16 and the loss scale
#
# float16 has 10 bits of mantissa and 5 of exponent: its smallest positive number is 2^-24, about 6e-8, and
# anything smaller rounds to exactly 0. `autocast` runs the matrix products of the forward (and so of the
# backward) in float16, keeps the loss in float32 and the weights in float32. The gradient that flows back into
# the last float16 layer is the loss's: for a mean cross-entropy over N examples, dL/dscore of a wrong class j is
# p_j / N. Late in training p_j is tiny (the model is sure), and over a batch of 512 or 1024 it falls below 6e-8:
# those gradient entries become **exactly zero**, and the layers below receive less and less signal.
# `GradScaler` multiplies the loss by S (2^16 to start) before `backward`, so every gradient is S times larger and
# stays representable; it divides by S again before the optimizer step (Micikevicius et al., 2018).
#
# We train the same digits MLP (tanh) three ways with the same batches: float32; autocast float16 with the
# scaler; autocast float16 without it. After each backward we count the entries of each layer's output gradient
# that are exactly 0. (On a CPU float16 is *slower*: NumPy has no float16 matrix product, so it is emulated. On a
# GPU, tensor cores make it several times faster than float32; the numbers, not the speed, are this part's point.)


# %%
class TracedMLP(nn.Module):
    """The digits MLP (64 -> width -> width -> 10, tanh) that keeps each layer's output gradient: x: (N, 64)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(64, width), nn.Linear(width, width), nn.Linear(width, 10)])

    def forward(self, h: tn.Tensor) -> tn.Tensor:
        self.outputs = []
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if h.requires_grad:
                h.retain_grad()  # keep dL/d(output) of this layer, to count its zeros after backward
                self.outputs.append(h)
            h = h.tanh() if i < len(self.layers) - 1 else h
        return h


# %%
def train_precision(mode: str, steps: int, batch: int, width: int, lr: float) -> dict:
    """mode: "float32", "float16 + scaler" or "float16, no scaler". Returns losses, zero fractions, scales."""
    tn.manual_seed(0)
    model = TracedMLP(width)
    opt = optim.Adam(model.parameters(), lr=lr)
    scaler = tn.amp.GradScaler("cpu", enabled=mode == "float16 + scaler")
    order, found = np.random.default_rng(0), {"losses": [], "zeros": [], "scales": []}
    for _ in progress(range(steps), mode):
        idx = tn.tensor(order.choice(len(x_digits), batch, replace=False))
        opt.zero_grad()
        with tn.autocast("cpu", dtype=tn.float16, enabled=mode != "float32"):
            loss = F.cross_entropy(model(x_digits[idx]), y_digits[idx])  # scores float16, loss float32
        scaler.scale(loss).backward()
        found["zeros"].append([float((h.grad.numpy() == 0).mean()) for h in model.outputs])
        scaler.step(opt)  # unscales first; skips the step if a gradient overflowed to inf
        scaler.update()
        found["losses"].append(float(loss))
        found["scales"].append(scaler.get_scale() if scaler.is_enabled() else 1.0)
    return {key: np.array(value) for key, value in found.items()}


# %%
modes = ["float32", "float16 + scaler", "float16, no scaler"]
steps, batch, width, lr = (100, 512, 64, 1e-2) if lesson.smoke else (600, 1024, 128, 3e-3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's note when a scaled float16 step overflows to inf
    runs = {mode: train_precision(mode, steps, batch, width, lr) for mode in modes}
lesson.save_arrays("precision.npz", **{f"{m}/{k}": v for m, run in runs.items() for k, v in run.items()})
late = slice(-steps // 4, None)  # the last quarter of training, where the model is sure of itself
late_zeros = {mode: run["zeros"][late].mean(axis=0) for mode, run in runs.items()}  # per layer: 1, 2, scores
for mode in modes:
    print(f"{mode:<20} final loss {runs[mode]['losses'][late].mean():.4f}; zero gradient entries (last quarter)"
          f" per layer {np.round(late_zeros[mode], 3)}")  # fmt: skip
no_scaler, scaler_on = late_zeros["float16, no scaler"], late_zeros["float16 + scaler"]
assert late_zeros["float32"].max() < 0.01, "float32: (next to) no zero gradients (0 smoke, 0.002 full)"
assert no_scaler[-1] > 0.3, "unscaled, most score gradients underflow (0.57 smoke, 0.86 full)"
assert scaler_on[0] < no_scaler[0] / 10, "the scaler keeps layer 1's gradients (5e-6 vs 0.19 smoke)"
assert scaler_on[-1] < no_scaler[-1] / 2, "and most of the scores' (0.014 vs 0.57 smoke, 0.17 vs 0.86 full)"

# %% [markdown]
# The underflow plot: the fraction of exactly-zero entries in the gradient of the scores (the last layer's
# output) over training, and in each layer over the last quarter. Without the scaler it climbs as the model
# grows sure of itself; with it, it stays near 0. The few zeros left with the scaler have other causes: in layer 2
# almost all (97 % when we counted) sit where tanh rounded to exactly +-1 in float16, so its slope is exactly 0;
# in the scores, the model is so sure that p_j / N is below 6e-8 even after multiplying by S. (The full run
# trains the model to near-certainty, loss 0.001: there 17 % of the scaled score gradients still underflow, and
# 0.2 % even in float32, where p_j itself rounds to 0 below 1e-45. Layer 1 is where the scaler's gain shows:
# 0.2 % zeros with it, 66 % without.)
# The loss curves hardly differ at this scale: Adam divides each gradient by its own running size, and the
# surviving entries still point the right way. In large models trained for long, the lost entries are whole
# layers' worth of small updates, and unscaled float16 training stalls or diverges: the reason the scaler exists.

# %%
saved = lesson.load_arrays("precision.npz")
fig, (ax_loss, ax_zero, ax_layer) = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
for mode in modes:
    ax_loss.plot(saved[f"{mode}/losses"], label=mode)
    ax_zero.plot(saved[f"{mode}/zeros"][:, -1], label=mode)
ax_loss.set(xlabel="step", ylabel="training loss", yscale="log", title="Loss curves")
ax_zero.set(xlabel="step", ylabel="fraction exactly 0", title="Zero entries of dL/d(scores)")
positions = np.arange(3)
for k, mode in enumerate(modes):
    late_mean = saved[f"{mode}/zeros"][late].mean(axis=0)
    ax_layer.bar(positions + (k - 1) * 0.27, late_mean, width=0.27, label=mode)
ax_layer.set(xticks=positions, xticklabels=["layer 1", "layer 2", "scores"], ylabel="fraction exactly 0",
             title="Zero gradient entries, last quarter")  # fmt: skip
for ax in (ax_loss, ax_zero, ax_layer):
    ax.legend(fontsize=8)
lesson.savefig(fig, "underflow.png")

# %% [markdown]
# ## 3. Checkpointing: memory against time
#
# Backward needs what the forward computed (each Linear its input, each GELU its input...): a plain forward keeps
# all of it until backward, and for a deep model that is most of a step's memory. `checkpoint_sequential(model,
# segments, x)` cuts the model into segments, runs all but the last without keeping anything inside them (only
# each segment's input), and in backward runs each segment's forward again to get what it needs: less memory,
# one extra forward (Chen et al., 2016: sqrt(n) segments for n layers). The gradients are the same.
#
# A deep residual MLP (16 blocks of Linear, GELU, Linear, batch 256). `tn.memory_report(loss)` adds up the bytes
# the graph saved for backward, by module; `track_peak` measures a whole step's peak.


# %%
class Residual(nn.Module):
    """x + f(x), f: Linear(width, 4 width), GELU, Linear(4 width, width). x: (N, width) -> (N, width)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: tn.Tensor) -> tn.Tensor:
        return x + self.f(x)


def run(model: nn.Sequential, x: tn.Tensor, segments: int) -> tn.Tensor:
    """The model's loss, the blocks cut into `segments` checkpointed pieces (1: a plain forward)."""
    out = model(x) if segments == 1 else checkpoint_sequential(model, segments, x, use_reentrant=False)
    return out.square().mean()


# %%
width, blocks, repeats = (128, 16, 5) if lesson.smoke else (256, 16, 15)
tn.manual_seed(0)
deep = nn.Sequential(*[Residual(width) for _ in range(blocks)])
x_deep = tn.randn(256, width)
with record_modules():
    ledger = str(tn.memory_report(run(deep, x_deep, 1))).splitlines()  # the plain forward keeps every activation
print("\n".join([*ledger[:6], f"... ({blocks} blocks alike)", ledger[-1]]))

# %%
memory = {}  # segments -> (saved bytes, peak bytes, median step seconds, gradients)
for segments in (1, 2, 4, 8, 16):
    saved_bytes = tn.memory_report(run(deep, x_deep, segments)).total_bytes
    with track_peak() as peak:  # (tracemalloc slows the step down: it is timed below, apart)
        deep.zero_grad()
        run(deep, x_deep, segments).backward()
    gradients = np.concatenate([p.grad.numpy().ravel() for p in deep.parameters()])
    memory[segments] = [saved_bytes, peak.peak_bytes, [], gradients]
for _ in range(repeats):  # interleaved, so that the machine's ups and downs fall on every variant alike
    for segments in memory:
        start = time.perf_counter()
        deep.zero_grad()
        run(deep, x_deep, segments).backward()
        memory[segments][2].append(time.perf_counter() - start)
for segments, (saved_bytes, peak_bytes, times, _) in memory.items():
    memory[segments][2] = float(np.median(times))
    print(f"{segments:>2} segments: saved {format_bytes(saved_bytes):>9}, peak {format_bytes(peak_bytes):>9}, "
          f"step {1e3 * np.median(times):.1f} ms")  # fmt: skip
gradient_gap = max(float(np.abs(memory[s][3] - memory[1][3]).max()) for s in memory)
assert gradient_gap < 1e-5, f"checkpointing changes the memory, not the gradients ({gradient_gap:.1e})"
assert memory[4][0] < memory[1][0] / 2, "4 segments keep well under half the activations"

# %% [markdown]
# The plot: each point is one way to cut the 16 blocks; one segment is the plain run. More segments keep fewer
# activations (all but the last segment keep only their inputs), down to the inputs of the segments once the
# last segment, run plainly, is small. The price is one extra forward of the checkpointed part: a forward is
# about a third of a step's arithmetic, so expect up to a third more time. Read the measured times with care:
# on a shared 2-core machine they wobble by 10-20 % from one moment to the next (the repeats are interleaved and
# their median taken), and the price can hide inside that wobble at this size. The peak of a step
# falls less than the saved bytes: it also holds the gradients, as large as the parameters (8.4 MB in the smoke
# run, 33.6 MB in the full one), and backward's temporaries; checkpointing shrinks only the activations.

# %%
fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
milliseconds = [1e3 * memory[s][2] for s in memory]
ax.plot(milliseconds, [memory[s][0] / 1e6 for s in memory], "o-", label="saved for backward (memory_report)")
ax.plot(milliseconds, [memory[s][1] / 1e6 for s in memory], "s--", label="peak of a step (track_peak)")
for segments, ms in zip(memory, milliseconds):
    ax.annotate(f"{segments}", (ms, memory[segments][0] / 1e6), textcoords="offset points", xytext=(5, 4))
ax.set(xlabel="step time (ms)", ylabel="MB", title=f"Checkpointing {blocks} residual blocks: segments labelled")
ax.legend(fontsize=8)
lesson.savefig(fig, "checkpointing.png")

# %% [markdown]
# ## 4. The KV cache: generating text without recomputing it
#
# A language model writes one token at a time: run the sequence so far, pick the next token from the last
# position's scores, append it, repeat. With a causal mask no position ever sees a later one, so the keys and
# values of positions 0..t-1 are the same at every step: recomputing them (`use_cache=False`) makes step t cost
# t positions' work. The KV cache keeps each layer's keys and values; after the prompt each step runs one
# position. We generate 256 tokens from a small `CharTransformer` (lesson 14's model, here untrained: the cache
# is about arithmetic, not about quality) both ways, sampling at temperature 1 with the same seed: the tokens
# must be the same, which needs the scores to agree at every step.

# %%
tn.manual_seed(0)
d_model, layers = (64, 2) if lesson.smoke else (128, 4)
char_model = CharTransformer(vocab_size=96, d_model=d_model, heads=4, layers=layers, context=512)
prompt, new_tokens = [40, 72, 69, 32], 256
generated, step_ms, scores = {}, {}, {}
for use_cache in (True, False):
    tokens, times, all_scores = [], [], []
    start = time.perf_counter()
    for step_scores, token in generate_steps(char_model, prompt, new_tokens, use_cache=use_cache, temperature=1.0):
        times.append(time.perf_counter() - start)
        tokens.append(token)
        all_scores.append(step_scores)
    generated[use_cache], step_ms[use_cache] = tokens, 1e3 * np.diff([0.0, *times])
    scores[use_cache] = np.stack(all_scores)
score_gap = float(np.abs(scores[True] - scores[False]).max())
speed_up = step_ms[False].sum() / step_ms[True].sum()
print(
    f"same {new_tokens} tokens: {generated[True] == generated[False]}; scores within {score_gap:.1e}; "
    f"{step_ms[False].sum():.0f} ms without the cache, {step_ms[True].sum():.0f} ms with it ({speed_up:.1f}x)"
)
print("sampled (untrained, so random characters):", repr("".join(chr(32 + t) for t in generated[True][:60])))
assert generated[True] == generated[False] and score_gap < 1e-4, "the cache must not change the tokens"
lesson.save_arrays("kv_cache.npz", cached=step_ms[True], recomputed=step_ms[False])

# %%
saved = lesson.load_arrays("kv_cache.npz")
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
window = 16  # the median of 16 tokens' times: one token's time is as noisy as the machine
positions = len(prompt) + np.arange(window // 2, new_tokens - window // 2 + 1)
for key, label in (("recomputed", "use_cache=False: step t runs t positions"),
                   ("cached", "use_cache=True: one position a step")):  # fmt: skip
    rolling = np.median(np.lib.stride_tricks.sliding_window_view(saved[key], window), axis=1)
    ax.plot(positions, rolling, label=label)
ax.set(xlabel="position of the generated token", ylabel=f"ms per token (median of {window})", yscale="log",
       title=f"Generating {new_tokens} tokens: {saved['recomputed'].sum() / saved['cached'].sum():.1f}x faster "
       "with the cache")  # fmt: skip
ax.legend(fontsize=8)
lesson.savefig(fig, "kv_cache.png")

# %%
slug = {"float32": "float32", "float16 + scaler": "float16_scaler", "float16, no scaler": "float16_no_scaler"}
report = {k: v for k, v in data_parallel.items() if k != "ddp_losses"}
if "ddp_losses" in data_parallel:
    report["ddp_final_loss"] = data_parallel["ddp_losses"][-1]
    report["ddp_speed_up"] = data_parallel["steps_per_s_all_ranks"] / data_parallel["steps_per_s_1_rank"]
lesson.report(
    data_parallel_ranks=data_parallel["ranks"],
    one_process_halves_gap=halves_gap,
    one_process_average_vs_whole=average_gap,
    **{f"data_parallel_{k}": v for k, v in report.items() if k != "ranks"},
    **{f"final_loss_{slug[m]}": float(r["losses"][late].mean()) for m, r in runs.items()},
    **{f"zero_score_grads_{slug[m]}": float(late_zeros[m][-1]) for m in modes},
    **{f"zero_layer1_grads_{slug[m]}": float(late_zeros[m][0]) for m in modes},
    final_scale=float(runs["float16 + scaler"]["scales"][-1]),
    checkpoint_saved_bytes_plain=memory[1][0],
    checkpoint_saved_bytes_4_segments=memory[4][0],
    checkpoint_peak_bytes_plain=memory[1][1],
    checkpoint_peak_bytes_4_segments=memory[4][1],
    checkpoint_time_ratio_4_segments=memory[4][2] / memory[1][2],
    checkpoint_gradient_gap=gradient_gap,
    kv_same_tokens=generated[True] == generated[False],
    kv_score_gap=score_gap,
    kv_speed_up=speed_up,
    precision_steps=steps,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Run part 1 on 4 ranks (mpiexec -n 4 --oversubscribe): does DDP still equal one process? what happens "
    "to the steps per second on 2 cores?",
    "Set GradScaler(init_scale=2.0**4) and watch the zero fraction: how small a scale still saves the gradients?",
    "Checkpoint only every other block (checkpoint() inside Residual.forward on odd blocks) and place it on the "
    "memory-time plot.",
    "Train the CharTransformer for a few hundred steps (lesson 14) before generating, and time 1024 tokens.",
)
