# %% [markdown]
# # 08 · Convolutional networks: a convolution by hand, im2col, and a CNN on real MNIST
#
# The MLP of lesson 07 sees an image as a list of numbers: it would learn just as well if every
# image's pixels were shuffled the same way. But images have structure: a stroke is a stroke
# wherever it is, and what matters about a pixel is mostly its neighbours. A **convolution** builds
# both facts in. It slides one small filter (say 3x3) over the whole image and computes the same
# weighted sum at every position:
#
# - **locality**: each output looks at a small window of the input, not at all of it;
# - **weight sharing**: the same 9 weights are used at every position, so a detector learned in one
#   corner works everywhere.
#
# This lesson writes a convolution three ways (naive loops, im2col + one matrix product, and
# tinynet's `F.conv2d`), checks they agree and that its gradients are right, shows how 3x3 filters
# can take fewer multiplications (Winograd's F(2x2, 3x3)), then trains the classic small image CNN
# on real 28x28 MNIST digits and looks inside it: its filters, what each layer "sees", and its
# mistakes.
#
# Run it: `python lessons/08_cnn_images.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import optim
from tinynet.lesson import progress, setup
from tinynet.metrics import accuracy
from tinynet.models import mnist_cnn

lesson = setup("08_cnn_images")
train_size, test_size = (1024, 500) if lesson.smoke else (4000, 1000)
epochs = 2 if lesson.smoke else 8
tn.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The data: 5,000 real MNIST digits
#
# `tn.data.mnist_5k(split)` gives 28x28 grey images as x: (N, 1, 28, 28) with pixels in [0, 1]
# and labels y: (N,). The split is fixed: "train" has 4,000 images (400 per digit), "test" 1,000
# (100 per digit), never trained on. The second axis is the **channel** axis: 1 for a grey image,
# 3 for a colour one, and inside a CNN, one channel per filter.

# %%
x_train, y_train = tn.data.mnist_5k("train")
x_test, y_test = tn.data.mnist_5k("test")
x_train, y_train = x_train[:train_size], y_train[:train_size]  # the smoke run uses part of each split
x_test, y_test = x_test[:test_size], y_test[:test_size]
print(f"train: x {x_train.shape}, y {y_train.shape}; test: x {x_test.shape}")
digit = x_train.numpy()[0, 0]  # (28, 28): the image we follow through the lesson

# %% [markdown]
# ## A convolution, written as its definition
#
# A conv layer has a weight w: (O, C, KH, KW), one KH x KW filter per (output channel, input
# channel) pair. For an input x: (N, C, H, W), output channel o at position (r, s) is
#
#     out[n, o, r, s] = sum over c, i, j of  w[o, c, i, j] * x_pad[n, c, r*stride + i, s*stride + j]
#
# where x_pad is x with `padding` rows and columns of zeros around it. The window moves `stride`
# pixels at a time, so the output is OH x OW with OH = (H + 2 padding - KH) // stride + 1.
# (Strictly this is a *cross-correlation*: a mathematician's convolution flips the filter first.
# Every deep-learning framework computes this one and calls it convolution; with learned filters
# the flip makes no difference.)
#
# The most direct code is four loops over the output and a sum over the window. We check it against
# `F.conv2d` on a small random input with stride 2 and padding 1, so that the geometry is tested too.


