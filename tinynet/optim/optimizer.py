"""The Optimizer base: parameter groups, per-parameter state, zero_grad, state_dict, as ``torch.optim.Optimizer``."""

from __future__ import annotations

import copy
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import chain

import numpy as np

from kernels.numpy_ref import array_module
from tinynet.autograd import enable_grad
from tinynet.errors import ArgumentError, ArgumentTypeError, IndexingError, TinynetError
from tinynet.tensor import Tensor, to_host


class Optimizer:
    """Holds ``param_groups`` (dicts of parameters and their settings) and ``state`` per parameter.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs (``model.named_parameters()``), or of
    dicts ``{"params": [...], "lr": ...}`` giving groups their own settings; ``defaults`` fills the settings
    a group leaves out. ``state`` maps each parameter (the Tensor itself) to a dict of arrays and numbers.
    Subclasses write ``step(closure=None)`` and start it with ``self._begin_step(closure)``.
    """

    def __init__(self, params: Iterable, defaults: dict) -> None:
        if isinstance(params, Tensor):
            raise ArgumentTypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, but got a Tensor "
                "(write [tensor], or model.parameters())"
            )
        _check_betas(type(self).__name__, defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict] = defaultdict(dict)  # keyed by the parameter, as in PyTorch
        self.param_groups: list[dict] = []
        params = list(params)
        if not params:
            raise ArgumentError(
                f"{type(self).__name__}: got an empty parameter list (did the model define any Parameters?)"
            )
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"

    # --- parameter groups ---------------------------------------------------------------------

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (``{"params": [...], **settings}``); unset settings take the defaults.

        Useful to train layers unfrozen later (fine-tuning). A parameter may belong to only one group.
        """
        if not isinstance(param_group, dict):
            raise ArgumentTypeError(f"{type(self).__name__}: a parameter group must be a dict, got "
                                    f"{type(param_group).__name__}")  # fmt: skip
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise ArgumentTypeError(
                f"{type(self).__name__}: parameters must be in an ordered collection (a list), not a set: "
                "their order names them in state_dict"
            )
        params, names = self._split_names(list(params))
        group = dict(param_group, params=params)
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise ArgumentTypeError(f"{type(self).__name__}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:  # frozen leaves (requires_grad False) are fine: they get no grad and stay put
                raise ArgumentError(
                    f"{type(self).__name__}: can only optimize leaf tensors, not the result of an op (shape {p.shape})"
                )
            if id(p) in seen:
                raise ArgumentError(
                    f"{type(self).__name__}: a parameter (shape {p.shape}) appears in more than one group"
                )
            seen.add(id(p))
        named = ["param_names" in g for g in [*self.param_groups, group]]
        if any(named) and not all(named):
            raise ArgumentError(f"{type(self).__name__}: all parameter groups should be with, or all without, names")
        self.param_groups.append(group)

    def _split_names(self, params: list) -> tuple[list, list]:
        """``[(name, tensor), ...]`` -> tensors and names; plain tensors -> tensors and []."""
        named = [isinstance(p, tuple) for p in params]
        if not any(named):
            return params, []
        if not all(named):
            raise ArgumentError(f"{type(self).__name__}: all parameters should be with, or all without, names")
        return [p for _, p in params], [name for name, _ in params]

    # --- gradients and steps ------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter before the next backward: drop them (None, the default),
        or with ``set_to_none=False`` fill them with zeros in place (the same grad Tensor, now zero)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.array = array_module(p.grad.array).zeros_like(p.grad.array)
                    p.grad.mark_changed()

    def _begin_step(self, closure: Callable | None):
        """Run ``closure`` (which recomputes and returns the loss) with gradients on, as PyTorch's step does."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _check_flags(self, differentiable: bool) -> None:
        if differentiable:
            raise TinynetError(
                f"{type(self).__name__}: differentiable=True (autograd through the optimizer's step) is not "
                "supported by tinynet: its steps update the arrays in place, outside the graph"
            )

    def step(self, closure: Callable | None = None):
        raise NotImplementedError

    # --- saving and restoring -----------------------------------------------------------------

    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, as in PyTorch.

        Parameters are named by their position across the groups; state arrays are NumPy copies (on the
        host), so the saved dict does not follow later steps and can be stored with ``tn.save``.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: v for k, v in group.items() if k != "params"}
            groups.append({**packed, "params": [index[id(p)] for p in group["params"]]})
        state = {
            index[id(p)]: {k: to_host(v).copy() if hasattr(v, "shape") else v for k, v in s.items()}
            for p, s in self.state.items()
            if isinstance(p, Tensor) and id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore settings and state saved by ``state_dict`` from an optimizer over the same parameters.

        The saved groups must have as many parameters as this optimizer's; state arrays are copied and
        cast to each parameter's dtype and array library (``step`` stays a number).
        """
        state_dict = copy.deepcopy(state_dict)
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ArgumentError(
                f"{type(self).__name__}.load_state_dict: the saved state has {len(saved_groups)} parameter groups, "
                f"this optimizer {len(self.param_groups)}"
            )
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ArgumentError(
                f"{type(self).__name__}.load_state_dict: the saved parameter groups do not match the size of this "
                "optimizer's groups"
            )
        by_index = dict(
            zip(chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in self.param_groups))
        )  # fmt: skip
        self.state = defaultdict(dict)
        for key, saved in state_dict["state"].items():
            p = by_index.get(int(key)) if isinstance(key, (int, np.integer, str)) else None
            if p is None:
                continue
            self.state[p] = {name: _restored(name, value, p) for name, value in saved.items()}
        for group, saved in zip(self.param_groups, saved_groups):
            params = group["params"]
            group.clear()
            group.update({k: v for k, v in saved.items() if k != "params"}, params=params)


def _restored(name: str, value, param: Tensor):
    """A saved state entry, ready for ``param``: arrays copied into its array library and dtype."""
    if isinstance(value, Tensor):
        value = value.array
    if not hasattr(value, "shape"):
        return value
    if name == "step":  # a count (PyTorch saves it as a 0-d tensor)
        number = to_host(value).item()
        return int(number) if float(number).is_integer() else number
    xp = array_module(param.array)
    dtype = param.array.dtype if np.dtype(value.dtype).kind == "f" else value.dtype
    return xp.array(xp.asarray(to_host(value) if xp is np else value), dtype=dtype, copy=True)


def check_hyperparameters(name: str, **values: float) -> None:
    """Raise PyTorch's ValueError for a negative setting: ``check_hyperparameters("Adam", lr=lr, eps=eps)``.

    NaN is refused for every setting (PyTorch's SGD lets a NaN lr, momentum or weight_decay through, to NaN
    weights at the first step; its other optimizers refuse it); inf passes, as in PyTorch.
    """
    for key, value in values.items():
        if isinstance(value, Tensor):  # PyTorch takes a Tensor lr (for capturable/fused steps): tinynet not yet
            raise ArgumentTypeError(
                f"{name}: a Tensor {key} is not supported by tinynet yet; pass a Python number ({key}.item())"
            )
        if not isinstance(value, numbers.Real):
            raise ArgumentTypeError(f"{name}: {key} must be a number, got {type(value).__name__}")
        if not value >= 0:  # (NaN fails this too, as PyTorch's checks refuse it)
            raise ArgumentError(f"{name}: invalid {key} value: {value} (must be >= 0)")


def _check_betas(name: str, defaults: dict) -> None:
    """``betas`` must be a pair (beta1, beta2); each optimizer checks their range. PyTorch raises IndexError for a
    shorter one (reading betas[1]) and fails at the first step for a longer one."""
    if "betas" not in defaults:
        return
    betas = defaults["betas"]
    if not isinstance(betas, (tuple, list)):
        raise ArgumentTypeError(f"{name}: betas must be a pair of numbers (beta1, beta2), got {type(betas).__name__}")
    if len(betas) < 2:
        raise IndexingError(f"{name}: betas must be a pair of numbers (beta1, beta2), got {len(betas)} value(s)")
    if len(betas) > 2:
        raise ArgumentError(f"{name}: betas must be a pair of numbers (beta1, beta2), got {len(betas)} values")
