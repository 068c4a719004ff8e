"""nn.Module: the base of every layer and model, and nn.Parameter, the tensors it learns."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Iterator

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet.errors import DTypeError, ShapeError
from tinynet.tensor import Tensor, float32, float64, to_backend, to_host


class Parameter(Tensor):
    """A tensor a Module learns: assigning one to a module attribute registers it."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of layers and models.

    Assign Parameters and sub-Modules as attributes in ``__init__``; they are registered in order,
    so ``parameters()``, ``state_dict()`` and ``repr`` find them. Write ``forward``; call the module.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning {name!r}"
            )
        is_buffer = name in self._buffers and (
            value is None or (isinstance(value, Tensor) and not isinstance(value, Parameter))
        )
        for registry in (
            (self._parameters, self._modules) if is_buffer else (self._parameters, self._buffers, self._modules)
        ):
            registry.pop(name, None)
        if is_buffer:
            self._buffers[name] = value
        elif isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Register state that is saved with the model but not learned (running statistics, say)."""
        self._buffers[name] = tensor
        self.__setattr__(name, tensor)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- walking the tree ------------------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every module inside it, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, each parameter once even if shared."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is not None and id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for module_name, module in self.named_modules():
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buf

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every submodule and then on self (e.g. custom initialisation)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # --- modes and gradients ---------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch statistics): for this module and all inside it."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient before the next backward."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.data = array_module(param.grad.data).zeros_like(param.grad.data)

    def _cast(self, dtype) -> Module:
        for _, t in [*self.named_parameters(), *self.named_buffers()]:
            if t.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                t.grad = None
        return self

    def double(self) -> Module:
        """Make every floating parameter and buffer float64 (for gradcheck)."""
        return self._cast(float64)

    def float(self) -> Module:
        """Make every floating parameter and buffer float32."""
        return self._cast(float32)

    def to(self, target) -> Module:
        """Move every parameter and buffer (and gradient) to backend ``target`` in place; returns self.

        ``model.to("cupy")`` puts the model on the GPU, ``model.to("numpy")`` brings it back. Build the
        optimizer after moving: the state an optimizer already holds stays where it was. A floating dtype
        as ``target`` casts instead, as ``double()`` and ``float()`` do.
        """
        if not (isinstance(target, str) and target in backend.MODULES):
            if np.dtype(target).kind != "f":
                raise DTypeError(f"{type(self).__name__}.to: expected a backend name or floating dtype, not {target!r}")
            return self._cast(target)
        for _, t in [*self.named_parameters(), *self.named_buffers()]:
            t.data = to_backend(t.data, target)
            if t.grad is not None:
                t.grad.data = to_backend(t.grad.data, target)
        return self

    # --- saving and loading ----------------------------------------------------------------

    def state_dict(self) -> OrderedDict:
        """Every parameter and buffer by dotted name (tensors sharing the module's data)."""
        state = OrderedDict()
        for name, t in [*self.named_parameters(), *self.named_buffers()]:
            state[name] = t.detach()
        return state

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Shapes and dtype kinds (floating, integer, bool) must match. With ``strict`` (the default),
        missing and unexpected keys are errors too; every problem is listed in one error, not just the first.
        """
        own = dict([*self.named_parameters(), *self.named_buffers()])
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        for name in [k for k in own if k in state_dict]:
            value = state_dict[name]
            value = value.data if isinstance(value, Tensor) else value
            shape = tuple(np.shape(value))
            if shape != own[name].shape:
                problems.append(f"{name}: shape {shape} in the state dict, {own[name].shape} in the model")
            # float64 into float32 is a cast; integers into a float parameter are a mix-up.
            dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
            if dtype.kind != own[name].dtype.kind:
                problems.append(f"{name}: dtype {dtype} in the state dict, {own[name].dtype} in the model")
        if strict:
            problems += [f"missing key {k!r}" for k in missing] + [f"unexpected key {k!r}" for k in unexpected]
        if problems:
            raise ShapeError(f"load_state_dict into {type(self).__name__}:\n  " + "\n  ".join(problems))
        for name in own.keys() & state_dict.keys():
            value = state_dict[name]
            target = own[name]
            host = to_host(value.data if isinstance(value, Tensor) else np.asarray(value))
            target.data = array_module(target.data).asarray(host).astype(target.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # --- printing --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The arguments shown inside this module's repr, e.g. ``in_features=2, out_features=8``."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = f"{type(self).__name__}({self.extra_repr()}" if self.extra_repr() else f"{type(self).__name__}("
        return head + "\n  " + "\n  ".join(lines) + "\n)"
