"""nn.Module's PyTorch API (registries, walking, to/cast, state dicts), the containers, the Transformer stacks and the
extra normalization/shape layers, each against PyTorch given the same weights."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from torch_oracle import check, torch

import tinynet as tn
from tinynet import nn
from tinynet.nn import functional_more as FM

tnn = torch.nn


def copy_weights(source, target) -> None:
    """PyTorch's state dict into the tinynet module, through NumPy (the keys must agree)."""
    state = {k: v.detach().numpy().copy() for k, v in source.state_dict().items()}
    target.load_state_dict(state)


def compare(torch_module, tn_module, *inputs, atol=1e-5, rtol=1e-4, seed=0, **kwargs):
    """Same weights, same inputs: outputs and the gradients of inputs and parameters must agree."""
    copy_weights(torch_module, tn_module)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) if isinstance(s, tuple) else s for s in inputs]
    t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    n_in = [tn.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    t_out, n_out = torch_module(*t_in, **kwargs), tn_module(*n_in, **kwargs)
    np.testing.assert_allclose(n_out.numpy(), t_out.detach().numpy(), atol=atol, rtol=rtol)
    upstream = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
    (t_out * torch.tensor(upstream)).sum().backward()
    (n_out * tn.tensor(upstream)).sum().backward()
    for k, (a, b) in enumerate(zip(n_in, t_in)):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol * 10, rtol=rtol * 10, err_msg=k)
    theirs = dict(torch_module.named_parameters())
    for name, p in tn_module.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), theirs[name].grad.numpy(), atol=atol * 10, rtol=rtol * 10, err_msg=name
        )
    return n_out


# --- registries and walking ---------------------------------------------------------------


def build(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", lib.ones(3))
            self.register_buffer("cache", lib.zeros(2), persistent=False)
            self.body = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU())
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(4, 2), "b": lib.nn.Linear(4, 2)})
            self.extra = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2)), lib.nn.Parameter(lib.zeros(2, 2))])
            self.table = lib.nn.ParameterDict({"w": lib.nn.Parameter(lib.ones(3))})
            self.heads["b"].weight = self.heads["a"].weight  # tied

        def forward(self, x):
            h = self.body(x * self.scale)
            return self.heads["a"](h) + self.heads["b"](h) + self.extra[0]

    return Net()


def test_names_and_keys_equal_pytorchs():
    ours, theirs = build(tn), build(torch)
    for method in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert [n for n, _ in getattr(ours, method)()] == [n for n, _ in getattr(theirs, method)()], method
    for kwargs in ({"remove_duplicate": False}, {"recurse": False}, {"prefix": "model"}):
        assert [n for n, _ in ours.named_parameters(**kwargs)] == [n for n, _ in theirs.named_parameters(**kwargs)]
    assert [n for n, _ in ours.named_modules(remove_duplicate=False)] == [
        n for n, _ in theirs.named_modules(remove_duplicate=False)
    ]
    # Tied weights appear under both names; the non-persistent buffer does not appear at all.
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "heads.b.weight" in ours.state_dict() and "cache" not in ours.state_dict()
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]


def test_a_pytorch_state_dict_loads_and_the_model_then_agrees():
    ours, theirs = build(tn), build(torch)
    copy_weights(theirs, ours)
    ours.eval(), theirs.eval()
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    expected = theirs(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours(tn.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)  # float32: 1 ulp near 0
    assert ours.heads["b"].weight is ours.heads["a"].weight  # still tied after loading
    assert ours.body[1].num_batches_tracked.dtype == tn.int64


def test_reprs_equal_pytorchs():
    for make in (
        lambda lib: lib.nn.ModuleList([lib.nn.Linear(2, 2) for _ in range(3)] + [lib.nn.ReLU(), lib.nn.ReLU()]),
        lambda lib: lib.nn.ModuleDict({"conv": lib.nn.Linear(2, 3), "act": lib.nn.Tanh()}),
        lambda lib: lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2, 3)), lib.nn.Parameter(lib.ones(4))]),
        lambda lib: lib.nn.ParameterDict({"a": lib.nn.Parameter(lib.ones(2, 3)), "b": lib.nn.Parameter(lib.ones(1))}),
        lambda lib: lib.nn.Unflatten(1, (2, 5)),
        lambda lib: lib.nn.GroupNorm(2, 4),
        lambda lib: lib.nn.RMSNorm([3, 4]),
        lambda lib: lib.nn.InstanceNorm2d(3, affine=True),
        lambda lib: lib.nn.BatchNorm3d(3),
        lambda lib: lib.nn.PixelShuffle(2),
        lambda lib: lib.nn.Bilinear(2, 3, 4),
        lambda lib: lib.nn.Sequential(lib.nn.Linear(1, 2), lib.nn.Sequential(lib.nn.Softmax2d())),
    ):
        assert repr(make(tn)) == repr(make(torch))


