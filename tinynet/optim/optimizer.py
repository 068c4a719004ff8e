"""The Optimizer base: parameter groups, per-parameter state, zero_grad and state_dict."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from kernels.numpy_ref import array_module
from tinynet.errors import ArgumentError, ArgumentTypeError
from tinynet.tensor import Tensor, to_host


class Optimizer:
    """Holds ``param_groups`` (dicts of parameters and their settings) and ``state`` per parameter.

    Subclasses write ``step()``. ``params`` is an iterable of tensors, or of dicts
    ``{"params": [...], "lr": ...}`` to give groups their own settings.
    """

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = defaults
        self.state: dict[int, dict] = {}  # by id(param): lives as long as the optimizer
        params = list(params)
        if not params:
            raise ArgumentError(
                f"{type(self).__name__}: got an empty parameter list (did the model define any Parameters?)"
            )
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list[dict] = []
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        group = {**self.defaults, **group, "params": list(group["params"])}
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
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
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter before the next backward."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data = array_module(p.grad.data).zeros_like(p.grad.data)

    def step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Settings and state, with parameters named by their position (as in PyTorch)."""
        index = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            groups.append(
                {**{k: v for k, v in group.items() if k != "params"}, "params": [index[id(p)] for p in group["params"]]}
            )
        state = {
            index[pid]: {k: to_host(v).copy() if hasattr(v, "shape") else v for k, v in s.items()}
            for pid, s in self.state.items()
            if pid in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore settings and state saved by ``state_dict`` from an optimizer over the same parameters."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ArgumentError(
                f"{type(self).__name__}.load_state_dict: the saved parameter groups do not match this optimizer's"
            )
        params = [p for group in self.param_groups for p in group["params"]]
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            xp = array_module(p.data)
            self.state[id(p)] = {
                k: xp.asarray(v).copy() if hasattr(v, "shape") else v for k, v in copy.deepcopy(s).items()
            }
        for own, saved in zip(self.param_groups, groups):
            own.update({k: v for k, v in saved.items() if k != "params"})
