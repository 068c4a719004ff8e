"""Devices, as PyTorch's: factories take ``device=``, an op runs on its inputs' device (CUDA tensors on the cupy
kernels, CPU tensors on the CPU backend set_backend chose), mixing devices is refused naming the op and both
devices, and ``tn.cuda`` / ``tn.accelerator`` / ``tn.backends`` answer as PyTorch's do.

This machine may have no GPU: the CUDA side runs on a fake, NumPy arrays whose class says it is CuPy's (that is
how tinynet tells a CUDA array), with recording kernel tables that show which table an op called.
"""

import sys
import types

import numpy as np
import pytest
from torch_oracle import torch

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import backend, doctor

GPU_USABLE, GPU_REASON = backend.status("cupy")
no_gpu_here = pytest.mark.skipif(GPU_USABLE, reason="this machine has a usable GPU: nothing to refuse")


# --- fakes: a CUDA array, a cupy module, recording kernel tables --------------------------------------------


class CudaArray(np.ndarray):
    """A NumPy array that tinynet takes for a CuPy one (its class lives in a "cupy" module): it computes as
    NumPy, so ops run on it, and hands its values to the host through ``.get()`` as CuPy's arrays do."""

    def get(self) -> np.ndarray:
        return np.asarray(self).copy()


CudaArray.__module__ = "cupy._fake"


def on_gpu(values) -> CudaArray:
    return np.asarray(values).view(CudaArray)


def _fake_cupy() -> types.ModuleType:
    """The array-library functions tinynet's factories call, making CudaArrays."""

    def on_gpu_too(make):
        return lambda *args, **kwargs: on_gpu(make(*args, **kwargs))

    module = types.ModuleType("cupy")
    for name in ("asarray", "full", "eye", "zeros", "ones", "tril"):
        setattr(module, name, on_gpu_too(getattr(np, name)))
    return module


def recording_table(name: str, xp, calls: list) -> backend.Backend:
    """A kernel table of array library ``xp`` whose relu_forward and matmul append ``name`` to ``calls``."""
    kernels = types.ModuleType(f"{name}_kernels")
    kernels.array_module = lambda: xp

    def relu_forward(x):
        calls.append(name)
        return np.maximum(x, 0)

    def matmul(a, b):
        calls.append(name)
        return a @ b

    kernels.relu_forward, kernels.matmul = relu_forward, matmul
    return backend.Backend(name, kernels)


@pytest.fixture
def calls() -> list:
    return []


@pytest.fixture
def recording_cpu(monkeypatch, calls) -> str:
    """A CPU backend (NumPy arrays) called "recording": set_backend("recording") chooses it."""
    monkeypatch.setitem(backend._loaded, "recording", recording_table("recording", np, calls))
    return "recording"


@pytest.fixture
def fake_gpu(monkeypatch, calls) -> types.ModuleType:
    """A usable "cupy" backend on CudaArrays, recording as "gpu" (and sys.modules["cupy"] to match)."""
    fake = _fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setitem(backend._loaded, "cupy", recording_table("gpu", fake, calls))
    yield fake
    backend.set_default_device("cpu")


# --- factories take device= ---------------------------------------------------------------------------------