def test_assignment_rules_and_errors_are_pytorchs():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign .* as parameter 'weight'"):
        lin.weight = tn.ones(2, 2)
    lin.bias = None  # an optional parameter may be set to None and stays registered
    assert "bias" in lin._parameters and lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    with pytest.raises(KeyError, match="already exists"):
        lin.register_buffer("weight", tn.ones(1))
    with pytest.raises(KeyError, match=r'contain "\."'):
        lin.register_buffer("a.b", tn.ones(1))
    with pytest.raises(TypeError):
        lin.register_buffer("x", [1, 2])
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        lin.nope  # noqa: B018
    seq = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="as child module '0'"):
        seq._modules["0"] and setattr(seq, "0", 3)
    del lin.weight
    assert "weight" not in lin._parameters


def test_apply_requires_grad_zero_grad_and_train():
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "Dropout", "Linear", "Sequential"]  # children first, as PyTorch
    model(tn.randn(2, 3)).sum().backward()
    model.zero_grad()  # set_to_none=True is PyTorch's default
    assert all(p.grad is None for p in model.parameters())
    model(tn.randn(2, 3)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in model.parameters())
    assert model.requires_grad_(False) is model and not any(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="boolean"):
        model.train("no")
    assert not model.eval()[1].training


def test_to_casts_floating_tensors_in_place_and_keeps_the_objects():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(model.parameters())
    assert model.to(tn.float64) is model and list(model.parameters()) == params
    assert all(p.dtype == tn.float64 for p in params) and model[1].running_mean.dtype == tn.float64
    assert model[1].num_batches_tracked.dtype == tn.int64  # integers are not cast, as PyTorch
    assert model.to("cpu", tn.float32) is model and params[0].dtype == tn.float32
    model.to(tn.zeros(1, dtype=tn.float64))
    assert params[0].dtype == tn.float64
    model.half()
    assert params[0].dtype == tn.float16
    assert model.float().to(device=tn.device("cpu")) is model and params[0].dtype == tn.float32
    assert model.cpu() is model
    with pytest.raises(TypeError, match="floating point"):
        model.to(tn.int64)


def test_cuda_without_a_gpu_is_a_clear_error_and_moves_nothing():
    model = nn.Linear(2, 2)
    try:
        tn.zeros(1).to("cuda")
    except tn.BackendError:
        pass
    else:
        pytest.skip("a GPU answers here")
    with pytest.raises(tn.BackendError):
        model.cuda()
    assert model.weight.device == tn.device("cpu")


def test_load_state_dict_errors_and_return_value_are_pytorchs():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    state = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)).state_dict()
    assert repr(model.load_state_dict(state)) == "<All keys matched successfully>"
    del state["1.bias"]
    state["2.weight"] = tn.zeros(1)
    with pytest.raises(RuntimeError) as caught:
        model.load_state_dict(state)
    message = str(caught.value)
    assert message.startswith("Error(s) in loading state_dict for Sequential:")
    assert (
        'Missing key(s) in state_dict: "1.bias"' in message and 'Unexpected key(s) in state_dict: "2.weight"' in message
    )
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["1.bias"] and unexpected == ["2.weight"]
    state["0.weight"] = tn.zeros(4, 2)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight"):
        model.load_state_dict(state, strict=False)
    # Values are copied in place and cast to the model's dtype, as PyTorch's copy_.
    weight = model[0].weight
    model.load_state_dict({"weight": np.arange(6).reshape(3, 2), "bias": tn.zeros(3, dtype=tn.float64)}, strict=False)
    model[0].load_state_dict({"weight": np.arange(6).reshape(3, 2), "bias": tn.zeros(3, dtype=tn.float64)})
    assert model[0].weight is weight and weight.dtype == tn.float32
    np.testing.assert_array_equal(weight.numpy(), np.arange(6).reshape(3, 2))


def test_non_persistent_buffers_still_move_and_state_dict_keep_vars():
    model = build(tn)
    model.double()
    assert model.cache.dtype == tn.float64
    kept = model.state_dict(keep_vars=True)
    assert kept["body.0.weight"] is model.body[0].weight
    assert list(model.state_dict(prefix="m.")) == ["m." + k for k in model.state_dict()]


