"""The autograd engine: accumulation, shared nodes, long chains, freeing the graph, grad mode."""

import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import Function, topological_order, unbroadcast


def test_backward_of_a_scalar_fills_leaf_grads():
    x = tn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())


def test_a_tensor_used_many_times_sums_its_gradients():
    x = tn.tensor(3.0, requires_grad=True)
    y = x * x + x * 4 + x  # dy/dx = 2x + 5
    y.backward()
    assert x.grad.item() == pytest.approx(2 * 3.0 + 5)


def test_diamond_graph_each_node_visited_once():
    x = tn.tensor([0.5, -1.5], requires_grad=True)
    a = x.exp()
    b = a * 2
    c = a * 3
    (b + c).sum().backward()  # d/dx 5 e^x
    np.testing.assert_allclose(x.grad.numpy(), 5 * np.exp(x.numpy()), rtol=1e-6)


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = tn.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(3):
        (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_a_ten_thousand_op_chain_backpropagates_without_recursion():
    x = tn.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    assert len(topological_order(y)) == 10_001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-3)
    del y  # a freed chain of 10,000 ops is let go of without recursion too


def test_backward_twice_through_a_freed_graph_is_a_clear_error():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(tn.GraphError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * x.numpy())


def test_backward_of_a_non_scalar_needs_a_grad():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(tn.GraphError, match=r"shape \(2,\)"):
        y.backward()
    y.backward(tn.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 30.0])


def test_backward_with_a_grad_of_the_wrong_shape_is_refused():
    y = tn.tensor([1.0, 2.0], requires_grad=True) * 3
    with pytest.raises(tn.GraphError, match=r"grad has shape \(3,\)"):
        y.backward(tn.tensor([1.0, 1.0, 1.0]))


def test_backward_on_a_tensor_without_grad_is_a_clear_error():
    with pytest.raises(tn.GraphError, match="does not require grad"):
        tn.tensor([1.0]).sum().backward()


def test_no_grad_records_nothing_as_context_manager_and_decorator():
    x = tn.tensor([1.0], requires_grad=True)
    with tn.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @tn.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert tn.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_nests_and_restores_the_previous_mode():
    @tn.no_grad()
    def inner():
        return tn.is_grad_enabled()

    with tn.no_grad():
        assert inner() is False
        with tn.enable_grad():
            assert tn.is_grad_enabled()
            assert inner() is False
            assert tn.is_grad_enabled()
        assert not tn.is_grad_enabled()
    assert tn.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = tn.tensor([2.0], requires_grad=True)
    y = (x * x).detach() * x  # only the last factor carries gradient: d/dx (c x) = c = 4
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0])


def test_retain_grad_keeps_an_intermediate_gradient():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * h.numpy())


def test_leaf_grads_do_not_alias_each_other():
    a = tn.tensor([1.0, 1.0], requires_grad=True)
    b = tn.tensor([1.0, 1.0], requires_grad=True)
    (a + b).sum().backward()  # Add hands the same gradient array to both inputs
    a.grad.array *= 10
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_a_grad_shares_memory_with_no_view_of_another_nor_with_the_callers_array():
    x = tn.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = tn.tensor([[1.0, 1.0], [1.0, 1.0]], requires_grad=True)
    (x + y.reshape(4)).backward(tn.ones(4))  # y's gradient is a view of the array x's comes from
    x.grad.array *= 10
    np.testing.assert_allclose(y.grad.numpy(), [[1.0, 1.0], [1.0, 1.0]])
    given = tn.tensor([5.0, 6.0, 7.0, 8.0])
    x.grad = None
    x.backward(given)  # a leaf's own backward: its .grad is a copy, not the caller's tensor
    x.grad.array *= 0
    assert given.tolist() == [5.0, 6.0, 7.0, 8.0]


def test_a_float32_leaf_gets_a_float32_grad_through_float64_ops():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == tn.float32


def test_unbroadcast_sums_over_leading_and_stretched_axes():
    grad = np.ones((4, 2, 3))
    np.testing.assert_array_equal(unbroadcast(grad, (2, 1)), np.full((2, 1), 12.0))
    np.testing.assert_array_equal(unbroadcast(grad, (3,)), np.full((3,), 8.0))
    assert unbroadcast(grad, (4, 2, 3)) is grad


def test_a_custom_function_with_a_wrong_backward_is_caught_by_shape_check():
    class BadSum(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            return np.ones(3)  # wrong shape for a (2,) input

    x = tn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(
        tn.GraphError, match=r"BadSum.backward returned a gradient of shape \(3,\) for an input of shape \(2,\)"
    ):
        BadSum.apply(x).backward()


def test_grad_fn_and_is_leaf_describe_the_graph():
    x = tn.tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn == "MulBackward"
    assert "grad_fn=<MulBackward>" in repr(y)
