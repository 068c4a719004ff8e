// Fused scaled dot-product attention, forward and backward, for q (B, Tq, D), k (B, Tk, D), v (B, Tk, Dv).
//
// The forward never writes the (Tq, Tk) weights to global memory: it streams keys and values through
// shared memory one tile at a time and keeps, per query, a running max m, a running sum l of
// exp(score - m) and a running weighted sum of values, rescaled whenever m grows ("online softmax",
// as in FlashAttention). It saves each query's m and log(l), from which the backward recomputes any
// weight as exp((score - m) - log(l)), tile by tile. (Not as exp(score - lse) with lse = m + log(l) in one
// number: at scores of 1e8 a float32 lse has lost log(l), and tied top weights of 1/2 would come back as 1.)
//
// Launch: blocks of QUERIES_PER_BLOCK warps (256 threads), grid (ceil(T / QUERIES_PER_BLOCK), B).
// Each warp owns one query (or one key, in attention_backward_dkdv); a tile holds 32 rows, one per lane.
//
// Masks: allow (bool, true = may attend) or bias (added to the scores; -inf = may not), at most one of
// them non-null, element (b, i, j) at b*mask_sb + i*mask_sq + j*mask_sk: a mask broadcast over the batch
// has mask_sb = 0 and is read in place. A query allowed no key gets output 0 and m = -inf.
#include "common.cuh"

#define TILE 32               // rows per shared-memory tile: one per lane
#define QUERIES_PER_BLOCK 8   // warps per block
// Head dimensions up to MAX_DIM (the Python side falls back to the reference above that), so that
// every tile fits the 48 KB of static shared memory a block may have: 128 for float, 64 for double.
#define MAX_DIM (sizeof(scalar_t) == 4 ? 128 : 64)
#define DIMS_PER_LANE (MAX_DIM / WARP_SIZE)  // a lane owns dims lane, lane + 32, ... of an output row
// Tiles are read row-per-lane (lane j reads row j, column c); one padding column puts the 32 rows'
// column c in 32 different shared-memory banks instead of one.
#define PADDED_DIM (MAX_DIM + 1)

// Rows start .. start + TILE - 1 of a (rows, dim) matrix into a shared tile, zeros past the last row.
// All threads of the block share the copy; neighbouring threads read neighbouring columns (coalesced).
__device__ void load_tile(scalar_t (*tile)[PADDED_DIM], const scalar_t* __restrict__ matrix, index_t start,
                          index_t rows, index_t dim) {
    for (index_t e = threadIdx.x; e < TILE * dim; e += blockDim.x) {
        index_t r = e / dim, c = e % dim;
        tile[r][c] = start + r < rows ? matrix[(start + r) * dim + c] : (scalar_t)0;
    }
}

// One row of a (rows, dim) matrix into shared memory, copied by one warp.
__device__ __forceinline__ void load_row(scalar_t* row, const scalar_t* __restrict__ matrix, index_t r, index_t dim) {
    for (index_t c = threadIdx.x % WARP_SIZE; c < dim; c += WARP_SIZE) row[c] = matrix[r * dim + c];
}

__device__ __forceinline__ scalar_t dot(const scalar_t* a, const scalar_t* b, index_t dim) {
    scalar_t sum = 0;
    for (index_t c = 0; c < dim; ++c) sum += a[c] * b[c];
    return sum;
}

// The score of a query and a key: their dot product times scale, then the mask (-inf: may not attend).
__device__ __forceinline__ scalar_t masked_score(scalar_t dot_product, scalar_t scale, const bool* __restrict__ allow,
                                                 const scalar_t* __restrict__ bias, index_t mask_offset) {
    if (allow && !allow[mask_offset]) return negative_infinity();
    scalar_t score = dot_product * scale;
    return bias ? score + bias[mask_offset] : score;
}

