"""In-place changes: the methods that make them, and the version counter that keeps backward honest."""

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim


def test_in_place_methods_change_the_values_and_count_each_change():
    x = tn.tensor([1.0, 2.0, 3.0])
    assert x._version == 0
    x.add_(1).mul_(tn.tensor([2.0, 2.0, 2.0])).sub_(1).div_(2)
    np.testing.assert_allclose(x.numpy(), [1.5, 2.5, 3.5])
    x.clamp_(2.0, 3.0)
    np.testing.assert_allclose(x.numpy(), [2.0, 2.5, 3.0])
    x[0] = 7.0
    x[1:] = tn.tensor([8.0, 9.0])
    np.testing.assert_allclose(x.numpy(), [7.0, 8.0, 9.0])
    x.copy_(tn.tensor([4.0]))  # broadcast
    np.testing.assert_allclose(x.numpy(), [4.0, 4.0, 4.0])
    assert x.zero_().fill_(5.0).tolist() == [5.0, 5.0, 5.0]
    assert x._version == 10
    assert x.dtype == tn.float32  # values are cast to the tensor's own dtype


def test_a_tensor_that_requires_grad_is_changed_in_place_only_under_no_grad():
    w = tn.tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda: w.mul_(2), lambda: w.zero_(), lambda: w.__setitem__(0, 3.0)):
        with pytest.raises(
            tn.GraphError, match=r"cannot change this tensor .* in place.*leaf that requires grad.*no_grad"
        ):
            change()
    assert w.tolist() == [1.0, 2.0] and w._version == 0
    with tn.no_grad():
        w.mul_(2)
    assert w.tolist() == [2.0, 4.0] and w._version == 1


def test_backward_refuses_when_a_saved_input_was_changed_in_place_after_the_forward():
    w, x = tn.tensor([1.0, 2.0], requires_grad=True), tn.tensor([3.0, 4.0])
    loss = (w * x).sum()  # Mul's backward needs x for dL/dw
    x.mul_(10)
    with pytest.raises(
        tn.GraphError, match=r"Mul needs the values its input 1 \(shape \(2,\)\) had .* \(version 0 -> 1\)"
    ):
        loss.backward()


def test_backward_refuses_after_optimizer_step_changed_the_weights_it_needs():
    model = nn.Linear(3, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    x = tn.randn(4, 3, requires_grad=True)
    loss = F.mse_loss(model(x), tn.zeros(4, 1))
    loss.backward(retain_graph=True)
    optimizer.step()  # the weights move: dL/dx through the old graph would use the new ones
    with pytest.raises(tn.GraphError, match=r"Linear needs the values its input 1 \(shape \(1, 3\)\).*optimizer\.step"):
        loss.backward()


def test_backward_refuses_when_an_op_output_it_needs_was_changed():
    x = tn.tensor([0.5, -1.0], requires_grad=True)
    y = x.sigmoid()  # Sigmoid's backward uses its output y
    with tn.no_grad():
        y.mul_(2)
    with pytest.raises(tn.GraphError, match=r"Sigmoid needs the values its output \(shape \(2,\)\)"):
        y.sum().backward()


def test_changes_after_backward_and_ordinary_training_raise_nothing():
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    initialised = [p._version for p in model.parameters()]  # nn.init's fills count too
    for _ in range(3):
        optimizer.zero_grad()
        F.mse_loss(model(tn.randn(8, 2)), tn.randn(8, 1)).backward()
        optimizer.step()
    assert [p._version for p in model.parameters()] == [v + 3 for v in initialised]  # each step counted
    bias_version = model[0].bias._version
    nn.init.zeros_(model[0].bias)
    assert model[0].bias._version == bias_version + 1


# (op, operand maker, keyword arguments): the updates _update_arrays takes straight on the arrays, and ones it leaves
# to the ops (broadcasting a row, another dtype, an integer tensor, a rounding mode)
UPDATES = {
    "add_ tensor alpha": ("add_", lambda x: x * 0.3 + 1, {"alpha": -0.01}),
    "sub_ tensor": ("sub_", lambda x: x * 0.7, {}),
    "sub_ 0-d alpha": ("sub_", lambda x: tn.tensor(0.25, dtype=x.dtype), {"alpha": 3}),
    "mul_ number": ("mul_", lambda x: 0.1, {}),
    "div_ tensor with zeros": ("div_", lambda x: tn.where(x > 0, x, tn.zeros_like(x)), {}),
    "div_ int": ("div_", lambda x: 3, {}),
    "add_ a broadcast row": ("add_", lambda x: x[0] * 2, {}),
    "add_ float64 into float32": ("add_", lambda x: x.double() / 3, {"alpha": 0.5}),
    "div_ floor": ("div_", lambda x: 0.3, {"rounding_mode": "floor"}),
}


@pytest.mark.parametrize("dtype", [tn.float32, tn.float64, tn.float16])
@pytest.mark.parametrize("name", list(UPDATES))
def test_updates_under_no_grad_are_the_out_of_place_ops_bit_for_bit(name, dtype):
    op, make_operand, kwargs = UPDATES[name]
    x = tn.tensor(np.random.default_rng(3).standard_normal((4, 5)), dtype=dtype)
    x[0, 1] = 0.0  # a 0 / 0
    with np.errstate(all="ignore"):  # the out-of-place ops' own NumPy calls may warn of the 0 / 0
        operand = make_operand(x)
        expected = getattr(tn, op.rstrip("_"))(x, operand, **kwargs).to(dtype)
    version, view = x._version, x[1]
    with np.errstate(all="raise"), tn.no_grad():  # no NumPy warning escapes either way
        assert getattr(x, op)(operand, **kwargs) is x
    np.testing.assert_array_equal(x.numpy(), expected.numpy())
    assert x.dtype == dtype and x._version == version + 1
    np.testing.assert_array_equal(view.numpy(), x.numpy()[1])  # a view sees the change: same memory


def test_an_update_autograd_records_still_takes_the_op():
    w = tn.tensor([1.0, 2.0], requires_grad=True)
    h = w * 1.0
    h.add_(tn.tensor([3.0, 4.0]), alpha=2.0)  # recorded: h's history now ends in the add
    h.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])
    with pytest.raises(tn.GraphError, match="leaf that requires grad"):
        w.sub_(tn.tensor([1.0, 1.0]))
