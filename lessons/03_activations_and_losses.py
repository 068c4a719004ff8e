# %% [markdown]
# # 03 · Activations and losses: the shapes that decide how fast a network learns
#
# A neural network is linear layers with a nonlinearity between them, trained by following the
# gradient of a loss. Two choices shape that gradient before any optimizer sees it: the activation
# function (how much of the gradient it lets through) and the loss (how loudly it complains about a
# wrong answer). This lesson looks at both, then at the one numerical trap every softmax must avoid.
#
# Run it: `python lessons/03_activations_and_losses.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet.lesson import setup

lesson = setup("03_activations_and_losses")
tn.manual_seed(0)
points = 200 if lesson.smoke else 2000
max_steps = 2000  # a cap for the step-counting experiment below; both losses finish well before it

# %% [markdown]
# ## Six activations and their derivatives
#
#     sigmoid(x)    = 1 / (1 + e^-x)                 sigmoid'(x) = sigmoid(x) (1 - sigmoid(x))
#     tanh(x)                                        tanh'(x)    = 1 - tanh(x)^2
#     relu(x)       = max(x, 0)                      relu'(x)    = 1 if x > 0 else 0
#     leaky_relu(x) = x if x > 0 else 0.01 x         its slope   = 1 if x > 0 else 0.01
#     elu(x)        = x if x > 0 else e^x - 1        elu'(x)     = 1 if x > 0 else e^x
#     gelu(x)       = x Phi(x)                       gelu'(x)    = Phi(x) + x phi(x)
#
# where Phi and phi are the standard normal CDF and density. We do not code the right-hand column
# into tinynet: autograd finds it. Since y_i = f(x_i) depends on x_i alone, the gradient of
# sum(f(x)) with respect to x is exactly f'(x) at every point, so one `backward()` draws the whole
# derivative curve. The closed forms are written below in NumPy, only to check autograd.
#
# (The grid has an even number of points, so it skips x = 0, where ReLU has a kink and no derivative.)


# %%
def normal_cdf(x):
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def normal_pdf(x):
    return np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


activations = {  # name: (tinynet function, closed-form derivative in NumPy)
    "sigmoid": (F.sigmoid, lambda x: np_sigmoid(x) * (1 - np_sigmoid(x))),
    "tanh": (F.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "relu": (F.relu, lambda x: (x > 0).astype(float)),
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, 1.0, 0.01)),
    "elu": (F.elu, lambda x: np.where(x > 0, 1.0, np.exp(x))),
    "gelu": (F.gelu, lambda x: normal_cdf(x) + x * normal_pdf(x)),
}

# %%
x_np = np.linspace(-4, 4, points)
curves, derivative_error = {}, {}
for name, (fn, closed_form) in activations.items():
    x = tn.tensor(x_np, dtype=tn.float64, requires_grad=True)
    y = fn(x)
    y.sum().backward()  # d sum(f(x)) / dx_i = f'(x_i)
    curves[name] = (y.numpy(), x.grad.numpy())
    derivative_error[name] = float(np.abs(x.grad.numpy() - closed_form(x_np)).max())
    print(f"{name:<11} largest |autograd - closed form| = {derivative_error[name]:.1e}")
max_derivative_error = max(derivative_error.values())
sigmoid_max_slope = float(curves["sigmoid"][1].max())
print(f"steepest sigmoid slope: {sigmoid_max_slope:.4f}  (1/4: each sigmoid layer shrinks the gradient 4x or more)")
assert max_derivative_error < 1e-12, f"autograd should match every closed form, off by {max_derivative_error:.1e}"
assert abs(sigmoid_max_slope - 0.25) < 1e-3, f"sigmoid's slope peaks at 1/4 (x = 0), got {sigmoid_max_slope:.4f}"

# %% [markdown]
# ## What the curves say
#
# Sigmoid and tanh *saturate*: far from 0 their slope is nearly 0, so a unit pushed far out passes
# almost no gradient back, and sigmoid's slope never exceeds 1/4, so ten stacked sigmoid layers
# shrink the gradient by at least 4^10, about a million (the *vanishing gradient*). ReLU passes the
# gradient unchanged for x > 0 but blocks it entirely for x < 0 (a unit stuck there is "dead").
# Leaky ReLU and ELU keep a small slope on the left; GELU is a smooth ReLU, slightly negative just
# below 0, used by transformers.