# %%
def conv2d_naive(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The definition, loop by loop. x: (N, C, H, W), w: (O, C, KH, KW) -> (N, O, OH, OW)."""
    n, _, h, width = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (width + 2 * padding - kw) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n, o, oh, ow), dtype=x.dtype)
    for image in range(n):
        for channel in range(o):
            for r in range(oh):
                for s in range(ow):
                    window = x_pad[image, :, r * stride : r * stride + kh, s * stride : s * stride + kw]
                    out[image, channel, r, s] = np.sum(window * w[channel])  # sum over c, i, j
    return out


x_small = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
w_small = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
naive_small = conv2d_naive(x_small, w_small, stride=2, padding=1)
tinynet_small = F.conv2d(tn.tensor(x_small), tn.tensor(w_small), stride=2, padding=1).numpy()
naive_vs_conv2d = float(np.abs(naive_small - tinynet_small).max())
print(f"output shape {naive_small.shape}; max |naive - F.conv2d| = {naive_vs_conv2d:.2e}")
assert naive_vs_conv2d < 1e-4, f"the loops and F.conv2d should agree to float32 rounding (~2e-6): {naive_vs_conv2d:.1e}"

# %% [markdown]
# ## What a filter does: hand-made edge detectors on a digit
#
# Before learning filters, design some. A filter answers "how much does the window look like me?":
# the vertical-edge filter below is large where the left of the window is dark and the right is
# bright, negative for the opposite edge, and 0 on flat regions. Applied at every position, it turns
# the digit into a map of where its vertical edges are. The first layer of a trained CNN learns
# detectors much like these by itself (we will look at them at the end).

# %%
edge_filters = {
    "vertical edge": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32),
    "horizontal edge": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float32),
    "diagonal /": np.array([[0, 1, 2], [-1, 0, 1], [-2, -1, 0]], dtype=np.float32),
    "blur": np.full((3, 3), 1 / 9, dtype=np.float32),
}
edge_weight = np.stack(list(edge_filters.values()))[:, None]  # (4, 1, 3, 3): 4 filters on 1 channel
edge_maps = conv2d_naive(digit[None, None], edge_weight, padding=1)[0]  # (4, 28, 28)

fig, axes = plt.subplots(2, 5, figsize=(11, 4.6), layout="constrained")
axes[0, 0].imshow(digit, cmap="gray_r")
axes[0, 0].set_title("input digit")
axes[1, 0].axis("off")
for column, (name, kernel) in enumerate(edge_filters.items(), start=1):
    axes[0, column].imshow(kernel, cmap="RdBu_r", vmin=-2, vmax=2)
    axes[0, column].set_title(f"filter: {name}")
    limit = np.abs(edge_maps[column - 1]).max()
    axes[1, column].imshow(edge_maps[column - 1], cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[1, column].set_title("output (red +, blue -)")
for ax in axes.flat:
    ax.set(xticks=[], yticks=[])
fig.suptitle("One 3x3 filter slid over the whole image: the same 9 weights at every position")
lesson.savefig(fig, "handmade_filters.png")

# %% [markdown]
# ## im2col: a convolution is one matrix product
#
# The loops are correct but slow: Python runs the inner sum N x O x OH x OW times. The trick every
# framework uses is to rearrange the input first. **im2col** ("image to columns") copies every
# window into a column of a matrix:
#
#     cols: (N, C*KH*KW, OH*OW)      column (r, s) = the window under output position (r, s), flattened
#
# Then every output channel is a dot product of its flattened filter with every column, which is a
# single matrix product with the weight reshaped to a matrix:
#
#     out = w.reshape(O, C*KH*KW) @ cols        (O, C*KH*KW) @ (N, C*KH*KW, OH*OW) -> (N, O, OH*OW)
#
# and a reshape to (N, O, OH, OW). Building cols needs only KH*KW slicing copies (one per offset
# (i, j) inside the window, each taking every window's (i, j) pixel at once), and the matrix product
# runs in optimised BLAS. The price is memory: each pixel is copied into up to KH*KW columns.
# tinynet's numpy backend computes conv2d exactly this way (`kernels/numpy_ref/conv.py`).


# %%
def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Every KHxKW window of x as a column. x: (N, C, H, W) -> (N, C*KH*KW, OH*OW)."""
    n, c, h, width = x.shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (width + 2 * padding - kw) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # Pixel (i, j) of every window at once: rows i, i+stride, ..., columns j, j+stride, ...
            cols[:, :, i, j] = x_pad[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride]
    return cols.reshape(n, c * kh * kw, oh * ow)


def conv2d_im2col(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """conv2d as one matrix product. x: (N, C, H, W), w: (O, C, KH, KW) -> (N, O, OH, OW)."""
    o, _, kh, kw = w.shape
    oh = (x.shape[2] + 2 * padding - kh) // stride + 1
    ow = (x.shape[3] + 2 * padding - kw) // stride + 1
    cols = im2col(x, kh, kw, stride, padding)
    return (w.reshape(o, -1) @ cols).reshape(x.shape[0], o, oh, ow)


im2col_small = conv2d_im2col(x_small, w_small, stride=2, padding=1)
im2col_vs_conv2d = float(np.abs(im2col_small - tinynet_small).max())
im2col_vs_naive = float(np.abs(im2col_small - naive_small).max())
print(f"max |im2col - F.conv2d| = {im2col_vs_conv2d:.2e}, max |im2col - naive| = {im2col_vs_naive:.2e}")

# %%
# The same comparison on real digits, timed: 2 images, 8 random 3x3 filters.
images = x_train.numpy()[:2]  # (2, 1, 28, 28)
filters = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
digit_cols = im2col(images, 3, 3)
print(
    f"im2col of {images.shape}: cols {digit_cols.shape} = (N, C*KH*KW, OH*OW); "
    f"weight as a matrix {filters.reshape(8, -1).shape}"
)
timings, outputs = {}, {}
for name, conv in [("naive loops", conv2d_naive), ("im2col + matmul", conv2d_im2col)]:
    start = time.perf_counter()
    outputs[name] = conv(images, filters)  # (2, 8, 26, 26)
    timings[name] = time.perf_counter() - start
digits_gap = float(np.abs(outputs["naive loops"] - outputs["im2col + matmul"]).max())
speedup = timings["naive loops"] / timings["im2col + matmul"]
print(
    "  ".join(f"{name}: {seconds * 1000:.1f} ms" for name, seconds in timings.items()),
    f"(im2col {speedup:.0f}x faster; max difference {digits_gap:.1e})",
)

# %%
fig, (ax_patch, ax_cols) = plt.subplots(1, 2, figsize=(11, 3.2), layout="constrained", width_ratios=[1, 4])
ax_patch.imshow(digit, cmap="gray_r")
ax_patch.add_patch(plt.Rectangle((11.5, 7.5), 3, 3, fill=False, edgecolor="red", linewidth=2))
ax_patch.set_title("a 3x3 window (red)")
ax_cols.imshow(digit_cols[0][:, 26 * 6 : 26 * 12], cmap="gray_r", aspect="auto")
ax_cols.set(
    xlabel="column = output position (output rows 6 to 11 of 26, each 26 positions)",
    ylabel="pixel of the window (i, j)",
    yticks=range(9),
    yticklabels=[f"({i},{j})" for i in range(3) for j in range(3)],
)
ax_cols.set_title(f"im2col: every window becomes a column; full matrix {digit_cols.shape[1]} x {digit_cols.shape[2]}")
lesson.savefig(fig, "im2col.png")

# %% [markdown]
# ## Fewer multiplications: Winograd's minimal filtering
#
# im2col still does every multiply-add of the sum. For 3x3 filters at stride 1 there is a way to do
# fewer. In one dimension, two outputs of a 3-tap filter g over four inputs d,
#
#     y0 = d0 g0 + d1 g1 + d2 g2,   y1 = d1 g0 + d2 g1 + d3 g2          6 multiplications
#
# are also `A^T [(G g) * (B^T d)]`, with `*` entry by entry: 4 multiplications, the rest additions
# (`G g` is the filter's, computed once). In two dimensions, F(2x2, 3x3), a 4x4 patch gives its 2x2
# outputs in 16 multiplications instead of 36, and summed over input channels the 16 entries are 16
# matrix products. tinynet's numba backend computes 3x3 stride-1 convolutions this way
# (`kernels/numba_cpu/winograd.py`), with a taller tile: F(4, 3) down the columns (6 inputs give
# 4 outputs in 6 multiplications, not 12) times F(2, 3) along the rows, 24 multiplications for 8
# outputs. Bigger tiles save more but round more: the transforms' constants grow.


# %%
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)
winograd_rng = np.random.default_rng(1)
d, g = winograd_rng.standard_normal(4), winograd_rng.standard_normal(3)
direct_1d = np.array([d[0:3] @ g, d[1:4] @ g])  # 6 multiplications
winograd_1d = A_T @ ((G @ g) * (B_T @ d))  # 4
patch, kernel = winograd_rng.standard_normal((4, 4)), winograd_rng.standard_normal((3, 3))
direct_2d = np.array([[np.sum(patch[r : r + 3, s : s + 3] * kernel) for s in range(2)] for r in range(2)])
winograd_2d = A_T @ ((G @ kernel @ G.T) * (B_T @ patch @ B_T.T)) @ A_T.T  # 16 multiplications, not 36
winograd_vs_direct = float(max(np.abs(winograd_1d - direct_1d).max(), np.abs(winograd_2d - direct_2d).max()))
print(f"F(2, 3): direct {direct_1d.round(4)}, Winograd {winograd_1d.round(4)}")
print(f"F(2x2, 3x3) on a 4x4 patch: max |Winograd - direct| = {winograd_vs_direct:.1e}")

# %% [markdown]
# ## Its gradients, checked
#
# Training needs dL/dx and dL/dw. Both are convolutions too: in im2col form they are again matrix
# products, dL/dw = sum over n of grad[n] @ cols[n]^T, and dL/dcols = w^T @ grad, whose columns are
# added back onto the pixels they were copied from ("col2im": a pixel copied into 9 columns gets
# the sum of 9 gradients). `tn.gradcheck` compares autograd's gradients with finite differences
# (L(x + eps) - L(x - eps)) / (2 eps) in float64, for the input, the weight and the bias at once.

# %%
x_check = tn.randn(2, 3, 7, 7, dtype=tn.float64, requires_grad=True)
w_check = tn.randn(4, 3, 3, 3, dtype=tn.float64, requires_grad=True)
b_check = tn.randn(4, dtype=tn.float64, requires_grad=True)
gradcheck_passed = tn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [x_check, w_check, b_check])
print("gradcheck of F.conv2d (stride 2, padding 1):", "passed" if gradcheck_passed else "failed")
assert gradcheck_passed, "F.conv2d's backward should match finite differences"

