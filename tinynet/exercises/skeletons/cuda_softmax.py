"""Exercise `cuda_softmax` (lesson 18_backends): a CUDA kernel, softmax over the rows of a matrix, one block per row.

softmax_rows(x, y, rows, cols): x and y are float32 (rows, cols) matrices, stored row after row (row r starts at
x + r * cols). It is launched with grid = (rows,) and block = (THREADS,): block blockIdx.x computes that row,
y[j] = exp(x[j] - max) / sum_k exp(x[k] - max), its THREADS threads sharing the work:

 1. thread t looks at x[t], x[t + THREADS], x[t + 2 * THREADS], ... (j < cols) and keeps their max;
 2. the block's max, by a tree reduction in shared memory: each thread writes its max to buf[t], then for
    s = THREADS / 2, THREADS / 4, ..., 1: threads t < s set buf[t] = max(buf[t], buf[t + s]). Between a write and
    the reads of it by other threads, __syncthreads() (every thread of the block waits there until all arrive):
    after the first writes, and after every step. Then buf[0] is the row's max: everyone reads it, and waits
    (__syncthreads()) before buf is used again;
 3. the same for the sum of exp(x[j] - max);
 4. every thread writes its y[j] = exp(x[j] - max) / sum.
Subtracting the max keeps exp from overflowing (exp(89) is already inf in float32): rows of values near 1000 must
work. Write the TODOs in SOURCE (CUDA C++: expf, fmaxf; no #include needed). THREADS (a power of two) reaches the
kernel as a macro. On a GPU the checks compile SOURCE with CuPy (cupy.RawKernel); without one, with g++ against a
CPU stand-in for CUDA (kernels/cuda_emulator.py: threads and barriers as on a GPU, so a missing __syncthreads shows).
Try it yourself: kernels.cuda_emulator.RawKernel(SOURCE, "softmax_rows", ("-DTHREADS=128",)) is called as
kernel((rows,), (THREADS,), (x, y, np.int32(rows), np.int32(cols))) with float32 NumPy arrays x and y.
Then: tinynet exercises check cuda_softmax
"""

THREADS = 128  # the block size

SOURCE = r"""
extern "C" __global__ void softmax_rows(const float* x, float* y, int rows, int cols) {
    __shared__ float buf[THREADS];  // one value per thread, shared by the block
    const int t = threadIdx.x;
    if (blockIdx.x >= rows) return;
    // TODO: in and out, pointers to the start of this block's row of x and of y.
    // TODO: the row's max: each thread's over its elements, then the reduction in buf (with its __syncthreads).
    // TODO: the row's sum of expf(in[j] - max), the same way.
    // TODO: out[j] = expf(in[j] - max) / sum for this thread's j.
}
"""
