"""tinynet.onnx.export: the written file passes onnx's checker, and onnxruntime running it gives tinynet's outputs.

Skipped (with the reason) where onnx or onnxruntime is not installed: ``pip install -e ".[onnx]"``.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F

onnx = pytest.importorskip("onnx", reason='onnx is not installed (pip install -e ".[onnx]")')
ort = pytest.importorskip("onnxruntime", reason='onnxruntime is not installed (pip install -e ".[onnx]")')


def export_and_run(tmp_path, model, inputs: tuple, runs: tuple | None = None, **options) -> onnx.ModelProto:
    """Export ``model`` traced on ``inputs``, check the file, run it in onnxruntime on ``runs`` (default: the same
    inputs) and compare with tinynet's outputs on them. Returns the loaded model."""
    path = tmp_path / "model.onnx"
    modes = [m.training for m in model.modules()] if isinstance(model, nn.Module) else []
    tn.onnx.export(model, inputs, str(path), **options)
    if isinstance(model, nn.Module):
        assert all(m.training == mode for m, mode in zip(model.modules(), modes)), "export restores the modes"
        model.eval()  # (export traced the model in eval mode)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    for run in runs or (inputs,):
        got = session.run(None, dict(zip(names, (t.numpy() for t in run))))
        with tn.no_grad():
            expected = model(*run)
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape and g.dtype == e.numpy().dtype
            np.testing.assert_allclose(g, e.numpy(), rtol=1e-5, atol=1e-5)
    return proto