FACTORIES = {
    "tensor": lambda lib, d: lib.tensor([1.0, 2.0], device=d),
    "as_tensor": lambda lib, d: lib.as_tensor([1, 2], device=d),
    "zeros": lambda lib, d: lib.zeros(2, 3, device=d),
    "ones": lambda lib, d: lib.ones((2,), device=d, dtype=lib.int64),
    "empty": lambda lib, d: lib.empty(2, device=d).shape,
    "full": lambda lib, d: lib.full((2,), 7, device=d),
    "arange": lambda lib, d: lib.arange(1, 7, 2, device=d),
    "linspace": lambda lib, d: lib.linspace(0, 1, 5, device=d),
    "eye": lambda lib, d: lib.eye(3, 2, device=d),
    "zeros_like": lambda lib, d: lib.zeros_like(lib.ones(2, dtype=lib.float64), device=d),
    "ones_like": lambda lib, d: lib.ones_like(lib.ones(2), device=d),
    "full_like": lambda lib, d: lib.full_like(lib.ones(2), 3.5, device=d),
    "empty_like": lambda lib, d: lib.empty_like(lib.ones(2), device=d).shape,
    "new_zeros": lambda lib, d: lib.ones(2, dtype=lib.int64).new_zeros(3, device=d),
    "new_ones": lambda lib, d: lib.ones(2).new_ones((2, 2), device=d),
    "new_empty": lambda lib, d: lib.ones(2).new_empty(3, device=d).shape,
    "new_full": lambda lib, d: lib.ones(2).new_full((2,), 4.0, device=d),
    "new_tensor": lambda lib, d: lib.ones(2).new_tensor([3, 4], device=d),
    "rand": lambda lib, d: lib.rand(2, 3, device=d).shape,
    "randn": lambda lib, d: lib.randn(2, device=d).dtype,
    "randint": lambda lib, d: lib.randint(0, 5, (3,), device=d).dtype,
    "randperm": lambda lib, d: lib.randperm(4, device=d).shape,
    "rand_like": lambda lib, d: lib.rand_like(lib.ones(2), device=d).shape,
    "randn_like": lambda lib, d: lib.randn_like(lib.ones(2), device=d).shape,
    "normal": lambda lib, d: lib.normal(0.0, 1.0, size=(2,), device=d).shape,
}  # fmt: skip


def _same(got, expected) -> None:
    if isinstance(expected, torch.Tensor):
        assert got.device == tn.device("cpu") and str(got.device) == str(expected.device) == "cpu"
        assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    elif isinstance(expected, torch.dtype):
        assert str(got) == str(expected).removeprefix("torch.")
    else:
        assert tuple(got) == tuple(expected)


@pytest.mark.parametrize("factory", list(FACTORIES))
@pytest.mark.parametrize("where", ["cpu", "device"])
def test_every_factory_takes_device_cpu_as_pytorch(factory, where):
    make = FACTORIES[factory]
    _same(make(tn, "cpu" if where == "cpu" else tn.device("cpu")),
          make(torch, "cpu" if where == "cpu" else torch.device("cpu")))  # fmt: skip


@no_gpu_here
@pytest.mark.parametrize("factory", list(FACTORIES))
@pytest.mark.parametrize("where", ["cuda", "cuda:0", "device"])
def test_every_factory_refuses_cuda_here_saying_why(factory, where):
    target = tn.device("cuda") if where == "device" else where
    with pytest.raises(tn.BackendError, match=r"device=.*cuda.* cannot be used: backend 'cupy' is not usable here"):
        FACTORIES[factory](tn, target)


def test_an_unknown_device_is_refused_naming_the_factory():
    with pytest.raises(tn.ArgumentError, match=r"zeros: device='mps' cannot be used: .*expected 'cpu' or 'cuda'"):
        tn.zeros(2, device="mps")
    with pytest.raises(tn.ArgumentTypeError, match=r"arange: device=2\.5"):
        tn.arange(3, device=2.5)
    with pytest.raises(tn.ArgumentError, match="a GPU number after 'cuda:'"):
        tn.device("cuda:x")


def test_devices_print_and_compare_as_pytorch():
    for spec in ["cpu", "cuda", "cuda:0"]:
        assert str(tn.device(spec)) == str(torch.device(spec)), spec
        assert repr(tn.device(spec)) == repr(torch.device(spec)), spec
    assert tn.device(0) == "cuda:0" and tn.device("cpu") == tn.device("cpu")  # (PyTorch's needs a GPU to say so)
    assert (tn.device("cpu") == "mps") is False
    assert tn.ones(2).device == "cpu"


# --- the default device --------------------------------------------------------------------------------------


def test_the_default_device_is_the_cpu_as_in_pytorch():
    assert str(tn.get_default_device()) == str(torch.get_default_device()) == "cpu"
    assert tn.ones(2).device == tn.device("cpu")


@no_gpu_here
def test_cuda_as_the_default_device_is_refused_here_and_nothing_changes():
    with pytest.raises(tn.BackendError, match="backend 'cupy' is not usable here"):
        tn.set_default_device("cuda")
    with pytest.raises(tn.BackendError, match="backend 'cupy' is not usable here"):
        tn.ones(2).to("cuda")
    with pytest.raises(tn.BackendError, match="backend 'cupy' is not usable here"):
        tn.ones(2).cuda()
    assert tn.get_default_device() == "cpu" and tn.get_backend() == "numpy"