def test_deepcopy_gives_an_independent_module_and_hooks_run():
    model = nn.Sequential(nn.Linear(2, 2))
    twin = copy.deepcopy(model)
    assert twin[0].weight is not model[0].weight and isinstance(twin[0].weight, nn.Parameter)
    np.testing.assert_array_equal(twin[0].weight.numpy(), model[0].weight.numpy())
    calls = []
    handle = model.register_forward_hook(lambda m, args, out: calls.append(out.shape))
    model(tn.ones(3, 2))
    handle.remove()
    model(tn.ones(3, 2))
    assert calls == [(3, 2)]


# --- containers -----------------------------------------------------------------------------


def test_container_operations_match_pytorch():
    for lib in (tn, torch):
        seq = lib.nn.Sequential(lib.nn.Linear(1, 1), lib.nn.ReLU(), lib.nn.Tanh())
        del seq[1]
        seq.insert(0, lib.nn.Sigmoid())
        seq.extend([lib.nn.ReLU()])
        ml = lib.nn.ModuleList([lib.nn.ReLU()])
        ml += [lib.nn.Tanh()]
        ml.insert(0, lib.nn.Sigmoid())
        md = lib.nn.ModuleDict([("x", lib.nn.ReLU())])
        md.update({"y": lib.nn.Tanh()})
        popped = md.pop("x")
        pl = lib.nn.ParameterList([lib.ones(2)])  # a plain tensor becomes a Parameter
        pd = lib.nn.ParameterDict({"k": lib.ones(1)})
        result = (
            [type(m).__name__ for m in seq],
            list(seq._modules),
            [type(m).__name__ for m in ml],
            list(md.keys()),
            type(popped).__name__,
            type(pl[0]).__name__,
            type(pd["k"]).__name__,
            [n for n, _ in pd.named_parameters()],
            len(pl),
            "k" in pd,
        )
        if lib is tn:
            ours = result
    assert ours == result


# --- transformer stacks ---------------------------------------------------------------------


def test_transformer_matches_pytorch_with_the_same_weights():
    kwargs = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0)
    theirs, ours = tnn.Transformer(**kwargs), nn.Transformer(**kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(mask.numpy(), tnn.Transformer.generate_square_subsequent_mask(4).numpy())
    pad = np.array([[False, False, False, True, True], [False] * 5])
    compare(theirs, ours, (5, 2, 8), (4, 2, 8), tgt_mask=None, src_key_padding_mask=None)
    theirs.zero_grad(), ours.zero_grad()
    copy_weights(theirs, ours)
    rng = np.random.default_rng(3)
    src, tgt = rng.standard_normal((5, 2, 8)).astype(np.float32), rng.standard_normal((4, 2, 8)).astype(np.float32)
    t_out = theirs(
        torch.tensor(src), torch.tensor(tgt), tgt_mask=tnn.Transformer.generate_square_subsequent_mask(4),
        src_key_padding_mask=torch.tensor(pad), memory_key_padding_mask=torch.tensor(pad),
    )  # fmt: skip
    n_out = ours(
        tn.tensor(src), tn.tensor(tgt), tgt_mask=mask, src_key_padding_mask=tn.tensor(pad),
        memory_key_padding_mask=tn.tensor(pad),
    )  # fmt: skip
    np.testing.assert_allclose(n_out.numpy(), t_out.detach().numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_and_decoder_stacks_match_pytorch(norm_first):
    layer_kwargs = dict(d_model=8, nhead=2, dim_feedforward=12, dropout=0.0, batch_first=True, norm_first=norm_first)
    theirs = tnn.TransformerEncoder(tnn.TransformerEncoderLayer(**layer_kwargs), 2, norm=tnn.LayerNorm(8))
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kwargs), 2, norm=nn.LayerNorm(8))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    causal = np.triu(np.ones((5, 5), dtype=bool), k=1)
    compare(theirs, ours, (2, 5, 8), causal)
    compare(theirs, ours, (2, 5, 8), is_causal=None)
    theirs_dec = tnn.TransformerDecoder(tnn.TransformerDecoderLayer(**layer_kwargs), 2)
    ours_dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_kwargs), 2)
    assert list(ours_dec.state_dict()) == list(theirs_dec.state_dict())
    compare(theirs_dec, ours_dec, (2, 4, 8), (2, 6, 8), np.triu(np.ones((4, 4), dtype=bool), k=1))