def test_importing_tinynet_does_not_import_onnx():
    code = "import sys, tinynet; assert 'onnx' not in sys.modules; tinynet.onnx; assert 'onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mlp_with_a_dynamic_batch_axis(tmp_path):
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3), nn.Softmax(dim=1))
    proto = export_and_run(
        tmp_path, model, (tn.randn(5, 4),), runs=((tn.randn(5, 4),), (tn.randn(9, 4),)),
        input_names=["x"], output_names=["probs"], dynamic_axes={"x": {0: "batch"}, "probs": {0: "batch"}},
    )  # fmt: skip
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["probs"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # The parameters are initializers, under their state_dict names.
    assert {"0.weight", "0.bias", "4.weight"} <= {t.name for t in proto.graph.initializer}


class SmallCNN(nn.Module):
    """The MNIST example's shape of network: conv, relu, pool, batch norm, dropout, flatten, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(6 * 3 * 3, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv1(x))), 2)
        x = F.avg_pool2d(F.leaky_relu(self.conv2(x), 0.1), kernel_size=1)
        x = self.dropout(tn.flatten(x, 1))
        return F.log_softmax(self.fc(x), dim=1)


def test_small_cnn_in_eval_mode(tmp_path):
    model = SmallCNN()
    model.train()
    model(tn.randn(8, 1, 14, 14))  # (moves the running statistics off their initial values)
    proto = export_and_run(
        tmp_path, model, (tn.randn(2, 1, 14, 14),), runs=((tn.randn(2, 1, 14, 14),), (tn.randn(5, 1, 14, 14),)),
        dynamic_axes={"input_0": [0], "output_0": [0]},
    )  # fmt: skip
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "MaxPool", "AveragePool", "Gemm", "LogSoftmax"} <= ops


def test_batch_norm_with_the_batchs_statistics(tmp_path):
    # track_running_stats=False: evaluation normalizes with the batch's statistics too, scale and shift after.
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3, track_running_stats=False), nn.ReLU())
    with tn.no_grad():
        model[1].weight.copy_(tn.tensor([0.5, 2.0, -1.0]))
        model[1].bias.copy_(tn.tensor([0.1, -0.2, 0.3]))
    proto = export_and_run(tmp_path, model, (tn.randn(4, 2, 6, 5),), runs=((tn.randn(4, 2, 6, 5),),))
    assert {"ReduceMean", "Sqrt", "Reshape"} <= {n.op_type for n in proto.graph.node}


def test_group_norm_and_instance_norm_with_a_dynamic_batch_axis(tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.GroupNorm(2, 4), nn.SiLU(), nn.InstanceNorm2d(4, affine=True))
    with tn.no_grad():
        for norm in (model[1], model[3]):
            norm.weight.copy_(tn.tensor([0.5, 2.0, -1.0, 1.5]))
            norm.bias.copy_(tn.tensor([0.1, -0.2, 0.3, 0.0]))
    proto = export_and_run(
        tmp_path, model, (tn.randn(3, 2, 6, 5),), runs=((tn.randn(3, 2, 6, 5),), (tn.randn(5, 2, 6, 5),)),
        input_names=["x"], dynamic_axes={"x": {0: "batch"}},
    )  # fmt: skip
    assert {"ReduceMean", "Sqrt", "Reshape"} <= {n.op_type for n in proto.graph.node}


class TinyLanguageModel(nn.Module):
    """Embedding, layer norm, GELU, a linear head: the makemore / GPT pieces."""

    def __init__(self, vocab: int = 11, dim: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(6, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens):
        positions = tn.arange(tokens.shape[1])
        h = self.embed(tokens) + self.position(positions)
        return self.head(F.gelu(self.norm(h)))


def test_layer_norm_and_embedding(tmp_path):
    model = TinyLanguageModel()
    tokens = tn.randint(0, 11, (3, 6))
    proto = export_and_run(tmp_path, model, (tokens,), runs=((tokens,), (tn.randint(0, 11, (5, 6)),)),
                           dynamic_axes={"input_0": [0], "output_0": [0]})  # fmt: skip
    ops = {n.op_type for n in proto.graph.node}
    assert {"Gather", "LayerNormalization", "MatMul"} <= ops


class CausalSelfAttention(nn.Module):
    """nanoGPT's attention: one projection split into q, k, v, heads by view and transpose, the fused attention."""

    def __init__(self, dim: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


def test_attention_block(tmp_path):
    export_and_run(tmp_path, CausalSelfAttention(), (tn.randn(2, 5, 8),))


def test_attention_from_its_pieces_with_a_mask_buffer(tmp_path):
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mask", tn.tril(tn.ones(6, 6)).view(1, 6, 6))

        def forward(self, q, k):
            T = q.shape[1]
            scores = q @ k.transpose(-2, -1) * (1.0 / q.shape[-1] ** 0.5)
            scores = scores.masked_fill(self.mask[:, :T, :T] == 0, float("-inf"))
            weights = F.softmax(scores, dim=-1)
            return tn.cat([weights, weights.sum(-1, keepdim=True)], dim=-1), tn.stack([q, k], dim=1).mean(1)

    export_and_run(tmp_path, Attention(), (tn.randn(2, 4, 3), tn.randn(2, 4, 3)))


def test_conv1d_pool1d_and_transposed_conv(tmp_path):
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(2, 3, 3, padding=1, dilation=1, groups=1)
            self.up = nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1)  # DCGAN's generator block

        def forward(self, x):
            h = F.avg_pool1d(F.sigmoid(self.conv(x)), 2)  # (N, 3, 4)
            h = F.max_pool1d(h, 2).unsqueeze(-1)  # (N, 3, 2, 1)
            return F.relu(self.up(h), inplace=True).squeeze(1), h.permute(0, 2, 1, 3)

    export_and_run(tmp_path, Net(), (tn.randn(2, 2, 8),))


def test_indexing_and_elementwise_with_numbers(tmp_path):
    def f(x, idx):
        y = x[:, 1:, ::2] * 2.0 - 1 + x[0, -1, 1] / 3
        y = tn.maximum(y, y.exp() - 1) ** 2
        picked = x[:, idx]  # gather along axis 1 with traced indices
        return y.clamp(-1, 4), picked.sqrt().abs(), x[..., None, 0]

    x, idx = tn.rand(2, 4, 5) + 0.1, tn.tensor([3, 0, 0])
    export_and_run(tmp_path, f, (x, idx))


def test_where_and_masked_fill_with_traced_values(tmp_path):
    def f(x, y):
        mask = tn.ones(3, 4).tril().bool()  # a constant, made in forward
        return tn.where(mask, x, y).masked_fill(~mask, 0.5), F.softplus(x, beta=2.0, threshold=1.0)

    export_and_run(tmp_path, f, (tn.randn(3, 4), tn.randn(3, 4)))


def test_a_pytorch_style_custom_function_exports_through_its_forward(tmp_path):
    class Cube(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 1.5 * (5 * x**2 - 1)

    linear = nn.Linear(3, 2)
    export_and_run(tmp_path, lambda x: Cube.apply(linear(x)), (tn.randn(4, 3),))


def test_an_op_without_a_mapping_is_refused_by_name(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3))
    with pytest.raises(tn.TinynetError, match=r"onnx.export: op CumSum has no ONNX mapping yet"):
        tn.onnx.export(lambda x: tn.cumsum(model(x), 1), (tn.randn(2, 3),), str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_a_bool_mask_index_is_refused_by_name(tmp_path):
    with pytest.raises(tn.TinynetError, match=r"op GetItem with a bool mask"):
        tn.onnx.export(lambda x: x[x > 0], (tn.randn(4),), str(tmp_path / "m.onnx"))


def test_an_in_place_change_of_a_traced_tensor_is_refused(tmp_path):
    def f(x):
        y = x * 2
        y.add_(1)
        return y + 1

    with pytest.raises(tn.TinynetError, match="changed in place"):
        tn.onnx.export(f, (tn.randn(3),), str(tmp_path / "m.onnx"))


def test_an_input_used_only_outside_tinynet_ops_warns(tmp_path):
    with pytest.warns(UserWarning, match="not used by the exported graph"):
        tn.onnx.export(lambda x: tn.tensor(x.numpy() * 2), (tn.randn(3),), str(tmp_path / "m.onnx"))


def test_opset_18_and_a_file_object(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.SiLU())
    with open(tmp_path / "m.onnx", "wb") as f:
        tn.onnx.export(model, tn.randn(2, 3), f, opset_version=18)
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert proto.opset_import[0].version == 18
    with pytest.raises(tn.TinynetError, match="opset_version"):
        tn.onnx.export(model, tn.randn(2, 3), str(tmp_path / "old.onnx"), opset_version=11)


def test_without_onnx_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(tn.TinynetError, match=r'pip install -e "\.\[onnx\]"'):
        tn.onnx.export(nn.Linear(2, 2), tn.randn(1, 2), str(tmp_path / "m.onnx"))


def test_comparisons_of_traced_values_are_exported_not_frozen(tmp_path):
    # A comparison decides which values pass: exported as a constant mask, the file would be wrong for other inputs.
    def f(x, y):
        return tn.where(x > 0.5, x, y) + (x <= y).float() - (x != y.flip(0)).float() + (x == 0).float()

    inputs, other = (tn.randn(3, 4), tn.randn(3, 4)), (tn.randn(3, 4), tn.randn(3, 4))
    export_and_run(tmp_path, f, inputs, runs=(inputs, other))
