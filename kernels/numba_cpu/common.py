"""What every family of numba kernels shares: numba itself, threads or not, warm-up, and scalar math.

- ``numba``, imported here once, so that a missing numba says how to fix it: family modules take it from here.
- ``range_kernel`` (ranges.py) compiles a kernel written as a range of work once, for threads and one thread alike;
  ``run_range`` runs it on the threads or on the caller, by the work.
- ``warms_up`` registers what ``warmup()`` runs to compile every kernel up front.
- ``same_floats``, ``contiguous``, ``flat``: which arguments the kernels compile for, and getting them there.
- ``exp``, ``expm1``, ``exp_sum`` (vectorizable), ``sigmoid``, ``tanh`` and ``erfc``: scalar math for loops inside
  kernels.
- ``limit_blas_threads``: for kernels that call BLAS from numba's threads.
- ``add_row_sums``: a bias's gradient summed in float64 vectors (conv.py's and winograd.py's kernels).
- Threaded kernels run through ``placement.run_threaded``: each worker on a core of its own.
- At import: numba's idle threads spin briefly, then sleep, freed memory is kept for the next arrays
  (``_keep_freed_memory``), and saves to numba's disk cache take a lock (``cache_lock``).

Numba's disk cache keys a kernel by its own file only; here every kernel's cache is also stamped with all
of this package's files (cache_lock.stamp_with_package_sources), so that the kernels that compile ``exp``,
``tanh`` or ``sigmoid`` in compile again when this file changes.
"""

import ctypes
import math
import os
import sys
from collections.abc import Callable

import numpy as np

# How long numba's OpenMP threads wait for the next parallel kernel before sleeping. Sleeping at once
# (OMP_WAIT_POLICY=PASSIVE) costs every threaded kernel of a step a wake-up: on a virtual machine a sleeping thread's
# core is handed back to the host, and waking it took up to 0.2 ms (the MNIST-1D CNN step was 1.6 ms on 2 threads,
# 1.0 on one). 20,000 spins (set while NumPy's BLAS threads still took the products and wanted the cores between
# kernels: a 40-100-100-10 MLP step took 9 ms against 0.8 ms sleeping at once) left the workers asleep between a
# language model's kernels on the Intel Xeon of 2026-12-06, where a spin takes longer. Hence GNU OpenMP's own
# default, 300,000. Against PyTorch in the bench (2 threads, two runs each), 20,000 then 300,000: the LSTM LM step
# 1.03 and 1.07, then 0.999 and 1.01; the transformer LM's 1.09 and 0.931, then 0.944 and 0.931; LeNet's 0.796 and
# 0.807, then 0.745 and 0.736; the small MLPs of benchmarks/model_steps.py level (1.14-1.51, then 0.94-1.40). Read
# when the threads start, at the first parallel kernel; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "300000")

try:
    import numba
except ImportError as missing:  # every kernel needs numba at import: say why, with the fix
    raise ImportError("numba is not installed; fix: pip install numba") from missing

from kernels.numba_cpu.cache_lock import lock_saves, stamp_with_package_sources
from kernels.numba_cpu.placement import run_threaded
from kernels.numba_cpu.ranges import range_kernel  # noqa: F401 (the families take it from here)

lock_saves()  # before any kernel compiles: several processes may save to one cache (see cache_lock)
stamp_with_package_sources()  # a kernel's cache is stale when any file of this package changed (see cache_lock)

# --- process settings the kernels' speed depends on, made once at import ---


# glibc's mallopt parameters, and the values set: arrays up to 32 MB come from the heap (glibc's own upper
# bound for its moving threshold), and up to 128 MB of free memory at the heap's top is kept.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_BELOW, _TRIM_ABOVE = 32 << 20, 128 << 20


