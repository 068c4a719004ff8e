"""How each op is computed: one package per backend, with the same kernel names and signatures.

- ``numpy_ref``: the specification. Readable NumPy, shapes in every docstring.
- ``numba_cpu``: Numba-JIT CPU kernels (NumPy arrays in and out).
- ``cupy_gpu``: CuPy GPU kernels (CuPy arrays in and out), with their CUDA C sources in ``cuda/``.

Inside each package, one module per op family, the same names in every backend (``linalg``,
``activations``, ``softmax``, ``embedding``, ``normalization``, ``attention``, ``conv``, ``pooling``,
``recurrent``, ``optim``), and ``common``, what that backend's families share. ``windows`` holds the one
output-size formula of the window ops, for every backend and for ``tinynet.functions``.

A backend package provides ``check_available()`` (raises ``RuntimeError`` saying what is missing),
``array_module()`` (the array library its tensors hold) and any subset of the kernels listed in
``numpy_ref.KERNELS``; the rest fall back to the reference. This package never imports ``tinynet``.
"""
