# %% [markdown]
# # 14 · A GAN: a generator and a discriminator that train each other
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
# We play the game twice: first in 2-D, on eight Gaussian blobs on a ring, where every sample can
# be plotted and we can count how many of the eight blobs ("modes") the generator finds; then on
# the 8x8 handwritten digits.
#
# Run it: `python lessons/14_gan.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup

lesson = setup("14_gan")
ring_steps = 700 if lesson.smoke else 5000
digit_steps = 300 if lesson.smoke else 6000
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
# ## One training loop for both parts
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
def train_gan(generator, discriminator, sample_real, latent_size, steps, batch_size, checkpoints, on_checkpoint,
              description):  # fmt: skip
    """Alternate a discriminator step and a generator step `steps` times; returns the per-step losses.

    sample_real(n) -> a Tensor (n, features) of real samples. on_checkpoint(step) runs before the first
    step (step 0) and after every step listed in `checkpoints`.
    """
    d_optimizer = optim.Adam(discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    g_optimizer = optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real_then_fake = tn.cat([tn.ones(batch_size, 1), tn.zeros(batch_size, 1)])  # (2B, 1): D's targets
    called_real = tn.ones(batch_size, 1)  # (B, 1): what G wants D to say about its fakes
    losses = {"discriminator": [], "generator": []}
    on_checkpoint(0)
    for step in progress(range(1, steps + 1), description):
        fake = generator(tn.randn(batch_size, latent_size))  # (B, features)

        d_optimizer.zero_grad()
        both = tn.cat([sample_real(batch_size), fake.detach()])  # (2B, features): one forward pass for both
        d_loss = F.binary_cross_entropy_with_logits(discriminator(both), real_then_fake)
        d_loss.backward()
        d_optimizer.step()

        g_optimizer.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(discriminator(fake), called_real)
        g_loss.backward()
        g_optimizer.step()

        losses["discriminator"].append(d_loss.item())
        losses["generator"].append(g_loss.item())
        if step in checkpoints:
            on_checkpoint(step)
    return losses


def moving_average(values, window: int = 50) -> np.ndarray:
    """The mean of each `window` consecutive values: GAN losses jump from step to step."""
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot_losses(ax, losses, title):
    """Each loss at every step (faint) and averaged over 50 steps, with the equilibrium value log 2."""
    for name, values in losses.items():
        ax.plot(values, alpha=0.25, color="C0" if name == "discriminator" else "C1")
        ax.plot(np.arange(49, len(values)), moving_average(values), color="C0" if name == "discriminator" else "C1",
                label=f"{name} (mean of 50 steps)")  # fmt: skip
    ax.axhline(np.log(2), color="gray", linestyle=":", label="log 2: the equilibrium")
    ax.set(xlabel="step", ylabel="binary cross-entropy", title=title)
    ax.legend(loc="upper right")


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


ring_losses = train_gan(ring_generator, ring_discriminator, sample_ring, ring_latent, ring_steps, 256,
                        ring_checkpoints, ring_checkpoint, "8 Gaussians")  # fmt: skip
final_ring = ring_history[-1][1]
print(
    f"after {ring_steps} steps: mean distance to nearest mode {final_ring['mean_distance']:.3f}, "
    f"{final_ring['within_3_sigma']:.1%} within 3 sigma, {final_ring['modes_covered']} of 8 modes covered"
)

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
real_points = sample_ring(1000).numpy()
fig, axes = plt.subplots(1, len(snapshot_steps), figsize=(3.2 * len(snapshot_steps), 3.5), layout="constrained")
for ax, step in zip(axes, snapshot_steps):
    points, belief = snapshots[step]
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
fig, (ax_loss, ax_quality, ax_modes) = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
plot_losses(ax_loss, ring_losses, "Eight Gaussians: losses")
steps_seen = [step for step, _ in ring_history]
ax_quality.plot(steps_seen, [s["mean_distance"] for _, s in ring_history], marker=".", label="mean distance")
ax_quality.axhline(1.25 * sigma, color="gray", linestyle=":", label="real samples (1.25 sigma)")
ax_quality.set(xlabel="step", ylabel="distance to nearest mode", yscale="log", title="Quality of the samples")
ax_quality.legend(loc="upper right")
ax_modes.bar(range(8), final_ring["per_mode"], label="within 3 sigma of the mode")
ax_modes.axhline(1 / 8, color="gray", linestyle=":", label="perfect: 1/8 each")
ax_modes.set(xlabel="mode k", ylabel="fraction of 2,000 samples", xticks=range(8),
             title=f"Coverage: {final_ring['modes_covered']} of 8 modes")  # fmt: skip
ax_modes.legend(loc="lower right", fontsize=8)
lesson.savefig(fig, "ring_losses_and_coverage.png")

# %% [markdown]
# ## Part 2: handwritten digits
#
# The same game on the 8x8 digits: x is 64 pixel values in [0, 1]. G maps a 16-dimensional z
# through two hidden layers of 128 units to 64 outputs, and ends in a **sigmoid** so that its
# pixels live in [0, 1] like the real ones. D is one hidden layer of 128 LeakyReLU units. No
# labels are used: G has to discover by itself that there are ten kinds of digit.
#
# We keep 20 % of the images aside. Not to test a classifier, but as a yardstick: how far is a
# *real* new digit from its nearest training digit? Generated digits that look real should be
# about as far; random noise images, much farther.

# %%
x, y = tn.data.digits()
x_train, x_heldout, y_train, y_heldout = tn.data.train_test_split(x, y, test_size=0.2, stratify=y, seed=0)
train_images, train_labels = x_train.numpy(), y_train.numpy()  # (1437, 64), (1437,)


def sample_digits(n: int) -> tn.Tensor:
    """n training images drawn at random: (n, 64)."""
    return tn.tensor(train_images[rng.integers(0, len(train_images), n)])


digit_latent = 16
digit_generator = nn.Sequential(
    nn.Linear(digit_latent, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 64), nn.Sigmoid()
)
digit_discriminator = nn.Sequential(nn.Linear(64, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))

fixed_digit_z = tn.randn(10, digit_latent)
digit_checkpoints = [int(digit_steps * f) for f in (0.05, 0.15, 0.4, 1.0)]
digit_snapshots = {}


def digit_checkpoint(step: int) -> None:
    with tn.no_grad():
        digit_snapshots[step] = digit_generator(fixed_digit_z).numpy()


digit_losses = train_gan(digit_generator, digit_discriminator, sample_digits, digit_latent, digit_steps, 64,
                         digit_checkpoints, digit_checkpoint, "digits")  # fmt: skip

# %% [markdown]
# ## How real do the generated digits look?
#
# Judging generated images is hard; the field uses whole networks for it (FID, Inception score).
# Here are three simple, honest figures on 500 generated images:
#
# - **nearest-real distance**: the Euclidean distance (over the 64 pixels) from each image to its
#   nearest training image, on average; compared with held-out real digits (the goal) and with
#   uniform noise images (the failure);
# - **diversity**: the mean distance between two generated images, against the same for real
#   images. A collapsed generator that draws one good 3 would score well on the first figure and
#   fail this one;
# - **classes**: the label of each image's nearest training image (a 1-nearest-neighbour
#   classifier; we check it on the held-out real digits first) says which digit it looks like; we
#   count the digits that get at least 3 % of the images.
#
# And D's own verdict: the fraction of held-out real images it calls real plus the fraction of
# fresh fakes it calls fake, over two. At the equilibrium it is 0.5, chance.


# %%
def nearest_training_image(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For images: (N, 64), the distance to and the index of the nearest training image, each (N,)."""
    # ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2, for all pairs at once: (N, 1437)
    squared = (images**2).sum(1)[:, None] - 2 * images @ train_images.T + (train_images**2).sum(1)[None, :]
    return np.sqrt(np.maximum(squared.min(axis=1), 0)), squared.argmin(axis=1)


def mean_pairwise_distance(images: np.ndarray) -> float:
    return float(np.linalg.norm(images[:, None, :] - images[None, :, :], axis=2).mean())


with tn.no_grad():
    generated = digit_generator(tn.randn(500, digit_latent)).numpy()  # (500, 64)
    called_real_heldout = (digit_discriminator(x_heldout).numpy() > 0).mean()
    called_fake_generated = (digit_discriminator(tn.tensor(generated)).numpy() < 0).mean()
noise_images = rng.random((500, 64)).astype(np.float32)
distance_generated, nearest_index = nearest_training_image(generated)
distance_heldout, nearest_to_heldout = nearest_training_image(x_heldout.numpy())
nearest_neighbour_accuracy = float(np.mean(train_labels[nearest_to_heldout] == y_heldout.numpy()))
print(f"1-nearest-neighbour labels on the held-out real digits: {nearest_neighbour_accuracy:.1%} right")
distance = {
    "generated": float(distance_generated.mean()),
    "held-out real": float(distance_heldout.mean()),
    "uniform noise": float(nearest_training_image(noise_images)[0].mean()),
}
diversity_generated = mean_pairwise_distance(generated)
diversity_real = mean_pairwise_distance(x_heldout.numpy())
looks_like = train_labels[nearest_index]
class_shares = np.bincount(looks_like, minlength=10) / len(looks_like)
digit_classes = int((class_shares >= 0.03).sum())
discriminator_accuracy = float((called_real_heldout + called_fake_generated) / 2)
for name, value in distance.items():
    print(f"mean distance to the nearest training image, {name:14}: {value:.3f}")
print(f"mean distance between two images: generated {diversity_generated:.3f}, real {diversity_real:.3f}")
print(f"digit classes among the generated (>= 3 % each): {digit_classes}; D's accuracy {discriminator_accuracy:.3f}")

# %% [markdown]
# The pictures: the same ten z at five points of training, 40 final samples, and, for ten of
# them, the nearest training image next to each, to check that G is not just copying its
# training set.
#
# Look at the first checkpoints: every z gives nearly the same image. That is **mode collapse**,
# and here it is where training starts: a freshly initialised G barely depends on z, so D's
# gradient pushes all its samples the same way. D then learns to reject that one image, G moves
# it, and only gradually do different z learn to make different digits. The diversity figure
# measures exactly this. The smoke run (`--smoke`, a few hundred steps) ends during the collapse;
# the full run (6,000 steps) reaches a diversity close to that of real digits, and all ten classes.


# %%
def mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """Images (N, 64) tiled into one picture of rows of `columns` 8x8 images, a blank (NaN) pixel between.

    One imshow of a mosaic draws in a fraction of the time of one small plot per image.
    """
    rows = -(-len(images) // columns)
    picture = np.full((9 * rows - 1, 9 * columns - 1), np.nan)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        picture[9 * row : 9 * row + 8, 9 * column : 9 * column + 8] = image.reshape(8, 8)
    return picture


fig, (ax_steps, ax_final, ax_pairs) = plt.subplots(
    3, 1, figsize=(7.5, 9), height_ratios=[len(digit_snapshots), 4, 2], layout="constrained"
)
ax_steps.imshow(mosaic(np.concatenate(list(digit_snapshots.values())), 10), cmap="gray_r", vmin=0, vmax=1)
ax_steps.set(xticks=[], yticks=[9 * i + 3.5 for i in range(len(digit_snapshots))],
             yticklabels=[f"step {s}" for s in digit_snapshots],
             title="The same ten noise vectors z through the generator, over training")  # fmt: skip
ax_final.imshow(mosaic(generated[:40], 10), cmap="gray_r", vmin=0, vmax=1)
ax_final.set(xticks=[], yticks=[], title=f"40 generated digits after {digit_steps} steps")
ax_pairs.imshow(mosaic(np.concatenate([generated[:10], train_images[nearest_index[:10]]]), 10), cmap="gray_r",
                vmin=0, vmax=1)  # fmt: skip
ax_pairs.set(xticks=[9 * i + 3.5 for i in range(10)], xticklabels=[f"{d:.2f}" for d in distance_generated[:10]],
             yticks=[3.5, 12.5], yticklabels=["generated", "nearest real"], xlabel="distance between the two",
             title="Generated digits and their nearest training image: similar, not copies")  # fmt: skip
lesson.savefig(fig, "generated_digits.png")

fig, (ax_loss, ax_distance, ax_diversity) = plt.subplots(
    1, 3, figsize=(15, 3.8), width_ratios=[2, 1.3, 1], layout="constrained"
)
plot_losses(ax_loss, digit_losses, "Digits: losses")
ax_distance.bar(list(distance), list(distance.values()), color=["C1", "C2", "C7"])
ax_distance.set(ylabel="mean distance to nearest training image", title="How far from real digits?")
ax_diversity.bar(["generated", "held-out real"], [diversity_generated, diversity_real], color=["C1", "C2"])
ax_diversity.set(ylabel="mean distance between two images", title="How different from each other?")
lesson.savefig(fig, "digits_losses_and_distances.png")

lesson.report(
    saturating_grad_at_logit_minus_6=float(saturating_grad[at_minus_6]),
    non_saturating_grad_at_logit_minus_6=float(non_saturating_grad[at_minus_6]),
    modes_covered=final_ring["modes_covered"],
    mean_distance_to_mode=final_ring["mean_distance"],
    initial_mean_distance_to_mode=ring_history[0][1]["mean_distance"],
    fraction_within_3_sigma=final_ring["within_3_sigma"],
    ring_final_d_loss=float(np.mean(ring_losses["discriminator"][-100:])),
    ring_final_g_loss=float(np.mean(ring_losses["generator"][-100:])),
    digits_nearest_real_distance=distance["generated"],
    heldout_nearest_real_distance=distance["held-out real"],
    noise_nearest_real_distance=distance["uniform noise"],
    digits_diversity=diversity_generated,
    real_diversity=diversity_real,
    digit_classes_generated=digit_classes,
    nearest_neighbour_accuracy_heldout=nearest_neighbour_accuracy,
    discriminator_accuracy=discriminator_accuracy,
    ring_steps=ring_steps,
    digit_steps=digit_steps,
)
