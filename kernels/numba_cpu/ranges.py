"""Threaded kernels written as a range of work: ``body(start, stop, *args)`` does items start..stop, and one
parallel driver, compiled once for all kernels, splits them over Numba's threads.

Why not ``numba.njit(parallel=True)`` on a ``prange`` loop: numba compiles a prange kernel's body three or four
times over (the parfor's gufunc and the function around it each link and optimize it), and a serial twin for small
inputs compiles it once more. Measured (stop 34, benchmarks/README.md): every kernel of the warm-up as a plain
serial njit took half the CPU time of the prange kernels with their twins. Here a kernel's body is compiled once,
for threads and for one thread alike, in one function per argument types:

- the kernel, ``kernel(threaded, start, stop, *args)``: the body (inlined) on start..stop, or with ``threaded``
  the same items split over the threads by ``_drive``;
- its rows function, emitted into the kernel's own code by ``_spread``: ``rows(args, start, stop)`` unpacks the
  arguments that the kernel packed and calls the kernel on start..stop, on this thread: a signature that is the same
  for every kernel, so that one driver calls them all;
- ``_drive(rows, args, start, stop)``, the one parallel function: thread t of T calls rows on its share, the static
  split that a prange makes. It is compiled once (and kept in numba's disk cache) and published under a name of ours
  (``llvmlite.binding.add_symbol``), as by_name.py publishes its C functions: kernels call it by name, and link no
  code of it. So a kernel's ``compile`` (which numba calls once per argument types in a process, before it loads or
  compiles) makes the driver ready first.

A body must not raise: the kernel is called from the threads as numba calls a function, its status unread.
"""

import types as pytypes

import numba
from llvmlite import binding, ir
from numba.core import cgutils, types
from numba.extending import intrinsic

# rows(args, start, stop) as numba's calling convention sees it: a pointer and two integers, whatever the kernel.
_ROWS_ARGS = (types.voidptr, types.intp, types.intp)
_DRIVE_ARGS = (types.intp, types.intp, types.intp, types.intp)
_DRIVE_NAME = "tinynet.ranges.drive"
_MOST_ARGUMENTS = 16


@intrinsic
def _num_threads(typingctx):
    """numba.get_num_threads() inside a kernel, by the symbol numba's threading layer publishes (numba's own
    overload calls it through a ctypes pointer, which numba will not cache)."""

    def codegen(context, builder, signature, args):
        function_type = ir.FunctionType(cgutils.intp_t, [])
        return builder.call(cgutils.get_or_insert_function(builder.module, function_type, "get_num_threads"), [])

    return types.intp(), codegen


@intrinsic
def _call_rows(typingctx, rows, args, start, stop):
    """rows(args, start, stop), rows and args given as addresses (integers: what a parfor passes on)."""

    def codegen(context, builder, signature, values):
        function_type = context.call_conv.get_function_type(types.none, _ROWS_ARGS)
        function = builder.inttoptr(values[0], function_type.as_pointer())
        pointer = builder.inttoptr(values[1], cgutils.voidptr_t)
        context.call_conv.call_function(builder, function, types.none, _ROWS_ARGS, [pointer, *values[2:]])
        return context.get_dummy_value()

    return types.none(types.intp, types.intp, types.intp, types.intp), codegen


@numba.njit(cache=True, parallel=True)
def _drive(rows, args, start, stop):
    threads, count = _num_threads(), stop - start
    for t in numba.prange(threads):
        _call_rows(rows, args, start + t * count // threads, start + (t + 1) * count // threads)


_drive_published = False


def _publish_drive() -> None:
    """Compile _drive (or load it from the cache) and publish it as _DRIVE_NAME, once per process."""
    global _drive_published
    if not _drive_published:
        _drive.compile(_DRIVE_ARGS)
        compiled = _drive.overloads[_DRIVE_ARGS]
        binding.add_symbol(_DRIVE_NAME, compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name))
        _drive_published = True


@intrinsic
def _nonnegative(typingctx, value):
    """value, known to LLVM to be >= 0 (it is: an item's number): an index that might be negative is wrapped around
    by numba, and that branch kept the bodies' loops from being vectorized (a ReLU 8x slower)."""

    def codegen(context, builder, signature, args):
        return builder.zext(builder.trunc(args[0], ir.IntType(62)), args[0].type)

    return value(value), codegen