def test_set_default_device_cuda_and_set_backend_cupy_put_new_tensors_on_the_gpu(fake_gpu):
    for choose in [lambda: tn.set_default_device("cuda"), lambda: tn.set_backend("cupy")]:
        choose()
        assert tn.get_default_device() == tn.device("cuda", 0) and tn.get_backend() == "gpu"
        for made in [tn.zeros(2), tn.tensor([1.0]), tn.arange(3), tn.eye(2), tn.randn(2)]:
            assert isinstance(made.array, CudaArray) and made.device == "cuda:0" and made.is_cuda
        cpu_made = tn.zeros(2, device="cpu")
        assert type(cpu_made.array) is np.ndarray and cpu_made.device == "cpu"
        tn.set_default_device(None)  # PyTorch's way back to the CPU
        assert tn.get_default_device() == "cpu" and type(tn.zeros(2).array) is np.ndarray


def test_like_and_new_factories_and_tensor_of_a_tensor_follow_its_device(fake_gpu):
    x = tn.Tensor(on_gpu(np.ones(3, np.float32)))
    assert x.device == "cuda:0"
    for made in [tn.zeros_like(x), tn.full_like(x, 2.0), x.new_zeros(2), x.new_full((2,), 1.0), x.new_tensor([1.0]),
                 tn.tensor(x), tn.as_tensor(x)]:  # fmt: skip
        assert isinstance(made.array, CudaArray), made
    assert type(tn.zeros_like(x, device="cpu").array) is np.ndarray
    assert type(tn.as_tensor(x, device="cpu").array) is np.ndarray


# --- ops run on their inputs' device -------------------------------------------------------------------------


def test_a_cpu_op_runs_on_the_chosen_cpu_backend_while_cupy_cannot_be_set(recording_cpu, calls, cupy_refused):
    tn.set_backend(recording_cpu)
    with pytest.raises(tn.BackendError, match="not usable here"):
        tn.set_backend("cupy")
    assert tn.get_backend() == recording_cpu  # the refused switch changed nothing
    np.testing.assert_array_equal(F.relu(tn.tensor([-1.0, 2.0])).numpy(), [0.0, 2.0])
    assert calls == ["recording"]


@pytest.fixture
def cupy_refused(monkeypatch):
    """Make backend "cupy" unusable here, whatever the machine (as without a GPU)."""
    from test_cupy_backend import patch_cupy

    patch_cupy(monkeypatch, None)
    monkeypatch.delitem(backend._loaded, "cupy", raising=False)


def test_cpu_ops_use_the_cpu_backend_and_cuda_ops_the_gpu_one_whatever_the_default(recording_cpu, fake_gpu, calls):
    tn.set_backend(recording_cpu)
    tn.set_backend("cupy")  # new tensors on the GPU; the CPU backend stays the recording one
    assert tn.get_backend() == "gpu"
    cpu_x, gpu_x = tn.tensor([-1.0, 2.0], device="cpu"), tn.tensor([-3.0, 4.0])
    assert isinstance(gpu_x.array, CudaArray)
    F.relu(cpu_x), F.relu(gpu_x), cpu_x @ cpu_x, gpu_x @ gpu_x
    assert calls == ["recording", "gpu", "recording", "gpu"]
    tn.set_backend("numpy")  # back on the CPU: CUDA tensors still go to the GPU table
    calls.clear()
    out = F.relu(gpu_x)
    assert calls == ["gpu"] and isinstance(out.array, CudaArray)
    np.testing.assert_array_equal(out.numpy(), [0.0, 4.0])


