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


def get_rng_state() -> dict:
    """The generator's state, to save in a checkpoint (``tn.save`` keeps it): training resumed with
    ``set_rng_state`` draws the same dropout masks and shuffles as if it had never stopped."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Put the generator back in a state from ``get_rng_state``."""
    _generator.bit_generator.state = state
