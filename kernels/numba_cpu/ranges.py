"""Threaded kernels written as a range of work: ``body(start, stop, *args)`` does items start..stop, and one
parallel driver, compiled once for all kernels, splits 0..count over Numba's threads.

Why not ``numba.njit(parallel=True)`` on a ``prange`` loop: numba compiles a prange kernel's body three or four
times over (the parfor's gufunc and the function around it each link and optimize it), and a serial twin for small
inputs compiles it once more. Measured (stop 34, benchmarks/README.md): every kernel of the warm-up as a plain
serial njit took half the CPU time of the prange kernels with their twins. Here a kernel's body is compiled once,
for threads and for one thread alike:

- ``rows``, per kernel and argument types: ``rows(args, start, stop)`` unpacks the arguments and runs the body
  (inlined) on start..stop. It is published under a name of ours (``llvmlite.binding.add_symbol``), as by_name.py
  publishes its C functions, so that what calls it links a name, not its code.
- ``_drive(rows, args, count)``, the one parallel function: thread t of T calls ``rows(args, t * count // T,
  (t + 1) * count // T)``, the static split that a prange over 0..count makes.
- the kernel itself, per kernel and argument types: ``kernel(threaded, count, *args)`` packs its arguments and
  calls ``rows`` by name on 0..count, itself (``threaded`` False) or through ``_drive``.

All three are kept in numba's disk cache. A cached kernel finds ``rows`` by name when it loads, so the kernel's
``compile`` (which numba calls once per argument types in a process, before it loads or compiles) makes ``rows``
ready first; and a body must not raise (``rows`` is called as numba calls a function, its status unread).
"""

import hashlib
import types as pytypes

import numba
from llvmlite import binding, ir
from numba.core import cgutils, types
from numba.extending import intrinsic

# rows(args, start, stop) as numba's calling convention sees it: a pointer and two integers, whatever the kernel.
_ROWS_ARGS = (types.voidptr, types.intp, types.intp)
_DRIVE_ARGS = (types.intp, types.intp, types.intp)
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
def _drive(rows, args, count):
    threads = _num_threads()
    for t in numba.prange(threads):
        _call_rows(rows, args, t * count // threads, (t + 1) * count // threads)


_drive_published = False


def _publish(name: str, dispatcher, signature: tuple) -> None:
    """Compile ``dispatcher`` for ``signature`` (or load it from the cache) and publish it as ``name``."""
    dispatcher.compile(signature)
    compiled = dispatcher.overloads[signature]
    binding.add_symbol(name, compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name))


@intrinsic
def _nonnegative(typingctx, value):
    """value, known to LLVM to be >= 0 (it is: a row number): an index that might be negative is wrapped around
    by numba, and that branch kept the bodies' loops from being vectorized (a ReLU 8x slower)."""

    def codegen(context, builder, signature, args):
        return builder.zext(builder.trunc(args[0], ir.IntType(62)), args[0].type)

    return value(value), codegen


@intrinsic
def _unpack(typingctx, pointer, like):
    """The tuple of arguments that ``pointer`` points to, of the tuple type ``like`` (a type given as a global)."""
    packed = like.instance_type if isinstance(like, types.TypeRef) else like

    def codegen(context, builder, signature, args):
        value_type = context.get_value_type(signature.return_type)
        value = builder.load(builder.bitcast(args[0], value_type.as_pointer()))
        context.nrt.incref(builder, signature.return_type, value)  # numba decrefs what an intrinsic returns
        return value

    return packed(pointer, like), codegen


class _Rows(types.Opaque):
    """The numba type of a kernel's ``ROWS`` global: it carries the name its rows functions are published under."""

    def __init__(self, name: str) -> None:
        self.kernel_name = name
        super().__init__(f"Rows({name})")


class _RowsName:
    def __init__(self, name: str) -> None:
        self.name = name


@numba.extending.typeof_impl.register(_RowsName)
def _typeof_rows_name(value, context):
    return _Rows(value.name)


numba.extending.register_model(_Rows)(numba.core.datamodel.models.OpaqueModel)


@numba.core.imputils.lower_constant(_Rows)
def _lower_rows_name(context, builder, typ, value):
    return context.get_dummy_value()


def _rows_symbol(kernel_name: str, packed) -> str:
    return f"tinynet.rows.{kernel_name}.{hashlib.sha1(str(packed).encode()).hexdigest()[:16]}"