def _keep_freed_memory() -> None:
    """Make glibc's malloc keep freed memory for the next arrays instead of returning it to the system.

    Why: memory returned to the system (a large array's own mapping unmapped at free, or the heap's top
    trimmed) comes back as fresh pages, and the first touch of each page is a page fault. glibc moves its
    thresholds with the sizes it sees freed, so a step's arrays could come back fresh on every call
    depending on what ran before: a layer-norm step of (8192, 256) float32 (0.6 ms alone on 2 threads) took
    3.1 ms with ~1,000 page faults per call after a conv2d step had run in the same process, and faults in
    parallel kernels queue on the process's memory lock, so the second thread gained little. Fixed thresholds
    made it 0 faults and 0.7 ms. Left alone where the user tuned malloc (MALLOC_*_ variables, GLIBC_TUNABLES)
    and where the C library is not glibc.
    """
    if not sys.platform.startswith("linux") or any(k.startswith(("MALLOC_", "GLIBC_TUNABLES")) for k in os.environ):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it: another libc's mallopt may mean otherwise)
    except (OSError, AttributeError):
        return
    libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_BELOW)
    libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_ABOVE)


_keep_freed_memory()


# --- warm-up ---

# Functions that call kernels on tiny inputs of a given dtype, so warmup() can compile them all.
WARMUPS: list[Callable[[np.dtype], None]] = []


def float32_and_float64_only(*kernels: Callable) -> None:
    """Numba compiles no float16: these kernels declare the floating dtypes they compute (``kernel.dtypes``), and
    the backend table (tinynet/backend.py) sends inputs of other floating dtypes to the reference, saying so."""
    for kernel in kernels:
        kernel.dtypes = ("float32", "float64")


def warms_up(function: Callable[[np.dtype], None]) -> Callable[[np.dtype], None]:
    """Register ``function(dtype)``, which calls some kernels on tiny inputs, with warmup(): a range kernel's one
    compiled version serves threads and one thread alike, so tiny inputs compile all of it."""
    WARMUPS.append(function)
    return function


# --- threads, or not ---

# Work is counted in units of about a nanosecond on one thread (a multiply-add, an element of a simple
# elementwise pass). Below about SPLIT_WORK, waking the other threads costs more than they save: a launch
# costs ~10 us on an idle machine, and on a busy one it can wait for a scheduler tick (measured 16 ms against
# 7 us on one thread for a (3, 2, 6) GRU; a 40-100-100-10 MLP training step took 18 ms on two threads,
# 1.5 ms on NumPy, before its small kernels ran on one).
SPLIT_WORK = 50_000
# From about a millisecond of work, pinning the caller for the call (5 us, see placement.py) pays for itself.
LONG_WORK = 1_000_000
# Units of work per element of the elementwise and row kernels: a compare or a multiply-add; an exp or a
# division (sigmoid, tanh, gelu, softmax); the Adam step (a square root, a division, four arrays).
CHEAP, EXP, ADAM = 1, 4, 6


def run_range(kernel, work: int, count: int, *args) -> None:
    """A range_kernel's items 0..count of ``args``: on Numba's threads, or below SPLIT_WORK on the caller alone
    (running the threaded code on one thread still pays its launch: 4 us against 1.3 us for a relu of 10,000
    values, and switching numba's thread count costs 3 us each way)."""
    if work >= SPLIT_WORK:
        run_threaded(kernel, (True, 0, count, *args), long=work >= LONG_WORK)
    else:
        kernel(False, 0, count, *args)


# --- BLAS inside parallel kernels ---

_numba_blas_limited = False


def limit_blas_threads() -> None:
    """Limit the BLAS that numba's np.dot calls (SciPy's copy) to one thread, for kernels that call it.

    Parallel kernels call np.dot from each of numba's threads; a BLAS that also splits every product over
    threads of its own fights them for the cores (measured: 2x slower). The limit is set on first use and
    left there: restoring it after every kernel made BLAS restart its threads, which cost up to 16 ms per call
    when the cores were busy. NumPy's BLAS (a separate library in pip installs) keeps its threads. Without
    threadpoolctl (a dependency of scikit-learn), or when SciPy shares NumPy's BLAS, nothing is limited:
    slower, same results.
    """
    global _numba_blas_limited
    if not _numba_blas_limited:
        _limit_scipy_blas()
        _numba_blas_limited = True


