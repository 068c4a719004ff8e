# %% [markdown]
# # 07 · An MLP on handwritten digits: mini-batches, a test set, and a look at the mistakes
#
# scikit-learn's digits are 1,797 handwritten digits scanned at 8x8 pixels. Small enough to train
# in seconds, real enough to make mistakes worth looking at. This lesson trains a multilayer
# perceptron (MLP) on them with the loop every classifier uses: mini-batches from a `DataLoader`,
# cross-entropy loss, Adam. Then it asks the questions that matter after training: how often is it
# right on digits it never saw, which digits does it confuse, what do its mistakes look like, and
# what did its first layer learn?
#
# Run it: `python lessons/07_mlp_digits.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup
from tinynet.metrics import accuracy, confusion_matrix

lesson = setup("07_mlp_digits")
epochs = 8 if lesson.smoke else 40
tn.manual_seed(0)

# %% [markdown]
# ## The data, and a test set put aside first
#
# `tn.data.digits()` gives x: (1797, 64), each row an image flattened row by row with pixels scaled
# to [0, 1], and y: (1797,), the digit 0..9. An MLP sees only the 64 numbers, not that they form
# a grid: shuffle the pixels the same way in every image and it would learn just as well.
#
# Before training we put 20 % of the images aside as a **test set**. The network never trains on
# them, so its accuracy there estimates how it does on new handwriting. Accuracy on the training
# images says little: a big enough network can memorise them (lesson 06 is about exactly that).
# `stratify=y` keeps the ten digits in the same proportions in both parts.

# %%
x, y = tn.data.digits()
x_train, x_test, y_train, y_test = tn.data.train_test_split(x, y, test_size=0.2, stratify=y, seed=0)
print(f"train: {x_train.shape}, test: {x_test.shape}")

fig, axes = plt.subplots(2, 10, figsize=(10, 2.6), layout="constrained")
for ax, image, label in zip(axes.flat, x_train.numpy(), y_train.numpy()):
    ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(str(label), fontsize=10)
    ax.axis("off")
fig.suptitle("Training images (8x8 pixels) and their labels")
lesson.savefig(fig, "digits_samples.png")

# %% [markdown]
# ## The model: 64 inputs, 128 hidden units, 10 scores
#
#     h = relu(x W1^T + b1)        W1: (128, 64), b1: (128,)    h: (N, 128)
#     z = h W2^T + b2              W2: (10, 128), b2: (10,)     z: (N, 10), one score ("logit") per digit
#
# The prediction is the digit with the highest score. For training, softmax turns the scores into
# probabilities p_k = e^{z_k} / sum_j e^{z_j}, and the **cross-entropy** loss is -log p_y, the
# minus log probability the network gives the true digit y: 0 when it is sure and right, large when
# it is sure and wrong. `F.cross_entropy` takes the raw scores and does the softmax itself (in a
# numerically safe way), so the model ends with a plain `Linear`.

# %%
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
initial_weights = model[0].weight.numpy().copy()  # (128, 64), kept to see at the end what training changed
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))

# %% [markdown]
# ## Mini-batches: many small steps per pass over the data
#
# Computing the gradient on all 1,437 training images for every step would be exact but slow.
# Instead the `DataLoader` deals the images out in **mini-batches** of 32: each batch gives a noisy
# but cheap estimate of the full gradient, and one pass over all batches (an **epoch**) makes 45
# steps instead of one. `shuffle=True` deals a new order every epoch, so the batches differ from
# one epoch to the next and the steps do not cycle through the same sequence.
#
# Adam adapts the step size of every weight from running averages of its gradients; lr = 1e-3 is
# its usual starting point. After each epoch we switch to `tn.no_grad()` (no graph needed just to
# look) and measure the accuracy on the training and test sets. We only watch the test accuracy
# here, we never choose anything by it; otherwise it would stop being an honest estimate.

