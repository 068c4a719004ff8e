"""One seeded generator for everything random in tinynet: init, rand/randn, dropout, shuffling.

Random numbers are drawn on the host and then moved to the backend, so a seed gives the same
numbers on every backend (which is what lets the backends be compared step for step).
"""

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reseed tinynet's generator: everything random after this repeats exactly."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The current generator (a ``numpy.random.Generator``)."""
    return _generator
