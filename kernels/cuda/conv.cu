// im2col and col2im: the two data movements that turn a 2-D convolution into matrix products
// (the products themselves are cuBLAS GEMMs, called from Python).
//
// Geometry, as in kernels/numpy_ref/conv.py: an image (N, C, H, W), a window of KH x KW taps dilation
// (dh, dw) apart, sliding stride (sh, sw) over the image padded by (ph, pw) zeros, at OH x OW positions.
// Tap (i, j) of the window at position (oh, ow) reads image pixel (oh*sh - ph + i*dh, ow*sw - pw + j*dw).
#include "common.cuh"

// cols (N, C*KH*KW, OH*OW): cols[n, (c, i, j), (oh, ow)] = image[n, c, tap (i, j) of window (oh, ow)],
// 0 where the tap falls on the padding. One thread per element of cols.
extern "C" __global__ void im2col(const scalar_t* __restrict__ image, scalar_t* __restrict__ cols, index_t total,
                                  index_t C, index_t H, index_t W, index_t KH, index_t KW, index_t OH, index_t OW,
                                  index_t sh, index_t sw, index_t ph, index_t pw, index_t dh, index_t dw) {
    FOR_EACH_INDEX(e, total) {
        // Unravel e = ((((n * C + c) * KH + i) * KW + j) * OH + oh) * OW + ow.
        index_t rest = e;
        index_t ow = rest % OW; rest /= OW;
        index_t oh = rest % OH; rest /= OH;
        index_t j = rest % KW; rest /= KW;
        index_t i = rest % KH; rest /= KH;
        index_t nc = rest;  // n * C + c
        index_t h = oh * sh - ph + i * dh, w = ow * sw - pw + j * dw;
        bool inside = 0 <= h && h < H && 0 <= w && w < W;
        cols[e] = inside ? image[(nc * H + h) * W + w] : (scalar_t)0;
    }
}

// The adjoint of im2col: image[n, c, h, w] = the sum of every cols entry copied from pixel (h, w).
// One thread per image pixel gathers its entries (no two threads write the same pixel, so no atomics):
// tap (i, j) reached the pixel from window (oh, ow) when h = oh*sh - ph + i*dh, i.e. when
// h + ph - i*dh is a non-negative multiple of sh whose quotient oh is < OH (likewise for w).
extern "C" __global__ void col2im(const scalar_t* __restrict__ cols, scalar_t* __restrict__ image, index_t total,
                                  index_t C, index_t H, index_t W, index_t KH, index_t KW, index_t OH, index_t OW,
                                  index_t sh, index_t sw, index_t ph, index_t pw, index_t dh, index_t dw) {
    FOR_EACH_INDEX(e, total) {
        index_t w = e % W, h = (e / W) % H, nc = e / (W * H);
        scalar_t sum = 0;
        for (index_t i = 0; i < KH; ++i) {
            index_t hh = h + ph - i * dh;
            if (hh < 0 || hh % sh != 0 || hh / sh >= OH) continue;
            for (index_t j = 0; j < KW; ++j) {
                index_t ww = w + pw - j * dw;
                if (ww < 0 || ww % sw != 0 || ww / sw >= OW) continue;
                sum += cols[((nc * KH + i) * KW + j) * OH * OW + (hh / sh) * OW + ww / sw];
            }
        }
        image[e] = sum;
    }
}