# %% [markdown]
# ## The CNN
#
# The classic small image classifier stacks two conv blocks and a small MLP:
#
#     x: (N, 1, 28, 28)
#     Conv2d(1, 32, 3), ReLU    -> (N, 32, 26, 26)   32 filters of 1x3x3 on the grey image
#     MaxPool2d(2)              -> (N, 32, 13, 13)   the max of each 2x2 block: half the size
#     Conv2d(32, 64, 3), ReLU   -> (N, 64, 11, 11)   64 filters of 32x3x3: each combines all 32 maps
#     MaxPool2d(2)              -> (N, 64, 5, 5)
#     Flatten                   -> (N, 1600)
#     Linear(1600, 64), ReLU    -> (N, 64)
#     Linear(64, 10)            -> (N, 10)           one score per digit
#
# **Max pooling** keeps the strongest response in each 2x2 block: the network still knows *that*
# a feature is there and roughly where, while later layers see a coarser grid, so a second 3x3
# filter covers a wider region of the digit (its **receptive field** is 8x8 input pixels, not 3x3).
#
# Count the weights: the first conv has 32 x 9 + 32 = 320, the second 64 x 288 + 64 = 18,496. A
# fully connected layer from 784 pixels to 32 x 26 x 26 outputs would need 17 million. Weight
# sharing is what makes this affordable.

