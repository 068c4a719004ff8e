"""``tn.backends.cuda``, as ``torch.backends.cuda``: ``matmul.allow_tf32`` and its kin, accepted with no
effect (tinynet does not use TF32 or reduced-precision reductions)."""

import importlib.util


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: settable flags that tinynet records and ignores."""

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    def __repr__(self) -> str:
        return f"matmul flags (no effect in tinynet): {vars(self)}"


matmul = _MatmulFlags()


def is_built() -> bool:
    """Whether tinynet's CUDA path is installed (cupy importable); ``tn.cuda.is_available()`` says if it runs."""
    return importlib.util.find_spec("cupy") is not None