@intrinsic
def _spread(typingctx, args, start, stop):
    """Items start..stop of the kernel this is inlined into, split over the threads: ``_drive`` calls the kernel's
    rows function (made here, once per kernel: it calls the kernel itself, ``threaded`` False) on each share.
    ``args`` are the kernel's arguments after (threaded, start, stop): booleans and integers as Python's."""

    def codegen(context, builder, signature, values):
        packed_type, (packed, start, stop) = signature.args[0], values
        kernel = builder.function  # the kernel being compiled: this is inlined into its body
        kernel_args = (types.boolean, types.intp, types.intp, *packed_type.types)
        rows_type = context.call_conv.get_function_type(types.none, _ROWS_ARGS)
        rows = cgutils.get_or_insert_function(builder.module, rows_type, kernel.name + ".rows")
        if not rows.blocks:  # its body, once: unpack, then the kernel on this thread
            rows.linkage = "internal"
            inner = ir.IRBuilder(rows.append_basic_block())
            pointer, first, last = context.call_conv.decode_arguments(inner, _ROWS_ARGS, rows)
            value_type = context.get_value_type(packed_type)
            members = cgutils.unpack_tuple(inner, inner.load(inner.bitcast(pointer, value_type.as_pointer())))
            serial = context.get_constant(types.boolean, False)
            context.call_conv.call_function(inner, kernel, types.none, kernel_args, [serial, first, last, *members])
            context.call_conv.return_value(inner, context.get_dummy_value())
        pointer = builder.bitcast(cgutils.alloca_once_value(builder, packed), cgutils.voidptr_t)
        drive = cgutils.get_or_insert_function(
            builder.module, context.call_conv.get_function_type(types.none, _DRIVE_ARGS), _DRIVE_NAME
        )
        addresses = [builder.ptrtoint(v, cgutils.intp_t) for v in (rows, pointer)]
        context.call_conv.call_function(builder, drive, types.none, _DRIVE_ARGS, [*addresses, start, stop])
        return context.get_dummy_value()

    return types.none(args, types.intp, types.intp), codegen


# Numba can neither star-call an inlined function nor unpack a tuple into a call: one template per arity. BODY is a
# global each copy is given.
def _template_source(arity: int) -> str:
    names = ", ".join(f"a{i}" for i in range(arity))
    return (
        f"def _kernel_{arity}(threaded, start, stop, {names}):\n"
        f"    if threaded:\n        _spread(({names},), start, stop)\n"
        f"    else:\n        BODY(_nonnegative(start), _nonnegative(stop), {names})\n"
    )


_TEMPLATES: dict = {}
exec(compile("\n\n".join(_template_source(k) for k in range(1, _MOST_ARGUMENTS + 1)), __file__, "exec"), _TEMPLATES)


def range_kernel(**options):
    """Compile ``body(start, stop, *args)`` as a threaded kernel ``kernel(threaded, start, stop, *args)``: the body
    does items start..stop; the kernel does them on this thread, or split over Numba's threads when ``threaded`` (see
    the module's docstring). ``options`` are numba.njit's (fastmath, ...); NumPy's error model, as prange kernels
    have. Call it through common.run_range."""

    def compile_kernel(body):
        arity = body.__code__.co_argcount - 2
        if not 1 <= arity <= _MOST_ARGUMENTS:
            raise TypeError(f"range_kernel: {body.__qualname__} takes {arity} arguments after start, stop; 1 to "
                            f"{_MOST_ARGUMENTS} are supported")  # fmt: skip
        if numba.config.DISABLE_JIT:  # plain Python, for a debugger: the body on the whole range

            def kernel(threaded, start, stop, *args):
                body(start, stop, *args)

            kernel.body = body
            return kernel
        # The template's code under the body's name, qualified by its module: numba names a function's disk cache
        # after the file of its code (this one, for every template) and its qualified name.
        template = _TEMPLATES[f"_kernel_{arity}"]
        inlined = numba.njit(inline="always", **options)(body)
        function = pytypes.FunctionType(template.__code__, {**globals(), "BODY": inlined}, body.__name__)
        function.__qualname__, function.__module__ = f"{body.__module__}.{body.__qualname__}", body.__module__
        kernel = numba.njit(cache=True, error_model="numpy", **options)(function)
        compile_in_numba = kernel.compile

        def compile_with_driver(signature):
            _publish_drive()
            return compile_in_numba(signature)

        kernel.compile = compile_with_driver
        kernel.body = body
        return kernel

    return compile_kernel
