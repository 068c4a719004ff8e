"""Numba functions compiled once as C functions, on first use, and called by name from kernels.

Why: a threaded kernel compiles what it calls again, several times over (numba's gufunc and the kernel around it
each optimize the code they link). The convolutions' per-thread body took 1.8 s to compile on its own and 8.6 s
inside its threaded kernel. Compiled once as a C function (numba.cfunc, kept in numba's disk cache), it is called
from the kernels by its name: they compile a call, not the body. tile.py's products are compiled so at import
(every float32 product needs them); a family's body is compiled when its wrapper first needs it.

A kernel that calls a C function by name must find the name when it is compiled or loaded from the cache:
``ready()`` makes it, and each wrapper calls it before its kernel (a missing name crashes the process).
"""

from llvmlite import binding
from numba.core import types

from kernels.numba_cpu.common import numba


class ByName:
    """``function`` compiled as the C function ``name`` with ``signature`` (numba types), on the first ``ready()``.

    ``external`` is what kernels call: numba's declaration of the C function, resolved by name when they load.
    """

    def __init__(self, name: str, signature, function, **options) -> None:
        self.name, self.signature, self.function, self.options = name, signature, function, options
        self.external = types.ExternalFunction(name, signature)
        self.compiled = None

    def ready(self) -> None:
        """Compile the C function (or load it from the cache) and publish its name, once per process."""
        if self.compiled is None:
            self.compiled = numba.cfunc(self.signature, cache=True, **self.options)(self.function)
            binding.add_symbol(self.name, self.compiled.address)