# %%
fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), sharex=True)
every = max(1, points // 25)  # a marker every few points, to show the closed form under the curve
for ax, (name, (_, closed_form)) in zip(axes.ravel(), activations.items()):
    y, dy = curves[name]
    ax.plot(x_np, y, label="f(x)")
    ax.plot(x_np, dy, label="f'(x) by autograd")
    ax.plot(x_np[::every], closed_form(x_np[::every]), "k.", ms=4, label="f'(x) closed form")
    ax.axhline(0, color="gray", lw=0.5)
    ax.set(title=f"{name}: max |error| {derivative_error[name]:.0e}", xlabel="x", ylabel="f(x) and f'(x)")
fig.suptitle("Activations f and their derivatives f', computed by tinynet autograd")
fig.tight_layout(rect=(0, 0.05, 1, 1))
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=3)
lesson.savefig(fig, "activations.png")

# %% [markdown]
# ## MSE or cross-entropy: the gradient of a confident mistake
#
# Take one output unit p = sigmoid(z), target t = 1, and suppose the network is confidently wrong:
# z = -6, so p = 0.0025. What gradient reaches z?
#
#     MSE:            L = (p - t)^2                      dL/dz = 2 (p - t) p (1 - p)
#     cross-entropy:  L = -[t log p + (1 - t) log(1 - p)]  dL/dz = p - t
#
# MSE multiplies the error by the sigmoid's slope p (1 - p), which is almost 0 exactly when the unit
# is saturated, so the worst mistakes get the weakest push. Cross-entropy's log undoes the sigmoid's
# exp: the slope cancels and the push is the plain error p - t, largest when the mistake is largest.
# The same cancellation happens for softmax with cross-entropy: dL/dlogits = softmax(logits) - onehot.

# %%
z_np = np.linspace(-8, 8, points)
t = tn.ones(points, dtype=tn.float64)
gradients = {}
for name, loss_fn in (("MSE", F.mse_loss), ("cross-entropy", F.binary_cross_entropy)):
    z = tn.tensor(z_np, dtype=tn.float64, requires_grad=True)
    loss_fn(F.sigmoid(z), t, reduction="sum").backward()  # "sum": each z_i gets its own sample's gradient
    gradients[name] = np.abs(z.grad.numpy())


def gradient_at(z0: float, loss_fn) -> float:
    z = tn.tensor([z0], dtype=tn.float64, requires_grad=True)
    loss_fn(F.sigmoid(z), tn.ones(1, dtype=tn.float64)).backward()
    return abs(z.grad.item())


mse_grad_wrong = gradient_at(-6.0, F.mse_loss)
ce_grad_wrong = gradient_at(-6.0, F.binary_cross_entropy)
print(f"z = -6 (p = {np_sigmoid(-6):.4f}, target 1): |dL/dz| is {mse_grad_wrong:.4f} (MSE), {ce_grad_wrong:.4f} (BCE)")

# %%
# The softmax version: three classes, the truth is class 2, the logits are confidently on class 0.
wrong_logits = np.array([[6.0, 0.0, 0.0]])
onehot = np.array([[0.0, 0.0, 1.0]])
logits = tn.tensor(wrong_logits, dtype=tn.float64, requires_grad=True)
F.cross_entropy(logits, tn.tensor([2])).backward()
softmax_ce_grad = logits.grad.numpy()
logits = tn.tensor(wrong_logits, dtype=tn.float64, requires_grad=True)
F.mse_loss(F.softmax(logits, dim=1), tn.tensor(onehot, dtype=tn.float64), reduction="sum").backward()
softmax_mse_grad = logits.grad.numpy()
probabilities = np.exp(wrong_logits) / np.exp(wrong_logits).sum()
softmax_ce_identity_error = float(np.abs(softmax_ce_grad - (probabilities - onehot)).max())
print("softmax + cross-entropy gradient:", softmax_ce_grad.round(4), " softmax - onehot:", probabilities - onehot)
print("softmax + MSE gradient:          ", softmax_mse_grad.round(4))
assert softmax_ce_identity_error < 1e-12, "d CE / d logits should be exactly softmax - onehot"

# %% [markdown]
# ## How many steps to fix the mistake?
#
# Gradient descent on z alone, z <- z - lr dL/dz with lr = 1, from z = -6 until p > 0.5. Cross-entropy
# walks out of the saturated region in a few steps; MSE crawls along the flat part of the sigmoid.


