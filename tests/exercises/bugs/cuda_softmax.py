"""Planted bugs of exercise `cuda_softmax` (see tests/test_exercises.py): (name, text of solutions/cuda_softmax.py,
what replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    (
        "no_syncthreads_in_the_sum_reduction",
        "if (t < s) buf[t] += buf[t + s];\n        __syncthreads();",
        "if (t < s) buf[t] += buf[t + s];",
        r"__syncthreads",
    ),
    ("no_max_subtraction", "expf(in[j] - m)", "expf(in[j])", r"subtract the (row's )?max"),
    ("not_divided_by_the_sum", "out[j] = expf(in[j] - m) / sum;", "out[j] = expf(in[j] - m);", r"divid"),
    ("wrong_row_offset", "(long long)blockIdx.x * cols", "(long long)blockIdx.x * blockDim.x", r"row offset"),
]
