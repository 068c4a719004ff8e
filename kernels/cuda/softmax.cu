// Softmax, log-softmax and cross-entropy over the rows of a (rows, cols) matrix.
//
// One block per row (blockIdx.x = row): the block's threads stride over the row's columns, and the
// row's max and sums are block reductions (warp shuffles, then shared memory across warps). Every
// exponent is taken of x - max(row), which is <= 0, so exp never overflows.
#include "common.cuh"

extern "C" __global__ void softmax_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, index_t cols) {
    const scalar_t* row = x + blockIdx.x * cols;
    scalar_t* out = y + blockIdx.x * cols;
    scalar_t row_max = negative_infinity();
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) row_max = row[j] > row_max ? row[j] : row_max;
    row_max = block_max(row_max);
    scalar_t total = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) total += math_exp(row[j] - row_max);
    total = block_sum(total);
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) out[j] = math_exp(row[j] - row_max) / total;
}

// y = (x - max) - log(sum(exp(x - max))).
extern "C" __global__ void log_softmax_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y,
                                               index_t cols) {
    const scalar_t* row = x + blockIdx.x * cols;
    scalar_t* out = y + blockIdx.x * cols;
    scalar_t row_max = negative_infinity();
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) row_max = row[j] > row_max ? row[j] : row_max;
    row_max = block_max(row_max);
    scalar_t total = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) total += math_exp(row[j] - row_max);
    scalar_t log_total = math_log(block_sum(total));
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) out[j] = (row[j] - row_max) - log_total;
}

// dL/dx = y * (dL/dy - sum(dL/dy * y)), from the forward's output y.
extern "C" __global__ void softmax_backward(const scalar_t* __restrict__ grad_y, const scalar_t* __restrict__ y,
                                            scalar_t* __restrict__ grad_x, index_t cols) {
    index_t start = blockIdx.x * cols;
    scalar_t dot = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) dot += grad_y[start + j] * y[start + j];
    dot = block_sum(dot);
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) grad_x[start + j] = y[start + j] * (grad_y[start + j] - dot);
}

// dL/dx = dL/dy - exp(y) * sum(dL/dy), from the forward's output y (exp(y) is the softmax).
extern "C" __global__ void log_softmax_backward(const scalar_t* __restrict__ grad_y, const scalar_t* __restrict__ y,
                                                scalar_t* __restrict__ grad_x, index_t cols) {
    index_t start = blockIdx.x * cols;
    scalar_t total = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) total += grad_y[start + j];
    total = block_sum(total);
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x)
        grad_x[start + j] = grad_y[start + j] - math_exp(y[start + j]) * total;
}

// Per row i: loss[i] = -log softmax(logits[i])[labels[i]], and the probabilities softmax(logits[i]),
// both from one pass of statistics: log_softmax = (x - max) - log(sum(exp(x - max))).
extern "C" __global__ void cross_entropy_forward(const scalar_t* __restrict__ logits, const index_t* __restrict__ labels,
                                                 scalar_t* __restrict__ loss, scalar_t* __restrict__ probs, index_t cols) {
    const scalar_t* row = logits + blockIdx.x * cols;
    scalar_t* p = probs + blockIdx.x * cols;
    scalar_t row_max = negative_infinity();
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) row_max = row[j] > row_max ? row[j] : row_max;
    row_max = block_max(row_max);
    scalar_t total = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) total += math_exp(row[j] - row_max);
    scalar_t log_total = math_log(block_sum(total));
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) p[j] = math_exp((row[j] - row_max) - log_total);
    if (threadIdx.x == 0) loss[blockIdx.x] = -((row[labels[blockIdx.x]] - row_max) - log_total);
}

// dL/dlogits[i] = (probs[i] - onehot(labels[i])) * dL/dloss[i].
extern "C" __global__ void cross_entropy_backward(const scalar_t* __restrict__ grad_loss, const scalar_t* __restrict__ probs,
                                                  const index_t* __restrict__ labels, scalar_t* __restrict__ grad_logits,
                                                  index_t cols) {
    index_t start = blockIdx.x * cols;
    index_t label = labels[blockIdx.x];
    scalar_t g = grad_loss[blockIdx.x];
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x)
        grad_logits[start + j] = (probs[start + j] - (scalar_t)(j == label)) * g;
}

// Softmax over the entries allow[] permits (allow null: all of them; an x of -inf counts as masked too).
// A row with no entry left gives zeros, not NaN: its max is -inf, so nothing is exponentiated.
extern "C" __global__ void masked_softmax_forward(const scalar_t* __restrict__ x, const bool* __restrict__ allow,
                                                  scalar_t* __restrict__ y, index_t cols) {
    index_t start = blockIdx.x * cols;
    scalar_t row_max = negative_infinity();
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x)
        if (!allow || allow[start + j]) row_max = x[start + j] > row_max ? x[start + j] : row_max;
    row_max = block_max(row_max);
    scalar_t total = 0;
    if (row_max != negative_infinity())
        for (index_t j = threadIdx.x; j < cols; j += blockDim.x)
            if (!allow || allow[start + j]) total += math_exp(x[start + j] - row_max);
    total = block_sum(total);
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {
        bool taken = (!allow || allow[start + j]) && total > 0;
        y[start + j] = taken ? math_exp(x[start + j] - row_max) / total : (scalar_t)0;
    }
}
