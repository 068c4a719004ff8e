# %% [markdown]
# # 18 · Backends: one network, three ways to run its kernels
#
# Every heavy operation in tinynet (a matrix product, a convolution, a softmax, an Adam update)
# ends in a call to a **kernel**: a function that takes arrays and returns arrays, knowing nothing
# about autograd. Which function runs is looked up in a table, the **backend**:
#
# - `numpy`: `kernels/numpy_ref/`, plain NumPy. It is the reference: short, readable, and the
#   specification every other backend is tested against.
# - `numba`: `kernels/numba_cpu/`, Python loops compiled to machine code by Numba, spread over the
#   CPU's cores.
# - `cupy`: `kernels/cupy_gpu/` with the CUDA C kernels of `kernels/cuda/*.cu`, run on an NVIDIA
#   GPU through CuPy.
#
# This lesson trains the same convolutional network, from the same starting weights on the same
# batches, on every backend that works on this machine; checks that they compute the same losses;
# times them; then opens one kernel and reads it in its three versions, and measures what Numba's
# just-in-time compilation costs.
#
# Run it: `python lessons/18_backends.py [--smoke] [--out DIR]` (it visits every backend itself).

# %%
import inspect
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import matplotlib.pyplot as plt
import numba
import numpy as np

import kernels
import tinynet as tn
import tinynet.nn.functional as F
from kernels import numpy_ref
from kernels.numba_cpu import activations as numba_activations
from kernels.numba_cpu import common as numba_common
from kernels.numba_cpu import softmax as numba_softmax
from tinynet import backend, optim
from tinynet.cli import info
from tinynet.lesson import progress, setup
from tinynet.metrics import accuracy
from tinynet.models import MNIST1DCNN

lesson = setup("18_backends")
steps = 12 if lesson.smoke else 300
warmup_steps = 2 if lesson.smoke else 10  # steps left out of the timing: first calls load or compile kernels
batch_size = 100

# %% [markdown]
# ## Which backends run here: `tinynet info`
#
# `tinynet info` (the command line) prints the installed versions and, for each backend, whether it
# is usable here and, if not, why. Behind it is `tinynet.backend.status(name)`, which tries to load
# the backend: numba must be installed; cupy must be installed *and* find a CUDA driver and a GPU.

# %%
info()
usable = {}
for name in backend.MODULES:
    works, why = backend.status(name)
    usable[name] = works
    print(f"{name:6} {'usable' if works else 'skipped: ' + why}")

# %% [markdown]
# ## The kernel table, and what falls back
#
# `backend.load(name)` builds the table once: for each of the kernel names in `numpy_ref.KERNELS`,
# the backend module's own function if it defines one, else the reference's. `.overrides` lists
# the kernels a backend replaces, `.fallbacks` the ones it leaves to NumPy (that is the table
# `tinynet info` prints). Falling back is always correct, only maybe slower: the reference takes
# its array module from its inputs (`xp = array_module(x)`), so on cupy arrays the same NumPy-style
# code runs on the GPU through CuPy.
#
# A backend can also fall back *per call*: its kernel checks its inputs first and hands anything
# it was not written for (float16, mixed dtypes, empty arrays) to the reference. You will see that
# check in the first lines of the Numba softmax below.

# %%
print(f"kernels in the table: {len(numpy_ref.KERNELS)}")
for name in backend.MODULES:
    if usable[name] and name != "numpy":
        table = backend.load(name)
        print(f"{name}: overrides {len(table.overrides)}, falls back for {len(table.fallbacks)}: "
              f"{', '.join(table.fallbacks) or '(none)'}")  # fmt: skip

# %% [markdown]
# ## One network, every backend
#
# The network is `MNIST1DCNN` from `tinynet/models.py`: three strided 1-D convolutions (25
# channels) and a linear head, on MNIST-1D signals x: (N, 40). Every run starts from
# `tn.manual_seed(0)` (the same initial weights), takes the same batches of 100 in the same order,
# and makes `steps` Adam steps. Tensors made inside `with tn.use_backend(name):` live in that
# backend's arrays (NumPy arrays for numpy and numba, GPU arrays for cupy).
#
# Timing: each step is timed from `zero_grad()` to `loss.item()`. The `.item()` matters on a GPU:
# kernel launches return at once and the GPU works in the background, and copying the loss back
# to the host waits until it is done. The first steps are left out: they pay one-time costs
# (loading compiled kernels), which the JIT section below measures on its own. We report the
# **median** of the rest: on a shared machine a few steps get interrupted, and the median ignores them.
#
# Numba splits its parallel loops (`prange`) over threads. We run it twice: with all threads, and
# with `numba.set_num_threads(1)`. Waking a sleeping thread costs microseconds on an idle machine,
# but on a busy one it can wait for the scheduler, while the work of a small network's kernel is
# itself only microseconds.

