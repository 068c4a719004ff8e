"""``tn.backends``, as ``torch.backends``: the switches PyTorch programs set for cuDNN, TF32 and Apple's MPS.

tinynet has no cuDNN, does not use TF32 and has no MPS device, so the flags are accepted and remembered but
change nothing: ``cudnn.benchmark = True`` in a PyTorch program runs as it is, and ``tinynet doctor`` says
what each flag set means here. (Not to be confused with ``tinynet.backend``: tinynet's own kernel tables.)
"""

from __future__ import annotations

from tinynet.backends import cuda, cudnn, mps

# (name as PyTorch spells it, read the flag, PyTorch's default, what it does in tinynet)
_NO_CUDNN = "no effect: tinynet has no cuDNN; its convolutions and pooling run tinynet's own kernels"
_NO_TF32 = "no effect: tinynet does not use TF32; float32 products are computed in float32"
FLAGS = [
    ("torch.backends.cudnn.benchmark", lambda: cudnn.benchmark, False,
     _NO_CUDNN + ", which it does not autotune"),
    ("torch.backends.cudnn.deterministic", lambda: cudnn.deterministic, False,
     _NO_CUDNN + "; a seed (tn.manual_seed) repeats tinynet's random draws"),
    ("torch.backends.cudnn.enabled", lambda: cudnn.enabled, True, _NO_CUDNN + ", whatever this says"),
    ("torch.backends.cudnn.allow_tf32", lambda: cudnn.allow_tf32, True, _NO_TF32),
    ("torch.backends.cuda.matmul.allow_tf32", lambda: cuda.matmul.allow_tf32, False, _NO_TF32),
]  # fmt: skip


def flags_set() -> list[tuple[str, object, str]]:
    """(name, value, what it means here) for every flag a program set away from PyTorch's default."""
    return [(name, read(), meaning) for name, read, default, meaning in FLAGS if read() != default]


__all__ = ["cuda", "cudnn", "flags_set", "mps"]
