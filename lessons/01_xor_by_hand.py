# %% [markdown]
# # 01 · XOR by hand: a neural network and backpropagation in plain NumPy
#
# XOR is the smallest problem a straight line cannot solve: the output is 1 when exactly one input
# is 1. No single neuron can draw that boundary, but two layers of them can.
#
# This lesson builds a 2-2-1 network and trains it with nothing but NumPy, writing every derivative
# out by hand. Everything later in tinynet automates exactly what you see here.
#
# Run it: `python lessons/01_xor_by_hand.py [--smoke] [--out DIR]` (plots go to `tinynet-out/`).

# %%
import matplotlib.pyplot as plt
import numpy as np

from tinynet.lesson import setup

lesson = setup("01_xor_by_hand")
steps = 1000 if lesson.smoke else 5000

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)  # (4, 2): the four inputs
T = np.array([[0], [1], [1], [0]], dtype=np.float64)  # (4, 1): their XOR

# %% [markdown]
# ## The forward pass
#
# With inputs X (N, 2), the network computes
#
#     h = sigmoid(X W1 + b1)      hidden layer,  W1: (2, 2), b1: (2,)
#     y = sigmoid(h W2 + b2)      output,        W2: (2, 1), b2: (1,)
#     L = mean((y - T)^2)         mean squared error over the N examples
#
# where sigmoid(z) = 1 / (1 + e^-z) squashes any number into (0, 1).


# %%
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(params, X):
    W1, b1, W2, b2 = params
    h = sigmoid(X @ W1 + b1)
    y = sigmoid(h @ W2 + b2)
    return h, y


rng = np.random.default_rng(1)
params = [rng.normal(0, 1, (2, 2)), np.zeros(2), rng.normal(0, 1, (2, 1)), np.zeros(1)]
h, y = forward(params, X)
print("untrained outputs:", y.ravel().round(3), " loss:", np.mean((y - T) ** 2).round(4))

# %% [markdown]
# ## The backward pass: the chain rule, one layer at a time
#
# We need dL/dW for every weight. Walk backwards from the loss, multiplying local derivatives.
# Two facts do all the work: d sigmoid(z)/dz = sigmoid(z) (1 - sigmoid(z)), and for z = a W,
# dL/dW = a^T dL/dz and dL/da = dL/dz W^T.
#
#     dL/dy  = 2 (y - T) / N
#     dL/dz2 = dL/dy * y (1 - y)          z2 = h W2 + b2
#     dL/dW2 = h^T dL/dz2,   dL/db2 = sum of dL/dz2 over the examples
#     dL/dh  = dL/dz2 W2^T
#     dL/dz1 = dL/dh * h (1 - h)          z1 = X W1 + b1
#     dL/dW1 = X^T dL/dz1,   dL/db1 = sum of dL/dz1 over the examples


# %%
def backward(params, X, T):
    """The loss and its gradient with respect to each parameter, by the chain rule."""
    W2 = params[2]
    h, y = forward(params, X)
    loss = np.mean((y - T) ** 2)
    dy = 2 * (y - T) / len(X)
    dz2 = dy * y * (1 - y)
    dh = dz2 @ W2.T
    dz1 = dh * h * (1 - h)
    return loss, [X.T @ dz1, dz1.sum(axis=0), h.T @ dz2, dz2.sum(axis=0)]


# %% [markdown]
# ## Trust, but verify: a finite-difference check
#
# A derivative is a slope: nudge one weight by a tiny eps both ways and watch the loss.
# (L(w + eps) - L(w - eps)) / (2 eps) must match our formula, or the formula is wrong.

# %%
loss, grads = backward(params, X, T)
eps = 1e-6
worst = 0.0
for p, g in zip(params, grads):
    for index in np.ndindex(p.shape):
        original = p[index]
        p[index] = original + eps
        plus = np.mean((forward(params, X)[1] - T) ** 2)
        p[index] = original - eps
        minus = np.mean((forward(params, X)[1] - T) ** 2)
        p[index] = original
        worst = max(worst, abs((plus - minus) / (2 * eps) - g[index]))
print(f"largest gap between hand-derived and numeric gradients: {worst:.2e}")
assert worst < 1e-6, f"the hand-derived gradients should match finite differences (gap ~4e-11), got {worst:.2e}"

# %% [markdown]
# ## Training: gradient descent
#
# Step every weight a little downhill: W <- W - lr * dL/dW, and repeat.

# %%
lr = 2.0
losses = []
for _ in range(steps):
    loss, grads = backward(params, X, T)
    for p, g in zip(params, grads):
        p -= lr * g
    losses.append(loss)
_, y = forward(params, X)
final_loss = float(np.mean((y - T) ** 2))
print("trained outputs:", y.ravel().round(3), "targets:", T.ravel())
assert final_loss < 0.05, f"XOR should be learned: MSE < 0.05 (0.00029 after 5000 steps), got {final_loss:.4f}"

# %% [markdown]
# ## What the network learned
#
# The loss falls slowly at first (a plateau while the hidden units pick their roles), then fast.
# The decision surface shows the output over the whole input square: two hidden units, two lines,
# and the output layer combines them into the XOR shape. (Try `rng = np.random.default_rng(5)`:
# that start gets stuck in a local minimum, a real risk with tiny networks.)

# %%
fig, (ax_loss, ax_surface) = plt.subplots(1, 2, figsize=(10, 4))
ax_loss.semilogy(losses)
ax_loss.set(xlabel="step", ylabel="MSE loss", title="Training loss")
grid = np.linspace(-0.25, 1.25, 121)
gx, gy = np.meshgrid(grid, grid)
_, surface = forward(params, np.column_stack([gx.ravel(), gy.ravel()]))
contour = ax_surface.contourf(gx, gy, surface.reshape(gx.shape), levels=20, cmap="RdBu_r")
ax_surface.scatter(X[:, 0], X[:, 1], c=T.ravel(), cmap="RdBu_r", edgecolors="k", s=120)
ax_surface.set(title="Network output over the input square", xlabel="x1", ylabel="x2")
fig.colorbar(contour, ax=ax_surface)
lesson.savefig(fig, "xor_by_hand.png")

# %%
lesson.report(final_mse=final_loss, gradient_check_gap=float(worst), steps=steps)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Start from all-zero weights: why do both hidden units stay the same forever (symmetry)?",
    "Use 1 hidden unit instead of 2: the perceptron's limit (Minsky & Papert) returns: the output is then monotone "
    "along one line through the inputs, and the MSE cannot go below 1/6.",
    "Swap sigmoid for tanh in the hidden layer and redo its derivative by hand; check it with the finite differences.",
)