# %%
x_train, y_train = tn.data.mnist1d()
x_test, y_test = tn.data.mnist1d("test")
x_train_np, y_train_np = x_train.numpy(), y_train.numpy()  # (4000, 40), (4000,)
rng = np.random.default_rng(0)
epochs = -(-steps * batch_size // len(x_train_np))
order = np.concatenate([rng.permutation(len(x_train_np)) for _ in range(epochs)])
batches = [order[i * batch_size : (i + 1) * batch_size] for i in range(steps)]  # the same batches for every run


# %%
def train_on(name: str, threads: int | None = None, dtype=tn.float32) -> dict:
    """Train MNIST1DCNN for `steps` steps on backend `name`; per-step losses and seconds, and test accuracy.

    threads: for numba, how many threads its parallel loops may use (None: all). dtype: of weights and data.
    """
    all_threads, default_dtype = numba.get_num_threads(), tn.get_default_dtype()
    numba.set_num_threads(threads or all_threads)
    tn.set_default_dtype(dtype)
    try:
        with tn.use_backend(name):
            tn.manual_seed(0)
            model = MNIST1DCNN()
            optimizer = optim.Adam(model.parameters(), lr=1e-2)
            losses, seconds = [], []
            description = name + (f", {threads} thread" if threads else "") + f", {np.dtype(dtype).name}"
            for batch in progress(batches, description):
                xb, yb = tn.tensor(x_train_np[batch]), tn.tensor(y_train_np[batch])  # (100, 40), (100,)
                start = time.perf_counter()
                optimizer.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())  # on a GPU this waits for the step to finish
                seconds.append(time.perf_counter() - start)
            with tn.no_grad():
                test_accuracy = accuracy(model(x_test.to(name).to(dtype)), y_test)
    finally:
        numba.set_num_threads(all_threads)
        tn.set_default_dtype(default_dtype)
    return {"losses": np.array(losses), "seconds": np.array(seconds), "test_accuracy": test_accuracy}


# %%
runs = {name: train_on(name) for name in backend.MODULES if usable[name]}
runs["numba, 1 thread"] = train_on("numba", threads=1)

ms_per_step = {label: 1000 * float(np.median(run["seconds"][warmup_steps:])) for label, run in runs.items()}
for label, run in runs.items():
    print(f"{label:16} {ms_per_step[label]:7.2f} ms per step (median of {steps - warmup_steps}), "
          f"first step {run['seconds'][0]:.3f} s, final loss {run['losses'][-1]:.4f}, "
          f"test accuracy {run['test_accuracy']:.3f}")  # fmt: skip

# %% [markdown]
# ## Do they compute the same thing?
#
# They should, up to rounding. float32 keeps about 7 significant digits, and each backend adds
# numbers in its own order: BLAS splits a matrix product into blocks, Numba's threads each sum
# their part of the rows, LLVM reorders a sum to use vector instructions, a GPU block adds its
# warps' partial sums. (a + b) + c and a + (b + c) differ in the last bit, so the losses
# differ by about 1e-7 relative at first. We compare every backend's loss with NumPy's at every
# step: |L - L_numpy| / |L_numpy|.
#
# Training feeds each step's weights into the next, and it can *amplify* a difference. Two ways
# it happens: a ReLU whose input is within rounding of 0 is on in one run and off in the other;
# and Adam divides each gradient by its own running size, so a weight whose gradient is almost
# zero (pure rounding noise) takes a full-size step in whichever direction the noise points. Once
# that happens, the runs drift apart like two slightly different starts of the same training.
# So a long float32 comparison cannot tell a rounding drift from a wrong kernel. The full run
# therefore also trains every backend in **float64**, where rounding is 1e-16 instead of 1e-7: a
# correct kernel then agrees to about 1e-15 for the whole run, and a wrong one would not.

# %%
early_steps = min(steps, 50)  # before training has had time to amplify rounding


def relative_gaps_to_numpy(runs_of_one_dtype: dict) -> dict:
    """|L - L_numpy| / |L_numpy| at every step, for every run but numpy's."""
    reference = runs_of_one_dtype["numpy"]["losses"]
    return {label: np.abs(r["losses"] - reference) / np.abs(reference) for label, r in runs_of_one_dtype.items()
            if label != "numpy"}  # fmt: skip


