"""tn.check_backward names the op whose backward is wrong in a whole model, and passes a correct one."""

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn


class Square(tn.autograd.Function):
    """x^2 with a backward that is right, or planted wrong (the sign, a factor)."""

    mistake = None

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        factor = {None: 2.0, "sign": -2.0, "factor": 1.0}[Square.mistake]
        return grad * x * factor


class Scale(tn.autograd.Function):
    """x * w, w broadcast over the batch: a backward that forgets to sum w's gradient over it is wrong."""

    forgets_the_sum = False

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        grad_w = grad * x if Scale.forgets_the_sum else (grad * x).sum(0)
        return grad * w, grad_w


def _model_loss() -> tn.Tensor:
    """A model of 14 ops: conv, relu, pooling, linear, layer norm, the two Functions above, tanh, dropout, loss."""
    tn.manual_seed(0)
    conv, lin1, lin2, norm = nn.Conv2d(1, 3, 3, padding=1), nn.Linear(12, 8), nn.Linear(8, 3), nn.LayerNorm(8)
    w = tn.randn(8, requires_grad=True)
    x, target = tn.randn(2, 1, 4, 4), tn.tensor([1, 2])
    h = F.max_pool2d(F.relu(conv(x)), 2).flatten(1)
    h = Scale.apply(norm(lin1(h)), w)
    h = F.dropout(Square.apply(h).tanh(), 0.2, training=True)
    return F.cross_entropy(lin2(h) * 0.5 + 1.0, target)


@pytest.fixture(autouse=True)
def _correct_functions():
    yield
    Square.mistake, Scale.forgets_the_sum = None, False


def test_a_correct_model_passes_and_every_op_is_checked():
    loss = _model_loss()
    report = tn.check_backward(loss)
    assert report.ok, str(report)
    assert len(report.checks) >= 10 and "agrees" in str(report)
    loss.backward()  # the graph is still whole after the check


@pytest.mark.parametrize("mistake", ["sign", "factor"])
def test_a_planted_wrong_backward_is_named_with_its_line_input_and_values(mistake):
    Square.mistake = mistake
    report = tn.check_backward(_model_loss())
    wrong = report.first_wrong
    assert not report.ok and wrong.name == "Square" and wrong.input == 0
    assert wrong.origin is not None and wrong.origin[0] == __file__
    assert f"test_backward_check.py:{wrong.origin[1]}" in str(report)
    ratio = wrong.got / wrong.expected
    assert ratio == pytest.approx({"sign": -1.0, "factor": 0.5}[mistake], rel=1e-3)


def test_a_missing_sum_over_the_broadcast_axis_is_named():
    Scale.forgets_the_sum = True
    wrong = tn.check_backward(_model_loss()).first_wrong
    assert wrong.name == "Scale" and wrong.input == 1 and "shape (2, 8)" in str(wrong)


def test_the_engines_ops_say_where_they_ran_inside_record_origins():
    x = tn.randn(3, requires_grad=True)
    with tn.autograd.record_origins():
        y = (x.exp() * 2).sum()
    checks = tn.check_backward(y).checks
    assert all(c.origin is not None and c.origin[0] == __file__ for c in checks)
    assert tn.check_backward((x.exp() * 2).sum()).checks[0].origin is None  # not recorded outside: it costs time


def test_check_backward_refuses_a_freed_graph_and_a_tensor_without_one():
    loss = (tn.randn(3, requires_grad=True) * 2).sum()
    loss.backward()
    with pytest.raises(tn.GraphError, match="call check_backward before"):
        tn.check_backward(loss)
    with pytest.raises(tn.GraphError, match="no graph"):
        tn.check_backward(tn.ones(2))


def test_a_kink_is_not_a_wrong_backward():
    x = tn.tensor(np.array([0.0, 1.0, -1.0, 0.0]), requires_grad=True)
    assert tn.check_backward(F.relu(F.relu(x) - 1.0).sum()).ok
