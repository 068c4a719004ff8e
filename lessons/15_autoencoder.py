# %% [markdown]
# # 15 · Autoencoders: compress, map, and denoise handwritten digits
#
# An **autoencoder** is a network trained to output its own input. That sounds useless until you
# squeeze it: an *encoder* maps the 784 pixels of a digit to a short **code** z (16 numbers, or
# just 2), and a *decoder* must rebuild the 784 pixels from z alone:
#
#     z = encoder(x)          x: (N, 784) -> z: (N, k),  k much smaller than 784
#     x_hat = decoder(z)      z: (N, k)   -> x_hat: (N, 784)
#     loss = mean over pixels of (x_hat - x)^2          (MSE; no labels needed)
#
# To pass the test the code has to keep what matters about the digit and drop the rest, so the
# network learns a compact description of the data without ever being told the labels. This lesson
# measures how good that description is (against two baselines), draws the 2-D code of every digit
# as a map, and then changes the task to **denoising**: noisy digits in, clean digits out.
#
# Run it: `python lessons/15_autoencoder.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup

lesson = setup("15_autoencoder")
train_size, test_size = (800, 500) if lesson.smoke else (4000, 1000)
epochs = 6 if lesson.smoke else 40
noise_std = 0.5  # the denoising section's Gaussian noise, in units of the [0, 1] pixel range
tn.manual_seed(0)

# %% [markdown]
# ## The data, and two baselines that need no training
#
# Real 28x28 MNIST digits from `tn.data.mnist_5k`, pixels in [0, 1]. The MLP autoencoders see each
# image as a row of 784 pixels; the convolutional one at the end keeps the (1, 28, 28) shape.
#
# Any reconstruction error means little without something to compare it to:
#
# - **the mean image**: output the average training digit whatever the input (a code of 0 numbers).
#   Its MSE is the variance of the pixels, what a model scores by learning nothing about the input.
# - **PCA** with k components: the best *linear* code of size k. Centre the data, take the k
#   directions v_1..v_k along which the training images vary most (the top right-singular vectors of
#   the centred data matrix), and encode x as z_i = (x - mean) . v_i; decode as mean + sum z_i v_i.
#   An autoencoder with no nonlinearities, trained to the end, finds this same subspace; ours has
#   ReLUs, so it can do better.

# %%
x_train, y_train = tn.data.mnist_5k("train")
x_test, y_test = tn.data.mnist_5k("test")
images_train = x_train.numpy()[:train_size].reshape(-1, 784)  # (N, 784)
images_test, labels_test = x_test.numpy()[:test_size].reshape(-1, 784), y_test.numpy()[:test_size]
flat_train, flat_test = tn.tensor(images_train), tn.tensor(images_test)
print(f"train {images_train.shape}, test {images_test.shape}")

mean_image = images_train.mean(axis=0)  # (784,)
mean_image_mse = float(((images_test - mean_image) ** 2).mean())
_, _, components = np.linalg.svd(images_train - mean_image, full_matrices=False)  # (784, 784), rows v_i


def pca_reconstruct(images: np.ndarray, k: int) -> np.ndarray:
    """Project images: (N, 784) on the top k principal directions and back. -> (N, 784)."""
    codes = (images - mean_image) @ components[:k].T  # (N, k)
    return mean_image + codes @ components[:k]


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a - b) ** 2).mean())


print(
    f"test MSE: mean image {mean_image_mse:.4f}, PCA-16 {mse(pca_reconstruct(images_test, 16), images_test):.4f}, "
    f"PCA-2 {mse(pca_reconstruct(images_test, 2), images_test):.4f}"
)

# %% [markdown]
# ## An MLP autoencoder with a 16-number code
#
#     encoder: 784 -> 256 (ReLU) -> 16          decoder: 16 -> 256 (ReLU) -> 784 (sigmoid)
#
# The sigmoid keeps every output pixel in (0, 1), like the inputs. One training function serves all
# three autoencoders of the lesson: Adam on mini-batches of 32, the loss MSE(decoder(encoder(input)),
# target). Here input and target are the same image; the denoiser will pass a `corrupt` function
# that makes a noisy input from each clean batch.


