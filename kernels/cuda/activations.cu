// Activations, forward and backward: one thread per element (grid-stride loops), n elements each.
// Each backward fuses the whole chain-rule product into one pass over memory, where NumPy makes a
// temporary array per operator.
#include "common.cuh"

extern "C" __global__ void relu_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, index_t n) {
    FOR_EACH_INDEX(i, n) {
        scalar_t v = x[i];
        y[i] = (v > 0 || is_nan(v)) ? v : (scalar_t)0;  // a NaN passes through, as in NumPy's maximum
    }
}

extern "C" __global__ void relu_backward(const scalar_t* __restrict__ grad_y, const scalar_t* __restrict__ x,
                                         scalar_t* __restrict__ grad_x, index_t n) {
    FOR_EACH_INDEX(i, n) grad_x[i] = grad_y[i] * (scalar_t)(x[i] > 0);
}

// 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) otherwise: exp only ever sees -|x|, so it never overflows.
extern "C" __global__ void sigmoid_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, index_t n) {
    FOR_EACH_INDEX(i, n) {
        scalar_t e = math_exp(-math_abs(x[i]));
        y[i] = x[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
    }
}

extern "C" __global__ void sigmoid_backward(const scalar_t* __restrict__ grad_y, const scalar_t* __restrict__ y,
                                            scalar_t* __restrict__ grad_x, index_t n) {
    FOR_EACH_INDEX(i, n) grad_x[i] = grad_y[i] * y[i] * (1 - y[i]);
}

// y = x sigmoid(x), the sigmoid as sigmoid_forward's (exp of -|x| only).
extern "C" __global__ void silu_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, index_t n) {
    FOR_EACH_INDEX(i, n) {
        scalar_t e = math_exp(-math_abs(x[i]));
        y[i] = x[i] * (x[i] >= 0 ? 1 / (1 + e) : e / (1 + e));
    }
}

// dy/dx = s (1 + x (1 - s)), s = sigmoid(x) computed again from x (as PyTorch's silu_backward).
extern "C" __global__ void silu_backward(const scalar_t* __restrict__ grad_y, const scalar_t* __restrict__ x,
                                         scalar_t* __restrict__ grad_x, index_t n) {
    FOR_EACH_INDEX(i, n) {
        scalar_t e = math_exp(-math_abs(x[i]));
        scalar_t s = x[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
        grad_x[i] = grad_y[i] * s * (1 + x[i] * (1 - s));
    }
}

extern "C" __global__ void tanh_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, index_t n) {
    FOR_EACH_INDEX(i, n) y[i] = math_tanh(x[i]);
}

extern "C" __global__ void tanh_backward(const scalar_t* __restrict__ grad_y, const scalar_t* __restrict__ y,
                                         scalar_t* __restrict__ grad_x, index_t n) {
    FOR_EACH_INDEX(i, n) grad_x[i] = grad_y[i] * (1 - y[i] * y[i]);
}

#define SQRT_HALF 0.70710678118654752440        // 1 / sqrt(2)
#define INV_SQRT_2PI 0.39894228040143267794     // 1 / sqrt(2 pi)

// y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 the standard normal CDF (the exact GELU, not tanh's).
extern "C" __global__ void gelu_forward(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, index_t n) {
    FOR_EACH_INDEX(i, n) y[i] = (scalar_t)0.5 * x[i] * (1 + math_erf(x[i] * (scalar_t)SQRT_HALF));
}

// dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi) the standard normal density.
extern "C" __global__ void gelu_backward(const scalar_t* __restrict__ grad_y, const scalar_t* __restrict__ x,
                                         scalar_t* __restrict__ grad_x, index_t n) {
    FOR_EACH_INDEX(i, n) {
        scalar_t v = x[i];
        scalar_t cdf = (scalar_t)0.5 * (1 + math_erf(v * (scalar_t)SQRT_HALF));
        scalar_t pdf = math_exp((scalar_t)-0.5 * v * v) * (scalar_t)INV_SQRT_2PI;
        grad_x[i] = grad_y[i] * (cdf + v * pdf);
    }
}
