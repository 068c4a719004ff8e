"""nn.Module: the base of every layer and model, and nn.Parameter, the tensors it learns.

A Module keeps what it owns in three registries, as PyTorch's does: ``_parameters`` (Parameters, or None for an
optional one such as a missing bias), ``_buffers`` (state that is saved but not learned; names in
``_non_persistent_buffers_set`` are left out of ``state_dict``) and ``_modules`` (sub-modules). Assigning an
attribute files it in the right registry; reading one looks there after the ordinary attributes.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from kernels.numpy_ref import array_module
from tinynet import backend
from tinynet import device as target_device
from tinynet import memory as _memory
from tinynet.autograd import _thread as _autograd_thread
from tinynet.dtypes import float16, float32, float64, get_default_dtype
from tinynet.errors import DTypeError, ShapeError, TinynetError
from tinynet.tensor import Tensor, to_backend, to_host


class Parameter(Tensor):
    """A tensor a Module learns: assigning one to a module attribute registers it.

    ``Parameter(data=None, requires_grad=True)``: shares ``data``'s array (an empty tensor when None), as PyTorch.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=get_default_dtype())
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        # copy.deepcopy(model) (TransformerEncoder's clones, say): a new Parameter with copied values, no grad.
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.array.copy(), self.requires_grad)
        return memo[id(self)]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys the model wanted but did not get, and those it did not know."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


IncompatibleKeys = _IncompatibleKeys


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends: ``handle.remove()`` takes the hook away again."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self.hooks, self.id = hooks, RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)


def _type_name(value) -> str:
    """How PyTorch names a value's type in its errors: 'torch.FloatTensor' for tensors, else the class name."""
    return value.type() if isinstance(value, Tensor) else type(value).__name__