# %%
train_loader = tn.data.DataLoader(tn.data.TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
optimizer = optim.Adam(model.parameters(), lr=1e-3)
history = {"loss": [], "train": [], "test": []}
for _ in progress(range(epochs), "training"):
    batch_losses = []
    for xb, yb in train_loader:  # xb: (32, 64), yb: (32,)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        batch_losses.append(loss.item())
    history["loss"].append(float(np.mean(batch_losses)))
    with tn.no_grad():
        history["train"].append(accuracy(model(x_train), y_train))
        history["test"].append(accuracy(model(x_test), y_test))
print(f"after {epochs} epochs: train accuracy {history['train'][-1]:.3f}, test accuracy {history['test'][-1]:.3f}")

fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
ax_loss.plot(range(1, epochs + 1), history["loss"], marker=".")
ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Training loss (mean over the epoch's batches)")
ax_acc.plot(range(1, epochs + 1), history["train"], marker=".", label="train")
ax_acc.plot(range(1, epochs + 1), history["test"], marker=".", label="test")
ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy after each epoch")
ax_acc.legend()
lesson.savefig(fig, "mlp_digits_training.png")

# %% [markdown]
# ## The confusion matrix: which digits get mixed up
#
# One accuracy number hides *which* mistakes are made. The confusion matrix C counts them:
# C[i, j] is the number of test images of digit i that the network called j. A perfect classifier
# puts every count on the diagonal; every count off it is a mistake, and its position says which
# two digits were confused.

# %%
with tn.no_grad():
    scores = model(x_test)  # (N_test, 10)
predicted = scores.argmax(dim=1).numpy()
true = y_test.numpy()
test_accuracy = accuracy(predicted, true)
matrix = confusion_matrix(true, predicted, num_classes=10)
print(f"test accuracy: {test_accuracy:.4f} ({matrix.trace()} of {matrix.sum()} right)")
assert test_accuracy > 0.93, f"chance is 0.10; 8 smoke epochs reach ~0.95, the full run ~0.98: got {test_accuracy:.3f}"
assert matrix.sum() == 360, "the confusion matrix counts every one of the 360 test images once"

fig, ax = plt.subplots(figsize=(6, 5.4))
image = ax.imshow(matrix, cmap="Blues")
for i, j in np.ndindex(matrix.shape):
    if matrix[i, j]:
        dark = matrix[i, j] > matrix.max() / 2
        ax.text(j, i, matrix[i, j], ha="center", va="center", color="white" if dark else "black", fontsize=9)
ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit")
ax.set_title(f"Confusion matrix on the test set (accuracy {test_accuracy:.1%})")
fig.colorbar(image, ax=ax, label="number of test images")
lesson.savefig(fig, "confusion_matrix.png")

# %% [markdown]
# ## The mistakes, one by one
#
# Looking at the misclassified images is the quickest way to learn whether the network is
# failing on sloppy handwriting (a mistake a person might make too) or on clean digits (a sign it
# needs more data, or a model that knows about shapes, like the convolutional networks later on).

# %%
wrong = np.flatnonzero(predicted != true)
shown = wrong[:16]
rows = max(1, -(-len(shown) // 8))  # as many rows of 8 as needed (a perfect score still gets one)
fig, axes = plt.subplots(rows, 8, figsize=(10, 1.7 * rows + 0.3), layout="constrained", squeeze=False)
for ax in axes.flat:
    ax.axis("off")
for ax, index in zip(axes.flat, shown):
    ax.imshow(x_test.numpy()[index].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"true {true[index]}\npred {predicted[index]}", fontsize=9)
fig.suptitle(f"Misclassified test images ({len(shown)} of {len(wrong)} shown)")
lesson.savefig(fig, "misclassified.png")

# %% [markdown]
# ## What the first layer looks for
#
# Hidden unit k computes relu(w_k . x + b_k): a weighted sum of the 64 pixels. Reshape its weight
# row w_k (64 numbers) back to 8x8 and it is a picture of what the unit responds to: red pixels
# raise its output when they are inked, blue pixels lower it.
#
# Do not expect clean digit templates. Each unit mixes regions that should be inked (red) with
# regions that should be blank (blue), so it votes for some digits and against others, and every
# digit's evidence is spread over many units that the second layer combines.
#
# One detail you can predict without training: a pixel that is 0 in *every* training image gives
# its weights a gradient of exactly 0 (dL/dw_kj = dL/dz_k * x_j, and x_j = 0), so Adam never moves
# them, and they keep their random starting values. A few corner and edge pixels of the digits are
# like that; we check.

# %%
weights = model[0].weight.numpy()  # (128, 64): one row per hidden unit
strongest = np.argsort(-np.linalg.norm(weights, axis=1))[:16]
limit = np.abs(weights[strongest]).max()
fig, axes = plt.subplots(2, 8, figsize=(10, 3.2), layout="constrained")
for ax, unit in zip(axes.flat, strongest):
    image = ax.imshow(weights[unit].reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"unit {unit}", fontsize=9)
    ax.axis("off")
fig.suptitle("First-layer weights of the 16 hidden units with the largest weights (as 8x8 images)")
fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
lesson.savefig(fig, "first_layer_weights.png")

never_inked = x_train.numpy().max(axis=0) == 0  # (64,): pixels blank in every training image
change_never_inked = float(np.abs(weights - initial_weights)[:, never_inked].max())
print(f"{never_inked.sum()} pixels are blank in every training image: {np.flatnonzero(never_inked).tolist()}")
print(f"largest change of their weights during training: {change_never_inked}")
assert never_inked.sum() > 0 and change_never_inked == 0.0, "zero input, zero gradient: Adam never moves those weights"

# %%
lesson.report(
    test_accuracy=test_accuracy,
    train_accuracy=history["train"][-1],
    final_train_loss=history["loss"][-1],
    misclassified=len(wrong),
    never_inked_pixels=int(never_inked.sum()),
    change_on_never_inked_pixels=change_never_inked,
    epochs=epochs,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Remove the hidden layer (a linear model): how much test accuracy does the nonlinearity buy?",
    "Train with batch size 1 and 256 at the same number of epochs: compare time and accuracy.",
    "Shift every test image by one pixel: what happens to the MLP's accuracy (lesson 08 answers with convolutions)?",
)
