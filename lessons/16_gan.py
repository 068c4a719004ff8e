# %% [markdown]
# # 16 · A GAN: a generator and a discriminator that train each other
#
# Every network so far learned to predict a label or a number. A **generative adversarial
# network** (GAN, Goodfellow et al., 2014) learns to *make* samples that look like its training
# data, without ever being told what a good sample is. Two networks play a game:
#
# - the **generator** G turns random noise z into a sample G(z);
# - the **discriminator** D looks at a sample and says how likely it is to be real.
#
# D learns to tell real samples from G's; G learns to fool D. Neither has a fixed target: each one's
# loss depends on the other, which is what makes GANs powerful and also hard to train.
#
# We play the game in 2-D, on eight Gaussian blobs on a ring, where every sample can be plotted and
# we can count how many of the eight blobs ("modes") the generator finds. Lesson 17 plays it on the
# 8x8 handwritten digits.
#
# Run it: `python lessons/16_gan.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import models, nn
from tinynet.lesson import plot_losses, progress, setup

lesson = setup("16_gan")
ring_steps = 700 if lesson.smoke else 5000
tn.manual_seed(0)
rng = np.random.default_rng(0)  # draws the real samples

# %% [markdown]
# ## The game, in formulas
#
# D outputs one logit l; D(x) = sigmoid(l) is its probability that x is real. The two networks
# play the **minimax game**
#
#     min_G max_D  V(D, G) = E_x~data[ log D(x) ] + E_z~N(0, I)[ log(1 - D(G(z))) ]
#
# D wants V large: log D(x) near 0 on real samples, log(1 - D(G(z))) near 0 on fakes. For a fixed
# G, the best D is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and with that D the value is
# V = -log 4 + 2 JS(p_data, p_G), where JS is the Jensen-Shannon divergence between the data's
# distribution and the generator's. So G, by lowering V, pulls its distribution onto the data's;
# at the end of the game p_G = p_data, D(x) = 1/2 everywhere, and D can do no better than guess.
#
# In code both players minimise a binary cross-entropy, BCE(l, t) = -[t log sigmoid(l) +
# (1 - t) log(1 - sigmoid(l))], with `F.binary_cross_entropy_with_logits` (the stable form from
# lesson 05):
#
#     discriminator: mean of BCE(D(x), 1) over real x and BCE(D(G(z)), 0) over fakes   (= -V / 2)
#     generator:     mean of BCE(D(G(z)), 1) = -log D(G(z))                           (non-saturating)
#
# At the equilibrium, D(x) = 1/2 for every sample, so **both losses sit at log 2 = 0.693**. That is
# the line to watch in the loss plots below: a GAN's losses do not go to zero, they hover.

# %% [markdown]
# ## Why the generator does not simply minimise V
#
# Taken literally, G would minimise log(1 - D(G(z))), the only term of V it can change. Early in
# training G's samples are bad, D rejects them with confidence (logit l << 0), and then
#
#     d/dl log(1 - sigmoid(l)) = -sigmoid(l)        about -0.0025 at l = -6: no signal
#     d/dl -log sigmoid(l)     = -(1 - sigmoid(l))  about -0.9975 at l = -6: full signal
#
# The first loss **saturates**: it is flat exactly where G most needs to learn. The second,
# **non-saturating** loss, -log D(G(z)), has the same goal (make D(G(z)) large) but its gradient is
# largest when G is worst. Every practical GAN uses it. Autograd confirms the two slopes:

# %%
logit_grid = np.linspace(-8, 8, 161)  # D's logit on a fake sample


def loss_and_slope(called_real: bool) -> tuple[np.ndarray, np.ndarray]:
    """The generator loss at every logit of the grid, and its derivative d loss / d logit, by autograd.

    called_real=True: the non-saturating -log D = BCE(l, 1); False: the saturating log(1 - D) = -BCE(l, 0).
    """
    logits = tn.tensor(logit_grid, requires_grad=True)  # (161,)
    target = tn.ones(161) if called_real else tn.zeros(161)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss = loss if called_real else -loss
    loss.sum().backward()  # each logit's loss depends on that logit alone: the sum's gradient is each slope
    return loss.detach().numpy(), logits.grad.numpy()