def _check_name(kind: str, name) -> None:
    """PyTorch's rules for a registered name: a non-empty string without dots, not an existing attribute."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')


def _indent(text: str, spaces: int) -> str:
    """Indent every line of ``text`` but the first (a child's repr inside its parent's)."""
    lines = text.split("\n")
    return lines[0] if len(lines) == 1 else lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of layers and models.

    Assign Parameters and sub-Modules as attributes in ``__init__``; they are registered in order,
    so ``parameters()``, ``state_dict()`` and ``repr`` find them. Write ``forward``; call the module.
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = {}
        d["_forward_hooks"] = {}

    # --- attributes: filed in the registries -----------------------------------------------

    def __getattr__(self, name: str):
        # Only names not found as ordinary attributes arrive here.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if params is None and isinstance(value, (Parameter, Module)):
            kind = "parameters" if isinstance(value, Parameter) else "module"
            raise AttributeError(
                f"cannot assign {kind} before Module.__init__() call: {type(self).__name__}.__init__ must call "
                f"super().__init__() before assigning {name!r}"
            )
        if isinstance(value, Parameter):
            self._forget(name, "_buffers", "_modules")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as parameter '{name}' (torch.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name, "_parameters", "_buffers")
            d["_modules"][name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as child module '{name}' (torch.nn.Module or None expected)"
                )
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as buffer '{name}' (torch.Tensor or None expected)"
                )
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, *registries: str) -> None:
        # A name lives in one place: assigning a Parameter over a buffer (say) takes the buffer away.
        d = self.__dict__
        d.pop(name, None)
        for registry in registries:
            d[registry].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in d.get(registry, ()):
                del d[registry][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._parameters, *self._buffers, *self._modules})

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register state that is saved with the model but not learned (running statistics, say).

        ``persistent=False`` keeps it out of ``state_dict`` (a cached mask, say); it still moves with ``to()``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' (torch Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for an optional one that is absent) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_type_name(param)}' object to parameter '{name}' "
                "(torch.nn.Parameter or None required)"
            )
        if param is not None and not param.is_leaf:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created explicitly. "
                f"To express '{name}' as a function of another Tensor, compute the value in the forward() method."
            )
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child under ``name`` (as assigning ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` ("" is self): ``model.get_submodule("encoder.layers.0")``."""
        module = self
        for part in target.split(".") if target else []:
            if not hasattr(module, part):
                raise AttributeError(f"{module._get_name()} has no attribute `{part}`")
            module = getattr(module, part)
            if not isinstance(module, Module):
                raise AttributeError(f"`{part}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``: ``model.get_parameter("0.weight")``."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``: ``model.get_buffer("1.running_mean")``."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return module._buffers[name]

    # --- calling ---------------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        running = _autograd_thread.module_path
        if running is not None and running[-1][0] is not self:  # tinynet.memory records which module runs each op
            return _memory.call_recorded(self, args, kwargs)  # (it calls this again, with self on the stack)
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            changed = hook(self, args)
            if changed is not None:
                args = changed if isinstance(changed, tuple) else (changed,)
        result = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            changed = hook(self, args, result)
            if changed is not None:
                result = changed
        return result

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args)`` runs before each forward; a returned value (a tuple, or one input) replaces args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args, output)`` runs after each forward; a returned value replaces the output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # --- walking the tree ------------------------------------------------------------------

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every module inside it, depth first; a shared one once
        unless ``remove_duplicate`` is False."""
        memo = set() if memo is None else memo
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct children, each module once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and child not in seen:
                seen.add(child)
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()  # ids: a Tensor's == compares values, so tensors cannot go in a set themselves
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs: a module's own first, then its children's; a shared one once
        unless ``remove_duplicate`` is False."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, non-persistent buffers included."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn(module)`` on every submodule and then on self (e.g. custom initialisation)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # --- modes and gradients ---------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch statistics): for this module and all inside it."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Start (or stop: freezing) recording gradients for every parameter; returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient before the next backward: None by default, as PyTorch, or zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                grad = param.grad if param.grad.is_leaf else param.grad.detach()
                grad.requires_grad = False
                # A new zero array rather than writing into the old one: a gradient may be a read-only view.
                grad.array = array_module(grad.array).zeros_like(grad.array)
                param.grad = grad

    # --- devices and dtypes ----------------------------------------------------------------

    def _apply(self, convert: Callable) -> Module:
        """Replace every parameter's and buffer's array (and gradient's) by ``convert(array)``, in place: the
        Parameter objects stay, so an optimizer built before still holds them."""
        for child in self.children():
            child._apply(convert)
        for registry in ("_parameters", "_buffers"):
            for t in self.__dict__[registry].values():
                if t is None:
                    continue
                t.array = convert(t.array)
                if t.grad is not None:
                    t.grad.array = convert(t.grad.array)
        return self

    def _cast(self, dtype) -> Module:
        # Only floating tensors change, as PyTorch: num_batches_tracked stays int64.
        dtype = np.dtype(dtype)
        return self._apply(lambda a: a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a)

    def double(self) -> Module:
        """Make every floating parameter and buffer float64 (for gradcheck)."""
        return self._cast(float64)

    def float(self) -> Module:
        """Make every floating parameter and buffer float32."""
        return self._cast(float32)

    def half(self) -> Module:
        """Make every floating parameter and buffer float16."""
        return self._cast(float16)

    def bfloat16(self) -> Module:
        raise TinynetError("Module.bfloat16: tinynet has no bfloat16 (NumPy lacks it); use half() or float()")

    def to(self, *args, **kwargs) -> Module:
        """Move and/or cast every parameter and buffer in place; returns self, as PyTorch.

        ``model.to("cuda")``, ``model.to(tn.device("cpu"))``, ``model.to(tn.float64)``, ``model.to("cuda",
        tn.float16)``, ``model.to(tensor)`` (its device and dtype), ``model.to(device=..., dtype=...)``. Only floating
        tensors are cast. Backend names move too: ``model.to("cupy")``, ``model.to("numpy")``. "cuda" raises
        BackendError where no GPU can run. Build the optimizer after moving: its state stays where it was.
        """
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs.pop("memory_format", None) is not None and not args and device is None and dtype is None:
            return self  # NumPy arrays have one layout: channels_last changes nothing here
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, bool):  # to(device, dtype, non_blocking) positionally
                continue
            elif (
                isinstance(arg, int)
                or target_device.is_device(arg)
                or (isinstance(arg, str) and arg in backend.MODULES)
            ):
                device = target_device.device("cuda", arg) if isinstance(arg, int) else arg
            else:
                dtype = arg
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind not in "fc":
                raise DTypeError(
                    f"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype={dtype}"
                )
            self._cast(dtype)
        if device is not None:
            name = device if isinstance(device, str) and device in backend.MODULES else None
            name = name or target_device.BACKEND_OF[target_device.device(device).type]
            backend.load(name)  # raises BackendError (why not) before anything has moved
            self._apply(lambda a: to_backend(a, name))
        return self

    def cpu(self) -> Module:
        """Every parameter and buffer on the CPU."""
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """Every parameter and buffer on the GPU (the cupy backend): BackendError says why where none can run."""
        return self.to(
            "cuda" if device is None else target_device.device("cuda", device) if isinstance(device, int) else device
        )

    # --- saving and loading ----------------------------------------------------------------

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Every parameter and persistent buffer by dotted name, each module's own then its children's.

        The values share the module's data (detached, unless ``keep_vars``). Tied weights and shared modules
        appear under every name they have, as in PyTorch, so the keys equal PyTorch's for the same model.
        """
        if args:  # PyTorch's old positional form: state_dict(destination, prefix, keep_vars)
            destination, prefix, keep_vars = (*args, *(None, prefix, keep_vars)[len(args) :])
        destination = OrderedDict() if destination is None else destination
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=destination, prefix=f"{prefix}{name}.", keep_vars=keep_vars)
        return destination

    def _state_slots(self, prefix: str = "") -> Iterator[tuple[str, Module, str, str]]:
        """(key, module, local name, registry) for every entry ``state_dict`` would have, shared ones included."""
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, self, name, "_parameters"
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                yield prefix + name, self, name, "_buffers"
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_slots(f"{prefix}{name}.")

    def load_state_dict(self, state_dict: Mapping, strict: bool = True, assign: bool = False) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers (in place, cast to their dtype).

        Returns ``(missing_keys, unexpected_keys)``. With ``strict`` (the default) either kind is an error; a shape
        mismatch always is. Every problem is listed in one RuntimeError (tinynet's ShapeError), as PyTorch's, and
        nothing is loaded when there is one. ``assign=True`` puts the given tensors in place of the current ones.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        slots = list(self._state_slots())
        expected = {key for key, *_ in slots}
        missing = [key for key, *_ in slots if key not in state_dict]
        unexpected = [key for key in state_dict if key not in expected]
        problems, loads = [], []
        for key, module, name, registry in slots:
            if key not in state_dict:
                continue
            value, current = state_dict[key], module.__dict__[registry][name]
            if not isinstance(value, Tensor) and not hasattr(value, "shape"):
                problems.append(
                    f'While copying the parameter named "{key}", expected torch.Tensor or Tensor-like object from '
                    f"checkpoint but received {type(value)}"
                )
                continue
            if tuple(value.shape) != current.shape:
                problems.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                    f"the shape in current model is {current.shape}."
                )
                continue
            loads.append((module, name, registry, current, value))
        if strict and unexpected:
            problems.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
        if strict and missing:
            problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if problems:
            raise ShapeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(problems))
        for module, name, registry, current, value in loads:
            source = value.array if isinstance(value, Tensor) else value
            source = array_module(current.array).asarray(to_host(source))
            if assign:
                replacement = Tensor(source) if registry == "_buffers" else Parameter(source, current.requires_grad)
                module.__dict__[registry][name] = replacement
            else:
                current.array[...] = source  # in place, cast to the model's dtype: the tensors stay the same objects
                current.mark_changed()
        return _IncompatibleKeys(missing, unexpected)

    # --- printing --------------------------------------------------------------------------

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The arguments shown inside this module's repr, e.g. ``in_features=2, out_features=8``."""
        return ""

    def __repr__(self) -> str:
        # PyTorch's layout: one line when there is only a one-line extra_repr, else one line per extra line and child.
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _indent(repr(child), 2) for name, child in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return f"{self._get_name()}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{self._get_name()}({extra_lines[0]})"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"
