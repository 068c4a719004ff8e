"""Watching autograd: tn.trace(), tn.detect_anomaly() and tn.graph (Mermaid text and a drawing)."""

import io

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import autograd, nn


def test_trace_prints_each_forward_value_then_each_backward_gradient_in_chain_rule_order():
    w, x = tn.tensor([1.0, 2.0, 3.0], requires_grad=True), tn.tensor([2.0, 2.0, 2.0])
    out = io.StringIO()
    with tn.trace(file=out) as t:
        loss = (w * x).sum()
        loss.backward()
    phases = [(phase, number, op) for phase, number, op, _ in t.records]
    assert phases == [("forward", 1, "Mul"), ("forward", 2, "Sum"), ("backward", 2, "Sum"), ("backward", 1, "Mul")]
    values = [value for *_, value in t.records]
    np.testing.assert_array_equal(values[0], [2.0, 4.0, 6.0])  # w * x
    assert values[1] == 12.0
    np.testing.assert_array_equal(values[3], [1.0, 1.0, 1.0])  # dL/d(w * x): what Mul's backward received
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("forward  #1") and "Mul" in lines[0] and lines[0].endswith("-> out (3,)  [2. 4. 6.]")
    assert lines[3].startswith("backward #1") and lines[3].endswith("-> dL/din1 [2. 2. 2.]")  # = x, w's gradient
    assert autograd.watchers() == []


def test_trace_stops_watching_after_an_error_and_works_as_a_decorator():
    with pytest.raises(KeyError), tn.trace(file=None):
        raise KeyError("boom")
    assert autograd.watchers() == []

    @tn.trace(file=None)
    def square(t):
        return t * t

    assert square(tn.tensor([3.0])).item() == 9.0
    assert autograd.watchers() == []


def test_detect_anomaly_names_the_op_whose_forward_made_nan():
    w = tn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with pytest.raises(
        tn.AnomalyError, match=r"Log forward produced NaN or inf .* shape \(3,\) .*inputs of shapes \(3,\)"
    ):
        with np.errstate(invalid="ignore"), tn.detect_anomaly():
            (w * 2).log().sum()
    with np.errstate(invalid="ignore"):
        assert np.isnan((w * 2).log().sum().item())  # unwatched, the NaN just flows on


def test_detect_anomaly_names_the_op_whose_backward_made_inf():
    a = tn.tensor([0.0, 4.0], requires_grad=True)
    loss = a.sqrt().sum()  # finite forward; d sqrt(a)/da = 1 / (2 sqrt(a)) is inf at 0
    with pytest.raises(tn.AnomalyError, match=r"Sqrt backward produced NaN or inf in the gradient of its input 0"):
        with np.errstate(divide="ignore"), tn.detect_anomaly():
            loss.backward()
    assert issubclass(tn.AnomalyError, RuntimeError) and issubclass(tn.AnomalyError, tn.TinynetError)


def test_detect_anomaly_lets_a_finite_training_step_through():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    with tn.detect_anomaly():
        F.cross_entropy(model(tn.randn(5, 3)), tn.tensor([0, 1, 1, 0, 1])).backward()
    assert all(p.grad is not None for p in model.parameters())


def _mse_graph():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))
    x, y = tn.randn(4, 2), tn.randn(4, 1)
    return F.mse_loss(model(x), y), {"x": x, "y": y, **dict(model.named_parameters())}


def test_graph_lists_every_op_and_tensor_inputs_first():
    loss, names = _mse_graph()
    graph = tn.graph.build(loss, names)
    ops = [graph.nodes[key][1] for key in graph.order if graph.nodes[key][0] == "op"]
    assert ops[:3] == ["Linear", "Sigmoid", "Linear"] and ops[-1] == "MSELoss"
    labels = {label for kind, label in graph.nodes.values() if kind == "tensor"}
    assert {"x (4, 2)", "y (4, 1)", "0.weight (3, 2)", "2.bias (1,)", "()"} <= labels
    position = {key: i for i, key in enumerate(graph.order)}
    assert all(position[a] < position[b] for a, b in graph.edges)  # every edge points forward
    assert graph.order[-1] == f"t{id(loss)}"


def test_mermaid_text_has_a_node_per_tensor_and_op_and_an_edge_per_arrow():
    loss, names = _mse_graph()
    text = tn.graph.to_mermaid(loss, names)
    graph = tn.graph.build(loss, names)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum("-->" in line for line in lines) == len(graph.edges)
    assert sum("-->" not in line for line in lines[1:]) == len(graph.nodes)
    assert '["0.weight (3, 2)"]' in text and '("Sigmoid")' in text


def test_draw_puts_every_node_on_the_axes():
    import matplotlib

    matplotlib.use("Agg")
    loss, names = _mse_graph()
    from matplotlib.text import Annotation

    ax = tn.graph.draw(loss, names)
    graph = tn.graph.build(loss, names)
    labels = [t.get_text() for t in ax.texts if not isinstance(t, Annotation)]
    assert sorted(labels) == sorted(label for _, label in graph.nodes.values())
    assert sum(isinstance(t, Annotation) for t in ax.texts) == len(graph.edges)  # the arrows
