# %% [markdown]
# # 02 · Autograd: the same network, with the derivatives computed for us
#
# In lesson 01 we wrote every derivative of the XOR network by hand. Here tinynet does it:
# each operation on a `Tensor` records itself in a graph, and `loss.backward()` walks that graph
# from the loss back to the weights, applying the chain rule at every node, exactly the steps we
# wrote out by hand. We check that claim twice: against the hand-derived gradients, and against
# finite differences with `tn.gradcheck`. Then we open the engine: a scalar autograd small enough to
# read in one screen, tinynet's own `Function.apply` and `backward` beside it, and a custom
# `autograd.Function` of our own, gradchecked.
#
# Run it: `python lessons/02_autograd.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import inspect
import math

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
#     X, W1, b1 -> Linear -> Sigmoid -> Linear (W2, b2) -> Sigmoid -> MSELoss (T) -> loss
#
# (`F.mse_loss`, mean((y - t)^2), is one op with its own backward, 2 (y - t) / n: a Sub, a Mul and a
# Mean would be three.) `tn.graph.draw` pictures it and
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
assert final_loss < 0.05, f"XOR should be learned (MSE < 0.05 after {steps} steps), got {final_loss:.4f}"

# %% [markdown]
# ## Opening the engine: a scalar autograd in three cells
#
# What does `backward()` do inside? Strip away tensors and keep one number per node. Each `Scalar`
# remembers its parents and, computed right when it is made, the **local derivative** d(self)/d(parent):
# for a + b both are 1, for a * b they are b and a, for tanh(a) it is 1 - tanh(a)^2.


# %%
class Scalar:
    """One number that remembers how it was made: ((parent, d self / d parent), ...)."""

    def __init__(self, data: float, parents: tuple = ()) -> None:
        self.data = float(data)
        self.grad = 0.0  # dL/d(self), filled by backprop
        self.parents = parents

    def __add__(self, other: "Scalar") -> "Scalar":
        return Scalar(self.data + other.data, ((self, 1.0), (other, 1.0)))

    def __mul__(self, other: "Scalar") -> "Scalar":
        return Scalar(self.data * other.data, ((self, other.data), (other, self.data)))

    def tanh(self) -> "Scalar":
        t = math.tanh(self.data)
        return Scalar(t, ((self, 1 - t * t),))

    def __repr__(self) -> str:
        return f"Scalar(data={self.data:.4f}, grad={self.grad:.4f})"


# %% [markdown]
# Backward is the chain rule, dL/d(parent) += d(node)/d(parent) * dL/d(node), applied to every node
# **after** every node that uses it has passed its gradient on. A depth-first walk that lists a node
# after its parents gives that order, reversed. The `+=` matters: a node used twice gets a share from each use.


# %%
def topological_order_of(root: Scalar) -> list[Scalar]:
    order, seen = [], set()

    def visit(node: Scalar) -> None:
        if id(node) not in seen:
            seen.add(id(node))
            for parent, _ in node.parents:
                visit(parent)
            order.append(node)  # after all its parents

    visit(root)
    return order


def backprop(root: Scalar) -> None:
    root.grad = 1.0  # dL/dL
    for node in reversed(topological_order_of(root)):
        for parent, local in node.parents:
            parent.grad += local * node.grad


# %% [markdown]
# A neuron with two inputs, o = tanh(x1 w1 + x2 w2 + b), with b chosen so the sum is atanh(1/sqrt 2).
# Then o = 0.7071, do/d(sum) = 1 - o^2 = 0.5, and each weight's gradient is 0.5 times its input.

# %%
x1, x2, w1, w2, b = Scalar(2.0), Scalar(0.0), Scalar(-3.0), Scalar(1.0), Scalar(6.8813735870195432)
o = (x1 * w1 + x2 * w2 + b).tanh()
backprop(o)
print("o =", o)
print("x1", x1, " w1", w1, " x2", x2, " w2", w2, " b", b)
assert abs(o.data - 0.70710678) < 1e-6, f"o should be 1/sqrt(2) = 0.7071, got {o.data:.6f}"
grads = [x1.grad, w1.grad, x2.grad, w2.grad]
assert np.allclose(grads, [-1.5, 1.0, 0.5, 0.0]), f"x1, w1, x2, w2 grads should be -1.5, 1, 0.5, 0; got {grads}"
twice = Scalar(3.0)
backprop(twice * twice)
assert twice.grad == 6.0, f"d(a*a)/da = 2a = 6: a node used twice adds both shares, got {twice.grad}"

# %% [markdown]
# The same neuron in tinynet (float64, so the numbers match to the last digit):