relative_gaps = relative_gaps_to_numpy(runs)
loss_max_relative_difference = max(float(gap.max()) for gap in relative_gaps.values())
early_loss_max_relative_difference = max(float(gap[:early_steps].max()) for gap in relative_gaps.values())
accuracy_spread = max(r["test_accuracy"] for r in runs.values()) - min(r["test_accuracy"] for r in runs.values())
print(f"float32, largest relative loss difference from numpy: first {early_steps} steps "
      f"{early_loss_max_relative_difference:.2e}, all {steps} steps {loss_max_relative_difference:.2e}")  # fmt: skip
print(f"test accuracy spread between backends: {accuracy_spread:.4f}")
assert early_loss_max_relative_difference < 1e-5, "every backend: the same early losses up to float32 rounding (~1e-7)"
assert accuracy_spread <= 0.01, f"backends should agree on test accuracy (full run 0.813 vs 0.812): {accuracy_spread}"
assert runs["numpy"]["losses"][-1] < runs["numpy"]["losses"][0], "the network should train: the loss goes down"
# float64 kernels may need compiling, minutes when Numba's cache is cold: a smoke run trains the reference alone.
float64_runs = {name: train_on(name, dtype=tn.float64) for name in backend.MODULES
                if usable[name] and (name == "numpy" or not lesson.smoke)}  # fmt: skip
float64_gaps = {f"{label}, float64": gap for label, gap in relative_gaps_to_numpy(float64_runs).items()}
if float64_gaps:
    float64_loss_max_relative_difference = max(float(gap.max()) for gap in float64_gaps.values())
    print(f"float64, largest relative loss difference from numpy over {steps} steps: "
          f"{float64_loss_max_relative_difference:.2e}")  # fmt: skip

# %%
fig, (ax_loss, ax_gap, ax_time) = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
for label, run in runs.items():
    ax_loss.plot(run["losses"], label=label, linestyle="-" if label == "numpy" else "--")
ax_loss.set(xlabel="step", ylabel="cross-entropy (batch)", title=f"MNIST1DCNN: the same {steps} steps on each backend")
ax_loss.legend(loc="upper right")
for marker, (label, gap) in zip("ox+.*", (relative_gaps | float64_gaps).items()):
    ax_gap.semilogy(np.where(gap > 0, gap, np.nan), marker, label=label)  # 0 (bit for bit the same): no point
for dtype in [np.float32] + ([np.float64] if float64_gaps else []):
    epsilon = np.finfo(dtype).eps
    ax_gap.axhline(epsilon, color="gray", linestyle=":", label=f"{np.dtype(dtype).name} epsilon ({epsilon:.1e})")
ax_gap.set(xlabel="step", ylabel="|L - L_numpy| / |L_numpy|", title="Loss difference (no point: identical)")
ax_gap.legend(loc="upper left", fontsize=8)
labels = list(ms_per_step)
bars = ax_time.bar(labels, [ms_per_step[label] for label in labels], color=[f"C{i}" for i in range(len(labels))])
ax_time.bar_label(bars, fmt="%.1f ms")
ax_time.set(ylabel="ms per training step (median)", title="Time per step (batch of 100)")
ax_time.tick_params(axis="x", labelrotation=15)
lesson.savefig(fig, "backends_losses_and_timings.png")