def _limit_scipy_blas() -> None:
    """Set the BLAS libraries that SciPy bundles (in scipy/ or scipy.libs/) to one thread."""
    for lib in scipy_blas():
        lib.set_num_threads(1)


def scipy_blas() -> list:
    """threadpoolctl's controllers of the BLAS libraries that SciPy bundles (in scipy/ or scipy.libs/), whose
    functions numba's np.dot calls; [] without SciPy or threadpoolctl."""
    try:
        import scipy
        import scipy.linalg.cython_blas  # numba's np.dot calls this module's BLAS: load it before listing
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return []
    scipy_dir = os.path.dirname(os.path.realpath(scipy.__file__))
    inside = (scipy_dir + os.sep, scipy_dir + ".libs" + os.sep)
    controllers = ThreadpoolController().lib_controllers
    return [lib for lib in controllers if lib.user_api == "blas" and os.path.realpath(lib.filepath).startswith(inside)]


# --- arguments: what the kernels compile for ---

# Sums may be reordered (so that LLVM vectorizes them) and a * b + c fused: only the rounding changes,
# never how inf and NaN propagate (so no "nnan"/"ninf", which fastmath=True would add).
REORDER_SUMS = {"reassoc", "contract"}
# a * b + c fused, one rounding: for the kernels that evaluate the polynomial exp (and sigmoid, tanh, erfc made of it),
# whose Horner steps were each a multiply and an add without it. exp over 1M float32 values, one thread of the
# Intel Xeon: 463 us against 720 (NumPy's np.exp: 527); at most 1.15 ulp off, as before.
FUSED = {"contract"}


# The dtypes the kernels compile for, as dtype objects: `in` finds them by identity (comparing a dtype with
# np.float32, a type, converts it first: 0.15 us).
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def same_floats(*arrays) -> bool:
    """Whether every argument is a NumPy array of one dtype, float32 or float64: what these kernels compile for.

    Anything else (float16, integers, mixed dtypes) goes to the reference kernel, which handles every case.
    """
    dtype = arrays[0].dtype if isinstance(arrays[0], np.ndarray) else None
    if dtype not in FLOATS:
        return False
    for a in arrays:  # a plain loop: every kernel call asks, and all() over a generator took twice as long
        if not isinstance(a, np.ndarray) or a.dtype != dtype:
            return False
    return True


def contiguous(a, dtype=None):
    """``a`` as a writable C-contiguous array (of ``dtype``): ``a`` itself when it is one, else a copy.

    Numba compiles a kernel anew for every array layout and for read-only arrays (such as np.broadcast_to's
    views): copying the odd input is cheaper than compiling for it, so every kernel gets this one type.
    """
    dtype = a.dtype if dtype is None else np.dtype(dtype)
    usable = a.flags.c_contiguous and a.flags.writeable and a.dtype == dtype
    return a if usable else np.array(a, dtype=dtype, order="C")


def flat(a, dtype=None):
    """``a`` as a writable C-contiguous 1-D array: a view when `contiguous` need not copy."""
    return contiguous(a, dtype).reshape(-1)


# --- a vectorizable exp ---


def exp(x):
    """exp(x) of a float32 or float64 scalar.

    Run as Python (NUMBA_DISABLE_JIT=1) this is NumPy's exp; compiled, it is `_exp_polynomial` below.
    """
    return np.exp(x)


def expm1(x):
    """exp(x) - 1, accurate also for tiny |x| (tanh needs that); NumPy's expm1 when run as Python."""
    return np.expm1(x)


