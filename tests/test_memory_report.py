"""The memory ledger (tinynet.memory): what a graph saved for backward, each buffer once, parameters left out, by
module; and the peak memory of a block. The sizes expected are those of the arrays the tests themselves make
ops save (a learner's Function saves what it is given), or properties any correct ledger has."""

import threading

import numpy as np
import pytest

import tinynet as tn
from tinynet import nn
from tinynet.errors import TinynetError
from tinynet.memory import OUTSIDE, UNKNOWN, record_modules, track_peak
from tinynet.utils.checkpoint import checkpoint


class Keep(tn.autograd.Function):
    """Saves the tensors it is given (``data``) for its backward, whatever they are; the gradient flows to ``w``."""

    @staticmethod
    def forward(ctx, w, *data):
        ctx.save_for_backward(*data)
        return w * 2

    @staticmethod
    def backward(ctx, grad):
        return (grad * 2, *(None for _ in ctx.saved_tensors))


def _data(*shape) -> tn.Tensor:
    return tn.randn(*shape)  # does not require grad: saved as an activation would be


def test_the_bytes_of_what_an_op_saved():
    w, a, b = tn.randn(3, requires_grad=True), _data(10, 4), _data(7)
    report = tn.memory_report(Keep.apply(w, a, b))
    assert report.total_bytes == a.numpy().nbytes + b.numpy().nbytes
    assert report.by_op == {"Keep": report.total_bytes}


def test_a_buffer_saved_twice_or_through_views_counts_once_at_its_full_size():
    w, a, b = tn.randn(3, requires_grad=True), _data(10, 4), _data(6, 5)
    first = Keep.apply(w, a, b[1:3])  # a slice keeps the whole of b alive
    second = Keep.apply(first, a.reshape(40), b.detach(), b.T)
    assert tn.memory_report(second).total_bytes == a.numpy().nbytes + b.numpy().nbytes


def test_parameters_are_left_out():
    layer = nn.Linear(4, 4)
    layer.weight.requires_grad_(False)  # frozen: still a parameter the model keeps anyway
    w, a = tn.randn(3, requires_grad=True), _data(5)
    out = Keep.apply(w, a, layer.weight, layer.bias, w)
    assert tn.memory_report(out).total_bytes == a.numpy().nbytes


def test_saved_bytes_grow_with_the_batch():
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    small, large = (tn.memory_report(model(tn.randn(n, 8))).total_bytes for n in (5, 15))
    assert small > 0 and large == 3 * small  # every activation a batch of rows; parameters not counted


def test_bytes_by_module_path():
    class Inner(nn.Module):
        def __init__(self, size):
            super().__init__()
            self.saved = _data(size)

        def forward(self, x):
            return Keep.apply(x, self.saved)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = Inner(10)
            self.second = nn.Sequential(Inner(20), Inner(30))

        def forward(self, x):
            return Keep.apply(self.second(self.first(x)), self.first.saved)  # saved again: counted once

    net, w = Net(), tn.randn(3, requires_grad=True)
    with record_modules():
        out = Keep.apply(net(w), _data(7))
    report = tn.memory_report(out)
    assert report.by_module == {"Net.first": 40, "Net.second.0": 80, "Net.second.1": 120, "Net": 0, OUTSIDE: 28}
    assert report.module_bytes("Net.second") == 200 and report.module_bytes("Net") == 240
    assert report.total_bytes == 268
    text = str(report)
    assert "Net.second.1" in text and "total" in text and "268 B" in text


def test_without_recording_the_module_is_unknown_and_recording_stops_after():
    net = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    out = net(_data(2, 3))
    assert set(tn.memory_report(out).by_module) == {UNKNOWN}
    with record_modules():
        pass
    assert tn.autograd._thread.module_path is None


def test_recording_is_per_thread():
    paths = []

    def other():
        out = nn.Tanh()(tn.randn(2, requires_grad=True))
        paths.append(set(tn.memory_report(out).by_module))

    with record_modules():
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert paths == [{UNKNOWN}]


def test_hooks_run_once_while_recording():
    layer, calls = nn.Linear(2, 2), []
    layer.register_forward_pre_hook(lambda module, args: calls.append("pre"))
    layer.register_forward_hook(lambda module, args, out: out * 0)
    with record_modules():
        out = layer(_data(1, 2))
    assert calls == ["pre"] and not out.numpy().any()


def test_nothing_is_saved_once_backward_ran():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    loss = model(_data(3, 4)).sum()
    assert tn.memory_report(loss).total_bytes > 0
    loss.backward()
    assert tn.memory_report(loss).total_bytes == 0


def test_a_checkpointed_block_saves_its_input_under_its_own_path():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(6, 6), nn.GELU()) for _ in range(2))

        def forward(self, x):
            for block in self.blocks:
                x = checkpoint(block, x, use_reentrant=False)
            return x

    x = _data(5, 6)
    with record_modules():
        out = Net()(x)
    report = tn.memory_report(out)
    assert report.by_module == {"Net.blocks.0": x.numpy().nbytes, "Net.blocks.1": x.numpy().nbytes}


def test_memory_report_takes_a_tensor():
    with pytest.raises(TinynetError, match="expected a Tensor"):
        tn.memory_report(3.0)


def test_track_peak_sees_an_array_that_lived_inside_the_block():
    with track_peak() as peak:
        big = tn.ones(1_000_000)  # 4 MB of float32
        del big
    assert 4_000_000 <= peak.peak_bytes < 4_200_000
    assert peak.end_bytes < 100_000


def test_track_peak_is_lower_for_a_checkpointed_step():
    class Deep(nn.Module):
        def __init__(self, checkpointed):
            super().__init__()
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64)) for _ in range(8)
            )
            self.checkpointed = checkpointed

        def forward(self, x):
            for block in self.blocks:
                x = x + (checkpoint(block, x, use_reentrant=False) if self.checkpointed else block(x))
            return x

    peaks = []
    for checkpointed in (False, True):
        tn.manual_seed(0)
        model, x = Deep(checkpointed), tn.randn(256, 64)
        with track_peak() as peak:
            model(x).square().mean().backward()
        peaks.append(peak.peak_bytes)
    plain, checkpointed = peaks
    assert checkpointed < 0.6 * plain, peaks


def test_track_peak_leaves_a_running_tracemalloc_running():
    import tracemalloc

    tracemalloc.start()
    try:
        with track_peak():
            np.ones(10)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
