"""What Numba made of a function: whether it is compiled, with parallel=True, and how many of its loops were written
with prange (the numba_softmax exercise checks a learner's kernel with it; tinynet/ never imports numba itself)."""

from numba.core.dispatcher import Dispatcher


def describe(fn) -> dict:
    """{"compiled": a Numba dispatcher, "parallel": compiled with parallel=True, "user_pranges": how many loops of
    its compiled versions were written with prange}. Call ``fn`` once before, so that a version exists: Numba's
    parfor diagnostics tell a user's prange from the parallel loops it makes of array expressions itself."""
    if not isinstance(fn, Dispatcher):
        return {"compiled": False, "parallel": False, "user_pranges": 0}
    count = 0
    for signature in fn.signatures:
        diagnostics = fn.overloads[signature].metadata.get("parfor_diagnostics")
        for parfor in getattr(diagnostics, "initial_parfors", []):
            count += sum(1 for p in parfor.patterns if isinstance(p, tuple) and p[:2] == ("prange", "user"))
    return {"compiled": True, "parallel": bool(fn.targetoptions.get("parallel")), "user_pranges": count}


__all__ = ["describe"]