def _exp_polynomial(float_type, minus_one: bool):
    """The compiled exp (or expm1, when ``minus_one``) for ``float_type``: float32 or float64.

    Why: without Intel's SVML, Numba calls libm's scalar exp, which does not vectorize; on the (2048, 1000)
    logits of a softmax it was 3-6x slower than NumPy's SIMD exp. This one vectorizes (AVX-512 here) and
    measured 2x faster than NumPy's in float32, on par in float64. How: write x = n ln2 + r with
    |r| <= ln2 / 2 (ln2 split in a high and a low part, so that n ln2 is exact: Cody and Waite),
    expm1(r) = r + r^2/2! + ... to degree 7 (float32) or 13 (float64), which leaves an error under half an
    ulp, then exp(x) = 2^n (1 + expm1(r)), with 2^n assembled from its exponent bits. Measured against
    the exact values on 2M points: at most 1 ulp (exp) and 1.3 ulp (expm1) off. Below about -87.3 (float32;
    -708.4 in float64) it returns 0 (-1 for expm1) where the true value is subnormal; above 88 (709) inf,
    a little before the true overflow: softmax and friends only ever call it on x <= 0.
    """
    single = float_type == numba.float32
    if not single and float_type != numba.float64:
        return None
    low, high, ln2_high, ln2_low, log2_e, real = _exp_range(single)
    scaled = _scaled_polynomial(single, minus_one)
    underflow, half, inf = real(-1 if minus_one else 0), real(0.5), real(np.inf)

    def exp_or_expm1(x):
        clamped = min(max(x, low), high)
        n = np.floor(clamped * log2_e + half)
        y = scaled(n, (clamped - n * ln2_high) - n * ln2_low)
        # Out of range: 0 (or -1) below, inf above, and NaN stays NaN (NaN + inf).
        return y if low <= x <= high else (underflow if x < low else x + inf)

    return exp_or_expm1


def _exp_range(single: bool):
    """(low, high, ln2_high, ln2_low, log2_e, the float type): where exp's result leaves the normal range, and
    ln 2 = ln2_high + ln2_low, ln2_high with few enough bits that n * ln2_high is exact."""
    if single:
        real, low, high, ln2_high, ln2_low = np.float32, -87.33, 88.0, 0.693359375, -2.12194440e-4
    else:
        real, low, high, ln2_high, ln2_low = np.float64, -708.39, 709.0, 0.6931471803691238, 1.9082149292705877e-10
    return real(low), real(high), real(ln2_high), real(ln2_low), real(1 / math.log(2)), real


def _scaled_polynomial(single: bool, minus_one: bool):
    """scaled(n, r) = 2^n exp(r), or 2^n exp(r) - 1 when ``minus_one``, for |r| <= ln2 / 2: expm1(r) by its
    series to degree 7 (float32) or 13 (float64), 2^n assembled from its exponent bits."""
    real, bits, degree, bias, mantissa = (
        (np.float32, np.int32, 7, 127, 23) if single else (np.float64, np.int64, 13, 1023, 52)
    )
    top = real(1 / math.factorial(degree))
    coefficients = tuple(real(1 / math.factorial(k)) for k in range(degree - 1, 0, -1))
    one = real(1)

    def scaled(n, r):
        q = top
        for c in coefficients:  # Horner's rule: q = expm1(r) / r, then expm1(r)
            q = q * r + c
        q = q * r
        two_to_n = bits((bits(n) + bits(bias)) << bits(mantissa)).view(real)
        return (two_to_n - one) + two_to_n * q if minus_one else two_to_n + two_to_n * q

    return numba.njit(inline="always")(scaled)


def exp_sum(a, b):
    """exp(a + b) of float32 or float64 scalars, for an exact a (-z^2 split so that it is) and a small b: the
    reduction takes a and b apart, so the rounding of a + b (up to half an ulp of a, 64 float32 ulp of the
    result where a is -85) is not in the result. NumPy's exp(a + b) when run as Python."""
    return np.exp(a + b)


