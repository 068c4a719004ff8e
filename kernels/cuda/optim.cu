// Optimizer steps, fused: one thread per parameter element reads the parameter, its gradient and its
// state once and writes them back once (NumPy makes a temporary array per operator instead).
//
// Constants such as 1 - beta1 arrive from Python already rounded to scalar_t, as NumPy rounds a Python
// float meeting a float32 array, so the kernels round exactly where the reference does.
#include "common.cuh"

// SGD with momentum, dampening, weight decay and Nesterov momentum, as PyTorch defines it.
// momentum_buffer is null when momentum == 0; first is 1 on its first step, when it starts as d itself.
extern "C" __global__ void sgd_step(scalar_t* __restrict__ param, const scalar_t* __restrict__ grad,
                                    scalar_t* __restrict__ momentum_buffer, index_t n, scalar_t lr, scalar_t momentum,
                                    scalar_t one_minus_dampening, scalar_t weight_decay, index_t nesterov, index_t first) {
    FOR_EACH_INDEX(i, n) {
        scalar_t d = weight_decay != 0 ? grad[i] + weight_decay * param[i] : grad[i];
        if (momentum_buffer) {
            scalar_t buffer = first ? d : momentum_buffer[i] * momentum + one_minus_dampening * d;
            momentum_buffer[i] = buffer;
            d = nesterov ? d + momentum * buffer : buffer;
        }
        param[i] = param[i] - lr * d;
    }
}

// Adam (coupled L2 weight decay, l2 != 0) or AdamW (decoupled: param *= decay first, decay != 1).
// m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
// param <- param - step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), step_size = lr / (1 - beta1^t).
// The division is in double precision for both dtypes, as in the reference, where sqrt(1 - beta2^t) is
// a NumPy float64 that promotes the float32 sqrt(v) it divides.
extern "C" __global__ void adam_step(scalar_t* __restrict__ param, const scalar_t* __restrict__ grad,
                                     scalar_t* __restrict__ exp_avg, scalar_t* __restrict__ exp_avg_sq, index_t n,
                                     scalar_t decay, scalar_t l2, scalar_t beta1, scalar_t one_minus_beta1,
                                     scalar_t beta2, scalar_t one_minus_beta2, scalar_t step_size,
                                     double sqrt_bias_correction2, double eps) {
    FOR_EACH_INDEX(i, n) {
        scalar_t p = param[i];
        if (decay != 1) p = p * decay;
        scalar_t g = l2 != 0 ? grad[i] + l2 * p : grad[i];
        scalar_t m = exp_avg[i] * beta1 + one_minus_beta1 * g;
        scalar_t v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        double denom = (double)math_sqrt(v) / sqrt_bias_correction2 + eps;
        param[i] = (scalar_t)((double)p - (double)(step_size * m) / denom);
    }
}