# %%
model = mnist_cnn()  # the layers above, as nn.Sequential (tinynet/models.py; the benchmarks time it too)
print(model)
with tn.no_grad():
    h = x_train[:2]
    for layer in model:
        h = layer(h)
        print(f"  {type(layer).__name__:<10} -> {h.shape}")
parameter_count = sum(p.numel() for p in model.parameters())
print("parameters:", parameter_count)

# %% [markdown]
# ## Training: Adam, cross-entropy, mini-batches
#
# The same loop as lesson 07: shuffled mini-batches of 32, cross-entropy on the 10 scores, Adam at
# lr = 1e-3. After each epoch we measure the test accuracy (evaluated in batches, so the im2col
# matrices stay small), only to watch it.


# %%
def predict(model, x: tn.Tensor, batch_size: int = 250) -> np.ndarray:
    """The model's scores for x, computed batch by batch without a graph. -> (N, 10) array."""
    with tn.no_grad():
        return np.concatenate([model(x[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)])


loader = tn.data.DataLoader(tn.data.TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
optimizer = optim.Adam(model.parameters(), lr=1e-3)
history = {"step_loss": [], "epoch_loss": [], "test": []}
for _ in progress(range(epochs), "training"):
    epoch_losses = []
    for xb, yb in loader:  # xb: (32, 1, 28, 28)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        epoch_losses.append(loss.item())
    history["step_loss"] += epoch_losses
    history["epoch_loss"].append(float(np.mean(epoch_losses)))
    history["test"].append(accuracy(predict(model, x_test), y_test))
    epoch_summary = f"loss {history['epoch_loss'][-1]:.3f}, test accuracy {history['test'][-1]:.3f}"
    print(f"  epoch {len(history['test'])}: {epoch_summary}")

scores = predict(model, x_test)
predicted, true = scores.argmax(axis=1), y_test.numpy()
test_accuracy = accuracy(predicted, true)
print(f"test accuracy: {test_accuracy:.4f} ({(predicted != true).sum()} of {len(true)} wrong)")
lesson.save_arrays("training.npz", **history, predicted=predicted, true=true)  # for the plots: no retraining

# %%
saved = lesson.load_arrays("training.npz")
history = {key: saved[key] for key in ("step_loss", "epoch_loss", "test")}
predicted, true = saved["predicted"], saved["true"]
test_accuracy = accuracy(predicted, true)
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
ax_loss.plot(history["step_loss"], alpha=0.5, label="each step")
steps_per_epoch = len(loader)
ax_loss.plot(steps_per_epoch * np.arange(1, epochs + 1) - 1, history["epoch_loss"], marker="o", label="epoch mean")
ax_loss.set(xlabel="step", ylabel="cross-entropy", title="Training loss", yscale="log")
ax_loss.legend()
ax_acc.plot(range(1, epochs + 1), history["test"], marker="o")
ax_acc.set(xlabel="epoch", ylabel="accuracy", title=f"Test accuracy ({len(true)} unseen digits): {test_accuracy:.1%}")
lesson.savefig(fig, "cnn_training.png")

# %% [markdown]
# ## What the first layer learned
#
# The 32 first-layer filters are 3x3 images. Many have a positive (red) side next to a negative
# (blue) side: edge detectors of various orientations, like the hand-made ones above. Nobody asked
# for them; training found them because edges and strokes are what digits are made of.


# %%
def tile(maps: np.ndarray, columns: int) -> np.ndarray:
    """Lay out maps: (K, H, W) as one grid image, row by row, with a blank (NaN) line between cells."""
    k, h, w = maps.shape
    rows = -(-k // columns)
    grid = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for index, feature_map in enumerate(maps):
        r, c = divmod(index, columns)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = feature_map
    return grid


first_filters = model[0].weight.numpy()[:, 0]  # (32, 3, 3)
limit = np.abs(first_filters).max()
fig, ax = plt.subplots(figsize=(8, 4.4), layout="constrained")
image = ax.imshow(tile(first_filters, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
ax.set(xticks=[], yticks=[], xlabel="filters 0-7 on the first row, 8-15 on the second, ...")
ax.set_title("The 32 learned first-layer filters, 3x3 each")
fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
lesson.savefig(fig, "learned_filters.png")

# %% [markdown]
# ## What each layer sees
#
# Feed one digit through and look at the **feature maps**: the output channels after each conv
# and ReLU. After the first conv each map is the digit filtered by one edge detector: strokes of
# one orientation light up. After the second conv (at 11x11, after one pooling) the maps are
# coarser and more abstract: each combines all 32 first-layer maps and responds to parts of
# digits (a curve, an end of a stroke, a crossing) rather than to edges.


# %%
def scaled(maps: np.ndarray) -> np.ndarray:
    """Each map of maps: (K, H, W) divided by its own maximum (all-zero maps stay 0)."""
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return maps / np.where(peaks > 0, peaks, 1)


with tn.no_grad():
    after_conv1 = model[1](model[0](x_train[:1]))  # (1, 32, 26, 26)
    after_conv2 = model[4](model[3](model[2](after_conv1)))  # (1, 64, 11, 11)
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), layout="constrained", width_ratios=[1, 2.4, 2.4])
axes[0].imshow(digit, cmap="gray_r")
axes[0].set_title(f"input (label {int(y_train.numpy()[0])})")
axes[1].imshow(tile(scaled(after_conv1.numpy()[0]), 8), cmap="magma")
axes[1].set_title("after conv 1 + ReLU: 32 maps of 26x26")
axes[2].imshow(tile(scaled(after_conv2.numpy()[0]), 16), cmap="magma")
axes[2].set_title("after conv 2 + ReLU: 64 maps of 11x11")
for ax in axes:
    ax.axis("off")
fig.suptitle("Feature maps of one digit (each map scaled to its own maximum)")
lesson.savefig(fig, "feature_maps.png")

# %% [markdown]
# ## The mistakes
#
# With a few percent of the test digits wrong (about 36 of 1,000 in the full run), the mistakes are worth
# reading: many are digits a person would also hesitate over (a 4 closed at the top like a 9, a 9
# whose loop is left open), and some are not, a reminder of how little data 4,000 images are.

# %%
wrong = np.flatnonzero(predicted != true)
shown = wrong[:12]
rows = max(1, -(-len(shown) // 6))
fig, axes = plt.subplots(rows, 6, figsize=(9, 1.7 * rows + 0.4), layout="constrained", squeeze=False)
for ax in axes.flat:
    ax.axis("off")
for ax, index in zip(axes.flat, shown):
    ax.imshow(x_test.numpy()[index, 0], cmap="gray_r")
    ax.set_title(f"true {true[index]}, pred {predicted[index]}", fontsize=9)
fig.suptitle(f"Misclassified test digits ({len(shown)} of {len(wrong)} shown)")
lesson.savefig(fig, "misclassified.png")

# %%
lesson.report(
    test_accuracy=test_accuracy,
    first_epoch_loss=history["epoch_loss"][0],
    final_epoch_loss=history["epoch_loss"][-1],
    first_step_loss=history["step_loss"][0],
    final_step_loss=float(np.mean(history["step_loss"][-5:])),
    naive_vs_conv2d_max_diff=naive_vs_conv2d,
    im2col_vs_conv2d_max_diff=im2col_vs_conv2d,
    im2col_vs_naive_max_diff=im2col_vs_naive,
    winograd_vs_direct_max_diff=winograd_vs_direct,
    gradcheck_passed=gradcheck_passed,
    parameters=parameter_count,
    train_images=train_size,
    epochs=epochs,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Drop the pooling layers and use stride 2 convolutions instead: accuracy, parameters, time.",
    "Train on 500 images instead of 4000 and compare with lesson 07's MLP on the same images.",
    "Visualise what the second conv layer's channels respond to by gradient ascent on an input image.",
)
