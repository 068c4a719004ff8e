"""``tn.compile``, as ``torch.compile``: tinynet has no graph compiler, so the model runs eagerly, op by op, as
PyTorch's own ``torch.compile(model, backend="eager")`` does; the result is the model itself."""

from __future__ import annotations


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor", mode=None, options=None,  # noqa: A001
            disable: bool = False):  # fmt: skip
    """Return ``model`` (a Module or a function) unchanged: it runs eagerly. Used as a decorator
    (``@tn.compile`` or ``@tn.compile(mode=...)``) it returns the function."""
    if model is None:
        return lambda function: function
    return model


__all__ = ["compile"]
