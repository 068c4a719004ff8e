// Layer normalization over the last axis of a (rows, cols) matrix, forward and backward.
#include "common.cuh"

// The mean and 1 / sqrt(variance + eps) of the count values from x[start], by the whole block (every thread gets
// both; the first also stores them at mean_out[blockIdx.x] and rstd_out[blockIdx.x]): the mean, then the variance
// of the centered values (two passes: more accurate than E[x^2] - E[x]^2).
__device__ void mean_and_rstd(const scalar_t* __restrict__ x, index_t start, index_t count, scalar_t eps,
                              scalar_t* mean, scalar_t* rstd, scalar_t* __restrict__ mean_out,
                              scalar_t* __restrict__ rstd_out) {
    scalar_t total = 0;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) total += x[start + k];
    *mean = block_sum(total) / (scalar_t)count;
    scalar_t squares = 0;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) {
        scalar_t centered = x[start + k] - *mean;
        squares += centered * centered;
    }
    *rstd = 1 / math_sqrt(block_sum(squares) / (scalar_t)count + eps);
    if (threadIdx.x == 0) {
        mean_out[blockIdx.x] = *mean;
        rstd_out[blockIdx.x] = *rstd;
    }
}

// One block per row: its mean and rstd, then y = (x - mean) * rstd * weight + bias.
// weight and bias may be null (no affine part).
extern "C" __global__ void layer_norm_forward(const scalar_t* __restrict__ x, const scalar_t* __restrict__ weight,
                                              const scalar_t* __restrict__ bias, scalar_t* __restrict__ y,
                                              scalar_t* __restrict__ mean_out, scalar_t* __restrict__ rstd_out,
                                              index_t cols, scalar_t eps) {
    index_t start = blockIdx.x * cols;
    scalar_t mean, rstd;
    mean_and_rstd(x, start, cols, eps, &mean, &rstd, mean_out, rstd_out);
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {
        scalar_t value = (x[start + j] - mean) * rstd;
        if (weight) value = value * weight[j];
        if (bias) value = value + bias[j];
        y[start + j] = value;
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

// --- batch normalization and the per-channel scale and shift, on x: (N, C, L) ---------------------------------
// One block per channel c, its threads striding over the channel's N * L values: value k is x[(n C + c) L + i]
// with n = k / L, i = k % L.

__device__ index_t channel_offset(index_t k, index_t c, index_t channels, index_t length) {
    return ((k / length) * channels + c) * length + k % length;
}

// Each channel's mean and biased variance (two passes: the mean, then the squared deviations), then
// y = (x - mean) * (rstd * weight) + bias. weight and bias may be null.
extern "C" __global__ void batch_norm_forward(const scalar_t* __restrict__ x, const scalar_t* __restrict__ weight,
                                              const scalar_t* __restrict__ bias, scalar_t* __restrict__ y,
                                              scalar_t* __restrict__ mean_out, scalar_t* __restrict__ rstd_out,
                                              index_t batch, index_t channels, index_t length, scalar_t eps) {
    index_t c = blockIdx.x, count = batch * length;
    scalar_t total = 0;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) total += x[channel_offset(k, c, channels, length)];
    scalar_t mean = block_sum(total) / (scalar_t)count;
    scalar_t squares = 0;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) {
        scalar_t centered = x[channel_offset(k, c, channels, length)] - mean;
        squares += centered * centered;
    }
    scalar_t rstd = 1 / math_sqrt(block_sum(squares) / (scalar_t)count + eps);
    scalar_t scale = weight ? rstd * weight[c] : rstd, shift = bias ? bias[c] : 0;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) {
        index_t at = channel_offset(k, c, channels, length);
        y[at] = (x[at] - mean) * scale + shift;
    }
    if (threadIdx.x == 0) {
        mean_out[c] = mean;
        rstd_out[c] = rstd;
    }
}

// With g = grad * weight: dL/dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), xhat = (x - mean) * rstd,
// dL/dweight = sum of grad * xhat, dL/dbias = sum of grad, over the channel's values.
extern "C" __global__ void batch_norm_backward(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ x,
                                               const scalar_t* __restrict__ weight, const scalar_t* __restrict__ mean,
                                               const scalar_t* __restrict__ rstd, scalar_t* __restrict__ grad_x,
                                               scalar_t* __restrict__ grad_weight, scalar_t* __restrict__ grad_bias,
                                               index_t batch, index_t channels, index_t length) {
    index_t c = blockIdx.x, count = batch * length;
    scalar_t mu = mean[c], r = rstd[c], w = weight ? weight[c] : 1;
    scalar_t g_total = 0, gx_total = 0;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) {
        index_t at = channel_offset(k, c, channels, length);
        g_total += grad[at];
        gx_total += grad[at] * ((x[at] - mu) * r);
    }
    g_total = block_sum(g_total);
    gx_total = block_sum(gx_total);
    scalar_t g_mean = w * g_total / (scalar_t)count, gx_mean = w * gx_total / (scalar_t)count;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) {
        index_t at = channel_offset(k, c, channels, length);
        grad_x[at] = r * (grad[at] * w - g_mean - (x[at] - mu) * r * gx_mean);
    }
    if (threadIdx.x == 0) {
        grad_weight[c] = gx_total;
        grad_bias[c] = g_total;
    }
}

