// Pointwise losses, forward and backward: binary cross-entropy on logits, one thread per element
// (grid-stride loops). pos_weight, the positives' weight broadcast to the logits' shape, may be null (1).
#include "common.cuh"

// loss = (1 - t) x + (1 + (w - 1) t) log(1 + e^-x), log(1 + e^-x) = max(-x, 0) + log1p(e^-|x|): exp only ever
// sees -|x|, so it never overflows.
extern "C" __global__ void bce_with_logits_forward(const scalar_t* __restrict__ x, const scalar_t* __restrict__ target,
                                                   const scalar_t* __restrict__ pos_weight,
                                                   scalar_t* __restrict__ loss, index_t n) {
    FOR_EACH_INDEX(i, n) {
        scalar_t v = x[i], t = target[i];
        scalar_t softplus_of_negative = (v < 0 ? -v : (scalar_t)0) + math_log1p(math_exp(-math_abs(v)));
        scalar_t scale = pos_weight ? 1 + (pos_weight[i] - 1) * t : (scalar_t)1;
        loss[i] = (1 - t) * v + scale * softplus_of_negative;
    }
}

// dL/dx = dL/dloss ((1 + (w - 1) t) sigmoid(x) - w t), the sigmoid as activations.cu's (exp of -|x| only).
extern "C" __global__ void bce_with_logits_backward(const scalar_t* __restrict__ grad_loss,
                                                    const scalar_t* __restrict__ x,
                                                    const scalar_t* __restrict__ target,
                                                    const scalar_t* __restrict__ pos_weight,
                                                    scalar_t* __restrict__ grad_x, index_t n) {
    FOR_EACH_INDEX(i, n) {
        scalar_t e = math_exp(-math_abs(x[i]));
        scalar_t sigmoid = x[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
        scalar_t w = pos_weight ? pos_weight[i] : (scalar_t)1, t = target[i];
        grad_x[i] = grad_loss[i] * ((1 + (w - 1) * t) * sigmoid - w * t);
    }
}
