"""Numba functions compiled once as C functions, on first use, and called by name from kernels.

Why: a threaded kernel compiles what it calls again, several times over (numba's gufunc and the kernel around it
each optimize the code they link). The convolutions' per-thread body took 1.8 s to compile on its own and 8.6 s
inside its threaded kernel. Compiled once as a C function (numba.cfunc, kept in numba's disk cache), it is called
from the kernels by its name: they compile a call, not the body. tile.py's products are compiled so at import
(every float32 product needs them); a family's body is compiled when its wrapper first needs it.

A kernel that calls a C function by name must find the name when it is compiled or loaded from the cache:
``ready()`` makes it, and each wrapper calls it before its kernel (a missing name crashes the process).

A C function takes pointers, not arrays: ``data_pointer(s)`` give them inside kernels, and ``call_by_name`` makes
the call for the per-thread bodies that take seven arrays and a tuple of options (conv's in-place body, winograd's).
"""

import numpy as np
from llvmlite import binding
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

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
        """Compile the C function (or load it from the cache) and publish its name, once per process. Nothing
        under NUMBA_DISABLE_JIT, where kernels run as Python and call the Python functions themselves (numba.cfunc
        would compile anyway, and fail on the helpers that are plain functions there)."""
        if self.compiled is None and not numba.config.DISABLE_JIT:
            self.compiled = numba.cfunc(self.signature, cache=True, **self.options)(self.function)
            binding.add_symbol(self.name, self.compiled.address)


@intrinsic
def data_pointer(typingctx, array):
    """A pointer to an array's first number."""
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data

    return types.CPointer(array.dtype)(array), codegen


@intrinsic
def data_pointers(typingctx, arrays):
    """The pointers to the first numbers of a tuple of arrays of one dtype, as a tuple (a C function's arguments)."""
    if not isinstance(arrays, types.BaseTuple) or not arrays.types:
        return None
    first = arrays.types[0]
    if not all(isinstance(a, types.Array) and a.dtype == first.dtype for a in arrays.types):
        return None
    pointers = types.UniTuple(types.CPointer(first.dtype), len(arrays.types))

    def codegen(context, builder, signature, args):
        members = cgutils.unpack_tuple(builder, args[0])
        data = [context.make_array(t)(context, builder, m).data for t, m in zip(signature.args[0].types, members)]
        return context.make_tuple(builder, signature.return_type, data)

    return pointers(arrays), codegen


def call_by_name(stub, function: ByName) -> None:
    """Make ``stub(a, b, c, options, d, e, f, g, start, stop)`` call ``function``'s C function inside kernels: the seven
    arrays (C-contiguous) by their first numbers, then one table of integers, their shapes followed by ``options``
    (a tuple of integers), then start and stop. The C function rebuilds the arrays from that table."""

    @overload(stub, inline="always")
    def _by_name(a, b, c, options, d, e, f, g, start, stop):
        external = function.external

        def by_name(a, b, c, options, d, e, f, g, start, stop):
            shapes = a.shape + b.shape + c.shape + d.shape + e.shape + f.shape + g.shape
            sizes = np.array(shapes + options, np.int64)
            external(*data_pointers((a, b, c, d, e, f, g)), data_pointer(sizes), start, stop)

        return by_name
