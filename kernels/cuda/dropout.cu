// Dropout's masks (see kernels/numpy_ref/dropout.py): value i is kept where lowbias32(lowbias32(i ^ key0) ^ key1)
// >= threshold, one thread per value (grid-stride loop). The key and the threshold arrive as 64-bit index_t
// (every integer argument does) and are cut to the 32 bits they hold.
#include "common.cuh"

__device__ __forceinline__ unsigned int lowbias32(unsigned int h) {
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    return h ^ (h >> 16);
}

extern "C" __global__ void dropout_mask(scalar_t* __restrict__ mask, index_t n, index_t key0, index_t key1,
                                        index_t threshold, scalar_t scale) {
    FOR_EACH_INDEX(i, n) {
        unsigned int h = lowbias32(lowbias32((unsigned int)i ^ (unsigned int)key0) ^ (unsigned int)key1);
        mask[i] = h >= (unsigned int)threshold ? scale : (scalar_t)0;
    }
}