@numba.extending.overload(exp_sum)
def _exp_sum_compiled(a, b):
    single = a == numba.float32
    if not single and a != numba.float64:
        return None
    low, high, ln2_high, ln2_low, log2_e, real = _exp_range(single)
    scaled = _scaled_polynomial(single, minus_one=False)
    half, zero, inf = real(0.5), real(0), real(np.inf)

    def exp_of_sum(a, b):
        s = a + b
        n = np.floor(min(max(s, low), high) * log2_e + half)
        y = scaled(n, ((a - n * ln2_high) - n * ln2_low) + b)  # a - n * ln2_high: exact (Cody and Waite)
        return y if low <= s <= high else (zero if s < low else s + inf)

    return exp_of_sum


@numba.extending.overload(exp)
def _exp_compiled(x):
    return _exp_polynomial(x, minus_one=False)


@numba.extending.overload(expm1)
def _expm1_compiled(x):
    return _exp_polynomial(x, minus_one=True)


def row_max(row):
    """The largest value of a non-empty 1-D float32 or float64 array, for shifting a softmax's exponents.

    Compiled, it compares the values' bits as integers (`_ordered_max`); run as Python, NumPy's max.
    """
    return row.max()


# Rows shorter than this take their max as floats: the integer max's vector loop runs 64 values a step, so shorter
# rows ran its scalar remainder, bit flips and all, 2-8x as slow as a float compare (0.50 against 0.18 ns a value at
# 50 values, 1.45 against 0.17 at 16; 0.38 against 0.20 at 64). Attention over 50 keys spent 0.34 of its step's
# 2.4 ms in the weights' softmax.
VECTOR_MAX_FROM = 64


@numba.extending.intrinsic
def _bits(typingctx, value):
    """A float32 or float64 value's bits, as an int32 or int64 (or back: an integer's bits as the float of its width),
    one value at a time: ``row.view(bits)`` made an array per row, and each one counted a reference to the row's
    memory, an atomic add that threads took from each other (log-softmax of (32768, 16) float32 on 2 threads: 8.4 ms,
    1.7 on one)."""
    width = value.bitwidth
    if isinstance(value, numba.types.Float):
        result = numba.types.int32 if width == 32 else numba.types.int64
    elif isinstance(value, numba.types.Integer) and width in (32, 64):
        result = numba.types.float32 if width == 32 else numba.types.float64
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(value), codegen


def _ordered_max(float_type):
    """The compiled row_max for ``float_type``: float32 or float64.

    Why: LLVM does not vectorize a float max over a loop (a NaN makes its order matter), and the max was most of a
    softmax's time: 330 us of 490 on (700, 1000) logits. An integer max it vectorizes (40 us there). How: IEEE
    floats of one sign are ordered as their bits, read as integers; flipping all but the sign bit of the negative
    ones orders those too, and back again after the max. A NaN comes out as the max when its sign bit is clear,
    and below -inf when it is set: either way it still makes the softmax's sum, so every output, NaN. Rows shorter
    than VECTOR_MAX_FROM compare as floats.
    """
    if float_type not in (numba.float32, numba.float64):
        return None
    bits = np.int32 if float_type == numba.float32 else np.int64
    shift, rest, lowest = bits(np.iinfo(bits).bits - 1), bits(np.iinfo(bits).max), bits(np.iinfo(bits).min)

    def ordered_max(row):
        if row.size < VECTOR_MAX_FROM:  # compared as floats, one at a time (a NaN is passed over: the sum catches it)
            top = row[0]
            for j in range(1, row.size):
                top = max(top, row[j])
            return top
        top = lowest
        for j in range(row.size):
            b = _bits(row[j])
            top = max(top, b ^ ((b >> shift) & rest))
        return _bits(bits(top ^ ((top >> shift) & rest)))

    return ordered_max


@numba.extending.overload(row_max, inline="always")
def _row_max_compiled(row):
    return _ordered_max(row.dtype)


# --- sigmoid and tanh of one value, for kernels that compute them inside their own loops ---
# Both stay in x's float type: ``one`` and ``two`` are of that type (a bare 1 would promote float32 to float64).