def test_mixing_a_cuda_and_a_cpu_tensor_names_the_op_and_both_devices(fake_gpu):
    gpu_x, cpu_w = tn.Tensor(on_gpu(np.ones((2, 3), np.float32))), tn.ones(4, 3)
    with pytest.raises(tn.BackendError) as caught:
        F.linear(gpu_x, cpu_w)
    assert str(caught.value).startswith(
        "linear: expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu"
    )
    assert isinstance(caught.value, RuntimeError)  # what PyTorch raises
    with pytest.raises(tn.BackendError, match=r"matmul: expected all tensors .* cpu and cuda:0"):
        tn.ones(2, 3) @ tn.Tensor(on_gpu(np.ones((3, 2), np.float32)))
    with pytest.raises(tn.BackendError, match=r"masked_softmax|attention: expected all tensors to be on the same"):
        F.scaled_dot_product_attention(gpu_x[None], gpu_x[None], gpu_x[None], tn.ones(2, 2, dtype=tn.bool))


def test_for_arrays_skips_what_is_not_an_array():
    assert backend.for_arrays(None, 3, np.ones(2)) is backend.cpu()
    assert backend.for_arrays() is backend.cpu()


# --- tn.cuda, tn.accelerator: PyTorch's answers on this machine ----------------------------------------------


@no_gpu_here
def test_cuda_and_accelerator_answer_as_pytorch_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("PyTorch sees a GPU here")
    assert tn.cuda.is_available() is torch.cuda.is_available() is False
    assert tn.cuda.device_count() == torch.cuda.device_count() == 0
    assert tn.accelerator.is_available() is torch.accelerator.is_available() is False
    assert tn.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert tn.accelerator.device_count() == torch.accelerator.device_count() == 0
    for call in [tn.cuda.current_device, tn.cuda.get_device_name, tn.cuda.synchronize]:
        with pytest.raises(tn.BackendError, match="backend 'cupy' is not usable here"):
            call()
    tn.cuda.empty_cache()  # nothing to free: no error, as in PyTorch
    assert tn.cuda.is_bf16_supported() is False


def test_cuda_seeds_seed_tinynets_one_generator():
    for seed_cuda in [tn.cuda.manual_seed, tn.cuda.manual_seed_all]:
        seed_cuda(5)
        first = tn.rand(4).numpy()
        tn.manual_seed(5)
        np.testing.assert_array_equal(tn.rand(4).numpy(), first)
        seed_cuda(6)
        assert not np.array_equal(tn.rand(4).numpy(), first)


# --- tn.backends flags: accepted, PyTorch's defaults, reported by doctor -------------------------------------

FLAG_PATHS = ["cudnn.benchmark", "cudnn.deterministic", "cudnn.enabled", "cudnn.allow_tf32", "cuda.matmul.allow_tf32"]


def _read(root, path: str):
    for part in path.split("."):
        root = getattr(root, part)
    return root


def _target(root, path: str):
    *parents, name = path.split(".")
    for part in parents:
        root = getattr(root, part)
    return root, name


@pytest.mark.parametrize("path", FLAG_PATHS)
def test_flags_have_pytorchs_defaults(path):
    assert _read(tn.backends, path) == _read(torch.backends, path)


def test_backend_modules_import_as_in_pytorch_programs():
    import tinynet.backends.cudnn as cudnn

    assert cudnn is tn.backends.cudnn and cudnn.is_available() is False
    assert tn.backends.mps.is_available() is torch.backends.mps.is_available() is False


def test_doctor_reports_each_flag_a_program_set_and_what_it_means_here(monkeypatch, capsys):
    ok, found, tip = doctor.pytorch_flags()
    assert ok and "none set" in found and tip == ""
    for path in FLAG_PATHS:
        owner, name = _target(tn.backends, path)
        monkeypatch.setattr(owner, name, not getattr(owner, name))
    ok, found, tip = doctor.pytorch_flags()
    assert ok and found.startswith("5 torch.backends flag(s) set by this program")
    for path in FLAG_PATHS:
        assert f"torch.backends.{path} = " in tip, path
    assert "cudnn.benchmark = True: no effect: tinynet has no cuDNN" in tip
    assert "cuda.matmul.allow_tf32 = True: no effect: tinynet does not use TF32" in tip
    monkeypatch.setattr(doctor, "CHECKS", [("flags", doctor.pytorch_flags)])
    assert doctor.run() == 0
    out = capsys.readouterr().out
    assert "flags" in out and "tip: torch.backends.cudnn.benchmark = True: no effect" in out
