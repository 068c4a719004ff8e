// Max and average pooling over 2-D windows, forward and backward.
//
// Geometry, as in kernels/numpy_ref/pooling.py: an image (N, C, H, W), KH x KW windows sliding stride (sh, sw)
// over it padded by (ph, pw) (padding counts as -inf for max, 0 for average), at OH x OW positions.
// Window (oh, ow) covers pixels (oh*sh - ph + i, ow*sw - pw + j) for taps i < KH, j < KW.
// Forward: one thread per output. Backward: one thread per input pixel, gathering from the windows
// that cover it (no two threads write the same pixel, so no atomics).
#include "common.cuh"

// out: each window's maximum; argmax: the tap i*KW + j its gradient goes to. As the reference (and PyTorch): the
// search starts at the window's first tap inside the image, with -inf, and moves on to a strictly greater value
// or a NaN, so the first maximum wins ties, the padding never wins (even where the window's pixels are all -inf)
// and a window holding NaN gets NaN at its last NaN.
extern "C" __global__ void max_pool2d_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ out,
                                              index_t* __restrict__ argmax, index_t total, index_t H, index_t W,
                                              index_t KH, index_t KW, index_t OH, index_t OW, index_t sh, index_t sw,
                                              index_t ph, index_t pw) {
    FOR_EACH_INDEX(e, total) {
        index_t ow = e % OW, oh = (e / OW) % OH, nc = e / (OW * OH);
        index_t top = oh * sh - ph, left = ow * sw - pw;  // the window's first pixel, maybe in the padding
        scalar_t best = negative_infinity();
        index_t best_tap = (top < 0 ? -top : 0) * KW + (left < 0 ? -left : 0);  // its first tap inside the image
        for (index_t i = 0; i < KH; ++i) {
            index_t h = top + i;
            if (h < 0 || h >= H) continue;
            for (index_t j = 0; j < KW; ++j) {
                index_t w = left + j;
                if (w < 0 || w >= W) continue;
                scalar_t value = x[(nc * H + h) * W + w];
                if (value > best || is_nan(value)) {
                    best = value;
                    best_tap = i * KW + j;
                }
            }
        }
        out[e] = best;
        argmax[e] = best_tap;
    }
}

// dL/dx[pixel] = the sum of dL/dout over the windows whose maximum was at this pixel.
extern "C" __global__ void max_pool2d_backward(const scalar_t* __restrict__ grad, const index_t* __restrict__ argmax,
                                               scalar_t* __restrict__ grad_x, index_t total, index_t H, index_t W,
                                               index_t KH, index_t KW, index_t OH, index_t OW, index_t sh, index_t sw,
                                               index_t ph, index_t pw) {
    FOR_EACH_INDEX(e, total) {
        index_t w = e % W, h = (e / W) % H, nc = e / (W * H);
        scalar_t sum = 0;
        for (index_t i = 0; i < KH; ++i) {
            index_t hh = h + ph - i;  // = oh * sh for the window whose tap row i is this pixel's row
            if (hh < 0 || hh % sh != 0 || hh / sh >= OH) continue;
            for (index_t j = 0; j < KW; ++j) {
                index_t ww = w + pw - j;
                if (ww < 0 || ww % sw != 0 || ww / sw >= OW) continue;
                index_t o = (nc * OH + hh / sh) * OW + ww / sw;
                if (argmax[o] == i * KW + j) sum += grad[o];
            }
        }
        grad_x[e] = sum;
    }
}

// out: each window's mean, dividing by KH*KW even where it overlaps the padding (count_include_pad).
extern "C" __global__ void avg_pool2d_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ out, index_t total,
                                              index_t H, index_t W, index_t KH, index_t KW, index_t OH, index_t OW,
                                              index_t sh, index_t sw, index_t ph, index_t pw) {
    FOR_EACH_INDEX(e, total) {
        index_t ow = e % OW, oh = (e / OW) % OH, nc = e / (OW * OH);
        scalar_t sum = 0;
        for (index_t i = 0; i < KH; ++i) {
            for (index_t j = 0; j < KW; ++j) {
                index_t h = oh * sh - ph + i, w = ow * sw - pw + j;
                if (0 <= h && h < H && 0 <= w && w < W) sum += x[(nc * H + h) * W + w];
            }
        }
        out[e] = sum / (scalar_t)(KH * KW);
    }
}

// dL/dx[pixel] = the sum, over the windows covering the pixel, of dL/dout / (KH*KW).
extern "C" __global__ void avg_pool2d_backward(const scalar_t* __restrict__ grad, scalar_t* __restrict__ grad_x,
                                               index_t total, index_t H, index_t W, index_t KH, index_t KW, index_t OH,
                                               index_t OW, index_t sh, index_t sw, index_t ph, index_t pw) {
    FOR_EACH_INDEX(e, total) {
        index_t w = e % W, h = (e / W) % H, nc = e / (W * H);
        scalar_t sum = 0;
        for (index_t i = 0; i < KH; ++i) {
            index_t hh = h + ph - i;
            if (hh < 0 || hh % sh != 0 || hh / sh >= OH) continue;
            for (index_t j = 0; j < KW; ++j) {
                index_t ww = w + pw - j;
                if (ww < 0 || ww % sw != 0 || ww / sw >= OW) continue;
                sum += grad[(nc * OH + hh / sh) * OW + ww / sw] / (scalar_t)(KH * KW);
            }
        }
        grad_x[e] = sum;
    }
}