@numba.njit(cache=True, inline="always")  # a call per value would stop the loops around it vectorizing
def sigmoid(x):
    """1 / (1 + exp(-x)) of a float32 or float64 scalar on the polynomial ``exp``, which vectorizes: 0 (not NaN)
    where exp(-x) overflows to inf."""
    one = type(x)(1)
    return one / (one + exp(-x))


@numba.njit(cache=True, inline="always")  # a call per value would stop the loops around it vectorizing
def tanh(x):
    """tanh of a float32 or float64 scalar, from expm1: tanh|x| = -m / (2 + m) with m = expm1(-2|x|) in
    (-1, 0], the sign put back.

    Why not np.tanh: it compiles to a libm call that costs ~5x an exp (measured: 16 ns against 3 ns a value)
    and does not vectorize, and tanh is a third of the GRU's and half the LSTM's gate math. Why expm1 and
    not (1 - e) / (1 + e) with e = exp(-2|x|): that cancels as |x| -> 0, where tanh(x) ~ x is tiny and e
    rounds towards 1. Measured against tanh in 80-bit long double, on 200k points per range of |x|, in
    float32 and float64 alike: (1 - e) / (1 + e) is off by up to 17 ulp for |x| in [0.01, 0.5], 2,000 ulp in
    [1e-4, 0.01] and 1.7e7 in [1e-8, 1e-4] (float32: 0 once e rounds to 1); this one by at most 2.8 ulp
    anywhere (np.tanh: 1.4).
    """
    two = type(x)(2)
    m = expm1(-two * abs(x))  # no cancellation near 0, unlike 1 - exp(-2|x|)
    t = -m / (two + m)
    return -t if x < 0 else t


def erfc(x):
    """erfc(x) = 1 - erf(x) of a float32 or float64 scalar; math.erfc when run as Python.

    Compiled for float32 it is `_erfc_chebyshev` below; for float64, libm's erfc (float64 keeps its digits).
    """
    return math.erfc(x)


# erfc(z) ~ t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), z >= 0: the Chebyshev fit of Press et al., Numerical Recipes
# (2nd ed., 6.2), relative error below 1.2e-7 for every z >= 0. P's coefficients, t^0 first.
_ERFC_FIT = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def _erfc_chebyshev(float_type):
    """The compiled erfc for float32: the fit above, in float32, with -z^2 taken apart for the exponent.

    Why: libm's erfcf is a scalar call that does not vectorize: GELU on (256, 512) float32 took 0.6 ms forward
    and 0.85 ms backward on 2 threads, 1.8x PyTorch's whole MLP step around it. The fit vectorizes (one
    division, the polynomial exp, ten multiply-adds); in float64 it took 2.6 ns a value (one thread of the Intel
    Xeon, GELU forward), in float32, 8 numbers a vector rather than 4, 1.7. Rounding -z^2 + P(t) to float32
    would cost up to half an ulp of 85 in the exponent (64 ulp of the result): z = zh + (z - zh) with zh's
    low 12 bits cleared makes zh^2 exact, the rest, (z - zh)(z + zh), joins P(t), and exp_sum reduces the two
    apart. P(t) by Estrin's scheme (its pairs of terms at once), not Horner's rule, whose nine multiply-adds
    in a row made the erfc wait on latency: 2.6 -> 2.0 ns a value on one thread of the AMD EPYC. Relative error
    at most 4.2e-7 over [-10, 9.1] (7.0 * 2^-24, on 220,000 points; evaluated in float64, 1.6e-7; libm's erfcf,
    1.9e-7; PyTorch's float32 GELU computes 1 + erf, which cancels for x << 0). A float32 result below the
    normal range (z > 9.2) comes out 0 where erfcf's is subnormal.
    """
    if float_type == numba.float64:
        return lambda x: math.erfc(x)
    if float_type != numba.float32:
        return None
    real = np.float32
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 = (real(c) for c in _ERFC_FIT)
    zero, half, one, two, inf = real(0), real(0.5), real(1), real(2), real(np.inf)
    high_bits = np.int32(-4096)  # all but the low 12 bits

    def erfc_float32(x):
        z = abs(x)
        t = one / (one + half * z)
        t2 = t * t
        t4 = t2 * t2
        # Estrin's scheme: P(t) in pairs, then pairs of pairs, four multiply-adds deep where Horner's rule is nine
        low = (c0 + c1 * t) + (c2 + c3 * t) * t2
        high = (c4 + c5 * t) + (c6 + c7 * t) * t2
        p = low + (high + (c8 + c9 * t) * t4) * t4
        zh = _bits(np.int32(_bits(z) & high_bits))  # (numba widens int32 & int32 to int64)
        e = t * exp_sum(-zh * zh, p - (z - zh) * (z + zh))  # (NaN at z = inf: inf - inf)
        e = zero if z == inf else e
        return e if x >= 0 else two - e

    return erfc_float32