# %%
scalars = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b}
tensors = {name: tn.tensor(v.data, dtype=tn.float64, requires_grad=True) for name, v in scalars.items()}
t = tensors
o_tensor = (t["x1"] * t["w1"] + t["x2"] * t["w2"] + t["b"]).tanh()
o_tensor.backward()
scalar_engine_gap = max(abs(tensors[name].grad.item() - v.grad) for name, v in scalars.items())
print(f"largest gap between our Scalar engine and tinynet: {scalar_engine_gap:.1e}")
assert scalar_engine_gap < 1e-12, f"the two engines should agree to rounding, gap {scalar_engine_gap:.2e}"

# %% [markdown]
# ## tinynet's engine: the same two steps, for tensors
#
# Every op of tinynet is a `Function` subclass; calling it goes through `Function.apply`:

# %%
print(inspect.getsource(tn.autograd.Function.apply))

# %% [markdown]
# and `loss.backward()` calls `tinynet.autograd.backward`:

# %%
print(inspect.getsource(tn.autograd.backward))

# %% [markdown]
# How they generalise `Scalar` and `backprop`:
#
# - **Local derivatives.** For a tensor op the local derivative is a Jacobian, (output size) x (input
#   size): far too big to store. So `apply` keeps a `Node` with the op's class and a `ctx` holding what
#   the op saved (`ctx.save_for_backward`), and the op's `backward` computes the product
#   dL/d(input) = dL/d(output) x Jacobian directly, never forming the Jacobian.
# - **Recording only when needed.** `apply` links a Node only when an input requires a gradient and
#   grad mode is on (`tn.no_grad()` turns it off): evaluation builds no graph.
# - **The order.** `topological_order` is our depth-first walk, with an explicit stack instead of
#   recursion, so a 100,000-step chain does not hit Python's recursion limit.
# - **The `+=`.** `grads[key] + parent_grad` sums the shares of a tensor used more than once; only
#   leaves (and tensors with `retain_grad()`) get a `.grad`; the graph is freed afterwards unless
#   `retain_graph=True`; version counters catch a tensor changed in place after it was saved.

# %% [markdown]
# ## A Function of our own
#
# The same protocol is open to us, as in PyTorch: subclass `tn.autograd.Function`, write
# `forward(ctx, x)` and `backward(ctx, grad_output)` on tensors, and call `.apply`. Softplus,
# log(1 + e^x), is a smooth ReLU whose derivative is the sigmoid.


# %%
class Softplus(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (1 + x.exp()).log()

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * x.sigmoid()  # chain rule: dL/dx = dL/dy * dy/dx


# %% [markdown]
# `gradcheck` compares that backward with finite differences. A backward with a mistake in it, here
# e^x for the sigmoid, fails, and the error names the input and the element where it is worst.

# %%
x = tn.tensor(np.linspace(-3, 3, 7), dtype=tn.float64, requires_grad=True)
softplus_gap = float(np.abs(Softplus.apply(x).detach().numpy() - F.softplus(x).detach().numpy()).max())
custom_passed = tn.gradcheck(Softplus.apply, [x])
print(f"Softplus vs F.softplus: {softplus_gap:.1e}; gradcheck:", "passed" if custom_passed else "failed")
assert custom_passed and softplus_gap < 1e-12, "our Softplus should match F.softplus and pass gradcheck"


class WrongSoftplus(Softplus):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * x.exp()  # the mistake: e^x is the derivative of e^x, not of log(1 + e^x)


try:
    tn.gradcheck(WrongSoftplus.apply, [x])
    wrong_backward_caught = False
except tn.errors.GradcheckError as err:
    wrong_backward_caught = True
    print("the wrong backward:", err)
assert wrong_backward_caught, "gradcheck should reject a backward that returns e^x"

# %%
lesson.report(
    final_mse=final_loss,
    gap_to_hand_gradients=gap_to_hand,
    gradcheck_passed=passed,
    graph_ops=graph_ops,
    traced_ops=len(traced.records),
    trace_chain_rule_gap=trace_gap,
    steps=steps,
    scalar_engine_gap=scalar_engine_gap,
    custom_function_gradcheck_passed=custom_passed,
    wrong_backward_caught=wrong_backward_caught,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Add __pow__, exp and relu to Scalar (each needs only its value and local derivative) and train the "
    "XOR network above with Scalars alone.",
    "Write Softplus's forward with a beta parameter, as F.softplus(x, beta) has: forward gets (ctx, x, beta) and "
    "backward returns (grad_x, None).",
    "Time Scalar against tinynet on a 64 x 64 matrix product: why does one Node per op, not per number, matter?",
)
