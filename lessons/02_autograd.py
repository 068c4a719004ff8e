# %% [markdown]
# # 02 · Autograd: the same network, with the derivatives computed for us
#
# In lesson 01 we wrote every derivative of the XOR network by hand. Here tinynet does it:
# each operation on a `Tensor` records itself in a graph, and `loss.backward()` walks that graph
# from the loss back to the weights, applying the chain rule at every node, exactly the steps we
# wrote out by hand. We check that claim twice: against the hand-derived gradients, and against
# finite differences with `tn.gradcheck`.
#
# Run it: `python lessons/02_autograd.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import setup

lesson = setup("02_autograd")
steps = 1000 if lesson.smoke else 5000

X_np = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
T_np = np.array([[0], [1], [1], [0]], dtype=np.float64)
X, T = tn.tensor(X_np), tn.tensor(T_np)

# %% [markdown]
# ## The model, in PyTorch's vocabulary
#
# `nn.Linear(2, 2)` holds W1 and b1 and computes x W^T + b (it stores W as (out, in)).
# `nn.Sequential` chains the layers. We start from the same random weights as lesson 01.

# %%
model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
print(model)

rng = np.random.default_rng(1)
W1, b1, W2, b2 = rng.normal(0, 1, (2, 2)), np.zeros(2), rng.normal(0, 1, (2, 1)), np.zeros(1)
model.load_state_dict({"0.weight": W1.T, "0.bias": b1, "2.weight": W2.T, "2.bias": b2})

# %% [markdown]
# ## The graph autograd records
#
# Computing the loss runs the forward pass, and every op on a tensor that requires a gradient
# remembers which op made it and from which inputs. That record is the **computation graph**:
#
#     X, W1, b1 -> Linear -> Sigmoid -> Linear (W2, b2) -> Sigmoid -> Sub (T) -> Mul -> Mean -> loss
#
# (`F.mse_loss` is mean((y - t) * (y - t)): Sub, Mul, Mean.) `tn.graph.draw` pictures it and
# `tn.graph.to_mermaid` writes it as Mermaid text, which GitHub, many editors and mermaid.live render.
# Backward walks the same arrows the other way, from the loss to every parameter.

# %%
loss = F.mse_loss(model(X), T)
names = {"X": X, "T": T, "loss": loss, **dict(model.named_parameters())}
ax = tn.graph.draw(loss, names)
ax.set_title("The computation graph of the XOR loss: tensors (blue) and the ops that made them (orange)")
lesson.savefig(ax.figure, "computation_graph.png")
mermaid = tn.graph.to_mermaid(loss, names)
(lesson.out / "computation_graph.mmd").write_text(mermaid + "\n")
print(mermaid)
graph_ops = sum(kind == "op" for kind, _ in tn.graph.build(loss, names).nodes.values())

# %% [markdown]
# ## Watching the chain rule run
#
# `tn.trace()` prints every op as it runs. Take one sigmoid neuron, y = sigmoid(w x + b), and the
# loss (y - t)^2. The forward lines show each value as it is computed, numbered; the backward lines
# run the numbers in reverse: each op receives dL/dout, the gradient of its output, and hands each input
# that needs one dL/din = dL/dout times its local derivative (in1, in2: its inputs in order). Check the
# last lines by hand: Sigmoid turns dL/dy = -1 into dL/dz = dL/dy * y (1 - y) = -0.25, and Mul turns
# dL/d(w x) into dL/dw = dL/d(w x) * x = -0.5 (x is data: it gets no gradient).

# %%
w, b = tn.tensor([0.5], requires_grad=True), tn.tensor([-1.0], requires_grad=True)
x, t = tn.tensor([2.0]), tn.tensor([1.0])
with tn.trace() as traced:
    y = (w * x + b).sigmoid()
    neuron_loss = ((y - t) ** 2).sum()
    neuron_loss.backward()