saturating, saturating_grad = loss_and_slope(called_real=False)
non_saturating, non_saturating_grad = loss_and_slope(called_real=True)
at_minus_6 = 20  # logit_grid[20] = -6
print(f"slope at logit -6: log(1 - D) {saturating_grad[at_minus_6]:.4f}, -log D {non_saturating_grad[at_minus_6]:.4f}")
assert abs(saturating_grad[at_minus_6] + 0.0025) < 1e-4, "log(1 - D) should be flat at logit -6: slope -0.0025"
assert abs(non_saturating_grad[at_minus_6] + 0.9975) < 1e-4, "-log D should keep its slope at logit -6: -0.9975"

# %%
fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
ax_loss.plot(logit_grid, saturating, label="saturating: log(1 - D)")
ax_loss.plot(logit_grid, non_saturating, label="non-saturating: -log D")
ax_loss.set(xlabel="discriminator logit on a fake sample", ylabel="generator loss", title="Two generator losses")
ax_loss.legend(loc="upper left")
ax_grad.plot(logit_grid, np.abs(saturating_grad), label="saturating")
ax_grad.plot(logit_grid, np.abs(non_saturating_grad), label="non-saturating")
ax_grad.axvspan(-8, -3, color="gray", alpha=0.15, label="D sure it is fake")
ax_grad.set(xlabel="discriminator logit on a fake sample", ylabel="|d loss / d logit|", title="Their gradients")
ax_grad.legend(loc="upper right")
lesson.savefig(fig, "generator_losses.png")

# %% [markdown]
# ## The training loop
#
# Each step plays one round:
#
# 1. **Discriminator step.** Draw a batch of real samples and a batch of fakes G(z). Real ones get
#    target 1, fakes target 0; one `backward()` through D, one Adam step on D's weights only.
#    `fake.detach()` cuts the graph at G's output: this step must not change G.
# 2. **Generator step.** The same fakes, through D again, now with target 1 ("real"): the
#    non-saturating loss. Its gradient flows back *through* D into G, and G's optimizer steps.
#    D's weights receive gradients here too, but D's optimizer does not step, and its
#    `zero_grad()` clears them before D's next step.
#
# Adam with beta1 = 0.5 (not 0.9) is the usual GAN setting: a shorter memory of past gradients,
# because the "landscape" each player descends moves whenever the other player does.


# %%
# The loop lives in tinynet.models, so that lesson 17 trains its digits with the same one: here it is.
print(inspect.getsource(models.train_gan))


# %% [markdown]
# ## Part 1: eight Gaussians on a ring
#
# The data: eight points ("modes") on a circle of radius 2, and around each a small Gaussian blob of
# standard deviation sigma = 0.05. A sample is x = m_k + sigma * e, k uniform in 0..7, e ~ N(0, I).
#
# This is the classic test of **mode collapse**: a generator can fool a weak discriminator by
# producing only one or two of the blobs very well. So we measure two things on 2,000 generated
# points:
#
# - **quality**: the distance of each point to its nearest mode (real points: 1.25 sigma = 0.063
#   on average), and the fraction within 3 sigma = 0.15 of a mode;
# - **coverage**: how many of the eight modes receive at least 1 % of the points within 3 sigma
#   (a perfect generator gives each one 12.5 %).

# %%
angles = 2 * np.pi * np.arange(8) / 8
modes = 2 * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (8, 2)
sigma = 0.05


def sample_ring(n: int) -> tn.Tensor:
    """n real samples: (n, 2)."""
    return tn.tensor(modes[rng.integers(0, 8, n)] + sigma * rng.standard_normal((n, 2)), dtype=tn.float32)


def mode_statistics(points: np.ndarray) -> dict:
    """Quality and coverage of points: (N, 2) (see above); per_mode[k]: the fraction near mode k."""
    distances = np.linalg.norm(points[:, None, :] - modes[None, :, :], axis=2)  # (N, 8)
    nearest, which = distances.min(axis=1), distances.argmin(axis=1)
    close = nearest < 3 * sigma
    per_mode = np.array([np.mean(close & (which == k)) for k in range(8)])
    return {"mean_distance": float(nearest.mean()), "within_3_sigma": float(close.mean()),
            "modes_covered": int((per_mode >= 0.01).sum()), "per_mode": per_mode}  # fmt: skip


