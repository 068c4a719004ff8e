"""Where a tensor's data lives, as ``torch.device``: ``cpu`` (NumPy arrays, the numpy and numba backends) or
``cuda`` (CuPy arrays, the cupy backend). ``x.device``, ``x.cpu()``, ``x.to("cuda")`` use it."""

from __future__ import annotations

from tinynet.errors import ArgumentError

# The backend whose arrays live on each device type (numba's arrays are NumPy's: on the CPU too).
BACKEND_OF = {"cpu": "numpy", "cuda": "cupy"}


class device:
    """A device: ``device("cpu")``, ``device("cuda")``, ``device("cuda:0")``, ``device("cuda", 0)`` or, as in
    PyTorch, a GPU's number alone: ``device(0)`` is cuda:0."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | int | device, index: int | None = None) -> None:  # noqa: A002 (PyTorch's name)
        name = type
        if isinstance(name, device):
            name, index = name.type, name.index
        elif isinstance(name, int) and not isinstance(name, bool):
            name, index = "cuda", name
        elif ":" in str(name):
            name, number = str(name).split(":", 1)
            if not number.isdigit():
                raise ArgumentError(f"device: expected a GPU number after 'cuda:', got {type!r}")
            index = int(number)
        if name not in BACKEND_OF:
            raise ArgumentError(f"device: expected 'cpu' or 'cuda' (optionally 'cuda:N'), got {name!r}")
        self.type, self.index = name, index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            if not is_device(other):
                return False  # x.device == "mps": not this device, rather than an error
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


def is_device(target) -> bool:
    """Whether ``target`` names a device (a device, or a string like "cpu" or "cuda:0")."""
    return isinstance(target, device) or (isinstance(target, str) and target.split(":")[0] in BACKEND_OF)
