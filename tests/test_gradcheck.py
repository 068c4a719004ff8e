"""gradcheck itself: it passes correct gradients and catches wrong ones, saying where."""

import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import Function


class SquareWithWrongBackward(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        wrong = 2 * x
        wrong.reshape(-1)[-1] += 0.5  # one element off: gradcheck must point at it
        return grad * wrong


def test_gradcheck_passes_a_correct_op():
    x = tn.randn(3, 4, requires_grad=True)
    assert tn.gradcheck(lambda t: (t * t).exp().sum(1), [x])


def test_gradcheck_catches_a_wrong_backward_and_names_the_element():
    x = tn.tensor([[0.5, -1.0], [2.0, 1.5]], requires_grad=True)
    with pytest.raises(tn.GradcheckError) as caught:
        tn.gradcheck(lambda t: SquareWithWrongBackward.apply(t), [x])
    message = str(caught.value)
    assert "input 0" in message and "index (1, 1)" in message
    assert "analytic" in message and "numeric" in message


def test_gradcheck_only_checks_inputs_that_require_grad():
    x = tn.randn(3, requires_grad=True)
    w = tn.randn(3)  # a constant: perturbing it would be wasted work
    assert tn.gradcheck(lambda a, b: a * b, [x, w])
    with pytest.raises(ValueError, match="no input requires grad"):
        tn.gradcheck(lambda a: a * 2, [tn.randn(3)])


def test_gradcheck_works_in_float64_and_leaves_inputs_untouched():
    x = tn.randn(4, requires_grad=True)
    before = x.numpy().copy()
    tn.gradcheck(lambda t: t.sigmoid(), [x])
    assert x.dtype == tn.float32 and x.grad is None
    np.testing.assert_array_equal(x.numpy(), before)


def test_gradcheck_of_a_float64_model_through_its_parameters():
    model = tn.nn.Sequential(tn.nn.Linear(3, 4), tn.nn.Tanh(), tn.nn.Linear(4, 2)).double()
    x = tn.randn(5, 3, dtype=tn.float64)
    before = [p.numpy().copy() for p in model.parameters()]
    assert tn.gradcheck(lambda x, *params: model(x), [x, *model.parameters()])
    for p, original in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), original)  # every nudge was undone
        assert p.grad is None
