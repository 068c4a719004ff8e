"""The CuPy backend: why it cannot run (and that tinynet says so), moving data between backends, and on
a GPU, gradients and whole-model training against the reference.

Kernel-by-kernel parity on a GPU comes from test_backend.py (every backend, every kernel); without a
GPU, test_cupy_emulated.py runs the same CUDA kernels on the CPU and test_cuda_compile.py compiles them.
Moving data and mixing backends are tested here with a fake device array, so they run everywhere.
"""

import importlib
import pkgutil
import re
import sys
import types

import numpy as np
import pytest
from test_model_parity import train_losses

import tinynet as tn
import tinynet.nn.functional as F
from kernels import cupy_gpu
from tinynet import backend, nn
from tinynet.cli import main
from tinynet.models import MNIST1DCNN

GPU_USABLE, GPU_REASON = backend.status("cupy")
needs_gpu = pytest.mark.skipif(not GPU_USABLE, reason=f"needs a CUDA GPU: {GPU_REASON}")


# --- set_backend("cupy") and `tinynet info` say what is missing ------------------------------


class FakeCUDARuntimeError(RuntimeError):
    pass


def _fake_cupy(device_count=None, runtime_error=None, nvrtc_error=None) -> types.SimpleNamespace:
    """A stand-in for the cupy module: its runtime reports ``device_count`` GPUs or raises ``runtime_error``."""

    def get_device_count():
        if runtime_error:
            raise FakeCUDARuntimeError(runtime_error)
        return device_count

    def nvrtc_version():
        if nvrtc_error:
            raise RuntimeError(nvrtc_error)
        return (12, 9)

    runtime = types.SimpleNamespace(getDeviceCount=get_device_count, CUDARuntimeError=FakeCUDARuntimeError)
    nvrtc = types.SimpleNamespace(getVersion=nvrtc_version)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, nvrtc=nvrtc))


def patch_cupy(monkeypatch, module) -> None:
    """Make kernels.cupy_gpu see ``module`` as cupy (None: not installed), for the rest of the test.

    Each module of the package that uses cupy holds its own name for it (imported from cupy_gpu.common),
    so every one is patched: the package itself, common and the family modules.
    """
    names = [f"{cupy_gpu.__name__}.{info.name}" for info in pkgutil.iter_modules(cupy_gpu.__path__)]
    for loaded in [cupy_gpu, *map(importlib.import_module, names)]:
        if hasattr(loaded, "cupy"):
            monkeypatch.setattr(loaded, "cupy", module)


@pytest.fixture
def cupy_as(monkeypatch):
    """Make kernels.cupy_gpu see ``module`` as cupy (None: not installed), and forget any loaded cupy backend."""

    def replace(module):
        patch_cupy(monkeypatch, module)
        monkeypatch.delitem(backend._loaded, "cupy", raising=False)

    return replace