def test_encoder_layers_are_independent_copies():
    stack = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 3, enable_nested_tensor=False)
    weights = [layer.linear1.weight for layer in stack.layers]
    assert len({id(w) for w in weights}) == 3
    np.testing.assert_array_equal(weights[0].numpy(), weights[2].numpy())  # cloned from one layer


# --- normalization and shape layers ---------------------------------------------------------


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda lib: lib.nn.GroupNorm(2, 4), (3, 4, 5)),
        (lambda lib: lib.nn.GroupNorm(4, 4, affine=False), (2, 4, 3, 3)),
        (lambda lib: lib.nn.GroupNorm(1, 6, eps=1e-3), (2, 6)),
        (lambda lib: lib.nn.RMSNorm(6), (2, 3, 6)),
        (lambda lib: lib.nn.RMSNorm([3, 6], eps=1e-6), (2, 3, 6)),
        (lambda lib: lib.nn.RMSNorm(6, elementwise_affine=False), (4, 6)),
        (lambda lib: lib.nn.InstanceNorm1d(3, affine=True), (2, 3, 7)),
        (lambda lib: lib.nn.InstanceNorm1d(3), (3, 7)),
        (lambda lib: lib.nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 5)),
        (lambda lib: lib.nn.BatchNorm3d(3), (2, 3, 2, 3, 4)),
        (lambda lib: lib.nn.PixelShuffle(2), (2, 8, 3, 3)),
        (lambda lib: lib.nn.PixelUnshuffle(2), (2, 2, 4, 6)),
        (lambda lib: lib.nn.Softmax2d(), (2, 3, 4, 4)),
        (lambda lib: lib.nn.Unflatten(-1, (2, -1)), (3, 8)),
        (lambda lib: lib.nn.Flatten(0, 1), (3, 4, 2)),
    ],
)
def test_layers_match_pytorch(make, shape):
    theirs, ours = make(torch), make(tn)
    # Random affine parameters, so that their gradients and use are checked too.
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape))
    compare(theirs, ours, shape)


def test_bilinear_matches_pytorch():
    compare(tnn.Bilinear(3, 4, 5), nn.Bilinear(3, 4, 5), (2, 6, 3), (2, 6, 4))
    check(lambda lib, a, b, w: lib.nn.functional.bilinear(a, b, w) if lib is torch else FM.bilinear(a, b, w),
          (4, 3), (4, 2), (5, 3, 2))  # fmt: skip


def test_running_statistics_of_instance_and_batch_norm_3d_match_pytorch():
    rng = np.random.default_rng(0)
    for make, shape in ((lambda lib: lib.nn.InstanceNorm2d(3, track_running_stats=True), (2, 3, 4, 4)),
                        (lambda lib: lib.nn.BatchNorm3d(3, momentum=None), (2, 3, 2, 2, 2))):  # fmt: skip
        theirs, ours = make(torch), make(tn)
        for _ in range(2):
            x = rng.standard_normal(shape).astype(np.float32) * 2 + 1
            theirs(torch.tensor(x)), ours(tn.tensor(x))
        for (name, a), (_, b) in zip(ours.named_buffers(), theirs.named_buffers()):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, err_msg=name)
        theirs.eval(), ours.eval()
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(
            ours(tn.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=1e-5, rtol=1e-4
        )


def test_functional_forms_match_pytorch():
    F = torch.nn.functional
    check(lambda lib, x, w, b: F.group_norm(x, 2, w, b) if lib is torch else FM.group_norm(x, 2, w, b),
          (2, 4, 3), (4,), (4,))  # fmt: skip
    check(lambda lib, x, w: F.rms_norm(x, (3,), w) if lib is torch else FM.rms_norm(x, (3,), w), (2, 5, 3), (3,))
    check(lambda lib, x: F.instance_norm(x) if lib is torch else FM.instance_norm(x), (2, 3, 6))
    check(lambda lib, x: F.pixel_shuffle(x, 3) if lib is torch else FM.pixel_shuffle(x, 3), (1, 9, 2, 2))
    check(lambda lib, x: F.pixel_unshuffle(x, 2) if lib is torch else FM.pixel_unshuffle(x, 2), (2, 4, 4))


def test_shape_errors_are_clear():
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        FM.group_norm(tn.ones(2, 3, 5), 2)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match="divisible"):
        nn.PixelShuffle(2)(tn.ones(1, 3, 2, 2))
    with pytest.raises(RuntimeError, match="don't multiply up"):
        nn.Unflatten(1, (2, 3))(tn.ones(2, 7))