# %% [markdown]
# In a long float32 run you may see one backend's curve leave the others at some step, jump by
# orders of magnitude, and drift to differences of a few percent, while its test accuracy stays
# the same: that is rounding amplified by training. The float64 runs (full run only) show what the
# kernels themselves do: they stay near 1e-15 from the first step to the last.
#
# Read the timings with the workload in mind. Profiled with cProfile on a 2-core CPU, about three
# quarters of a NumPy step is spent inside kernels, most of it in the convolutions: im2col (copy
# every window of the input into the rows of a matrix) and then one matrix product through BLAS.
# The last quarter is Python: building the graph, checking shapes, calling kernels. No backend
# makes that part faster. Numba's convolution ends in the same BLAS product; it saves only the
# copying and the temporary arrays around it, so at this size it is faster by a modest factor, not
# by orders of magnitude. Compiled kernels gain more when each call has more work (bigger batches,
# more channels).
#
# If "numba" is much slower than "numba, 1 thread", the machine is busy. Each parallel loop
# finishes only when every thread has done its share, so it waits until the scheduler gives each of
# them a core; at a few microseconds of work per kernel, that waiting is all you measure. (Worse,
# an idle OpenMP thread spins for a while before it sleeps, so several such processes on a small
# machine take the cores from each other: we measured 96 ms per step on 2 threads against 3.3 ms
# on one, on a 2-core machine shared with other Numba processes, and 3.5 ms against 2.6 ms when
# it was quiet.) On an idle machine with more cores, the threads pay off once each kernel has
# enough work. A GPU needs much more work still: each kernel launch costs microseconds whatever its
# size, and a network this small leaves most of the GPU's thousands of threads idle. `tinynet bench`
# times the backends over a range of sizes.
#
# ## One kernel, three ways: softmax
#
# softmax(x)_j = exp(x_j - m) / sum_k exp(x_k - m), with m = max_k x_k, along each row of a
# (rows, cols) array. Subtracting m first keeps every exponent <= 0, so exp never overflows
# (lesson 03). The reference says it in three NumPy lines:

# %%
print(inspect.getsource(numpy_ref.softmax_forward))

# %% [markdown]
# Every line is a whole-array operation that runs as compiled C inside NumPy, on one thread:
# `x.max(...)` reads all of x, `x - max` writes a temporary, `exp` another, `.sum` reads it again,
# and the division writes the result. Five passes over memory and two temporary arrays: simple,
# correct, and for large arrays limited by memory traffic.
#
# **Numba** compiles Python *loops*. `@numba.njit` turns the function into machine code through
# LLVM the first time it is called with a new combination of argument types (just-in-time, JIT):
# loops that would crawl in Python run as fast as C. Each threaded kernel is written as a *range of
# work*: `_softmax_forward(start, stop, x, y)` does rows start..stop. `range_kernel`
# (`kernels/numba_cpu/ranges.py`) compiles it once, and one parallel function shared by every kernel
# hands each thread a contiguous share of the rows, so no two threads write the same place; small
# inputs run the same compiled code on the calling thread alone. (Numba's own `parallel=True` with a
# `numba.prange` loop splits the same way, but compiles the loop's body three or four times over,
# plus once more for a serial copy: twice the compile time for the whole engine.)
# Inside a row the passes are fused: one loop finds the max, one computes exp and the sum
# together, one divides; no temporary arrays. The rows are indexed as `x[i, j]`, not taken as views
# `row = x[i]`: in compiled code a view still counts a reference to its array, an atomic add that
# two threads working on one array take from each other (softmax over rows of 64 ran 7x slower so).
# The max compares the floats' bits as integers
# (`row_max` in `kernels/numba_cpu/common.py`): LLVM vectorizes an integer max but not a float one,
# and the float max was most of the time. `fastmath={"reassoc", "contract"}` lets LLVM reorder
# the sum to add several numbers per instruction (SIMD), which changes the rounding a little (the
# gaps above). `exp` (from `kernels/numba_cpu/common.py`) is replaced by a vectorizable polynomial
# when compiled. `cache=True` stores the machine code on disk, so the next process loads it instead
# of compiling again. These are in `kernels/numba_cpu/softmax.py`, with the Python wrapper around
# the kernel, which does the per-call fallback and moves `axis` last (`_along_rows`, shared with
# log-softmax):

# %%
for function in (numba_common._ordered_max, numba_softmax._softmax_rows):
    # .py_func: the Python function inside the compiled dispatcher (with NUMBA_DISABLE_JIT=1, the function itself)
    print(inspect.getsource(getattr(function, "py_func", function)))
print(inspect.getsource(numba_softmax._softmax_forward.body))  # a range kernel's body: rows start..stop
for function in (numba_softmax.softmax_forward, numba_softmax._along_rows):
    print(inspect.getsource(function))

# %% [markdown]
# **CUDA** turns the loops inside out. A GPU runs thousands of threads in groups of 32 (a
# **warp**) that execute the same instruction together; groups of warps form a **block**, whose
# threads can share fast memory and wait for each other. The kernel is written from the point of
# view of *one thread*:
#
# - one block per row (`blockIdx.x` is the row), and the block's threads split the row's columns
#   between them: thread t takes columns t, t + blockDim.x, t + 2 blockDim.x, ...;
# - each thread finds the max of its columns, then `block_max` combines the block's values;
# - the same for the sum of exps with `block_sum`, and every thread writes its own outputs.
#
# The threads per block come from the row length (`row_threads` in `kernels/cupy_gpu/common.py`): one
# warp per 32 columns, at most 256 threads. MNIST-1D's 10 classes get one warp with 22 lanes idle.