@intrinsic
def _run(typingctx, rows, args, threaded, count):
    """rows(args, 0, count) of the kernel ``rows`` names, for args' types: on numba's threads through _drive when
    ``threaded``, else here."""
    name = _rows_symbol(rows.kernel_name, args)

    def codegen(context, builder, signature, values):
        _, packed, threaded, count = values
        count = context.cast(builder, count, signature.args[3], types.intp)
        pointer = builder.bitcast(cgutils.alloca_once_value(builder, packed), cgutils.voidptr_t)
        rows_function = cgutils.get_or_insert_function(
            builder.module, context.call_conv.get_function_type(types.none, _ROWS_ARGS), name
        )
        with builder.if_else(threaded) as (on_threads, here):
            with on_threads:
                drive = cgutils.get_or_insert_function(
                    builder.module, context.call_conv.get_function_type(types.none, _DRIVE_ARGS), _DRIVE_NAME
                )
                addresses = [builder.ptrtoint(v, cgutils.intp_t) for v in (rows_function, pointer)]
                context.call_conv.call_function(builder, drive, types.none, _DRIVE_ARGS, [*addresses, count])
            with here:
                zero = context.get_constant(types.intp, 0)
                context.call_conv.call_function(builder, rows_function, types.none, _ROWS_ARGS, [pointer, zero, count])
        return context.get_dummy_value()

    return types.none(rows, args, threaded, count), codegen


# Numba can neither star-call an inlined function nor unpack a tuple into a call: one template per arity, for the
# kernel (``_kernel_N``) and its rows (``_rows_N``). ROWS, BODY and PACKED are globals each copy is given.
def _template_source(arity: int) -> str:
    names = ", ".join(f"a{i}" for i in range(arity))
    items = ", ".join(f"a[{i}]" for i in range(arity))
    return (
        f"def _kernel_{arity}(threaded, count, {names}):\n    _run(ROWS, ({names},), threaded, count)\n\n\n"
        f"def _rows_{arity}(pointer, start, stop):\n    a = _unpack(pointer, PACKED)\n"
        f"    BODY(_nonnegative(start), _nonnegative(stop), {items})\n"
    )


_TEMPLATES: dict = {}
exec(compile("\n\n".join(_template_source(k) for k in range(1, _MOST_ARGUMENTS + 1)), __file__, "exec"), _TEMPLATES)


def _copy(template, body, suffix: str, global_values: dict):
    """The template's code under the body's name with ``suffix``, qualified by its module: numba names a function's
    disk cache after the file of its code (this one, for every template) and its qualified name, and tells apart
    versions of one name only by their signature and code (the template's)."""
    function = pytypes.FunctionType(template.__code__, {**globals(), **global_values}, body.__name__ + suffix)
    function.__qualname__, function.__module__ = f"{body.__module__}.{body.__qualname__}{suffix}", body.__module__
    return function


def range_kernel(**options):
    """Compile ``body(start, stop, *args)`` as a threaded kernel ``kernel(threaded, count, *args)``: the body does
    items start..stop; the kernel does 0..count, split over Numba's threads when ``threaded`` (see the module's
    docstring). ``options`` are numba.njit's (fastmath, ...) for the body; NumPy's error model, as prange kernels
    have. Call it through common.run_range."""

    def compile_kernel(body):
        arity = body.__code__.co_argcount - 2
        if not 1 <= arity <= _MOST_ARGUMENTS:
            raise TypeError(f"range_kernel: {body.__qualname__} takes {arity} arguments after start, stop; 1 to "
                            f"{_MOST_ARGUMENTS} are supported")  # fmt: skip
        if numba.config.DISABLE_JIT:  # plain Python, for a debugger: the body on the whole range

            def kernel(threaded, count, *args):
                body(0, count, *args)

            kernel.body = body
            return kernel
        inlined = numba.njit(inline="always", **options)(body)
        name = f"{body.__module__}.{body.__qualname__}"
        published: set = set()

        def ready(signature) -> None:
            """Publish the rows function for the kernel's ``signature`` (threaded, count, *argument types)."""
            global _drive_published
            packed = types.Tuple(tuple(signature)[2:])
            symbol = _rows_symbol(name, packed)
            if symbol in published:
                return
            if not _drive_published:
                _publish(_DRIVE_NAME, _drive, _DRIVE_ARGS)
                _drive_published = True
            suffix = hashlib.sha1(str(packed).encode()).hexdigest()[:16]
            rows = _copy(_TEMPLATES[f"_rows_{arity}"], body, f"_rows_{suffix}", {"BODY": inlined, "PACKED": packed})
            _publish(symbol, numba.njit(cache=True, error_model="numpy", **options)(rows), _ROWS_ARGS)
            published.add(symbol)

        entry = _copy(_TEMPLATES[f"_kernel_{arity}"], body, "", {"ROWS": _RowsName(name)})
        kernel = numba.njit(cache=True)(entry)
        compile_in_numba = kernel.compile

        def compile_with_rows(signature):
            ready(signature)
            return compile_in_numba(signature)

        kernel.compile = compile_with_rows
        kernel.body = body
        return kernel

    return compile_kernel