# %%
class AutoEncoder(nn.Module):
    """An encoder and a decoder; forward(x) = decoder(encoder(x)). Any two modules whose shapes chain."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x: tn.Tensor) -> tn.Tensor:
        return self.decoder(self.encoder(x))


def mlp_autoencoder(code_size: int) -> AutoEncoder:
    """x: (N, 784) -> z: (N, code_size) -> x_hat: (N, 784)."""
    encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, code_size))
    decoder = nn.Sequential(nn.Linear(code_size, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())
    return AutoEncoder(encoder, decoder)


# %%
def train(model: nn.Module, clean: tn.Tensor, description: str, corrupt=None) -> list[float]:
    """Fit model(corrupt(batch)) to batch, for `epochs` epochs; returns the mean training loss of each epoch."""
    loader = tn.data.DataLoader(tn.data.TensorDataset(clean), batch_size=32, shuffle=True)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in progress(range(epochs), description):
        batch_losses = []
        for (batch,) in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(batch if corrupt is None else corrupt(batch)), batch)
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
    return losses


def reconstruct(model: nn.Module, x: tn.Tensor) -> np.ndarray:
    with tn.no_grad():
        return model(x).numpy()


autoencoder16 = mlp_autoencoder(16)
losses16 = train(autoencoder16, flat_train, "autoencoder, code 16")
ae16_mse = mse(reconstruct(autoencoder16, flat_test), images_test)
pca16_mse = mse(pca_reconstruct(images_test, 16), images_test)
print(f"test MSE, code of 16: autoencoder {ae16_mse:.4f}, PCA {pca16_mse:.4f}, mean image {mean_image_mse:.4f}")
assert ae16_mse < 0.6 * mean_image_mse, (
    f"16 numbers should beat the mean image well (smoke 0.030 vs 0.068): {ae16_mse:.4f}"
)
assert losses16[-1] < 0.5 * losses16[0], f"the training MSE should fall (smoke 0.097 -> 0.029): {losses16}"
lesson.save_arrays(  # what the plots need: rerun the plot cells below without retraining
    "autoencoder16.npz", losses=losses16, mse=ae16_mse, reconstructed=reconstruct(autoencoder16, flat_test)
)

# %% [markdown]
# Below: one test digit of each class, its reconstruction from 16 numbers by the autoencoder and
# by PCA. Both keep the digit's identity and rough shape and lose fine detail (thin strokes come
# out blurred: MSE is happy to average several plausible strokes into a grey smear).


# %%
def mosaic(images: np.ndarray, columns: int, size: int = 28) -> np.ndarray:
    """Lay out images: (K, size*size) as one grid image, row by row, with a 1-pixel blank gap."""
    rows = -(-len(images) // columns)
    grid = np.full((rows * (size + 1) - 1, columns * (size + 1) - 1), np.nan)
    for index, image in enumerate(images):
        r, c = divmod(index, columns)
        grid[r * (size + 1) : r * (size + 1) + size, c * (size + 1) : c * (size + 1) + size] = image.reshape(size, size)
    return grid


# %%
saved = lesson.load_arrays("autoencoder16.npz")
one_per_digit = np.array([np.flatnonzero(labels_test == d)[0] for d in range(10)])
rows = {
    "original": images_test[one_per_digit],
    f"autoencoder, code 16 (MSE {saved['mse']:.4f})": saved["reconstructed"][one_per_digit],
    f"PCA, 16 components (MSE {pca16_mse:.4f})": pca_reconstruct(images_test[one_per_digit], 16),
}
fig = plt.figure(figsize=(10, 6.4), layout="constrained")
panels = fig.subfigures(2, 1, height_ratios=[2.2, 1])
axes = panels[0].subplots(3, 1)
for ax, (title, images) in zip(axes, rows.items()):
    ax.imshow(mosaic(images, 10), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
ax_loss = panels[1].subplots()
ax_loss.plot(range(1, epochs + 1), saved["losses"], marker=".", label="autoencoder (training MSE)")
ax_loss.axhline(mean_image_mse, color="gray", linestyle=":", label="mean image (test)")
ax_loss.axhline(pca16_mse, color="C1", linestyle="--", label="PCA-16 (test)")
ax_loss.set(xlabel="epoch", ylabel="MSE per pixel", yscale="log", title="Training the 16-number autoencoder")
ax_loss.legend(fontsize=8)
lesson.savefig(fig, "reconstructions.png")

# %% [markdown]
# ## A code of 2 numbers: a map of the digits
#
# Shrink the code to k = 2 and every digit becomes a point in the plane. Nobody told the network
# the labels, yet when we colour each test digit's point by its label, digits of the same class land
# near each other: looking alike (what the autoencoder needs to reconstruct them) and being the same
# digit go together. PCA's 2-D code, on the left, is the best a *linear* map can do; the
# autoencoder's nonlinear code pulls several classes further apart (after the full run, the 0s, the
# 1s and the 7s most clearly) and reconstructs better.
#
# The decoder turns every point of the plane into an image. Decoding a grid of points (right) shows
# what the map means: moving across it, one digit morphs smoothly into the next.

# %%
autoencoder2 = mlp_autoencoder(2)
losses2 = train(autoencoder2, flat_train, "autoencoder, code 2")
ae2_mse = mse(reconstruct(autoencoder2, flat_test), images_test)
pca2_mse = mse(pca_reconstruct(images_test, 2), images_test)
print(f"test MSE, code of 2: autoencoder {ae2_mse:.4f}, PCA {pca2_mse:.4f}")
with tn.no_grad():
    codes = autoencoder2.encoder(flat_test).numpy()  # (N, 2)
pca_codes = (images_test - mean_image) @ components[:2].T  # (N, 2)

grid_points = 12
low, high = np.percentile(codes, 3, axis=0), np.percentile(codes, 97, axis=0)
z1, z2 = np.linspace(low[0], high[0], grid_points), np.linspace(high[1], low[1], grid_points)  # z2 top to bottom
grid_codes = np.array([[a, b] for b in z2 for a in z1], dtype=np.float32)  # (144, 2), row by row
with tn.no_grad():
    decoded_grid = autoencoder2.decoder(tn.tensor(grid_codes)).numpy()  # (144, 784)
assert ae2_mse < mean_image_mse, f"even 2 numbers should beat the mean image (smoke 0.055 vs 0.068): {ae2_mse:.4f}"
lesson.save_arrays("autoencoder2.npz", mse=ae2_mse, codes=codes, pca_codes=pca_codes, decoded_grid=decoded_grid)

# %%
saved = lesson.load_arrays("autoencoder2.npz")
fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained")
for ax, points, title in [
    (axes[0], saved["pca_codes"], f"PCA, 2 components (MSE {pca2_mse:.4f})"),
    (axes[1], saved["codes"], f"autoencoder, code 2 (MSE {saved['mse']:.4f})"),
]:
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels_test, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
    ax.set(xlabel="z1", ylabel="z2", title=title)
fig.colorbar(scatter, ax=axes[:2], ticks=range(10), label="digit (never shown to the networks)")
axes[2].imshow(mosaic(saved["decoded_grid"], grid_points), cmap="gray_r", vmin=0, vmax=1)
axes[2].set_title("the decoder over a 12x12 grid of codes")
axes[2].set(xlabel="z1 ->", ylabel="<- z2", xticks=[], yticks=[])
fig.suptitle("Every test digit as a point: the 2-number code, coloured by the true digit")
lesson.savefig(fig, "latent_space.png")

# %% [markdown]
# ## Denoising: noisy in, clean out
#
# Now change what is asked: the input is a digit with Gaussian noise added (standard deviation
# 0.5, clipped back to [0, 1]), the target is the clean digit. A network can no longer pass by
# copying, it must know what digits look like to tell stroke from noise. The noise is drawn afresh
# for every batch, so the network never sees the same noisy image twice.
#
# This time the autoencoder is **convolutional**, since denoising is local work (is this pixel part
# of a stroke, given its neighbours?):
#
#     x: (N, 1, 28, 28)
#     Conv2d(1, 16, 3, stride 2, padding 1), ReLU                    -> (N, 16, 14, 14)
#     Conv2d(16, 8, 3, stride 2, padding 1), ReLU                    -> (N, 8, 7, 7)      the code: 392 numbers
#     ConvTranspose2d(8, 16, 3, stride 2, padding 1, out. pad. 1), ReLU  -> (N, 16, 14, 14)
#     ConvTranspose2d(16, 1, 3, stride 2, padding 1, out. pad. 1), sigmoid -> (N, 1, 28, 28)
#
# A stride-2 convolution halves the image; a **transposed convolution** with stride 2 doubles it
# (each input pixel paints a 3x3 patch of learned weights onto the larger output; it is the
# gradient of the strided convolution, used as a layer). For comparison we also denoise with the
# classic untrained filter: a 3x3 average (blur), which removes noise but smears strokes too.
#
# One detail decides whether a short run learns at all: the last layer's bias starts at the **logit of
# the mean pixel**, so the untrained network already outputs the average brightness. Started at 0 the
# sigmoid outputs 0.5 everywhere; most pixels are black, so the first steps push every output down
# hard, the ReLUs before it go quiet, and the network can sit on "all black" for many epochs.


# %%
def add_noise(clean: tn.Tensor) -> tn.Tensor:
    """clean + N(0, noise_std^2) noise, clipped to [0, 1]: a fresh draw at every call."""
    return (clean + noise_std * tn.randn(*clean.shape)).clip(0.0, 1.0)


conv_denoiser = AutoEncoder(
    nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 8, 3, stride=2, padding=1), nn.ReLU()
    ),
    nn.Sequential(
        nn.ConvTranspose2d(8, 16, 3, stride=2, padding=1, output_padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
        nn.Sigmoid(),
    ),
)
clean_train, clean_test = flat_train.reshape(-1, 1, 28, 28), flat_test.reshape(-1, 1, 28, 28)
mean_pixel = float(clean_train.mean())
with tn.no_grad():  # start the output at the mean brightness: sigmoid(logit(m)) = m
    conv_denoiser.decoder[-2].bias.fill_(math.log(mean_pixel / (1 - mean_pixel)))
denoise_losses = train(conv_denoiser, clean_train, "denoising autoencoder", corrupt=add_noise)

# %%
tn.manual_seed(1)  # the same noisy test images whatever ran before
noisy_test = add_noise(clean_test)  # (N, 1, 28, 28)
denoised_test = reconstruct(conv_denoiser, noisy_test)
blurred_test = F.avg_pool2d(noisy_test, 3, stride=1, padding=1).numpy()
clean = clean_test.numpy()
noisy_mse, denoised_mse, blur_mse = mse(noisy_test.numpy(), clean), mse(denoised_test, clean), mse(blurred_test, clean)
denoising_improvement = noisy_mse / denoised_mse
print(
    f"test MSE to the clean digits: noisy input {noisy_mse:.4f}, 3x3 blur {blur_mse:.4f}, "
    f"denoising autoencoder {denoised_mse:.4f} ({denoising_improvement:.1f}x lower than the noisy input)"
)
assert denoising_improvement > 2.5, f"the denoiser should cut the noise's MSE (smoke ~6x): {denoising_improvement:.1f}x"
assert denoised_mse < blur_mse, f"...and beat a 3x3 blur (smoke 0.019 vs 0.055): {denoised_mse:.4f} vs {blur_mse:.4f}"
lesson.save_arrays(  # the shown digits and the figures: the plot below reruns without the model
    "denoising.npz", noisy=noisy_test.numpy()[one_per_digit], blurred=blurred_test[one_per_digit],
    denoised=denoised_test[one_per_digit], clean=clean[one_per_digit], mse=[noisy_mse, blur_mse, denoised_mse],
)  # fmt: skip

# %%
saved = lesson.load_arrays("denoising.npz")
noisy_mse, blur_mse, denoised_mse = saved["mse"]
fig, axes = plt.subplots(4, 1, figsize=(10, 5.6), layout="constrained")
for ax, (title, images) in zip(
    axes,
    [
        (f"noisy input (MSE {noisy_mse:.3f})", saved["noisy"]),
        (f"3x3 blur of the noisy input (MSE {blur_mse:.3f})", saved["blurred"]),
        (f"denoising autoencoder (MSE {denoised_mse:.3f})", saved["denoised"]),
        ("clean target", saved["clean"]),
    ],
):
    ax.imshow(mosaic(images.reshape(len(images), 784), 10), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
fig.suptitle(f"Denoising test digits (Gaussian noise, std {noise_std}, clipped to [0, 1])")
lesson.savefig(fig, "denoising.png")

# %% [markdown]
# ## Summary: error against code size
#
# PCA's test error for code sizes from 1 to 128 components (the curve), the mean image (a code
# of size 0), and the two MLP autoencoders. Trained to the end (the full run), the nonlinear
# autoencoders beat the best linear code of their size: the 2-number code by about a fifth, and the
# 16-number code does about as well as PCA with 35 to 40 components. The smoke run's few epochs get
# the 2-number code there, not yet the 16-number one.

# %%
sizes = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128]
pca_curve = [mse(pca_reconstruct(images_test, k), images_test) for k in sizes]
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(sizes, pca_curve, marker=".", label="PCA (best linear code)")
ax.axhline(mean_image_mse, color="gray", linestyle=":", label="mean image (code of size 0)")
saved_mse = [float(lesson.load_arrays(f"autoencoder{k}.npz")["mse"]) for k in (2, 16)]
ax.plot([2, 16], saved_mse, "o", color="C3", markersize=8, label="MLP autoencoder")
ax.set(
    xlabel="code size k (numbers per image)",
    ylabel="test MSE per pixel",
    xscale="log",
    yscale="log",
    title="Reconstruction error against code size",
)
ax.legend()
lesson.savefig(fig, "mse_vs_code_size.png")

# %%
lesson.report(
    mean_image_mse=mean_image_mse,
    ae16_mse=ae16_mse,
    pca16_mse=pca16_mse,
    ae2_mse=ae2_mse,
    pca2_mse=pca2_mse,
    ae16_first_epoch_loss=losses16[0],
    ae16_final_epoch_loss=losses16[-1],
    noisy_mse=noisy_mse,
    blur_mse=blur_mse,
    denoised_mse=denoised_mse,
    denoising_improvement=denoising_improvement,
    train_images=train_size,
    epochs=epochs,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Make the code-2 autoencoder variational (a mean and a log-variance, the KL term) and compare the 2-D maps.",
    "Train the denoiser at noise 0.3 and test it at 0.7: how well does it generalise?",
    "Remove the nonlinearities of the code-16 autoencoder: it should land on PCA's error. Does it?",
)