extern "C" __global__ void attention_forward(const scalar_t* __restrict__ q, const scalar_t* __restrict__ k,
                                             const scalar_t* __restrict__ v, const bool* __restrict__ allow,
                                             const scalar_t* __restrict__ bias, index_t mask_sb, index_t mask_sq,
                                             index_t mask_sk, scalar_t* __restrict__ out,
                                             scalar_t* __restrict__ row_max, scalar_t* __restrict__ log_sum,
                                             index_t Tq, index_t Tk, index_t D, index_t Dv, scalar_t scale) {
    __shared__ scalar_t k_tile[TILE][PADDED_DIM];
    __shared__ scalar_t v_tile[TILE][PADDED_DIM];
    __shared__ scalar_t q_rows[QUERIES_PER_BLOCK][MAX_DIM];
    __shared__ scalar_t p_rows[QUERIES_PER_BLOCK][TILE];
    const index_t b = blockIdx.y;
    const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    const index_t query = blockIdx.x * (index_t)QUERIES_PER_BLOCK + warp;
    const bool active = query < Tq;  // a warp past the last query still helps load the tiles
    q += b * Tq * D, k += b * Tk * D, v += b * Tk * Dv, out += b * Tq * Dv, row_max += b * Tq, log_sum += b * Tq;
    const index_t mask_row = b * mask_sb + query * mask_sq;
    if (active) load_row(q_rows[warp], q, query, D);

    scalar_t running_max = negative_infinity(), total = 0;
    scalar_t acc[DIMS_PER_LANE];
    for (int r = 0; r < DIMS_PER_LANE; ++r) acc[r] = 0;
    for (index_t start = 0; start < Tk; start += TILE) {
        __syncthreads();  // the whole block is done with the previous tile
        load_tile(k_tile, k, start, Tk, D);
        load_tile(v_tile, v, start, Tk, Dv);
        __syncthreads();
        if (!active) continue;
        index_t key = start + lane;
        scalar_t score = negative_infinity();
        if (key < Tk) score = masked_score(dot(q_rows[warp], k_tile[lane], D), scale, allow, bias, mask_row + key * mask_sk);
        scalar_t tile_max = warp_max(score);
        scalar_t new_max = tile_max > running_max ? tile_max : running_max;
        if (new_max == negative_infinity()) continue;  // every key so far is masked: nothing to add (same in all lanes)
        // What was summed against the old max is rescaled to the new one (by 0 the first time).
        scalar_t correction = math_exp(running_max - new_max);
        scalar_t p = score == negative_infinity() ? (scalar_t)0 : math_exp(score - new_max);
        total = total * correction + warp_sum(p);
        p_rows[warp][lane] = p;
        __syncwarp();
        index_t keys = Tk - start < TILE ? Tk - start : TILE;
        for (int r = 0; r < DIMS_PER_LANE; ++r) {
            index_t c = lane + r * WARP_SIZE;
            if (c >= Dv) break;
            scalar_t sum = 0;
            for (index_t j = 0; j < keys; ++j) sum += p_rows[warp][j] * v_tile[j][c];
            acc[r] = acc[r] * correction + sum;
        }
        __syncwarp();  // every lane has read p_rows[warp] before the next tile overwrites it
        running_max = new_max;
    }
    if (!active) return;
    for (int r = 0; r < DIMS_PER_LANE; ++r) {
        index_t c = lane + r * WARP_SIZE;
        if (c < Dv) out[query * Dv + c] = total > 0 ? acc[r] / total : (scalar_t)0;
    }
    if (lane == 0) {
        row_max[query] = total > 0 ? running_max : negative_infinity();
        log_sum[query] = total > 0 ? math_log(total) : (scalar_t)0;
    }
}

