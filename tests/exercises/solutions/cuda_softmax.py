"""Reference solution of exercise `cuda_softmax` (must pass every part)."""

THREADS = 128

SOURCE = r"""
extern "C" __global__ void softmax_rows(const float* x, float* y, int rows, int cols) {
    __shared__ float buf[THREADS];
    const int t = threadIdx.x;
    if (blockIdx.x >= rows) return;
    const float* in = x + (long long)blockIdx.x * cols;
    float* out = y + (long long)blockIdx.x * cols;

    float m = -3.402823466e38f;
    for (int j = t; j < cols; j += THREADS) m = fmaxf(m, in[j]);
    buf[t] = m;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (t < s) buf[t] = fmaxf(buf[t], buf[t + s]);
        __syncthreads();
    }
    m = buf[0];
    __syncthreads();  // everyone has read the max before buf is used again

    float sum = 0.0f;
    for (int j = t; j < cols; j += THREADS) sum += expf(in[j] - m);
    buf[t] = sum;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (t < s) buf[t] += buf[t + s];
        __syncthreads();
    }
    sum = buf[0];

    for (int j = t; j < cols; j += THREADS) out[j] = expf(in[j] - m) / sum;
}
"""
