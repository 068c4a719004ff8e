// Layer normalization over the last axis of a (rows, cols) matrix, forward and backward.
#include "common.cuh"

// One block per row: mean, then the variance of the centered row (two passes over the row: more
// accurate than E[x^2] - E[x]^2), then y = (x - mean) * rstd * weight + bias.
// weight and bias may be null (no affine part).
extern "C" __global__ void layer_norm_forward(const scalar_t* __restrict__ x, const scalar_t* __restrict__ weight,
                                              const scalar_t* __restrict__ bias, scalar_t* __restrict__ y,
                                              scalar_t* __restrict__ mean_out, scalar_t* __restrict__ rstd_out,
                                              index_t cols, scalar_t eps) {
    index_t start = blockIdx.x * cols;
    scalar_t total = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) total += x[start + j];
    scalar_t mean = block_sum(total) / (scalar_t)cols;
    scalar_t squares = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {
        scalar_t centered = x[start + j] - mean;
        squares += centered * centered;
    }
    scalar_t rstd = 1 / math_sqrt(block_sum(squares) / (scalar_t)cols + eps);
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {
        scalar_t value = (x[start + j] - mean) * rstd;
        if (weight) value = value * weight[j];
        if (bias) value = value + bias[j];
        y[start + j] = value;
    }
    if (threadIdx.x == 0) {
        mean_out[blockIdx.x] = mean;
        rstd_out[blockIdx.x] = rstd;
    }
}

// dL/dx for one row per block. With xhat = (x - mean) * rstd and g = grad * weight:
// dL/dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
extern "C" __global__ void layer_norm_backward_input(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ x,
                                                     const scalar_t* __restrict__ weight, const scalar_t* __restrict__ mean,
                                                     const scalar_t* __restrict__ rstd, scalar_t* __restrict__ grad_x,
                                                     index_t cols) {
    index_t start = blockIdx.x * cols;
    scalar_t row_mean = mean[blockIdx.x], row_rstd = rstd[blockIdx.x];
    scalar_t g_total = 0, gx_total = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {
        scalar_t g = weight ? grad[start + j] * weight[j] : grad[start + j];
        g_total += g;
        gx_total += g * ((x[start + j] - row_mean) * row_rstd);
    }
    scalar_t g_mean = block_sum(g_total) / (scalar_t)cols;
    scalar_t gx_mean = block_sum(gx_total) / (scalar_t)cols;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {
        scalar_t g = weight ? grad[start + j] * weight[j] : grad[start + j];
        scalar_t xhat = (x[start + j] - row_mean) * row_rstd;
        grad_x[start + j] = row_rstd * (g - g_mean - xhat * gx_mean);
    }
}

#define COLUMN_TILE 32  // columns per block: threadIdx.x, so a warp reads 32 neighbouring columns (coalesced)
#define ROW_LANES 8     // threads per column: threadIdx.y, each summing every 8th row

// dL/dweight[j] = sum over rows of grad * xhat and dL/dbias[j] = sum over rows of grad: column sums.
// Block (COLUMN_TILE, ROW_LANES); the ROW_LANES partial sums of a column meet in shared memory and are
// added in a fixed order, so the result is the same on every run (no atomics).
extern "C" __global__ void layer_norm_backward_params(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ x,
                                                      const scalar_t* __restrict__ mean, const scalar_t* __restrict__ rstd,
                                                      scalar_t* __restrict__ grad_weight, scalar_t* __restrict__ grad_bias,
                                                      index_t rows, index_t cols) {
    __shared__ scalar_t weight_part[ROW_LANES][COLUMN_TILE];
    __shared__ scalar_t bias_part[ROW_LANES][COLUMN_TILE];
    index_t j = blockIdx.x * (index_t)COLUMN_TILE + threadIdx.x;
    scalar_t gw = 0, gb = 0;
    if (j < cols) {
        for (index_t r = threadIdx.y; r < rows; r += ROW_LANES) {
            scalar_t g = grad[r * cols + j];
            gw += g * ((x[r * cols + j] - mean[r]) * rstd[r]);
            gb += g;
        }
    }
    weight_part[threadIdx.y][threadIdx.x] = gw;
    bias_part[threadIdx.y][threadIdx.x] = gb;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols) {
        for (int lane = 1; lane < ROW_LANES; ++lane) {
            gw += weight_part[lane][threadIdx.x];
            gb += bias_part[lane][threadIdx.x];
        }
        grad_weight[j] = gw;
        grad_bias[j] = gb;
    }
}
