"""Export a model to ONNX, as ``torch.onnx.export``: ``tinynet.onnx.export(model, x, "model.onnx")``.

The model runs once on the example inputs while a watcher (``tinynet.autograd.watchers``) sees every op; each op
that depends on the inputs becomes ONNX nodes (``ops_*.py`` map them), the parameters and buffers it used become
initializers under their state_dict names, and the rest of what the forward computed from constants alone is
baked in as constants - a trace, as PyTorch's exporter makes one: Python control flow takes the path the example
took, and a value that ``forward`` computes outside tinynet's ops (through ``.numpy()``, ``.item()``, ``.array``)
is a constant of the file.

The ``onnx`` package is imported only when ``export`` runs: ``pip install -e ".[onnx]"`` (with ``onnxruntime`` to
run the file).
"""

from __future__ import annotations

import os
import warnings
from typing import Any, BinaryIO

from tinynet import autograd
from tinynet.errors import TinynetError
from tinynet.onnx import ops_layers, ops_pointwise, ops_recurrent, ops_shape  # (importing them fills MAPPINGS)
from tinynet.onnx.graph import MAPPINGS, Builder, ExportError
from tinynet.tensor import Tensor

MIN_OPSET = 17  # LayerNormalization's first opset


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise TinynetError(
            'onnx.export needs the onnx package, which is not installed: pip install -e ".[onnx]" '
            "(onnxruntime, in the same extra, runs the exported file)"
        ) from None
    return onnx


