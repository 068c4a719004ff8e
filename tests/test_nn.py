"""tinynet.nn: Module bookkeeping, state dicts, the layers, activation and loss modules, init, utils."""

import math
from collections import OrderedDict

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn


def count(module):
    return sum(p.numel() for p in module.parameters())


class Block(nn.Module):
    """Own parameters assigned around a submodule, to check the order they are registered in."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(tn.ones(3))
        self.inner = nn.Linear(3, 2)
        self.shift = nn.Parameter(tn.zeros(2))
        self.not_learned = tn.ones(5)  # a plain tensor: not a parameter
        self.note = "just an attribute"

    def forward(self, x):
        return self.inner(x * self.scale) + self.shift


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(3, 4))

    def forward(self, x):
        return self.decoder(self.encoder(x))


class WithBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("running_mean", tn.zeros(3))

    def forward(self, x):
        return self.lin(x) - self.running_mean


# --- registration and naming --------------------------------------------------------------


def test_parameters_and_submodules_register_in_order():
    block = Block()
    names = [name for name, _ in block.named_parameters()]
    # As in PyTorch: a module's own parameters first (in assignment order), then its children's.
    assert names == ["scale", "shift", "inner.weight", "inner.bias"]
    assert [name for name, _ in block.named_children()] == ["inner"]
    assert list(block.children()) == [block.inner]
    assert [p is q for p, q in zip(block.parameters(), [block.scale, block.shift, block.inner.weight])] == [True] * 3
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in block.parameters())


def test_named_parameters_of_sequential_and_nested_modules():
    seq = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    model = AutoEncoder()
    assert [n for n, _ in model.named_parameters()] == [
        "encoder.0.weight",
        "encoder.0.bias",
        "decoder.0.weight",
        "decoder.0.bias",
    ]
    named = dict(model.named_parameters())
    assert named["encoder.0.bias"] is model.encoder[0].bias
    assert [n for n, _ in model.named_modules()] == ["", "encoder", "encoder.0", "encoder.1", "decoder", "decoder.0"]


def test_parameter_counts():
    assert count(nn.Linear(3, 4)) == 3 * 4 + 4 == 16
    assert count(nn.Linear(3, 4, bias=False)) == 12
    assert len(list(nn.Linear(3, 4, bias=False).parameters())) == 1
    assert count(nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))) == 2 * 8 + 8 + 8 + 1 == 33
    assert count(nn.Sequential(nn.ReLU(), nn.Tanh())) == 0
    assert count(Block()) == 3 + 2 + 3 * 2 + 2


def test_a_shared_layer_or_tied_weight_is_counted_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(list(model.parameters())) == 2 and count(model) == 20

    tied = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4))
    tied[2].weight = tied[0].weight  # weight tying: one Parameter used by two layers
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "2.bias"]
    assert count(tied) == 16 + 4 + 4


def test_plain_tensors_and_python_lists_are_not_registered_but_modulelist_is():
    class Hidden(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]  # a plain list hides them

    class Visible(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 3)])

    assert count(Hidden()) == 0
    visible = Visible()
    assert count(visible) == 6 + 9
    assert [n for n, _ in visible.named_parameters()] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]
    assert len(visible.layers) == 2 and visible.layers[1].out_features == 3
    visible.layers.append(nn.Linear(3, 1))
    assert len(visible.layers) == 3 and count(visible) == 6 + 9 + 4
    assert [type(m).__name__ for m in visible.layers] == ["Linear"] * 3


def test_forgetting_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_reassigning_and_deleting_attributes_updates_the_registry():
    block = Block()
    block.inner = nn.Linear(3, 5)
    assert count(block) == 3 + 2 + 3 * 5 + 5
    del block.shift
    assert [n for n, _ in block.named_parameters()] == ["scale", "inner.weight", "inner.bias"]


# --- modes and gradients ------------------------------------------------------------------


def test_train_and_eval_propagate_to_every_submodule():
    model = AutoEncoder()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    model.train(False)
    assert [m.training for m in model.modules()] == [False] * 6
    model.encoder.train()  # a subtree only
    assert model.encoder[1].training and not model.decoder[0].training and not model.training


def test_zero_grad_clears_or_zeroes_every_gradient():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model(tn.randn(5, 3)).sum().backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in model.parameters())
    model.zero_grad(set_to_none=False)
    for p in model.parameters():
        assert p.grad.shape == p.shape
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))
    model(tn.randn(5, 3)).sum().backward()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_gradients_accumulate_until_zero_grad():
    lin = nn.Linear(2, 1)
    x = tn.tensor([[1.0, 2.0]])
    lin(x).sum().backward()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), 2 * x.numpy())
    np.testing.assert_allclose(lin.bias.grad.numpy(), [2.0])


# --- state dicts and buffers --------------------------------------------------------------


def test_state_dict_round_trip_copies_values():
    a, b = AutoEncoder(), AutoEncoder()
    assert not np.allclose(a.encoder[0].weight.numpy(), b.encoder[0].weight.numpy())
    state = a.state_dict()
    assert list(state) == [n for n, _ in a.named_parameters()]
    kept = [p for p in b.parameters()]
    result = b.load_state_dict(state)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=name)
    assert all(p is q for p, q in zip(b.parameters(), kept))  # the same Parameter objects, new values
    x = tn.randn(2, 4)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    # Copied, not aliased: changing a's weights (as an optimizer does, in place) leaves b alone.
    before = b.encoder[0].weight.numpy().copy()
    a.encoder[0].weight.array += 1.0
    state["encoder.0.weight"].array += 1.0
    np.testing.assert_array_equal(b.encoder[0].weight.numpy(), before)
    b.encoder[0].weight.array -= 5.0
    assert not np.allclose(a.encoder[0].weight.numpy(), b.encoder[0].weight.numpy())


def test_load_state_dict_reports_every_problem_in_one_shape_error():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = [p.numpy().copy() for p in model.parameters()]
    state = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)).state_dict()
    del state["1.bias"]  # missing
    state["2.weight"] = tn.zeros(1, 1)  # unexpected
    state["0.weight"] = tn.zeros(4, 2)  # wrong shape
    with pytest.raises(tn.ShapeError) as caught:
        model.load_state_dict(state)
    message = str(caught.value)
    for piece in ["1.bias", "2.weight", "0.weight", "(4, 2)", "(3, 2)"]:
        assert piece in message, f"{piece!r} missing from: {message}"
    for p, original in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), original)  # nothing was half loaded


def test_load_state_dict_strict_false_returns_missing_and_unexpected_keys():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    source = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    state = source.state_dict()
    del state["1.bias"]
    state["extra.weight"] = tn.zeros(2)
    with pytest.raises(tn.ShapeError, match=r"1\.bias"):
        model.load_state_dict(state)
    old_bias = model[1].bias.numpy().copy()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert list(missing) == ["1.bias"] and list(unexpected) == ["extra.weight"]
    np.testing.assert_array_equal(model[0].weight.numpy(), source[0].weight.numpy())
    np.testing.assert_array_equal(model[1].weight.numpy(), source[1].weight.numpy())
    np.testing.assert_array_equal(model[1].bias.numpy(), old_bias)
    # A wrong shape is an error even when not strict, as in PyTorch.
    state["0.weight"] = tn.zeros(3, 3)
    with pytest.raises(tn.ShapeError, match=r"0\.weight"):
        model.load_state_dict(state, strict=False)


def test_register_buffer_is_saved_but_not_learned():
    model = WithBuffer()
    assert [n for n, _ in model.named_parameters()] == ["lin.weight", "lin.bias"]
    assert all(p is not model.running_mean for p in model.parameters())
    # PyTorch's order: each module's own parameters and buffers, then its children's.
    assert list(model.state_dict()) == ["running_mean", "lin.weight", "lin.bias"]
    assert [n for n, _ in model.named_buffers()] == ["running_mean"]
    model.running_mean = tn.ones(3)  # reassigning keeps it a buffer
    assert "running_mean" in model.state_dict() and count(model) == 12
    other = WithBuffer()
    other.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(other.running_mean.numpy(), np.ones(3))
    nested = nn.Sequential(WithBuffer())
    assert "0.running_mean" in nested.state_dict()
    assert nested.double().state_dict()["0.running_mean"].dtype == tn.float64


# --- repr ---------------------------------------------------------------------------------


def test_repr_of_a_sequential_matches_pytorch():
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    text = repr(model)
    assert "(0): Linear(in_features=2, out_features=8, bias=True)" in text
    assert text == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=8, bias=True)\n"
        "  (1): Tanh()\n"
        "  (2): Linear(in_features=8, out_features=1, bias=True)\n"
        ")"
    )
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


def test_repr_of_nested_modules_indents_children():
    text = repr(AutoEncoder())
    assert text == (
        "AutoEncoder(\n"
        "  (encoder): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (decoder): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  )\n"
        ")"
    )


# --- Linear -------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [(5,), (2, 3), ()], ids=["2d", "3d", "1d"])
def test_linear_forward_is_x_wT_plus_b(backend_name, batch):
    lin = nn.Linear(3, 4)
    x = np.random.default_rng(0).normal(size=(*batch, 3))
    y = lin(tn.tensor(x))
    W, b = lin.weight.numpy(), lin.bias.numpy()
    assert y.shape == (*batch, 4)
    np.testing.assert_allclose(y.numpy(), x @ W.T + b, rtol=1e-5, atol=1e-6)
    no_bias = nn.Linear(3, 4, bias=False)
    np.testing.assert_allclose(no_bias(tn.tensor(x)).numpy(), x @ no_bias.weight.numpy().T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.linear(tn.tensor(x), lin.weight, lin.bias).numpy(), y.numpy(), rtol=1e-6)


def test_linear_gradients_match_numpy(backend_name):
    lin = nn.Linear(3, 2)
    x = np.random.default_rng(1).normal(size=(4, 3))
    g = np.random.default_rng(2).normal(size=(4, 2))
    xt = tn.tensor(x, requires_grad=True)
    (lin(xt) * tn.tensor(g)).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), g.T @ x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lin.bias.grad.numpy(), g.sum(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xt.grad.numpy(), g @ lin.weight.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(5, 2), (5, 4), (4,), (2, 3, 2)])
def test_linear_input_with_the_wrong_last_dim_names_in_features_and_the_shape(shape):
    lin = nn.Linear(3, 4)
    with pytest.raises(tn.ShapeError) as caught:
        lin(tn.randn(*shape))
    message = str(caught.value)
    assert "in_features=3" in message and str(shape) in message


def test_linear_default_init_is_uniform_within_one_over_sqrt_in_features():
    lin = nn.Linear(256, 300)
    bound = 1 / math.sqrt(256)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert w.dtype == np.float32 and w.shape == (300, 256) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # Uniform over the whole range: extremes near +-bound, std bound / sqrt(3), mean near 0.
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound
    assert b.max() > 0.9 * bound and b.min() < -0.9 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(w.mean()) < 0.01 * bound
    assert not np.allclose(nn.Linear(256, 300).weight.numpy(), w)  # each layer draws fresh numbers


def test_linear_init_is_reproducible_under_manual_seed():
    tn.manual_seed(123)
    a = nn.Linear(4, 5)
    tn.manual_seed(123)
    b = nn.Linear(4, 5)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())


def test_double_makes_parameters_float64_and_the_model_passes_gradcheck():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid())
    assert model.double() is model
    assert all(p.dtype == tn.float64 for p in model.parameters())
    x = tn.randn(5, 3, dtype=tn.float64)
    assert model(x).dtype == tn.float64
    assert tn.gradcheck(lambda x, *ps: model(x), [x, *model.parameters()])
    loss_model = nn.Sequential(nn.Linear(3, 3), nn.GELU(), nn.Linear(3, 4)).double()
    y = tn.tensor([0, 3, 1, 2, 2])
    assert tn.gradcheck(lambda x, *ps: F.cross_entropy(loss_model(x), y), [x, *loss_model.parameters()])
    model.float()
    assert all(p.dtype == tn.float32 for p in model.parameters())


# --- Sequential ---------------------------------------------------------------------------


def test_sequential_indexing_len_iteration_and_append():
    first, act, last = nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)
    model = nn.Sequential(first, act, last)
    assert len(model) == 3
    assert model[0] is first and model[1] is act and model[-1] is last and model[2] is last
    assert list(model) == [first, act, last]
    with pytest.raises(IndexError):
        model[3]
    extra = nn.Sigmoid()
    assert model.append(extra) is model
    assert len(model) == 4 and model[3] is extra and model[-1] is extra
    x = tn.randn(6, 2)
    np.testing.assert_allclose(model(x).numpy(), extra(last(act(first(x)))).numpy(), rtol=1e-6)
    assert count(model) == 33


def test_sequential_slice_is_a_sequential():
    # PyTorch: model[:-1] is a Sequential of those layers (e.g. to read a hidden representation).
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    x = tn.randn(3, 2)
    np.testing.assert_allclose(head(x).numpy(), model[1](model[0](x)).numpy(), rtol=1e-6)


def test_sequential_from_an_ordered_dict_uses_its_names():
    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 3)), ("act", nn.ReLU()), ("out", nn.Linear(3, 1))]))
    assert [n for n, _ in model.named_parameters()] == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert model.hidden is model[0]


def test_identity_and_flatten():
    x = tn.randn(2, 3, 4, 5)
    assert nn.Identity()(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))


# --- activation and loss modules ----------------------------------------------------------

ACTIVATION_MODULES = [
    (nn.ReLU(), F.relu),
    (nn.Sigmoid(), F.sigmoid),
    (nn.Tanh(), F.tanh),
    (nn.GELU(), F.gelu),
    (nn.LeakyReLU(), F.leaky_relu),
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (nn.ELU(), F.elu),
    (nn.ELU(alpha=0.5), lambda x: F.elu(x, alpha=0.5)),
    (nn.Softplus(), F.softplus),
    (nn.Softplus(beta=2.0, threshold=5.0), lambda x: F.softplus(x, beta=2.0, threshold=5.0)),
    (nn.Softmax(dim=1), lambda x: F.softmax(x, 1)),
    (nn.Softmax(dim=0), lambda x: F.softmax(x, 0)),
    (nn.LogSoftmax(dim=1), lambda x: F.log_softmax(x, 1)),
]


@pytest.mark.parametrize(("module", "fn"), ACTIVATION_MODULES, ids=[repr(m) for m, _ in ACTIVATION_MODULES])
def test_activation_modules_equal_their_functional_forms(backend_name, module, fn):
    x = tn.tensor(np.random.default_rng(3).normal(0, 3, (4, 5)), requires_grad=True)
    np.testing.assert_array_equal(module(x).numpy(), fn(x).numpy())
    assert count(module) == 0
    module(x).sum().backward()
    via_module = x.grad.numpy().copy()
    x.grad = None
    fn(x).sum().backward()
    np.testing.assert_array_equal(via_module, x.grad.numpy())


def test_activation_module_reprs_show_their_settings():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"


def _loss_inputs():
    rng = np.random.default_rng(4)
    logits, y = tn.tensor(rng.normal(size=(5, 3))), tn.tensor(rng.integers(0, 3, 5))
    p, t = tn.tensor(rng.uniform(0.05, 0.95, (5, 2))), tn.tensor(rng.uniform(0, 1, (5, 2)))
    return {
        nn.MSELoss: (F.mse_loss, (p, t)),
        nn.CrossEntropyLoss: (F.cross_entropy, (logits, y)),
        nn.NLLLoss: (F.nll_loss, (F.log_softmax(logits, 1), y)),
        nn.BCELoss: (F.binary_cross_entropy, (p, t)),
        nn.BCEWithLogitsLoss: (F.binary_cross_entropy_with_logits, (logits[:, :2], t)),
    }


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.CrossEntropyLoss, nn.NLLLoss, nn.BCELoss, nn.BCEWithLogitsLoss])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_equal_their_functional_forms(backend_name, cls, reduction):
    fn, args = _loss_inputs()[cls]
    criterion = cls(reduction=reduction)
    np.testing.assert_array_equal(criterion(*args).numpy(), fn(*args, reduction=reduction).numpy())
    np.testing.assert_array_equal(cls()(*args).numpy(), fn(*args).numpy())  # default: mean
    assert cls()(*args).shape == ()
    assert count(criterion) == 0


def test_loss_module_with_a_bad_reduction_raises():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")(tn.rand(3), tn.rand(3))


# --- nn.init ------------------------------------------------------------------------------


def test_calculate_gain_matches_the_formulas():
    gain = nn.init.calculate_gain
    for name in ["linear", "identity", "sigmoid", "conv1d", "conv2d"]:
        assert gain(name) == 1.0
    assert gain("tanh") == pytest.approx(5 / 3)
    assert gain("relu") == pytest.approx(math.sqrt(2))
    assert gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / (1 + 0.2**2)))
    assert gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))
    assert gain("selu") == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="swish"):
        gain("swish")


@pytest.mark.parametrize("shape", [(300, 200), (16, 8, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_uniform_bound(shape, gain):
    w = tn.zeros(*shape)
    receptive = int(np.prod(shape[2:]))
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    assert nn.init.xavier_uniform_(w, gain=gain) is w
    values = w.numpy()
    assert np.abs(values).max() <= bound
    assert values.max() > 0.98 * bound and values.min() < -0.98 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)


def test_xavier_normal_std():
    w = nn.init.xavier_normal_(tn.zeros(400, 600))
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / (400 + 600)), rel=0.02)


@pytest.mark.parametrize(
    ("kwargs", "fan_index", "gain"),
    [
        ({}, 1, math.sqrt(2.0)),  # defaults: a=0, fan_in, leaky_relu -> sqrt(2)
        ({"nonlinearity": "relu"}, 1, math.sqrt(2.0)),
        ({"mode": "fan_out", "nonlinearity": "relu"}, 0, math.sqrt(2.0)),
        ({"a": 0.2, "nonlinearity": "leaky_relu"}, 1, math.sqrt(2 / (1 + 0.04))),
        ({"nonlinearity": "tanh"}, 1, 5 / 3),
    ],
)
def test_kaiming_normal_std_is_gain_over_sqrt_fan(kwargs, fan_index, gain):
    shape = (500, 400)
    w = nn.init.kaiming_normal_(tn.zeros(*shape), **kwargs).numpy()
    expected = gain / math.sqrt(shape[fan_index])
    assert w.std() == pytest.approx(expected, rel=0.02)  # 200 000 draws: the estimate is within ~0.3%
    assert abs(w.mean()) < 0.01 * expected


def test_kaiming_uniform_bound():
    w = nn.init.kaiming_uniform_(tn.zeros(300, 200), nonlinearity="relu").numpy()
    bound = math.sqrt(2.0) * math.sqrt(3 / 200)
    assert np.abs(w).max() <= bound and w.max() > 0.98 * bound and w.min() < -0.98 * bound
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_uniform_(tn.zeros(3, 3), mode="fan_avg")


def test_init_needs_a_2d_tensor_for_fans():
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.xavier_uniform_(tn.zeros(5))


def test_uniform_normal_zeros_ones_constant_fill_in_place():
    t = tn.randn(4, 5)
    assert nn.init.zeros_(t) is t
    np.testing.assert_array_equal(t.numpy(), np.zeros((4, 5)))
    assert nn.init.ones_(t) is t
    np.testing.assert_array_equal(t.numpy(), np.ones((4, 5)))
    assert nn.init.constant_(t, 0.25) is t
    np.testing.assert_array_equal(t.numpy(), np.full((4, 5), 0.25))
    assert t.dtype == tn.float32
    big = nn.init.uniform_(tn.zeros(100_000), -2.0, 3.0).numpy()
    assert big.min() >= -2.0 and big.max() < 3.0 and big.mean() == pytest.approx(0.5, abs=0.02)
    big = nn.init.normal_(tn.zeros(100_000), 1.0, 2.0).numpy()
    assert big.mean() == pytest.approx(1.0, abs=0.03) and big.std() == pytest.approx(2.0, rel=0.02)
    lin = nn.Linear(3, 2)
    nn.init.zeros_(lin.weight)  # parameters too, and they stay parameters of the module
    assert lin.weight is next(iter(lin.parameters()))
    np.testing.assert_array_equal(lin(tn.ones(1, 3)).numpy(), lin.bias.numpy()[None])


# --- nn.utils -----------------------------------------------------------------------------


def _params_with_grads(grads):
    params = []
    for g in grads:
        p = tn.zeros(*np.shape(g), requires_grad=True)
        p.grad = tn.tensor(g)
        params.append(p)
    return params


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_norm_before():
    rng = np.random.default_rng(5)
    grads = [rng.normal(0, 3, (4, 3)), rng.normal(0, 3, (3,)), rng.normal(0, 3, (2, 2))]
    params = _params_with_grads(grads)
    params.append(tn.zeros(3, requires_grad=True))  # no gradient: skipped
    total = np.sqrt(sum((g.astype(np.float32).astype(np.float64) ** 2).sum() for g in grads))
    assert total > 5
    returned = nn.utils.clip_grad_norm_(params, max_norm=1.0)
    assert float(returned) == pytest.approx(total, rel=1e-5)
    after = np.sqrt(sum((p.grad.numpy().astype(np.float64) ** 2).sum() for p in params[:3]))
    assert after == pytest.approx(1.0, rel=1e-4)
    for p, g in zip(params, grads):  # one common factor: directions are kept
        np.testing.assert_allclose(p.grad.numpy(), g * (1.0 / total), rtol=1e-4, atol=1e-7)
    assert params[3].grad is None


def test_clip_grad_norm_leaves_small_gradients_alone():
    grads = [np.array([0.3, -0.4]), np.array([[0.1]])]
    params = _params_with_grads(grads)
    returned = nn.utils.clip_grad_norm_(params, max_norm=5.0)
    assert float(returned) == pytest.approx(math.sqrt(0.09 + 0.16 + 0.01), rel=1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.numpy(), g.astype(np.float32))


def test_clip_grad_norm_inf_norm_and_model_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    (model(tn.randn(8, 3)).sum() * 100).backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    biggest = max(np.abs(g).max() for g in grads)
    assert float(nn.utils.clip_grad_norm_(model.parameters(), 0.5, norm_type=float("inf"))) == pytest.approx(biggest)
    assert max(np.abs(p.grad.numpy()).max() for p in model.parameters()) == pytest.approx(0.5, rel=1e-4)


def test_clip_grad_norm_accepts_a_single_tensor():
    # PyTorch: "parameters (Iterable[Tensor] or Tensor)"; a single tensor is wrapped in a list.
    (p,) = _params_with_grads([np.array([3.0, 4.0])])
    returned = nn.utils.clip_grad_norm_(p, max_norm=1.0)
    assert float(returned) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 0.5, 0.0])
def test_clip_grad_norm_gives_pytorch_s_norm_and_gradients(norm_type):
    torch = pytest.importorskip("torch", reason="compares with PyTorch, which is not installed")
    rng = np.random.default_rng(7)
    # one gradient over 4096 numbers with a remainder (summed in rows), small ones, one with zeros
    grads = [rng.normal(0, 1, (300, 70)), rng.normal(0, 2, (5,)), np.array([[0.0, 1.5], [0.0, -2.0]])]
    grads = [g.astype(np.float32) for g in grads]
    ours = _params_with_grads(grads)
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(theirs, grads):
        p.grad = torch.tensor(g)
    max_norm = 0.5 if norm_type else 0.1  # below every norm: each gradient is scaled
    returned = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type, foreach=True)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert returned.dtype == tn.float32 and returned.shape == ()
    # p = 0.5 squares the sums' rounding twice: PyTorch's is 5e-6 from the exact norm of these, ours 2e-7
    close = 2e-6 if norm_type in (2.0, 1.0, math.inf, 0.0) else 1e-5
    assert float(returned) == pytest.approx(float(expected), rel=close)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=close, atol=1e-9)


def test_get_total_norm_then_clip_grads_with_norm_is_clip_grad_norm():
    rng = np.random.default_rng(8)
    grads = [rng.normal(0, 3, (40, 30)).astype(np.float32), rng.normal(0, 3, (7,)).astype(np.float32)]
    together, apart = _params_with_grads(grads), _params_with_grads(grads)
    returned = nn.utils.clip_grad_norm_(together, 2.0)
    total = nn.utils.get_total_norm([p.grad for p in apart])
    assert float(total) == float(returned)
    assert float(total) == pytest.approx(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)), rel=1e-6)
    nn.utils.clip_grads_with_norm_(apart, 2.0, total)
    for p, q in zip(together, apart):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_clip_grad_norm_of_non_finite_gradients_raises_when_asked_else_scales_as_pytorch():
    grads = [np.array([np.inf, 1.0], dtype=np.float32), np.array([2.0], dtype=np.float32)]
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: the total norm of order 2.0 .* is inf"):
        nn.utils.clip_grad_norm_(_params_with_grads(grads), 1.0, error_if_nonfinite=True)
    params = _params_with_grads(grads)
    assert float(nn.utils.clip_grad_norm_(params, 1.0)) == math.inf
    # PyTorch multiplies by max_norm / (inf + 1e-6) = 0: inf * 0 is NaN, the finite values become 0
    np.testing.assert_array_equal(params[0].grad.numpy(), [np.nan, 0.0])
    np.testing.assert_array_equal(params[1].grad.numpy(), [0.0])
    params = _params_with_grads([np.array([np.nan, 1.0], dtype=np.float32)])
    assert math.isnan(float(nn.utils.clip_grad_norm_(params, 1.0)))
    assert np.isnan(params[0].grad.numpy()).all()  # a NaN norm scales every gradient to NaN, as in PyTorch


def test_clip_grad_value_accepts_a_single_tensor():
    (p,) = _params_with_grads([np.array([3.0, -4.0, 0.5])])
    nn.utils.clip_grad_value_(p, 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, -1.0, 0.5])


def test_clip_grad_value_clips_each_element():
    grads = [np.array([[-3.0, 0.5], [2.0, -0.1]]), np.array([10.0, -10.0, 0.0])]
    params = _params_with_grads(grads)
    assert nn.utils.clip_grad_value_(params, 1.0) is None
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g.astype(np.float32), -1.0, 1.0))
