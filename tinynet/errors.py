"""The errors tinynet raises. Each subclasses the built-in type a Python user would catch."""


class TinynetError(Exception):
    """Base of every error tinynet raises on purpose."""


class ShapeError(TinynetError, ValueError):
    """Shapes that do not fit the op: the message names the op, the shapes and what was expected."""


class ArgumentError(TinynetError, ValueError):
    """An argument's value the op or class cannot take (a stride of 0, a probability above 1, an unknown
    reduction): the message names the argument, the value and what was expected."""


class ArgumentTypeError(TinynetError, TypeError):
    """An argument of a type the op or class cannot take (a list where a Tensor belongs, say)."""


class DTypeError(TinynetError, TypeError):
    """A dtype the op cannot take (float labels, say)."""


class IndexingError(TinynetError, IndexError):
    """An index outside a tensor's bounds, or of a kind it cannot take: the message names both."""


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
