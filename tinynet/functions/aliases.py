"""PyTorch's NumPy-style keyword aliases, accepted where PyTorch accepts them: ``x.sum(axis=1, keepdims=True)``
is ``x.sum(dim=1, keepdim=True)``."""

import functools

_ALIASES = {"axis": "dim", "keepdims": "keepdim"}


def numpy_names(fn):
    """Let ``fn`` (which takes ``dim``/``keepdim``) also be called with ``axis``/``keepdims``."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        for alias, name in _ALIASES.items():
            if alias in kwargs:
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    return call