y_value = 1 / (1 + np.exp(-(0.5 * 2.0 - 1.0)))
chain_rule_by_hand = 2 * (y_value - 1.0) * y_value * (1 - y_value) * 2.0  # dL/dy * dy/dz * dz/dw
trace_gap = abs(w.grad.item() - chain_rule_by_hand)
print(f"dL/dw by autograd {w.grad.item():.6f}, by hand {chain_rule_by_hand:.6f}")

# %% [markdown]
# ## One backward pass, compared with the hand-derived gradients
#
# `loss.backward()` fills `.grad` of every parameter. The hand formulas from lesson 01 give
# the same numbers (up to float32 rounding: tinynet computes in float32 by default).

# %%
loss.backward()
print("loss:", loss.item(), " its graph starts at:", loss.grad_fn)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


h = sigmoid(X_np @ W1 + b1)
y = sigmoid(h @ W2 + b2)
dz2 = 2 * (y - T_np) / len(X_np) * y * (1 - y)
dz1 = dz2 @ W2.T * h * (1 - h)
by_hand = {"0.weight": (X_np.T @ dz1).T, "0.bias": dz1.sum(0), "2.weight": (h.T @ dz2).T, "2.bias": dz2.sum(0)}
gap_to_hand = max(float(np.abs(p.grad.numpy() - by_hand[name]).max()) for name, p in model.named_parameters())
print(f"largest gap between autograd and hand-derived gradients: {gap_to_hand:.2e}")

# %% [markdown]
# ## gradcheck: finite differences on every parameter
#
# `tn.gradcheck` nudges every input element up and down in float64 and compares the slope with
# autograd's answer. Make the model float64 first, then pass its parameters as inputs.

# %%
model_64 = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid()).double()
model_64.load_state_dict(model.state_dict())
X_64 = tn.tensor(X_np, dtype=tn.float64)
passed = tn.gradcheck(lambda x, *params: model_64(x), [X_64, *model_64.parameters()])
print("gradcheck on every parameter:", "passed" if passed else "failed")

# %% [markdown]
# ## Training: the loop every tinynet (and PyTorch) program uses
#
#     optimizer.zero_grad()   forget the previous step's gradients
#     loss = loss_fn(model(X), T)
#     loss.backward()         fill .grad
#     optimizer.step()        W <- W - lr * W.grad

# %%
optimizer = optim.SGD(model.parameters(), lr=2.0)
losses = []
for _ in range(steps):
    optimizer.zero_grad()
    loss = F.mse_loss(model(X), T)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
with tn.no_grad():  # no graph needed to look at the answers
    predictions = model(X)
final_loss = F.mse_loss(predictions, T).item()
print("trained outputs:", predictions.numpy().ravel().round(3), "targets:", T_np.ravel())

# %%
fig, (ax_loss, ax_surface) = plt.subplots(1, 2, figsize=(10, 4))
ax_loss.semilogy(losses)
ax_loss.set(xlabel="step", ylabel="MSE loss", title="Training loss (autograd)")
grid = np.linspace(-0.25, 1.25, 121)
gx, gy = np.meshgrid(grid, grid)
with tn.no_grad():
    surface = model(tn.tensor(np.column_stack([gx.ravel(), gy.ravel()]))).numpy()
contour = ax_surface.contourf(gx, gy, surface.reshape(gx.shape), levels=20, cmap="RdBu_r")
ax_surface.scatter(X_np[:, 0], X_np[:, 1], c=T_np.ravel(), cmap="RdBu_r", edgecolors="k", s=120)
ax_surface.set(title="Network output over the input square", xlabel="x1", ylabel="x2")
fig.colorbar(contour, ax=ax_surface)
lesson.savefig(fig, "xor_autograd.png")

lesson.report(
    final_mse=final_loss,
    gap_to_hand_gradients=gap_to_hand,
    gradcheck_passed=passed,
    graph_ops=graph_ops,
    traced_ops=len(traced.records),
    trace_chain_rule_gap=trace_gap,
    steps=steps,
)