# %%
def steps_to_correct(loss_fn) -> tuple[int, list[float]]:
    z = tn.tensor([-6.0], dtype=tn.float64, requires_grad=True)
    optimizer = tn.optim.SGD([z], lr=1.0)
    path = [z.item()]
    for step in range(1, max_steps + 1):
        optimizer.zero_grad()
        loss_fn(F.sigmoid(z), tn.ones(1, dtype=tn.float64)).backward()
        optimizer.step()
        path.append(z.item())
        if z.item() > 0:  # sigmoid(z) > 0.5: the prediction is right
            return step, path
    return max_steps, path


mse_steps, mse_path = steps_to_correct(F.mse_loss)
ce_steps, ce_path = steps_to_correct(F.binary_cross_entropy)
print(f"steps from z = -6 to a correct prediction: MSE {mse_steps}, cross-entropy {ce_steps}")

# %%
fig, (ax_grad, ax_steps) = plt.subplots(1, 2, figsize=(11, 4))
for name, g in gradients.items():
    ax_grad.semilogy(z_np, g, label=name)
ax_grad.axvline(-6, color="gray", ls=":", label="z = -6 (confidently wrong)")
ax_grad.set(xlabel="logit z (target is 1)", ylabel="|dL/dz|", title="Gradient reaching the logit of a sigmoid output")
ax_grad.legend()
ax_steps.plot(mse_path, label=f"MSE ({mse_steps} steps)")
ax_steps.plot(ce_path, label=f"cross-entropy ({ce_steps} steps)")
ax_steps.axhline(0, color="gray", ls=":", label="decision boundary (p = 0.5)")
ax_steps.set_xscale("symlog", linthresh=10)  # linear up to 10 steps, logarithmic beyond
ax_steps.set_xlim(0, 1.5 * max(mse_steps, ce_steps))
ax_steps.set(xlabel="gradient-descent step (lr = 1)", ylabel="logit z", title="Fixing a confident mistake, from z = -6")
ax_steps.legend()
fig.tight_layout()
lesson.savefig(fig, "mse_vs_cross_entropy.png")

# %% [markdown]
# ## Softmax without overflow
#
# softmax(x)_i = e^(x_i) / sum_j e^(x_j). Written literally, it overflows: e^1000 is far beyond the
# largest float64 (about 1.8e308, i.e. e^709.8), so it becomes inf, and inf / inf is nan.
# The fix is free: softmax does not change if we subtract the same number c from every x_i
# (e^(x_i - c) / sum e^(x_j - c), the e^-c cancels). With c = max(x), the largest exponent is
# e^0 = 1 and nothing can overflow. tinynet's softmax, log_softmax and cross_entropy all do this.

# %%
logits_np = np.array([1000.0, 999.0, 998.0])
with np.errstate(over="ignore", invalid="ignore"):  # we want to see the inf and nan, not a warning
    exps = np.exp(logits_np)
    naive = exps / exps.sum()
stable = F.softmax(tn.tensor(logits_np, dtype=tn.float64), dim=0).numpy()
reference = np.exp(logits_np - logits_np.max()) / np.exp(logits_np - logits_np.max()).sum()
naive_nan_count = int(np.isnan(naive).sum())
stable_finite = bool(np.isfinite(stable).all())
stable_error = float(np.abs(stable - reference).max())
print("exp(logits):      ", exps)
print("naive softmax:    ", naive)
print("tinynet softmax:  ", stable.round(4), " (sums to", stable.sum(), ")")
assert naive_nan_count == 3 and stable_finite, "naive softmax at 1000 gives inf / inf = nan; the stable one does not"

# %%
lesson.report(
    max_derivative_error=max_derivative_error,
    sigmoid_max_slope=sigmoid_max_slope,
    mse_grad_at_confident_mistake=mse_grad_wrong,
    ce_grad_at_confident_mistake=ce_grad_wrong,
    softmax_ce_grad_norm=float(np.linalg.norm(softmax_ce_grad)),
    softmax_mse_grad_norm=float(np.linalg.norm(softmax_mse_grad)),
    softmax_ce_identity_error=softmax_ce_identity_error,
    mse_steps_to_correct=mse_steps,
    ce_steps_to_correct=ce_steps,
    naive_softmax_nan_count=naive_nan_count,
    stable_softmax_finite=stable_finite,
    stable_softmax_error=stable_error,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Plot GELU's derivative next to ReLU's: where is it negative, and why does that not stop training?",
    "Add label smoothing (F.cross_entropy(..., label_smoothing=0.1)) and see what it does to the confident "
    "mistake's gradient.",
    "Find the logit where float32 sigmoid rounds to exactly 1.0, and what BCE on it gives.",
)
