// Embedding backward: scatter each looked-up row's gradient into the table.
#include "common.cuh"

// table (num_embeddings, dim) starts at zero; grad is (lookups, dim), indices (lookups,).
// One thread per element of grad. Two lookups of the same row write the same table entries at once,
// so the addition is atomic: the sum is right, but its order (and so the last bits of a float sum)
// can vary from run to run.
extern "C" __global__ void embedding_backward(const scalar_t* __restrict__ grad, const index_t* __restrict__ indices,
                                              scalar_t* __restrict__ table, index_t lookups, index_t dim) {
    FOR_EACH_INDEX(e, lookups * dim) {
        index_t lookup = e / dim, column = e % dim;
        atomicAdd(&table[indices[lookup] * dim + column], grad[e]);
    }
}