def _info_output(capsys) -> str:
    assert main(["info"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("fake", "says"),
    [
        (None, r'cupy is not installed; fix: pip install -e "\.\[gpu\]"'),
        (dict(runtime_error="cudaErrorNoDevice: no CUDA-capable device is detected"),
         r"no CUDA driver or GPU answers \(cudaErrorNoDevice: no CUDA-capable device is detected\).*nvidia-smi"),
        (dict(device_count=0), "cupy is installed, but this machine has no CUDA GPU"),
        (dict(device_count=1, nvrtc_error='Failure finding "libnvrtc.so.12"'),
         r"NVRTC.*cannot be loaded \(Failure finding .*\); fix: pip install nvidia-cuda-nvrtc-cu12"),
    ],
    ids=["no-cupy", "no-driver-or-gpu", "no-gpu", "no-nvrtc"],
)  # fmt: skip
def test_set_backend_cupy_and_info_say_what_is_missing_and_how_to_fix_it(cupy_as, capsys, fake, says):
    cupy_as(None if fake is None else _fake_cupy(**fake))
    with pytest.raises(tn.BackendError, match=rf"backend 'cupy' is not usable here: .*{says}"):
        tn.set_backend("cupy")
    assert tn.get_backend() == "numpy"
    out = _info_output(capsys)
    assert "[cupy] not usable: backend 'cupy' is not usable here" in out
    assert len(re.findall(says, out)) == 1


def test_with_cupy_installed_but_no_gpu_the_real_reason_is_given():
    """The situation of CI and most laptops: `import cupy` works, the CUDA runtime finds no GPU."""
    if cupy_gpu.cupy is None:
        pytest.skip('cupy is not installed here (pip install -e ".[gpu]" to run this check)')
    if GPU_USABLE:
        pytest.skip("this machine has a usable GPU")
    assert "cupy is installed, but" in GPU_REASON
    with pytest.raises(tn.BackendError, match="cupy is installed, but"):
        tn.tensor([1.0]).to("cupy")


# --- moving data between backends, with a fake device array ---------------------------------


class FakeDeviceArray:
    """Stands in for cupy.ndarray without a GPU: keeps its values "on the device", hands them out only
    through ``.get()``, and, as CuPy does, refuses to meet a NumPy array in arithmetic (TypeError)."""

    __module__ = "cupy"  # so that kernels.numpy_ref.array_module takes it for a CuPy array
    __array_ufunc__ = None  # NumPy defers `ndarray + FakeDeviceArray` to us, and we refuse

    def __init__(self, values) -> None:
        self._values = np.array(values)
        self.shape, self.dtype, self.ndim = self._values.shape, self._values.dtype, self._values.ndim

    def get(self) -> np.ndarray:
        return self._values.copy()

    def astype(self, dtype, copy: bool = True) -> "FakeDeviceArray":
        return FakeDeviceArray(self._values.astype(dtype, copy=copy))

    def _combine(self, other, op):
        if not isinstance(other, (FakeDeviceArray, int, float)):
            raise TypeError(f"Unsupported type {type(other)}")
        return FakeDeviceArray(op(self._values, other._values if isinstance(other, FakeDeviceArray) else other))

    def __add__(self, other):
        return self._combine(other, np.add)

    __radd__ = __add__


@pytest.fixture
def fake_gpu(monkeypatch):
    """A usable "cupy" backend whose arrays are FakeDeviceArrays (and ``sys.modules["cupy"]`` to match)."""
    fake_cupy = types.ModuleType("cupy")
    fake_cupy.asarray = FakeDeviceArray
    kernels = types.ModuleType("fake_cupy_kernels")
    kernels.array_module = lambda: fake_cupy
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setitem(backend._loaded, "cupy", backend.Backend("cupy", kernels))
    return fake_cupy


def test_tensor_to_a_backend_copies_the_data_across_as_a_new_leaf(fake_gpu):
    x = tn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    on_gpu = x.to("cupy")
    assert isinstance(on_gpu.array, FakeDeviceArray) and on_gpu.is_leaf and on_gpu.requires_grad
    assert on_gpu.to("cupy") is on_gpu  # already there: nothing moves
    back = on_gpu.to("numpy")
    assert isinstance(back.array, np.ndarray) and back.is_leaf and back.dtype == x.dtype
    np.testing.assert_array_equal(back.numpy(), [1.0, 2.0, 3.0])
    assert back.array is not x.array  # a copy, not the original
    assert tn.tensor([5], dtype=tn.int64).to("cupy").to("numpy").tolist() == [5]


def test_new_tensors_from_numbers_lists_and_host_arrays_land_on_the_active_gpu_backend(fake_gpu):
    with tn.use_backend("cupy"):
        for data, dtype in [([1.0, 2.0], tn.float32), ((3, 4), tn.int64), (5.0, tn.float32), (np.ones(2), tn.float32)]:
            t = tn.tensor(data)
            assert isinstance(t.array, FakeDeviceArray) and t.dtype == dtype, data
            np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=dtype))


def test_tensor_to_keeps_its_dtype_form():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(tn.float64).dtype == tn.float64 and x.to("float64").grad_fn == "CastBackward"
    assert x.to("numba") is x and x.to("numpy") is x  # numpy and numba both hold NumPy arrays


def test_module_to_moves_parameters_buffers_and_gradients_in_place(fake_gpu):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(tn.randn(4, 3)).sum().backward()
    before = {name: t.numpy().copy() for name, t in model.state_dict().items()}
    weight = model[0].weight
    assert model.to("cupy") is model
    assert model[0].weight is weight  # the same Parameter objects, their data moved
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        assert isinstance(t.array, FakeDeviceArray), name
    assert isinstance(weight.grad.array, FakeDeviceArray)
    model.to("numpy")
    for name, t in model.state_dict().items():
        assert isinstance(t.array, np.ndarray)
        np.testing.assert_array_equal(t.numpy(), before[name], err_msg=name)


def test_module_to_a_backend_that_cannot_run_moves_nothing(cupy_as):
    cupy_as(None)
    model = nn.Linear(3, 2)
    with pytest.raises(tn.BackendError, match="cupy is not installed"):
        model.to("cupy")
    assert all(isinstance(p.array, np.ndarray) for p in model.parameters())


