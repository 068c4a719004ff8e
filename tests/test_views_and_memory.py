"""Views share their base's version counter; in-place ops join the graph as PyTorch's do; backward frees the graph.

Issue 14, classes 1 and 3. Each case runs the same program on PyTorch and on tinynet (``tests/torch_oracle``'s way:
the module is the argument), so the expected outcome is PyTorch's, not ours.
"""

import gc
import tracemalloc

import numpy as np
import pytest
import torch

import tinynet as tn
import tinynet.nn as nn

# A view of y, changed in place under no_grad: each must make a backward that needs y's values refuse.
VIEWS = {
    "detach": lambda y: y.detach(),
    "slice": lambda y: y[0:2],
    "select": lambda y: y[1],
    "reshape": lambda y: y.reshape(6),
    "view": lambda y: y.view(3, 2),
    "transpose": lambda y: y.transpose(0, 1),
    "T": lambda y: y.T,
    "unsqueeze": lambda y: y.unsqueeze(0),
    "flatten": lambda y: y.flatten(),
    "narrow": lambda y: y.narrow(1, 1, 2),
    "chunk": lambda y: y.chunk(3, dim=1)[2],
    "permute": lambda y: y.permute(1, 0),
    "view of a view": lambda y: y[0:2].reshape(6)[1:],
}
CHANGES = {
    "mul_": lambda v: v.mul_(0),
    "setitem": lambda v: v.__setitem__(..., 7.0),
    "zero_": lambda v: v.zero_(),
    "clamp_": lambda v: v.clamp_(0, 0.5),
}


def _exp_then_sum(module, view, change):
    """y = exp(x) saves y for its backward; a view of y changed in place, then backward."""
    x = module.tensor([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]], requires_grad=True)
    y = x.exp()
    loss = (y * 3).sum()
    with module.no_grad():
        change(view(y))
    loss.backward()
    return x.grad


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_changing_a_view_of_a_saved_output_makes_backward_refuse_as_in_pytorch(view, change):
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _exp_then_sum(torch, VIEWS[view], CHANGES[change])
    with pytest.raises(tn.GraphError, match=r"Exp needs the values its output .* changed in place"):
        _exp_then_sum(tn, VIEWS[view], CHANGES[change])


def test_data_shares_the_version_counter_too():
    # PyTorch's .data does not (its backward silently uses the new values); the issue asks tinynet to refuse.
    with pytest.raises(tn.GraphError, match="changed in place"):
        _exp_then_sum(tn, lambda y: y.data, CHANGES["mul_"])


def test_changing_a_clone_or_memory_no_backward_reads_is_allowed_with_pytorchs_gradient():
    def program(module, change):
        x = module.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = x * 2
        loss = y.sum() + (y.clone() ** 2).sum()  # Sum saves nothing of y; the square saves the clone
        with module.no_grad():
            change(y)
        loss.backward()
        return x.grad.tolist()

    for change in (lambda y: y.clone().mul_(0), lambda y: y.detach().mul_(0), lambda y: y[1:].zero_()):
        assert program(tn, change) == pytest.approx(program(torch, change))


def test_the_version_counter_is_one_for_a_base_and_all_its_views():
    y = tn.zeros(2, 3)
    views = [y.detach(), y[0], y.T, y.reshape(6), y.data]
    views[1].add_(1)
    assert {v._version for v in [y, *views]} == {1}
    assert y.clone()._version == 0


# --- in-place ops while autograd records: PyTorch records them ------------------------------------------------

INPLACE = {
    "iadd a tensor": lambda m, out, w: out.__iadd__(w),
    "mul_ by a number": lambda m, out, w: out.mul_(3),
    "mul_ by a tensor": lambda m, out, w: out.mul_(w),
    "div_ by a tensor": lambda m, out, w: out.div_(w),
    "setitem a slice of w": lambda m, out, w: out.__setitem__(slice(0, 2), w[1:] * 2),
    "setitem a number": lambda m, out, w: out.__setitem__(1, 5.0),
    "setitem by mask": lambda m, out, w: out.__setitem__(out > 0, w[0]),
    "copy_ w": lambda m, out, w: out.copy_(w),
    "clamp_": lambda m, out, w: out.clamp_(-1.0, 1.5),
    "relu_": lambda m, out, w: out.relu_(),
    "fill_": lambda m, out, w: out.fill_(2.0),
    "sin_": lambda m, out, w: out.sin_(),
    "exp_": lambda m, out, w: out.exp_(),
    "atan2_ a tensor": lambda m, out, w: out.atan2_(w),
    "masked_fill_": lambda m, out, w: out.masked_fill_(m.tensor([True, False, True]), 0.5),
    "index_add_ w": lambda m, out, w: out.index_add_(0, m.tensor([2, 0]), w[:2]),
    "lerp_ to w": lambda m, out, w: out.lerp_(w, 0.25),
}


