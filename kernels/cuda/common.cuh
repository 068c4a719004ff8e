// Shared by every kernel file in this folder.
//
// Each .cu file is compiled twice, once per dtype: with -DSCALAR_T=float and with -DSCALAR_T=double.
// kernels/cupy_gpu/common.py pastes this header in place of the #include, so NVRTC (and CuPy's disk cache,
// which is keyed by the source text) always sees one self-contained source.
//
// Conventions:
// - Arrays arrive C-contiguous (the Python side makes them so); pointers that may be absent (an
//   optional weight, say) are null.
// - Every integer argument is a 64-bit index_t: CuPy passes Python ints as int64.
// - Block sizes are multiples of 32, so every warp is full and the warp reductions below may use all
//   32 lanes.
#pragma once

typedef SCALAR_T scalar_t;
typedef long long index_t;

#define WARP_SIZE 32
#define FULL_MASK 0xffffffffu

// A grid-stride loop: thread t of the grid handles elements t, t + (threads in the grid), ...,
// so any grid size covers any n.
#define FOR_EACH_INDEX(i, n) \
    for (index_t i = blockIdx.x * (index_t)blockDim.x + threadIdx.x; i < (n); i += (index_t)blockDim.x * gridDim.x)

// --- math that follows scalar_t: expf, logf, ... for float; exp, log, ... for double -------------

__device__ __forceinline__ float math_exp(float x) { return expf(x); }
__device__ __forceinline__ double math_exp(double x) { return exp(x); }
__device__ __forceinline__ float math_log(float x) { return logf(x); }
__device__ __forceinline__ double math_log(double x) { return log(x); }
__device__ __forceinline__ float math_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double math_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float math_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double math_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float math_erf(float x) { return erff(x); }
__device__ __forceinline__ double math_erf(double x) { return erf(x); }
__device__ __forceinline__ float math_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double math_abs(double x) { return fabs(x); }
__device__ __forceinline__ float math_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double math_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ bool is_nan(scalar_t x) { return x != x; }

// -infinity and NaN of scalar_t, from their bit patterns (NVRTC has no <cmath> for INFINITY and NAN).
__device__ __forceinline__ scalar_t negative_infinity() {
    return sizeof(scalar_t) == 4 ? (scalar_t)__int_as_float((int)0xff800000) : (scalar_t)__longlong_as_double(0xfff0000000000000LL);
}
__device__ __forceinline__ scalar_t not_a_number() {
    return sizeof(scalar_t) == 4 ? (scalar_t)__int_as_float(0x7fc00000) : (scalar_t)__longlong_as_double(0x7ff8000000000000LL);
}

// --- reductions ----------------------------------------------------------------------------------
// Warp reductions exchange registers with shuffles: after log2(32) = 5 butterfly steps every lane
// holds the result. Block reductions combine the warps' results through shared memory.

__device__ __forceinline__ scalar_t warp_sum(scalar_t value) {
    for (int offset = WARP_SIZE / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(FULL_MASK, value, offset);
    return value;
}

__device__ __forceinline__ scalar_t warp_max(scalar_t value) {
    for (int offset = WARP_SIZE / 2; offset > 0; offset /= 2) {
        scalar_t other = __shfl_xor_sync(FULL_MASK, value, offset);
        value = other > value ? other : value;
    }
    return value;
}

// The sum (or max) of every thread's value in the block, returned to every thread. All threads of the
// block must call it (it synchronizes them). Each thread adds the warps' partial results in the same
// order, so all get the same bits.
__device__ scalar_t block_sum(scalar_t value) {
    __shared__ scalar_t partial[WARP_SIZE];
    value = warp_sum(value);
    if (threadIdx.x % WARP_SIZE == 0) partial[threadIdx.x / WARP_SIZE] = value;
    __syncthreads();
    scalar_t total = 0;
    for (int w = 0; w < (int)(blockDim.x / WARP_SIZE); ++w) total += partial[w];
    __syncthreads();  // every thread has read partial[] before a next call overwrites it
    return total;
}

__device__ scalar_t block_max(scalar_t value) {
    __shared__ scalar_t partial[WARP_SIZE];
    value = warp_max(value);
    if (threadIdx.x % WARP_SIZE == 0) partial[threadIdx.x / WARP_SIZE] = value;
    __syncthreads();
    scalar_t best = partial[0];
    for (int w = 1; w < (int)(blockDim.x / WARP_SIZE); ++w) best = partial[w] > best ? partial[w] : best;
    __syncthreads();
    return best;
}