print(f"real samples: mean distance to nearest mode {mode_statistics(sample_ring(2000).numpy())['mean_distance']:.3f}")

# %% [markdown]
# Both networks are small MLPs with two hidden layers of 64 units. G maps an 8-dimensional z to a
# point; D maps a point to one logit. D uses LeakyReLU (slope 0.2 for negative inputs) so that its
# gradient, the only thing G learns from, is never exactly zero over a region of the plane.
#
# Note what G has to do: turn one round Gaussian cloud into eight separate islands. A smooth
# function cannot tear a cloud apart, so expect thin bridges of points between the modes that
# only shrink as training goes on.


# %%
def make_mlp(n_in: int, n_out: int, hidden: int, activation) -> nn.Sequential:
    """n_in -> hidden -> hidden -> n_out, `activation()` after each hidden layer."""
    return nn.Sequential(
        nn.Linear(n_in, hidden), activation(), nn.Linear(hidden, hidden), activation(), nn.Linear(hidden, n_out)
    )


ring_latent = 8
ring_generator = make_mlp(ring_latent, 2, 64, nn.ReLU)
ring_discriminator = make_mlp(2, 1, 64, lambda: nn.LeakyReLU(0.2))
print("generator:", ring_generator)
print("discriminator:", ring_discriminator)

# %% [markdown]
# We train, and at a few checkpoints keep 1,000 samples from the *same* noise z (so the plots show
# how G's map changes, not new random draws), D's probability D(x) over the plane, and the
# quality and coverage figures.

# %%
fixed_z = tn.randn(1000, ring_latent)
plane = np.stack(np.meshgrid(np.linspace(-3, 3, 80), np.linspace(-3, 3, 80)), axis=-1).reshape(-1, 2)  # (6400, 2)
ring_checkpoints = [int(ring_steps * f) for f in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)]
snapshot_steps = [0, ring_checkpoints[0], ring_checkpoints[2], ring_checkpoints[4], ring_checkpoints[-1]]
snapshots, ring_history = {}, []


def ring_checkpoint(step: int) -> None:
    with tn.no_grad():
        points = ring_generator(tn.randn(2000, ring_latent)).numpy()
        ring_history.append((step, mode_statistics(points)))
        if step in snapshot_steps:
            belief = ring_discriminator(tn.tensor(plane, dtype=tn.float32)).sigmoid().numpy()
            snapshots[step] = (ring_generator(fixed_z).numpy(), belief.reshape(80, 80))


# %%
ring_losses = models.train_gan(ring_generator, ring_discriminator, sample_ring, ring_latent, ring_steps, 256,
                               ring_checkpoints, ring_checkpoint,
                               each=lambda steps: progress(steps, "8 Gaussians"))  # fmt: skip
final_ring = ring_history[-1][1]
print(
    f"after {ring_steps} steps: mean distance to nearest mode {final_ring['mean_distance']:.3f}, "
    f"{final_ring['within_3_sigma']:.1%} within 3 sigma, {final_ring['modes_covered']} of 8 modes covered"
)
assert final_ring["modes_covered"] >= 5, "most modes should be covered (smoke 7 of 8, full 8 of 8)"
start_distance = ring_history[0][1]["mean_distance"]
assert final_ring["mean_distance"] < 0.3 * start_distance, (
    f"samples should move onto the ring (from {start_distance:.2f})"
)

# %%
lesson.save_arrays(  # what the plots need: rerun the plot cells below without retraining
    "ring.npz", d_loss=ring_losses["discriminator"], g_loss=ring_losses["generator"],
    history_steps=[step for step, _ in ring_history], mean_distance=[s["mean_distance"] for _, s in ring_history],
    per_mode=final_ring["per_mode"], snapshot_steps=list(snapshots),
    snapshot_points=[points for points, _ in snapshots.values()], snapshot_belief=[b for _, b in snapshots.values()],
)  # fmt: skip

# %% [markdown]
# ## Watching the samples converge
#
# Each panel: the real samples (gray), 1,000 generated ones (orange), and in the background D's
# belief D(x) that a point at x is real (green: real, purple: fake). At step 0, G produces a
# small blob near the centre and D has not learned anything. Then D learns where real data is,
# G's points slide along D's gradient towards those regions, D re-draws its boundary around where
# G's points are *not*, and so on, until the points sit on the modes and D's belief there fades
# towards 1/2 (white). Far from every sample D stays sure "fake": no real and no generated point
# ever lands there, so nothing in the game corrects it, and nothing needs to.

