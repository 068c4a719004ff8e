"""How each op is computed: one module per backend, with the same kernel names and signatures.

- ``numpy_ref``: the specification. Readable NumPy, shapes in every docstring.
- ``numba_cpu``: Numba-JIT CPU kernels (NumPy arrays in and out).
- ``cupy_gpu``: CuPy GPU kernels (CuPy arrays in and out).

A backend module provides ``check_available()`` (raises ``RuntimeError`` saying what is missing),
``array_module()`` (the array library its tensors hold) and any subset of the kernels listed in
``numpy_ref.KERNELS``; the rest fall back to the reference. This package never imports ``tinynet``.
"""