// Backward, with P = exp((score - m) - log(l)), dP = dout v^T, dS = P * (dP - delta) where delta = rowsum(dout * out)
// (= rowsum(dP * P)), and dq = dS k * scale, dk = dS^T q * scale, dv = P^T dout.
// This kernel: dq. Each warp owns a query and streams the keys and values through shared memory.
extern "C" __global__ void attention_backward_dq(const scalar_t* __restrict__ q, const scalar_t* __restrict__ k,
                                                 const scalar_t* __restrict__ v, const bool* __restrict__ allow,
                                                 const scalar_t* __restrict__ bias, index_t mask_sb, index_t mask_sq,
                                                 index_t mask_sk, const scalar_t* __restrict__ grad_out,
                                                 const scalar_t* __restrict__ row_max,
                                                 const scalar_t* __restrict__ log_sum, const scalar_t* __restrict__ delta,
                                                 scalar_t* __restrict__ dq, index_t Tq, index_t Tk, index_t D, index_t Dv,
                                                 scalar_t scale) {
    __shared__ scalar_t k_tile[TILE][PADDED_DIM];
    __shared__ scalar_t v_tile[TILE][PADDED_DIM];
    __shared__ scalar_t q_rows[QUERIES_PER_BLOCK][MAX_DIM];
    __shared__ scalar_t g_rows[QUERIES_PER_BLOCK][MAX_DIM];
    __shared__ scalar_t ds_rows[QUERIES_PER_BLOCK][TILE];
    const index_t b = blockIdx.y;
    const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    const index_t query = blockIdx.x * (index_t)QUERIES_PER_BLOCK + warp;
    const bool active = query < Tq;
    q += b * Tq * D, k += b * Tk * D, v += b * Tk * Dv, grad_out += b * Tq * Dv;
    row_max += b * Tq, log_sum += b * Tq, delta += b * Tq, dq += b * Tq * D;
    const index_t mask_row = b * mask_sb + query * mask_sq;
    scalar_t m = negative_infinity(), log_l = 0, row_delta = 0;
    if (active) {
        load_row(q_rows[warp], q, query, D);
        load_row(g_rows[warp], grad_out, query, Dv);
        m = row_max[query], log_l = log_sum[query], row_delta = delta[query];
    }

    scalar_t acc[DIMS_PER_LANE];
    for (int r = 0; r < DIMS_PER_LANE; ++r) acc[r] = 0;
    for (index_t start = 0; start < Tk; start += TILE) {
        __syncthreads();
        load_tile(k_tile, k, start, Tk, D);
        load_tile(v_tile, v, start, Tk, Dv);
        __syncthreads();
        if (!active) continue;
        index_t key = start + lane;
        scalar_t ds = 0;
        if (key < Tk && m != negative_infinity()) {
            scalar_t score = masked_score(dot(q_rows[warp], k_tile[lane], D), scale, allow, bias, mask_row + key * mask_sk);
            if (score != negative_infinity()) {
                scalar_t p = math_exp((score - m) - log_l);
                ds = p * (dot(g_rows[warp], v_tile[lane], Dv) - row_delta);
            }
        }
        ds_rows[warp][lane] = ds;
        __syncwarp();
        index_t keys = Tk - start < TILE ? Tk - start : TILE;
        for (int r = 0; r < DIMS_PER_LANE; ++r) {
            index_t c = lane + r * WARP_SIZE;
            if (c >= D) break;
            for (index_t j = 0; j < keys; ++j) acc[r] += ds_rows[warp][j] * k_tile[j][c];
        }
        __syncwarp();
    }
    if (!active) return;
    for (int r = 0; r < DIMS_PER_LANE; ++r) {
        index_t c = lane + r * WARP_SIZE;
        if (c < D) dq[query * D + c] = acc[r] * scale;
    }
}