# %%
saved = lesson.load_arrays("ring.npz")
real_points = sample_ring(1000).numpy()
fig, axes = plt.subplots(1, len(snapshot_steps), figsize=(3.2 * len(snapshot_steps), 3.5), layout="constrained")
for ax, step, points, belief in zip(axes, saved["snapshot_steps"], saved["snapshot_points"], saved["snapshot_belief"]):
    image = ax.imshow(belief, extent=(-3, 3, -3, 3), origin="lower", cmap="PRGn", vmin=0, vmax=1, alpha=0.6)
    ax.plot(*real_points.T, ".", markersize=2, color="0.4", label="real")
    ax.plot(*points.T, ".", markersize=2, color="C1", label="generated")
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", title=f"step {step}", xlabel="x1")
axes[0].set_ylabel("x2")
axes[0].legend(loc="lower left", markerscale=3, fontsize=8)
fig.colorbar(image, ax=axes, shrink=0.8, label="D(x): probability real")
fig.suptitle("Eight Gaussians: generated samples and the discriminator's belief over training")
lesson.savefig(fig, "ring_samples_over_training.png")

# %% [markdown]
# ## The losses, and how well the modes are covered
#
# Left: the two losses. Neither goes to zero; both creep towards log 2 as the game nears its
# equilibrium, D's from below and G's from above: D still spots some fakes (the points on the
# bridges between modes). A discriminator loss far *below* log 2 would mean D wins easily, and G
# gets gradients that say only "not here"; far above it, D is confused or broken.
#
# Middle: quality over training, the mean distance to the nearest mode falling towards the real
# samples' 0.063. Right: the share of the final samples near each mode. A collapsed generator
# would show one or two tall bars; a good one, eight bars near 1/8. Uneven bars are common: a
# mode that G under-serves makes D say "real" there, which pulls G back, but slowly.

# %%
saved = lesson.load_arrays("ring.npz")
fig, (ax_loss, ax_quality, ax_modes) = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
plot_losses(
    ax_loss,
    {"discriminator": saved["d_loss"], "generator": saved["g_loss"]},
    "Eight Gaussians: losses",
    level=np.log(2),
    level_label="log 2: the equilibrium",
)
ax_quality.plot(saved["history_steps"], saved["mean_distance"], marker=".", label="mean distance")
ax_quality.axhline(1.25 * sigma, color="gray", linestyle=":", label="real samples (1.25 sigma)")
ax_quality.set(xlabel="step", ylabel="distance to nearest mode", yscale="log", title="Quality of the samples")
ax_quality.legend(loc="upper right")
ax_modes.bar(range(8), saved["per_mode"], label="within 3 sigma of the mode")
ax_modes.axhline(1 / 8, color="gray", linestyle=":", label="perfect: 1/8 each")
ax_modes.set(xlabel="mode k", ylabel="fraction of 2,000 samples", xticks=range(8),
             title=f"Coverage: {int((saved['per_mode'] >= 0.01).sum())} of 8 modes")  # fmt: skip
ax_modes.legend(loc="lower right", fontsize=8)
lesson.savefig(fig, "ring_losses_and_coverage.png")

# %%
lesson.report(
    saturating_grad_at_logit_minus_6=float(saturating_grad[at_minus_6]),
    non_saturating_grad_at_logit_minus_6=float(non_saturating_grad[at_minus_6]),
    modes_covered=final_ring["modes_covered"],
    mean_distance_to_mode=final_ring["mean_distance"],
    initial_mean_distance_to_mode=ring_history[0][1]["mean_distance"],
    fraction_within_3_sigma=final_ring["within_3_sigma"],
    ring_final_d_loss=float(np.mean(ring_losses["discriminator"][-100:])),
    ring_final_g_loss=float(np.mean(ring_losses["generator"][-100:])),
    ring_steps=ring_steps,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Train the ring GAN with the saturating generator loss and count the modes it covers.",
    "Give D twice G's learning rate (the two-timescale rule), then half, and watch the coverage.",
    "Lesson 17 plays the same game on handwritten digits, where mode collapse shows in pictures.",
)
