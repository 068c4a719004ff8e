"""The errors tinynet raises. Each subclasses the built-in type a Python user would catch, and the one PyTorch
raises for the same mistake (mostly RuntimeError), so a PyTorch program's ``except RuntimeError`` catches it."""


class TinynetError(Exception):
    """Base of every error tinynet raises on purpose."""


class ShapeError(TinynetError, ValueError, RuntimeError):
    """Shapes that do not fit the op: the message names the op, the shapes and what was expected."""


class ArgumentError(TinynetError, ValueError, RuntimeError):
    """An argument's value the op or class cannot take (a stride of 0, a probability above 1, an unknown
    reduction): the message names the argument, the value and what was expected."""


class ArgumentTypeError(TinynetError, TypeError):
    """An argument of a type the op or class cannot take (a list where a Tensor belongs, say)."""


class DTypeError(TinynetError, TypeError, RuntimeError):
    """A dtype the op cannot take (float labels, say)."""


class IndexingError(TinynetError, IndexError):
    """An index outside a tensor's bounds, or of a kind it cannot take: the message names both."""


class DimensionError(ShapeError, IndexingError):
    """A dim out of range, or an empty dim that an op must pick an element from. PyTorch raises IndexError
    there, so this is an IndexError as well as a ShapeError."""


class GraphError(TinynetError, RuntimeError):
    """Misuse of the autograd graph: backward twice, backward of a non-scalar without a gradient."""


class KernelError(TinynetError, RuntimeError):
    """A kernel failed on inputs its op had accepted: a bug in that kernel, not in the caller's inputs. The
    message names the kernel and its backend; the kernel's own error is chained, with its traceback."""


class BackendError(TinynetError, RuntimeError):
    """An unknown backend, or one that cannot run on this machine (the message says why)."""


class GradcheckError(TinynetError, RuntimeError):
    """An analytic gradient disagrees with finite differences."""


class AnomalyError(TinynetError, RuntimeError):
    """An op made NaN or inf while ``tinynet.detect_anomaly()`` watched: the message names it."""


class NotImplementedOpError(TinynetError, AttributeError, NotImplementedError):
    """A PyTorch name (function, method, module) that tinynet does not have yet: the message names it. An
    AttributeError too, so ``hasattr`` and ``getattr(x, name, default)`` work as for any missing attribute."""