@numba.extending.overload(erfc)
def _erfc_compiled(x):
    return _erfc_chebyshev(x)


def log1p_unit(e):
    """log(1 + e) of a float32 or float64 scalar e in [0, 1] (a softplus's log(1 + e^-|x|)); math.log1p when run as
    Python. Compiled, `_log1p_series` below."""
    return math.log1p(e)


def _log1p_series(float_type):
    """The compiled log1p_unit: log(1 + e) = 2 atanh(s) with s = e / (2 + e) in [0, 1/3], by atanh's series
    2 s (1 + s^2/3 + s^4/5 + ...), cut where the next term, below (1/9)^k / (2k + 1) of the first, drops under the
    type's rounding: 8 terms in float32, 17 in float64. No cancellation anywhere, so tiny e keep their digits.
    The polynomial in s^2 is taken as its even and odd halves in s^4, each by Horner's rule: two short loops
    that LLVM unrolls (one loop of 16 it kept, and then the loop around it did not vectorize), and two chains
    of multiply-adds at once rather than one.

    Why: libm's log1pf is a scalar call that does not vectorize (NumPy's log1p, the reference's, took 11 ns a
    value); the series does: 0.38 ns a value in float32, 1.6 in float64 (one thread of the AMD EPYC, Zen 2). At
    most 2.1 ulp off over [1e-37, 1] in float32 and 2.7 ulp in float64 (against libm's log1p in float64).
    """
    if float_type not in (numba.float32, numba.float64):
        return None
    real = np.float32 if float_type == numba.float32 else np.float64
    series = [real(1 / (2 * k + 1)) for k in range(8 if real is np.float32 else 17)]
    even, odd = series[0::2][::-1], series[1::2][::-1]  # highest first, for Horner's rule
    even_top, even_rest, odd_top, odd_rest = even[0], tuple(even[1:]), odd[0], tuple(odd[1:])
    two = real(2)

    def log1p_series(e):
        s = e / (two + e)
        s2 = s * s
        s4 = s2 * s2
        p, q = even_top, odd_top
        for c in even_rest:
            p = p * s4 + c
        for c in odd_rest:
            q = q * s4 + c
        return two * s * (p + s2 * q)

    return log1p_series


@numba.extending.overload(log1p_unit)
def _log1p_unit_compiled(e):
    return _log1p_series(e)


@numba.njit(cache=True, fastmath={"reassoc"})
def add_row_sums(rows, sums):
    """sums[r] += rows[r].sum() for each row, where sums is not empty (a bias's gradient). Summed in float64: a
    float32 sum of 1,900 terms in a row drifts ~1e-6 from NumPy's pairwise one, and training amplified that
    (lesson 18's 2-thread MNIST-1D run was 1e-3 away from NumPy's after 50 steps); rounded once, it is within an ulp.
    Added in any order ("reassoc": LLVM keeps a vector of running sums), which in float64 rounds to the same float32:
    one running sum waited for each add to finish (the MNIST-1D CNN's first layer took 22 us for its bias gradient,
    as long as for its weight's; 6x faster in vectors)."""
    for r in range(rows.shape[0] if sums.size else 0):
        total = 0.0
        for j in range(rows.shape[1]):
            total += rows[r, j]
        sums[r] += total