# %%
cuda_dir = Path(kernels.__file__).parent / "cuda"


def cuda_function(path: Path, name: str) -> str:
    """The source of the CUDA function `name` in `path`: from its first line to its closing brace."""
    text = path.read_text()
    start = text.rfind("\n", 0, text.index(f" {name}(")) + 1
    depth = 0
    for position in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0:
            return text[start : position + 1]
    raise ValueError(f"{path}: {name} has no closing brace")


print(cuda_function(cuda_dir / "softmax.cu", "softmax_forward"), end="\n\n")
for helper in ("warp_sum", "block_sum"):
    print(cuda_function(cuda_dir / "common.cuh", helper), end="\n\n")

# %% [markdown]
# The reductions are where a GPU differs most. `warp_sum` adds 32 values held by the 32 threads of
# a warp without touching memory: `__shfl_xor_sync(mask, value, offset)` hands each thread the
# value of the thread whose lane number differs by `offset` (16, 8, 4, 2, 1). After those five
# "butterfly" steps every thread holds the whole warp's sum. `block_sum` then has the first thread
# of each warp write its warp's sum into `__shared__` memory (visible to the whole block),
# `__syncthreads()` waits until all have written, and every thread adds the (at most 8) partial sums.
# The `.cu` files are compiled at run time by NVRTC, once per dtype: `scalar_t` is `float` for
# float32 and `double` for float64.

# %% [markdown]
# ## What JIT compilation costs, and what the cache saves
#
# A JIT compiler pays at the first call. We measure it on the body of one kernel, `_relu_forward`
# (y = max(x, 0) for elements start..stop), with fresh dispatchers around the same Python function,
# as a new process would make them:
#
# 1. `numba.njit(cache=True)(f)`, first call: nothing on disk yet for this dispatcher's name and
#    types (a lesson-only copy, `relu_body`), so it type-infers, optimises and compiles the loop
#    through LLVM, then writes the machine code to disk (beside `kernels/numba_cpu/activations.py`
#    in `__pycache__/`, or in `NUMBA_CACHE_DIR` if set);
# 2. a second fresh `numba.njit(cache=True)(f)`: its first call finds that file and only loads the
#    machine code;
# 3. any later call: the compiled code is already in memory.
#
# The cache is keyed by the function's source file, its modification time and size; the engine's
# kernels are also stamped with every file of `kernels/numba_cpu/`, so an edit to any of them
# compiles them again. Compiling all of tinynet's Numba kernels takes about a minute on 2 cores, so
# `tinynet warmup` (or `tinynet.warmup("numba")`) does it once, up front.

# %%
relu_input = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
relu_output = np.empty_like(relu_input)
# A copy of the body under a name of this lesson's, so that the engine's cache is left alone and its own file names
# this lesson's runs.
relu_body = types.FunctionType(numba_activations._relu_forward.body.__code__, vars(numba_activations), "relu_body")
relu_body.__qualname__ = "lesson_18_relu_body"


def first_and_later_call(dispatcher) -> tuple[float, float]:
    """Seconds of the dispatcher's first call, and the median of 20 later calls, on relu_input."""
    start = time.perf_counter()
    dispatcher(0, relu_input.size, relu_input, relu_output)
    first = time.perf_counter() - start
    later = []
    for _ in range(20):
        start = time.perf_counter()
        dispatcher(0, relu_input.size, relu_input, relu_output)
        later.append(time.perf_counter() - start)
    return first, float(np.median(later))


# %%
compiling = numba.njit(cache=True)(relu_body)
if not numba.config.DISABLE_JIT:
    compiling._cache.flush()  # forget a previous run's machine code: this first call compiles
numba_compile_s, numba_call_s = first_and_later_call(compiling)
from_cache = numba.njit(cache=True)(relu_body)
numba_cache_load_s, _ = first_and_later_call(from_cache)
jit_disabled = bool(numba.config.DISABLE_JIT)  # NUMBA_DISABLE_JIT=1: every "dispatcher" is the plain function
cache_hit = not jit_disabled and sum(from_cache.stats.cache_hits.values()) > 0
print(f"relu, 100,000 float32: compile {numba_compile_s:.3f} s, load from cache {numba_cache_load_s:.4f} s "
      f"(a cache hit: {cache_hit}), later calls {1e6 * numba_call_s:.0f} us")  # fmt: skip
