"""The computation graph behind a tensor, as data, as Mermaid text, or drawn with matplotlib.

    loss = F.mse_loss(model(x), y)
    print(tn.graph.to_mermaid(loss, names=dict(model.named_parameters())))
    tn.graph.draw(loss, names={"x": x, **dict(model.named_parameters())})

Tensors are boxes labelled with their name (when ``names`` gives one) and shape; ops are the Functions
that autograd recorded, in rounded boxes. Arrows run from inputs to outputs: backward walks them the
other way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinynet.autograd import Node
from tinynet.tensor import Tensor


@dataclass
class Graph:
    """nodes: id -> (kind, label), kind "tensor" or "op"; edges: (from id, to id); ``order``: inputs first."""

    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)


def build(root: Tensor, names: dict[str, Tensor] | None = None) -> Graph:
    """The graph of every op and tensor ``root`` was computed from (constants included), inputs first.

    names: {name: tensor} for labels (e.g. ``dict(model.named_parameters())``); others show their shape. After
    backward has freed the graph, its ops and the parameters remain, but not the tensors between the ops.
    """
    label_of = {id(t): name for name, t in (names or {}).items()}
    graph, seen, stack = Graph(), set(), [(root, False)]
    while stack:  # depth-first with an explicit stack, as autograd.topological_order
        item, inputs_done = stack.pop()
        is_tensor = isinstance(item, Tensor)  # else a Node: an op of a freed graph, its output tensor let go
        node = item._node if is_tensor else item
        key = f"t{id(item)}" if is_tensor else f"f{id(item)}"
        if inputs_done:
            if node is not None:
                op = f"f{id(node)}"
                graph.nodes[op] = ("op", node.function.__name__)
                graph.order.append(op)
                graph.edges += [(_key(parent), op) for parent in node.inputs if isinstance(parent, (Tensor, Node))]
            if is_tensor:
                shape = tuple(item.shape)
                graph.nodes[key] = ("tensor", f"{label_of[id(item)]} {shape}" if id(item) in label_of else str(shape))
                graph.order.append(key)
                if node is not None:
                    graph.edges.append((op, key))
            continue
        if key in seen:
            continue
        seen.add(key)
        stack.append((item, True))
        if node is not None:
            seen.add(f"f{id(node)}")
            stack.extend((p, False) for p in node.inputs if isinstance(p, (Tensor, Node)) and _key(p) not in seen)
    return graph


def _key(item) -> str:
    return f"t{id(item)}" if isinstance(item, Tensor) else f"f{id(item)}"


def to_mermaid(root: Tensor, names: dict[str, Tensor] | None = None) -> str:
    """Mermaid flowchart text of the graph behind ``root`` (paste it into any Mermaid viewer)."""
    graph = build(root, names)
    short = {key: f"n{i}" for i, key in enumerate(graph.order)}
    lines = ["flowchart LR"]
    for key in graph.order:
        kind, label = graph.nodes[key]
        lines.append(f'    {short[key]}["{label}"]' if kind == "tensor" else f'    {short[key]}("{label}")')
    lines += [f"    {short[a]} --> {short[b]}" for a, b in graph.edges]
    return "\n".join(lines)


def draw(root: Tensor, names: dict[str, Tensor] | None = None, ax=None):
    """Draw the graph behind ``root`` left to right: each op one column right of the op before it, each
    input tensor (a parameter, the data) just left of the first op that uses it. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    graph = build(root, names)
    inputs: dict[str, list[str]] = {key: [] for key in graph.order}
    users: dict[str, list[str]] = {key: [] for key in graph.order}
    for a, b in graph.edges:
        inputs[b].append(a)
        users[a].append(b)
    leaves = [key for key in graph.order if not inputs[key]]
    column: dict[str, int] = {}
    for key in graph.order:  # inputs come first, so their columns are known
        if inputs[key]:
            column[key] = 1 + max((column[a] for a in inputs[key] if a not in leaves), default=0)
    for key in leaves:
        column[key] = min((column[u] for u in users[key]), default=1) - 1
    rows: dict[int, int] = {}
    position = {}
    for key in sorted(graph.order, key=lambda k: k in leaves):  # computed nodes first: the main line straight
        row = rows[column[key]] = rows.get(column[key], -1) + 1
        position[key] = (column[key], -row)
    if ax is None:
        width, height = 1.6 * (max(column.values()) + 1), 0.9 * (max(rows.values()) + 1)
        _, ax = plt.subplots(figsize=(max(width, 4), max(height, 2)), layout="constrained")
    for a, b in graph.edges:
        ax.annotate(
            "", xy=position[b], xytext=position[a],
            arrowprops=dict(arrowstyle="->", color="0.4", shrinkA=18, shrinkB=18),
        )  # fmt: skip
    for key, (x, y) in position.items():
        kind, label = graph.nodes[key]
        style = (
            dict(boxstyle="square,pad=0.3", fc="#dbe9f6")
            if kind == "tensor"
            else dict(boxstyle="round,pad=0.4", fc="#fde2c8")
        )
        ax.text(x, y, label, ha="center", va="center", fontsize=8, bbox=style)
    ax.set_xlim(-0.7, max(column.values()) + 0.7)
    ax.set_ylim(-max(rows.values()) - 0.7, 0.7)
    ax.axis("off")
    return ax