class _Recorder:
    """The watcher: maps each op that depends on a traced tensor to ONNX nodes as it runs."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder

    def forward(self, function: type, inputs: tuple, output: Tensor) -> None:
        b = self.builder
        if not any(b.is_traced(a) for a in _leaves(inputs)):
            return  # computed from constants only: its output is a constant too, baked in where it is used
        op = function.__name__
        if not getattr(function, "on_arrays", True):
            # A Function written outside tinynet (PyTorch-style, on Tensors): its forward's own tinynet ops were
            # traced as they ran, and its output holds the array of the last of them.
            name = b.traced_name(output.array)
            if name is None:
                raise ExportError(f"onnx.export: the custom Function {op} computed its output outside tinynet's ops")
            b.trace(output, name)
            return
        emit = MAPPINGS.get(op)
        if emit is None:
            raise ExportError(f"onnx.export: op {op} has no ONNX mapping yet")
        b.trace(output, emit(b, inputs, output, op=op))

    def backward(self, output: Tensor, grad_output, grad_inputs: tuple) -> None: ...


def _leaves(inputs) -> list:
    # (an index tuple may hold the raw array of a traced tensor: x[idx])
    return [item for a in inputs for item in (a if isinstance(a, tuple) else (a,))]


def export(
    model,
    args: Any = (),
    f: str | os.PathLike | BinaryIO | None = None,
    *,
    kwargs: dict | None = None,
    verbose: bool | None = None,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    opset_version: int | None = None,
    dynamo: bool = False,
    export_params: bool = True,
    dynamic_axes: dict[str, dict[int, str] | list[int]] | None = None,
    do_constant_folding: bool = True,
) -> None:
    """Write ``model`` as an ONNX file ``f`` (a path or a binary file object), traced on the example ``args``.

    args: one Tensor, or a tuple of the forward's positional arguments (a dict last, or ``kwargs``: its keyword
    arguments);
    Tensors among them are the graph's inputs (``input_names``, default input_0, input_1...), everything else a
    constant. The outputs (a Tensor or a tuple/list of them) are named by ``output_names`` (output_0...).
    dynamic_axes: {name: {axis: "dim_name"}} or {name: [axis, ...]}: axes whose size may change at run time (the
    batch axis, say); leading axes kept through reshapes and axes of elementwise ops follow it.
    opset_version: 17 (the default) up to what the installed onnx knows. The model runs in eval mode (dropout is
    the identity, batch norm uses its running statistics) and is put back in its mode afterwards.
    ``export_params=False``, ``verbose`` and ``do_constant_folding=False`` are not supported (constants are always
    folded and parameters always written); ``dynamo`` changes nothing (this exporter is tinynet's trace either way),
    and unlike PyTorch's dynamo exporter nothing is returned: the model goes to ``f``.

    Raises TinynetError naming the op for an op without an ONNX mapping yet.
    """
    onnx = _require_onnx()
    if f is None:
        raise ExportError("onnx.export: give f, the path (or binary file object) to write the model to")
    opset = MIN_OPSET if opset_version is None else int(opset_version)
    latest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= latest:
        raise ExportError(f"onnx.export: opset_version must be in [{MIN_OPSET}, {latest}], got {opset_version}")
    if not export_params or verbose or not do_constant_folding:
        raise ExportError(
            "onnx.export: export_params=False, verbose=True and do_constant_folding=False are not supported"
        )
    positional, keywords = _split_args(args)
    keywords.update(kwargs or {})
    builder = Builder(onnx, opset, _state_names(model))
    inputs = _graph_inputs(builder, positional, input_names)
    outputs = _traced_outputs(model, builder, positional, keywords)
    graph_outputs = _graph_outputs(builder, outputs, output_names)
    _warn_unused(builder, inputs)
    shapes = _dynamic_shapes(dynamic_axes, inputs + graph_outputs)
    graph = onnx.helper.make_graph(
        builder.nodes,
        "tinynet",
        [builder.tensor_type(name, t.dtype, shapes.get(name, t.shape)) for name, t in inputs],
        [builder.tensor_type(name, t.dtype, shapes.get(name, t.shape)) for name, t in graph_outputs],
        builder.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    model_proto = onnx.helper.make_model(
        graph, opset_imports=opsets, producer_name="tinynet", ir_version=onnx.helper.find_min_ir_version_for(opsets)
    )
    try:
        onnx.checker.check_model(model_proto)
    except onnx.checker.ValidationError as err:  # a mapping wrote something invalid: tinynet's bug
        raise ExportError(f"onnx.export: the graph failed onnx's checker (a bug in tinynet.onnx): {err}") from err
    if isinstance(f, (str, os.PathLike)):
        onnx.save(model_proto, os.fspath(f))
    else:
        f.write(model_proto.SerializeToString())


def _split_args(args) -> tuple[tuple, dict]:
    if isinstance(args, Tensor):
        return (args,), {}
    args = tuple(args)
    if args and isinstance(args[-1], dict):
        return args[:-1], dict(args[-1])
    return args, {}


def _state_names(model) -> dict[int, str]:
    """id(parameter or buffer) -> its state_dict name, for the initializers."""
    names = {}
    for attribute in ("named_buffers", "named_parameters"):
        for name, tensor in getattr(model, attribute, lambda: ())():
            names.setdefault(id(tensor), name)
    return names


def _graph_inputs(builder: Builder, positional: tuple, input_names) -> list[tuple[str, Tensor]]:
    tensors = [a for a in positional if isinstance(a, Tensor)]
    names = _names("input", len(tensors), input_names)
    for name, tensor in zip(names, tensors):
        if not builder.reserve(name):
            raise ExportError(f"onnx.export: the input name {name!r} is given twice")
        builder.trace(tensor, name)
    return list(zip(names, tensors))


def _names(kind: str, count: int, given) -> list[str]:
    given = list(given or [])
    if len(given) > count:
        raise ExportError(f"onnx.export: {len(given)} {kind}_names for {count} {kind} tensors")
    return given + [f"{kind}_{i}" for i in range(len(given), count)]


def _traced_outputs(model, builder: Builder, positional: tuple, keywords: dict) -> list[Tensor]:
    """Run the model once in eval mode with the recorder watching; its output tensors, flattened."""
    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [getattr(m, "training", False) for m in modules]
    recorder = _Recorder(builder)
    autograd.watchers().append(recorder)
    try:
        if hasattr(model, "train"):
            model.train(False)
        # With autograd recording, an inplace=True activation on a tensor that depends on a parameter returns a
        # new tensor (see activation_checks.inplace_result) rather than overwriting one the graph already named.
        with autograd.enable_grad():
            result = model(*positional, **keywords)
    finally:
        autograd.watchers().remove(recorder)
        for m, mode in zip(modules, modes):
            m.training = mode
    outputs = _flatten(result)
    if not outputs:
        raise ExportError(f"onnx.export: the model returned no tensors ({type(result).__name__})")
    return outputs


def _flatten(value) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _flatten(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _flatten(item)]
    return []


def _graph_outputs(builder: Builder, outputs: list[Tensor], output_names) -> list[tuple[str, Tensor]]:
    names = _names("output", len(outputs), output_names)
    for name, tensor in zip(names, outputs):
        if not builder.reserve(name):
            raise ExportError(f"onnx.export: the output name {name!r} is already taken (an input's name?)")
        builder.nodes.append(builder.helper.make_node("Identity", [builder.value(tensor)], [name]))
    return list(zip(names, outputs))


def _warn_unused(builder: Builder, inputs: list[tuple[str, Tensor]]) -> None:
    used = {name for node in builder.nodes for name in node.input}
    for name, _ in inputs:
        if name not in used:
            warnings.warn(
                f"onnx.export: the input {name!r} is not used by the exported graph: the model ignores it, or "
                "computed from it outside tinynet's ops (.numpy(), .item(), .array), which was baked in as a "
                "constant and will not follow other inputs",
                stacklevel=3,
            )


def _dynamic_shapes(dynamic_axes, named: list[tuple[str, Tensor]]) -> dict[str, list]:
    """{value name: shape with the dynamic axes' names in place of their sizes}."""
    shapes: dict[str, list] = {}
    tensors = dict(named)
    for name, axes in (dynamic_axes or {}).items():
        if name not in tensors:
            raise ExportError(f"onnx.export: dynamic_axes names {name!r}, which is no input or output name")
        shape: list[Any] = list(tensors[name].shape)
        labelled = axes.items() if isinstance(axes, dict) else ((a, f"{name}_dynamic_axes_{a + 1}") for a in axes)
        for axis, label in labelled:
            if not -len(shape) <= axis < len(shape):
                raise ExportError(
                    f"onnx.export: dynamic axis {axis} of {name!r} is out of range for shape {tuple(shape)}"
                )
            shape[axis] = str(label)
        shapes[name] = shape
    return shapes


__all__ = ["export"]