def test_module_to_a_dtype_casts_and_rejects_integer_dtypes():
    model = nn.Linear(3, 2)
    assert model.to(tn.float64).weight.dtype == tn.float64
    with pytest.raises(
        TypeError, match=r"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype=int64"
    ):
        model.to(tn.int64)


def test_mixing_tensors_of_two_backends_names_both(fake_gpu):
    on_gpu, on_host = tn.tensor([1.0, 2.0]).to("cupy"), tn.tensor([3.0, 4.0])
    for a, b in [(on_gpu, on_host), (on_host, on_gpu)]:
        with pytest.raises(tn.BackendError, match=r"add: expected all tensors to be on the same device, but found"):
            a + b
    np.testing.assert_array_equal((on_gpu + on_gpu).numpy(), [2.0, 4.0])  # one backend: fine


def test_an_unrelated_type_error_is_not_reported_as_a_backend_mix():
    class Broken(tn.Function):
        @staticmethod
        def forward(ctx, x):
            raise TypeError("a bug in forward")

    with pytest.raises(TypeError, match="a bug in forward") as caught:
        Broken.apply(tn.tensor([1.0]))
    assert not isinstance(caught.value, tn.BackendError)


# --- on a GPU: gradients and whole-model training -------------------------------------------


@needs_gpu
def test_tensor_to_cupy_and_back_on_a_real_gpu():
    import cupy

    x = tn.tensor([[1.0, 2.0], [3.0, 4.0]])
    on_gpu = x.to("cupy")
    assert isinstance(on_gpu.array, cupy.ndarray)
    np.testing.assert_array_equal(on_gpu.to("numpy").numpy(), x.numpy())
    with pytest.raises(tn.BackendError, match="expected all tensors to be on the same device"):
        on_gpu @ x


def _gradcheck_cases(rng):
    def t(*shape):
        return tn.tensor(rng.standard_normal(shape), dtype=tn.float64, requires_grad=True)

    causal = tn.tensor(np.tril(np.ones((5, 7), dtype=bool)))
    labels = tn.tensor(rng.integers(0, 6, 4))
    indices = tn.tensor(rng.integers(0, 5, (3, 4)))
    return {
        "gelu": (lambda x: F.gelu(x), [t(3, 4)]),
        "sigmoid_tanh_relu": (lambda x: F.relu(F.tanh(x)) + F.sigmoid(x), [t(3, 4)]),
        "log_softmax": (lambda x: F.log_softmax(x, 0), [t(4, 6)]),
        "softmax": (lambda x: F.softmax(x, -1), [t(4, 6)]),
        "cross_entropy": (lambda x: F.cross_entropy(x, labels), [t(4, 6)]),
        "layer_norm": (lambda x, w, b: F.layer_norm(x, 6, w, b), [t(3, 6), t(6), t(6)]),
        "embedding": (lambda w: F.embedding(indices, w), [t(5, 3)]),
        "attention": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, causal), [t(2, 5, 4), t(2, 7, 4),
                                                                                        t(2, 7, 3)]),
        "conv2d": (lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2)), [t(2, 2, 5, 6),
                                                                                             t(3, 2, 2, 2)]),
        "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1), [t(1, 2, 3, 3),
                                                                                           t(2, 3, 3, 3)]),
        "max_pool2d": (lambda x: F.max_pool2d(x, 2, 1, 1), [t(1, 2, 4, 5)]),
        "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1), [t(1, 2, 5, 5)]),
    }  # fmt: skip


@needs_gpu
@pytest.mark.parametrize("case", list(_gradcheck_cases(np.random.default_rng(0))))
def test_gradcheck_on_the_gpu(case):
    with tn.use_backend("cupy"):
        fn, inputs = _gradcheck_cases(np.random.default_rng(0))[case]
        assert all(type(x.array).__module__.startswith("cupy") for x in inputs)
        assert tn.gradcheck(fn, inputs)


@needs_gpu
def test_mnist1d_cnn_moved_to_the_gpu_trains_as_on_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((100, 40)).astype(np.float32), rng.integers(0, 10, 100)
    tn.manual_seed(0)
    reference = train_losses(MNIST1DCNN(), x, y)
    assert reference[-1] < 0.5 * reference[0]
    tn.manual_seed(0)
    model = MNIST1DCNN().to("cupy")  # built on the host, then moved
    with tn.use_backend("cupy"):
        # atol: the last losses are near 1e-4, where float32 rounding is the relative 1e-4 (test_model_parity.py).
        np.testing.assert_allclose(train_losses(model, x, y), reference, rtol=1e-4, atol=1e-7)
    assert all(type(p.array).__module__.startswith("cupy") for p in model.parameters())