if jit_disabled:
    print("NUMBA_DISABLE_JIT is set: nothing was compiled or loaded; those three times are plain Python's")
elif not cache_hit:
    print("no cache hit: the second dispatcher did not find the first one's file, so that call compiled too")

# %% [markdown]
# A real first training step needs about a dozen kernels (convolution forward and backward, relu,
# cross-entropy, matmul, Adam), each compiled for float32. The full run (not `--smoke`, whose time
# budget a cold compile would blow) measures that in two fresh Python processes sharing an empty
# temporary `NUMBA_CACHE_DIR`: the first compiles everything and fills the cache, the second only
# loads it. Each process prints the seconds of its first training step.

# %%
first_step_probe = """
import time
import numpy as np
import tinynet as tn
import tinynet.nn.functional as F
from tinynet import optim
from tinynet.models import MNIST1DCNN
tn.set_backend("numba")
rng = np.random.default_rng(0)
x, y = tn.tensor(rng.standard_normal((100, 40)).astype(np.float32)), tn.tensor(rng.integers(0, 10, 100))
model = MNIST1DCNN()
optimizer = optim.Adam(model.parameters())
start = time.perf_counter()
optimizer.zero_grad()
F.cross_entropy(model(x), y).backward()
optimizer.step()
print(time.perf_counter() - start)
"""
first_step_seconds = {}
if not lesson.smoke:
    with tempfile.TemporaryDirectory() as cache_dir:
        environment = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
        for label in ("empty cache: compile", "filled cache: load"):
            finished = subprocess.run([sys.executable, "-c", first_step_probe], env=environment, capture_output=True,
                                      text=True, check=True)  # fmt: skip
            first_step_seconds[label] = float(finished.stdout.split()[-1])
            print(f"first CNN step in a fresh process, {label}: {first_step_seconds[label]:.2f} s")

# %%
timings = {
    "relu: compile": numba_compile_s,
    "relu: load from cache": numba_cache_load_s,
    "relu: later call": numba_call_s,
} | {f"CNN step 1, {k}": v for k, v in first_step_seconds.items()}
fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
bars = ax.barh(list(timings), list(timings.values()), color=["C3", "C2", "C0", "C3", "C2"][: len(timings)])
ax.bar_label(bars, labels=[f"{v:.2g} s" for v in timings.values()], padding=3)
ax.set(xscale="log", xlim=(min(timings.values()) / 3, None), xlabel="seconds (log scale)",
       title="Numba: what the first call costs")  # fmt: skip
ax.invert_yaxis()  # in the order of the dictionary, top to bottom
lesson.savefig(fig, "numba_jit_costs.png")

figures = {f"{label.replace(', ', '_').replace(' ', '_')}_ms_per_step": ms for label, ms in ms_per_step.items()}
if float64_gaps:
    figures["float64_loss_max_relative_difference"] = float64_loss_max_relative_difference
if first_step_seconds:
    figures |= {"numba_first_step_cold_s": first_step_seconds["empty cache: compile"],
                "numba_first_step_cached_s": first_step_seconds["filled cache: load"]}  # fmt: skip

# %%
lesson.report(
    backends_run=", ".join(name for name in backend.MODULES if usable[name]),
    loss_max_relative_difference=loss_max_relative_difference,
    early_loss_max_relative_difference=early_loss_max_relative_difference,
    early_steps=early_steps,
    test_accuracy_spread=accuracy_spread,
    numpy_test_accuracy=runs["numpy"]["test_accuracy"],
    numpy_first_loss=float(runs["numpy"]["losses"][0]),
    numpy_final_loss=float(runs["numpy"]["losses"][-1]),
    **figures,
    speedup_numba=ms_per_step["numpy"] / ms_per_step["numba"],
    speedup_numba_1_thread=ms_per_step["numpy"] / ms_per_step["numba, 1 thread"],
    numba_first_step_s=float(runs["numba"]["seconds"][0]),
    numba_compile_s=numba_compile_s,
    numba_cache_load_s=numba_cache_load_s,
    numba_call_s=numba_call_s,
    numba_cache_hit=cache_hit,
    numba_jit_disabled=jit_disabled,
    steps=steps,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Run the lesson with NUMBA_NUM_THREADS=1 and 2 and explain the ms per step you see.",
    "Write softmax over columns as a Numba kernel and time it against the NumPy reference.",
    "Profile one CNN step (python -m cProfile) and list the three ops that take the most time.",
)