// This kernel: dk and dv. Each warp owns a key (and its value) and streams the queries, the output
// gradients and the per-query m, log(l) and delta through shared memory. Launch: grid (ceil(Tk / 8), B).
extern "C" __global__ void attention_backward_dkdv(const scalar_t* __restrict__ q, const scalar_t* __restrict__ k,
                                                   const scalar_t* __restrict__ v, const bool* __restrict__ allow,
                                                   const scalar_t* __restrict__ bias, index_t mask_sb, index_t mask_sq,
                                                   index_t mask_sk, const scalar_t* __restrict__ grad_out,
                                                   const scalar_t* __restrict__ row_max,
                                                   const scalar_t* __restrict__ log_sum,
                                                   const scalar_t* __restrict__ delta,
                                                   scalar_t* __restrict__ dk, scalar_t* __restrict__ dv, index_t Tq,
                                                   index_t Tk, index_t D, index_t Dv, scalar_t scale) {
    __shared__ scalar_t q_tile[TILE][PADDED_DIM];
    __shared__ scalar_t g_tile[TILE][PADDED_DIM];
    __shared__ scalar_t max_tile[TILE];
    __shared__ scalar_t log_sum_tile[TILE];
    __shared__ scalar_t delta_tile[TILE];
    __shared__ scalar_t k_rows[QUERIES_PER_BLOCK][MAX_DIM];
    __shared__ scalar_t v_rows[QUERIES_PER_BLOCK][MAX_DIM];
    __shared__ scalar_t p_rows[QUERIES_PER_BLOCK][TILE];
    __shared__ scalar_t ds_rows[QUERIES_PER_BLOCK][TILE];
    const index_t b = blockIdx.y;
    const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    const index_t key = blockIdx.x * (index_t)QUERIES_PER_BLOCK + warp;
    const bool active = key < Tk;
    q += b * Tq * D, k += b * Tk * D, v += b * Tk * Dv, grad_out += b * Tq * Dv;
    row_max += b * Tq, log_sum += b * Tq, delta += b * Tq, dk += b * Tk * D, dv += b * Tk * Dv;
    if (active) {
        load_row(k_rows[warp], k, key, D);
        load_row(v_rows[warp], v, key, Dv);
    }

    scalar_t dk_acc[DIMS_PER_LANE], dv_acc[DIMS_PER_LANE];
    for (int r = 0; r < DIMS_PER_LANE; ++r) dk_acc[r] = dv_acc[r] = 0;
    for (index_t start = 0; start < Tq; start += TILE) {
        __syncthreads();
        load_tile(q_tile, q, start, Tq, D);
        load_tile(g_tile, grad_out, start, Tq, Dv);
        if (threadIdx.x < TILE) {
            bool inside = start + threadIdx.x < Tq;
            max_tile[threadIdx.x] = inside ? row_max[start + threadIdx.x] : negative_infinity();
            log_sum_tile[threadIdx.x] = inside ? log_sum[start + threadIdx.x] : (scalar_t)0;
            delta_tile[threadIdx.x] = inside ? delta[start + threadIdx.x] : (scalar_t)0;
        }
        __syncthreads();
        if (!active) continue;
        index_t query = start + lane;
        scalar_t p = 0, ds = 0;
        if (query < Tq && max_tile[lane] != negative_infinity()) {
            index_t mask_offset = b * mask_sb + query * mask_sq + key * mask_sk;
            scalar_t score = masked_score(dot(q_tile[lane], k_rows[warp], D), scale, allow, bias, mask_offset);
            if (score != negative_infinity()) {
                p = math_exp((score - max_tile[lane]) - log_sum_tile[lane]);
                ds = p * (dot(g_tile[lane], v_rows[warp], Dv) - delta_tile[lane]);
            }
        }
        p_rows[warp][lane] = p;
        ds_rows[warp][lane] = ds;
        __syncwarp();
        index_t queries = Tq - start < TILE ? Tq - start : TILE;
        for (int r = 0; r < DIMS_PER_LANE; ++r) {
            index_t c = lane + r * WARP_SIZE;
            for (index_t i = 0; i < queries; ++i) {
                if (c < Dv) dv_acc[r] += p_rows[warp][i] * g_tile[i][c];
                if (c < D) dk_acc[r] += ds_rows[warp][i] * q_tile[i][c];
            }
        }
        __syncwarp();
    }
    if (!active) return;
    for (int r = 0; r < DIMS_PER_LANE; ++r) {
        index_t c = lane + r * WARP_SIZE;
        if (c < D) dk[key * D + c] = dk_acc[r] * scale;
        if (c < Dv) dv[key * Dv + c] = dv_acc[r];
    }
}
