"""Exercise `numba_softmax` (lesson 18_backends): a Numba kernel, softmax over the rows of a matrix, rows in parallel.

softmax_rows(x): x is a 2-D float32 or float64 NumPy array (rows, cols); it returns y of the same shape and dtype
with, for each row i,

    y[i, j] = exp(x[i, j] - m_i) / sum_k exp(x[i, k] - m_i),     m_i = max_k x[i, k] (the row's own max)

Subtracting the row's max changes nothing mathematically (it cancels) but keeps exp from overflowing: exp(1000) is
inf, and a row of values near 1000 (or near -1000) must still give numbers that sum to 1.
@numba.njit(parallel=True) compiles it to machine code on the first call (for each dtype); `for i in prange(n)`
splits the rows among the CPU's threads (each row is independent: no row reads another row's results). Inside a
row, plain loops (`for j in range(cols)`) are fast in Numba; so are NumPy calls on the row.
kernels/numba_cpu/softmax.py is tinynet's own version (read it after you are done).
Then: tinynet exercises check numba_softmax
"""

import numba
import numpy as np
from numba import prange


@numba.njit(parallel=True)
def softmax_rows(x: np.ndarray) -> np.ndarray:
    """x (rows, cols) float32/float64 -> y (rows, cols), same dtype: the stable softmax of each row."""
    # TODO: y = np.empty_like(x); for each row in prange: its max, the sum of exp(x - max), then y = exp(x - max)
    # divided by the sum.
    raise NotImplementedError("softmax_rows: the rows in prange, each row's max, exp, sum, divide")