def _residual(module, change):
    x = module.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = module.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = x * 2 - 0.25
    change(module, out, w)
    loss = (out * out * w).sum()
    loss.backward()
    return loss.item(), x.grad.tolist(), w.grad.tolist()


@pytest.mark.parametrize("case", sorted(INPLACE))
def test_an_in_place_op_on_a_tensor_in_the_graph_gives_pytorchs_values_and_gradients(case):
    expected = _residual(torch, INPLACE[case])
    got = _residual(tn, INPLACE[case])
    assert got[0] == pytest.approx(expected[0], rel=1e-6)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], expected[2], rtol=1e-5, atol=1e-6)


def test_a_buffer_that_takes_a_gradient_carrying_value_joins_the_graph():
    def program(module):
        w = module.tensor([1.0, 2.0], requires_grad=True)
        buffer = module.zeros(3)
        buffer[1:] = w
        buffer += w.sum()
        (buffer * buffer).sum().backward()
        return w.grad.tolist()

    assert program(tn) == pytest.approx(program(torch))


def test_a_residual_block_with_out_plus_equals_identity_trains_as_in_pytorch():
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    grads = []
    for module, net in ((torch, reference), (tn, model)):
        identity = module.tensor(x, requires_grad=True)
        out = net(identity)
        out += identity  # torchvision's BasicBlock
        module.nn.functional.relu(out).sum().backward()
        grads.append(identity.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-5)


def test_in_place_ops_that_cannot_be_recorded_are_refused_clearly():
    leaf = tn.ones(2, requires_grad=True)
    with pytest.raises(tn.GraphError, match=r"add_: .*leaf that requires grad"):
        leaf.add_(1)
    y = leaf * 2
    with pytest.raises(tn.GraphError, match=r"mul_: .*view of another tensor"):
        y[0:1].mul_(leaf[0:1])
    z = leaf * 3
    (z * 2).sum()  # an op took z before the change
    with pytest.raises(tn.GraphError, match=r"add_: .*already used"):
        z.add_(leaf)


def test_an_in_place_change_of_a_saved_output_is_refused_at_backward_as_in_pytorch():
    def program(module):
        x = module.tensor([0.5, -1.0], requires_grad=True)
        y = x.sigmoid()  # saves its output
        y.add_(1)
        y.sum().backward()

    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        program(torch)
    with pytest.raises(tn.GraphError, match="Sigmoid needs the values its output"):
        program(tn)


# --- memory after backward -------------------------------------------------------------------------------------


def _mlp_losses(count: int, retain_graph: bool = False) -> tuple[list, float]:
    """``count`` losses of a small MLP, each kept after its backward; -> (losses, bytes held per kept loss)."""
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    x, y = tn.randn(32, 10), tn.randn(32, 1)

    def step():
        loss = ((model(x) - y) ** 2).mean()
        loss.backward(retain_graph=retain_graph)
        return loss

    step()  # caches and the gradient buffers, outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        losses = [step() for _ in range(count)]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return losses, held / count


def test_a_loss_kept_after_backward_keeps_no_activations():
    _, per_loss = _mlp_losses(1000)
    # The activations of one step are 32 x (64 + 64 + 64 + 1) float32 values, 24.7 kB, saved several times over
    # (36.7 kB per loss before backward freed them). What stays is the graph's ops: about 1.2 kB.
    assert per_loss < 4000, f"{per_loss:.0f} bytes per kept loss"


def test_retain_graph_keeps_the_activations_and_a_second_backward_works():
    losses, per_loss = _mlp_losses(50, retain_graph=True)
    assert per_loss > 20_000  # the saved activations are still there
    losses[0].backward()  # and usable


def test_a_second_backward_through_a_freed_graph_is_refused_and_its_shape_can_still_be_drawn():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    names = dict(model.named_parameters())
    loss = model(tn.randn(5, 3)).pow(2).mean()
    before = tn.graph.build(loss, names)
    loss.backward()
    after = tn.graph.build(loss, names)  # the ops and the parameters stay; the tensors between the ops are gone
    assert sorted(n for n in after.nodes.values() if n[0] == "op") == sorted(
        n for n in before.nodes.values() if n[0] == "op"
    )
    assert {n for n in before.nodes.values() if any(name in n[1] for name in names)} <= set(after.nodes.values())
    with pytest.raises(tn.GraphError, match="freed by an earlier backward"):
        loss.backward()
