# %% [markdown]
# # 17 · A GAN that draws digits, and how to judge what it draws
#
# Lesson 16 set up the game between a generator G and a discriminator D and played it on eight
# Gaussians in the plane. Here G learns to draw the 8x8 handwritten digits, without labels, and we
# measure what it makes: how close to real digits, how varied, how many kinds of digit. Its first
# checkpoints show **mode collapse**, every noise vector giving the same image.
#
# Run it: `python lessons/17_gan_digits.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
from tinynet import models, nn
from tinynet.lesson import plot_losses, progress, setup

lesson = setup("17_gan_digits")
digit_steps = 300 if lesson.smoke else 6000
tn.manual_seed(0)
rng = np.random.default_rng(0)  # draws the real samples

# %% [markdown]
# ## The training loop (lesson 16's)
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
# The training loop is lesson 16's (`models.train_gan`): a D step on real and detached fakes, then a G step.


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


# %%
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


# %%
digit_losses = models.train_gan(digit_generator, digit_discriminator, sample_digits, digit_latent, digit_steps, 64,
                                digit_checkpoints, digit_checkpoint,
                                each=lambda steps: progress(steps, "digits"))  # fmt: skip

# %%
lesson.save_arrays(  # what the plots need: rerun the plot cells below without retraining
    "digits_training.npz", d_loss=digit_losses["discriminator"], g_loss=digit_losses["generator"],
    snapshot_steps=list(digit_snapshots), snapshot_images=list(digit_snapshots.values()),
)  # fmt: skip

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


# %%
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

# %%
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
assert nearest_neighbour_accuracy > 0.95, "the 1-NN labeller should be right on real digits (1.0 measured)"
generated_vs_noise = distance["generated"] / distance["uniform noise"]
assert generated_vs_noise < 0.75, (
    f"fakes should sit far nearer real digits than noise (smoke ~0.55): {generated_vs_noise:.2f}"
)

# %%
lesson.save_arrays(
    "digits_judged.npz", generated=generated, distance_generated=distance_generated, nearest_index=nearest_index,
    distance_names=list(distance), distance_values=list(distance.values()),
    diversity=[diversity_generated, diversity_real],
)  # fmt: skip

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


# %%
saved = {**lesson.load_arrays("digits_training.npz"), **lesson.load_arrays("digits_judged.npz")}
generated, distance_generated, nearest_index = saved["generated"], saved["distance_generated"], saved["nearest_index"]
digit_snapshots = dict(zip(saved["snapshot_steps"], saved["snapshot_images"]))
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

# %%
fig, (ax_loss, ax_distance, ax_diversity) = plt.subplots(
    1, 3, figsize=(15, 3.8), width_ratios=[2, 1.3, 1], layout="constrained"
)
plot_losses(
    ax_loss,
    {"discriminator": saved["d_loss"], "generator": saved["g_loss"]},
    "Digits: losses",
    level=np.log(2),
    level_label="log 2: the equilibrium",
)
ax_distance.bar(saved["distance_names"], saved["distance_values"], color=["C1", "C2", "C7"])
ax_distance.set(ylabel="mean distance to nearest training image", title="How far from real digits?")
ax_diversity.bar(["generated", "held-out real"], saved["diversity"], color=["C1", "C2"])
ax_diversity.set(ylabel="mean distance between two images", title="How different from each other?")
lesson.savefig(fig, "digits_losses_and_distances.png")

# %%
lesson.report(
    digits_nearest_real_distance=distance["generated"],
    heldout_nearest_real_distance=distance["held-out real"],
    noise_nearest_real_distance=distance["uniform noise"],
    digits_diversity=diversity_generated,
    real_diversity=diversity_real,
    digit_classes_generated=digit_classes,
    nearest_neighbour_accuracy_heldout=nearest_neighbour_accuracy,
    discriminator_accuracy=discriminator_accuracy,
    digit_steps=digit_steps,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Give D twice G's learning rate (the two-timescale rule), then half, and watch D's accuracy.",
    "Condition both networks on the digit's class (a one-hot input) and ask G for each digit in turn.",
    "Train twice as long and plot the diversity at every checkpoint: when does the collapse end?",
)