// y = x * scale[c] + shift[c], every value in a grid-stride loop.
extern "C" __global__ void channel_affine_forward(const scalar_t* __restrict__ x, const scalar_t* __restrict__ scale,
                                                  const scalar_t* __restrict__ shift, scalar_t* __restrict__ y,
                                                  index_t n, index_t channels, index_t length) {
    for (index_t k = blockIdx.x * (index_t)blockDim.x + threadIdx.x; k < n; k += (index_t)gridDim.x * blockDim.x) {
        index_t c = (k / length) % channels;
        y[k] = x[k] * scale[c] + shift[c];
    }
}

// dL/dx = grad * scale[c]; dL/dscale = sum of grad * x, dL/dshift = sum of grad: one block per channel.
extern "C" __global__ void channel_affine_backward(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ x,
                                                   const scalar_t* __restrict__ scale, scalar_t* __restrict__ grad_x,
                                                   scalar_t* __restrict__ grad_scale, scalar_t* __restrict__ grad_shift,
                                                   index_t batch, index_t channels, index_t length) {
    index_t c = blockIdx.x, count = batch * length;
    scalar_t a = scale[c], g_total = 0, gx_total = 0;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) {
        index_t at = channel_offset(k, c, channels, length);
        grad_x[at] = grad[at] * a;
        g_total += grad[at];
        gx_total += grad[at] * x[at];
    }
    g_total = block_sum(g_total);
    gx_total = block_sum(gx_total);
    if (threadIdx.x == 0) {
        grad_scale[c] = gx_total;
        grad_shift[c] = g_total;
    }
}

// --- group normalization, on x: (N, C, L) with C = groups * per_group ----------------------------------------
// One block per (sample, group) pair r = n groups + g, whose per_group * length values lie together from
// r * per_group * length; value k of the pair is in channel (r % groups) * per_group + k / length.

// The pair's mean and rstd (biased variance), then y = (x - mean) * (rstd * weight[c]) + bias[c].
// weight and bias may be null.
extern "C" __global__ void group_norm_forward(const scalar_t* __restrict__ x, const scalar_t* __restrict__ weight,
                                              const scalar_t* __restrict__ bias, scalar_t* __restrict__ y,
                                              scalar_t* __restrict__ mean_out, scalar_t* __restrict__ rstd_out,
                                              index_t groups, index_t per_group, index_t length, scalar_t eps) {
    index_t count = per_group * length, start = blockIdx.x * count, first = (blockIdx.x % groups) * per_group;
    scalar_t mean, rstd;
    mean_and_rstd(x, start, count, eps, &mean, &rstd, mean_out, rstd_out);
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) {
        index_t c = first + k / length;
        y[start + k] = (x[start + k] - mean) * (weight ? rstd * weight[c] : rstd) + (bias ? bias[c] : (scalar_t)0);
    }
}

// With g = grad * weight[c]: dL/dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) over the pair's values. Each
// channel's sums of grad and of grad * xhat (block sums, a channel at a time) go to row n of the (N, C) partials
// weight_part and bias_part, which the caller sums over the samples.
extern "C" __global__ void group_norm_backward(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ x,
                                               const scalar_t* __restrict__ weight, const scalar_t* __restrict__ mean,
                                               const scalar_t* __restrict__ rstd, scalar_t* __restrict__ grad_x,
                                               scalar_t* __restrict__ weight_part, scalar_t* __restrict__ bias_part,
                                               index_t groups, index_t per_group, index_t length) {
    index_t count = per_group * length, start = blockIdx.x * count, first = (blockIdx.x % groups) * per_group;
    index_t row = blockIdx.x / groups * groups * per_group;  // where sample n's channels start in the partials
    scalar_t mu = mean[blockIdx.x], r = rstd[blockIdx.x], g_total = 0, gx_total = 0;
    for (index_t c = first; c < first + per_group; ++c) {
        index_t at = start + (c - first) * length;
        scalar_t g_sum = 0, gx_sum = 0;
        for (index_t i = threadIdx.x; i < length; i += blockDim.x) {
            g_sum += grad[at + i];
            gx_sum += grad[at + i] * ((x[at + i] - mu) * r);
        }
        g_sum = block_sum(g_sum);
        gx_sum = block_sum(gx_sum);
        scalar_t w = weight ? weight[c] : 1;
        g_total += w * g_sum;
        gx_total += w * gx_sum;
        if (threadIdx.x == 0) {
            weight_part[row + c] = gx_sum;
            bias_part[row + c] = g_sum;
        }
    }
    scalar_t g_mean = g_total / (scalar_t)count, gx_mean = gx_total / (scalar_t)count;
    for (index_t k = threadIdx.x; k < count; k += blockDim.x) {
        index_t c = first + k / length;
        scalar_t g = weight ? grad[start + k] * weight[c] : grad[start + k];
        grad_x[start + k] = r * (g - g_mean - (x[start + k] - mu) * r * gx_mean);
    }
}
