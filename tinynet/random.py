"""Seeded random-number generators, as ``torch.Generator`` and ``torch.random``: everything random in tinynet
(init, rand/randn, dropout, shuffling) draws from ``default_generator`` unless given a ``generator=`` of its own.

    g = tn.Generator().manual_seed(42)
    tn.randperm(10, generator=g)      # repeats for the same seed, whatever else drew numbers meanwhile
    tn.manual_seed(0)                 # reseeds the default generator (and returns it, as PyTorch)

Random numbers are drawn on the host and then moved to the backend, so a seed gives the same numbers on every
backend (which is what lets the backends be compared step for step). A Generator wraps NumPy's PCG64 generator,
so the numbers are not the ones PyTorch's Mersenne Twister draws for the same seed; their distributions are.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

import numpy as np

from tinynet.device import device as as_device
from tinynet.errors import ArgumentError, ArgumentTypeError
from tinynet.tensor import Tensor, to_host

# Seeds are unsigned 64-bit, as PyTorch's: a negative seed s stands for s + 2**64.
_SEED_MIN, _SEED_MAX = -(2**63), 2**64 - 1
# The default generator's seed when nothing has seeded it. (PyTorch's is 67280421310721; tinynet has always
# started from 0, and its numbers differ from PyTorch's whatever the seed.)
_DEFAULT_SEED = 0


def _check_seed(seed) -> int:
    # PyTorch's Generator.manual_seed takes an int and nothing else (not a float, not a bool).
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ArgumentTypeError(f"manual_seed expected a long, but got {type(seed).__name__}")
    seed = int(seed)
    if not _SEED_MIN <= seed <= _SEED_MAX:
        raise ArgumentError(f"manual_seed: seed {seed} overflows 64 bits (expected {_SEED_MIN} <= seed < 2**64)")
    return seed % 2**64


class Generator:
    """A random-number generator with its own state, as ``torch.Generator``.

    ``device``: where the tensors it draws for go ("cpu" unless said); draws happen on the host either way.
    The state is NumPy's PCG64 generator, seeded from ``initial_seed()``.
    """

    def __init__(self, device="cpu") -> None:
        self.device = as_device(device)
        self._seed = _DEFAULT_SEED
        self.rng = np.random.default_rng(self._seed)  # the NumPy generator every draw uses

    def manual_seed(self, seed: int) -> Generator:
        """Seed the generator: everything it draws after this repeats exactly. Returns the generator."""
        self._seed = _check_seed(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy (a different stream each time); returns the seed."""
        self.manual_seed(int.from_bytes(os.urandom(8), "little"))
        return self._seed

    def initial_seed(self) -> int:
        """The seed last set by ``manual_seed`` or ``seed`` (an unsigned 64-bit integer)."""
        return self._seed

    def get_state(self) -> Tensor:
        """The state as a uint8 Tensor (as PyTorch's ``ByteTensor``): ``set_state`` puts it back."""
        state = {"seed": self._seed, "bit_generator": self.rng.bit_generator.state}
        return Tensor(np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        """Put back a state from ``get_state``. Returns the generator."""
        if not isinstance(new_state, Tensor) or new_state.dtype != np.uint8:
            raise ArgumentTypeError(f"expected a uint8 Tensor (a ByteTensor), but got {_describe(new_state)}")
        try:
            state = json.loads(to_host(new_state.array).tobytes().decode())
            rng = np.random.default_rng()
            rng.bit_generator.state = state["bit_generator"]
            seed = _check_seed(state["seed"])
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as err:
            raise ArgumentError(f"set_state: not a state from Generator.get_state ({err})") from None
        self._seed, self.rng = seed, rng
        return self

    def __repr__(self) -> str:
        return f"<tinynet.Generator object (device={self.device}, initial_seed={self._seed})>"


def _describe(value) -> str:
    return f"Tensor of dtype {value.dtype}" if isinstance(value, Tensor) else type(value).__name__


default_generator = Generator()


def manual_seed(seed) -> Generator:
    """Reseed the default generator (everything random after this repeats exactly); returns it, as PyTorch."""
    return default_generator.manual_seed(int(seed))


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's seed."""
    return default_generator.initial_seed()


def generator(generator: Generator | None = None, op: str = "random") -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s if given, else the default generator's."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise ArgumentTypeError(f"{op}: generator must be a tinynet.Generator, got {type(generator).__name__}")
    return generator.rng


def get_rng_state() -> Tensor:
    """The default generator's state (a uint8 Tensor), to save in a checkpoint (``tn.save`` keeps it):
    training resumed with ``set_rng_state`` draws the same dropout masks and shuffles as if it had never stopped."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Put the default generator back in a state from ``get_rng_state``."""
    if isinstance(new_state, dict):  # a checkpoint from before states were Tensors: NumPy's own state
        default_generator.rng.bit_generator.state = new_state
        return
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, device_type: str = "cuda") -> Iterator[None]:
    """Run a block with the default generator's state saved before and put back after (``torch.random.fork_rng``):
    what the block draws leaves the numbers drawn after it unchanged. (All draws are on the host: ``devices`` and
    ``device_type`` change nothing.)"""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
