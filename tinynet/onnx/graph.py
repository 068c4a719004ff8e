"""The ONNX graph under construction: value names, nodes, initializers, and the table of op mappings.

A *value* is what flows along an edge of the ONNX graph. Each traced tensor (a graph input, or the output of an
op that depends on one) has a value name; everything else an op uses (parameters, buffers, Python numbers,
tensors made inside ``forward`` from nothing the inputs feed) becomes an initializer, a constant of the file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinynet.errors import TinynetError
from tinynet.tensor import Tensor, to_host

# Function class name -> emit(builder, args, output) -> name of the ONNX value holding the output.
# Filled by the ``mapping`` decorator in ops_*.py.
MAPPINGS: dict[str, Callable] = {}


def mapping(*names: str):
    """Register the decorated function as the ONNX mapping of the tinynet Functions called ``names``."""

    def register(emit: Callable) -> Callable:
        for name in names:
            MAPPINGS[name] = emit
        return emit

    return register


class ExportError(TinynetError, RuntimeError):
    """What onnx.export cannot write (an op without a mapping, an argument it does not cover); a RuntimeError, as
    PyTorch's exporter errors are."""


def refuse(op: str, why: str) -> ExportError:
    return ExportError(f"onnx.export: op {op} {why}")


class Builder:
    """Collects the nodes and initializers of one graph, and knows which ONNX value each traced tensor is.

    ``value(arg)`` is the one entry point the mappings use for an op's argument: a traced tensor (or its raw
    array, which some ops pass instead of the Tensor) gives its value name; anything else becomes an initializer.
    """

    def __init__(self, onnx_module, opset: int, names: dict[int, str]) -> None:
        self.onnx, self.helper = onnx_module, onnx_module.helper
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._param_names = names  # id(parameter or buffer) -> its state_dict name
        self._by_tensor: dict[int, str] = {}  # id(traced Tensor) -> value name
        self._by_array: dict[int, str] = {}  # id(raw array of a traced Tensor) -> value name
        self._versions: dict[int, int] = {}  # id(traced Tensor) -> its _version when traced
        self._constants: dict[int, str] = {}  # id(constant Tensor or array) -> initializer name
        self._keep: list = []  # everything whose id() is a key above, kept alive so that no id is reused
        self._used: set[str] = set()

    # --- names ---------------------------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        """A value name not used yet, from ``hint``."""
        name, k = hint, 1
        while name in self._used:
            name, k = f"{hint}_{k}", k + 1
        self._used.add(name)
        return name

    def reserve(self, name: str) -> bool:
        """Take ``name`` for a graph input or output; False if it is taken already."""
        if name in self._used:
            return False
        self._used.add(name)
        return True

    def trace(self, tensor: Tensor, name: str) -> None:
        """Remember that ``tensor`` (and its raw array) is the ONNX value ``name``."""
        self._keep.append(tensor)
        self._by_tensor[id(tensor)] = name
        self._by_array[id(tensor.array)] = name
        self._versions[id(tensor)] = tensor._version

    def traced_name(self, arg) -> str | None:
        """The value name of ``arg`` if it is a traced tensor or the raw array of one, else None."""
        if isinstance(arg, Tensor):
            name = self._by_tensor.get(id(arg))
            if name is not None:
                if arg._version != self._versions[id(arg)]:
                    raise ExportError(
                        f"onnx.export: a traced tensor of shape {arg.shape} was changed in place during the forward "
                        "(an inplace=True activation or x.add_(...) on a tensor autograd does not track, say); the "
                        "graph cannot show that: use the out-of-place form"
                    )
                return name
            return self._by_array.get(id(arg.array))  # x.detach(), Tensor(x.array): the same values
        if hasattr(arg, "shape") and hasattr(arg, "dtype"):
            return self._by_array.get(id(arg))
        return None

    def is_traced(self, arg) -> bool:
        return self.traced_name(arg) is not None

    # --- values ----------------------------------------------------------------------------------------

    def value(self, arg, dtype=None) -> str:
        """The ONNX value of an op's argument: its traced name, or an initializer holding it (as ``dtype``).

        A constant whose array is a view of a traced array is refused: its values come from the inputs through
        something that is no tinynet op, so baking them in would be wrong for every other input.
        """
        name = self.traced_name(arg)
        if name is not None:
            return name
        array = arg.array if isinstance(arg, Tensor) else arg
        self._refuse_view_of_traced(array)
        key = id(arg)
        cached = dtype is None and hasattr(array, "shape")  # (not numbers: their ids are shared, their dtypes not)
        if cached and key in self._constants:
            return self._constants[key]
        host = np.asarray(to_host(array) if hasattr(array, "shape") else array)
        if dtype is not None:
            host = host.astype(dtype)
        elif not hasattr(array, "dtype"):  # a Python number that no operand gave a dtype to
            host = host.astype(np.float32 if host.dtype.kind == "f" else host.dtype)
        hint = self._param_names.get(id(arg), "const")
        name = self.constant(host, hint)
        if cached:
            self._keep.append(arg)
            self._constants[key] = name
        return name

    def _refuse_view_of_traced(self, array) -> None:
        base = getattr(array, "base", None)
        while base is not None:
            if id(base) in self._by_array:
                raise ExportError(
                    "onnx.export: an op used a view of a traced tensor made outside tinynet's ops (through .array, "
                    "say); the graph cannot follow it. Use tinynet ops on tensors in forward"
                )
            base = getattr(base, "base", None)

    def constant(self, array: np.ndarray, hint: str = "const") -> str:
        """A new initializer holding ``array``; returns its name."""
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.array(array, order="C"), name))  # (0-d stays 0-d)
        return name

    def ints(self, values, hint: str = "ints") -> str:
        """An int64 1-D initializer (shapes, axes, slice bounds)."""
        return self.constant(np.asarray(list(values), dtype=np.int64), hint)

    def scalar(self, value, dtype) -> str:
        """A 0-d initializer of ``dtype``."""
        return self.constant(np.asarray(value, dtype=dtype), "scalar")

    # --- nodes -------------------------------------------------------------------------------------------

    def node(self, op_type: str, inputs: list, hint: str | None = None, outputs: int = 1, **attributes):
        """Append an ONNX node; returns its output name (or the list of them, ``outputs`` > 1). An input of
        None is an optional input left out ("")."""
        names = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        inputs = ["" if i is None else i for i in inputs]
        self.nodes.append(self.helper.make_node(op_type, inputs, names, **attributes))
        return names[0] if outputs == 1 else names

    def tensor_type(self, name: str, dtype, shape) -> object:
        """A value_info for a graph input or output: ``shape`` holds ints or the names of dynamic axes."""
        elem = self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return self.helper.make_tensor_value_info(name, elem, list(shape))
