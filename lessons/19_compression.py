# %% [markdown]
# # 19 · Making a trained network smaller: float16, int8 quantization and pruning
#
# A trained network is a file of numbers, and those numbers are stored with far more precision
# than the network needs. This lesson takes the CNN of lesson 08, trained on MNIST, and shrinks it
# three ways, measuring after each what it costs in test accuracy:
#
# - **float16 storage**: 2 bytes per weight instead of 4;
# - **int8 quantization**: 1 byte per weight, an integer times a shared scale (and lower: 4, 3, 2 bits);
# - **magnitude pruning**: set the smallest weights to exactly zero and store only the rest, then
#   optionally **fine-tune** the survivors for a few steps.
#
# Everything here happens *after* training and needs no change to the engine: we read the weights
# as NumPy arrays, compress them, then decompress them into a fresh copy of the model to run it.
# (Deployed int8 models also quantize the activations and compute in integers, which is where
# their speed comes from; here we compress only the weights, which is what decides the size.)
#
# Run it: `python lessons/19_compression.py [--smoke] [--backend numpy|numba|cupy] [--out DIR]`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim
from tinynet.lesson import progress, setup
from tinynet.metrics import accuracy

lesson = setup("19_compression")
train_size, test_size = (768, 200) if lesson.smoke else (4000, 1000)
epochs = 2 if lesson.smoke else 5
finetune_steps = 6 if lesson.smoke else 125  # after pruning; 125 steps of 32 is one pass over the 4,000 images
sparsities = [0.5, 0.8, 0.9, 0.95]
tn.manual_seed(0)

# %% [markdown]
# ## The model to compress: lesson 08's CNN
#
# The same architecture as lesson 08 (conv 32, pool, conv 64, pool, linear 64, linear 10), built by
# a small function so that we can make fresh copies to load compressed weights into. It is trained
# the same way, a little shorter.


# %%
def lesson08_cnn() -> nn.Sequential:
    """Lesson 08's CNN. x: (N, 1, 28, 28) -> scores (N, 10)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def train_steps(model, loader, steps: int, description: str, masks: dict | None = None) -> None:
    """Adam (lr 1e-3) on cross-entropy for `steps` batches. masks: weight name -> 0/1 array kept applied."""
    masks = {name: tn.tensor(mask) for name, mask in (masks or {}).items()}
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    parameters = dict(model.named_parameters())
    batches = iter(())
    for _ in progress(range(steps), description):
        batch = next(batches, None)
        if batch is None:  # start another pass over the data
            batches = iter(loader)
            batch = next(batches)
        xb, yb = batch
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        for name, mask in masks.items():  # pruned weights stay exactly zero
            parameters[name].array = (parameters[name].detach() * mask).array


# %%
def test_accuracy(model) -> float:
    """The model's accuracy on the test images, in batches of 250, without a graph."""
    with tn.no_grad():
        scores = np.concatenate([model(x_test[i : i + 250]).numpy() for i in range(0, len(x_test), 250)])
    return accuracy(scores, y_test)


x_train, y_train = tn.data.mnist_5k("train")
x_test, y_test = tn.data.mnist_5k("test")
x_train, y_train, x_test, y_test = x_train[:train_size], y_train[:train_size], x_test[:test_size], y_test[:test_size]
loader = tn.data.DataLoader(tn.data.TensorDataset(x_train, y_train), batch_size=32, shuffle=True)

model = lesson08_cnn()
train_steps(model, loader, epochs * len(loader), "training lesson 08's CNN")
weights = {name: p.numpy().copy() for name, p in model.named_parameters()}  # name -> float32 array
weight_names = [name for name in weights if name.endswith("weight")]
layer_names = dict(zip(weight_names, ["conv 1", "conv 2", "linear 1", "linear 2"]))
bias_count = sum(weights[name].size for name in weights if name.endswith("bias"))
accuracy_float32 = test_accuracy(model)
print(f"test accuracy (float32): {accuracy_float32:.4f}")
lesson.save_arrays("weights.npz", **weights)  # what the plots below need: they rerun without retraining

# %% [markdown]
# ## Counting bytes
#
# The model has ~122,000 numbers. Stored as float32 (4 bytes each) that is about 488 KB, and 84 %
# of it is one matrix, the first linear layer (64 x 1600). Whatever we do to shrink the model is
# mostly done to that matrix.
#
# Each variant below is described by the bytes it would take to store, counted from its format,
# and is run by decompressing it back to float32 and loading it into a fresh copy of the model.
# The biases (234 numbers) stay float32 in every variant: they are too few to matter.


# %%
def with_weights(new_weights: dict) -> nn.Sequential:
    """A fresh lesson-08 CNN holding `weights`, with the arrays in new_weights (name -> array) replacing theirs."""
    copy = lesson08_cnn()
    copy.load_state_dict({**weights, **new_weights})
    return copy


parameter_count = sum(w.size for w in weights.values())
print(f"{parameter_count} parameters, {4 * parameter_count:,} bytes as float32")
for name in weight_names:
    size, shape = weights[name].size, weights[name].shape
    print(f"  {layer_names[name]:<9} weight {shape!s:<16} {size:>7,} numbers ({size / parameter_count:.1%})")
results = {"float32": (4 * parameter_count, accuracy_float32)}  # variant -> (bytes, test accuracy)

# %% [markdown]
# ## float16: half the bytes, (almost) nothing lost
#
# float16 keeps 11 significant bits (about 3 decimal digits) instead of float32's 24, so rounding a
# weight to float16 changes it by at most 2^-11, about 0.05 %, of its value. (Only below 6e-5,
# float16's smallest normal number, does the relative error grow; weights that small do not matter.)
# The network's outputs move by a similar tiny fraction, and almost no prediction changes.

# %%
half = {name: w.astype(np.float16) for name, w in weights.items()}  # what would be stored
restored = {name: h.astype(np.float32) for name, h in half.items()}  # what runs
normal = {name: np.abs(w) >= 2**-14 for name, w in weights.items()}  # inside float16's normal range
largest_relative_change = max(
    float(np.max(np.abs(restored[name] - w)[normal[name]] / np.abs(w)[normal[name]])) for name, w in weights.items()
)
results["float16"] = (2 * parameter_count, test_accuracy(with_weights(restored)))
print(
    f"float16: accuracy {results['float16'][1]:.4f}; largest relative change of a weight above 6e-5: "
    f"{largest_relative_change:.1e} (2^-11 = {2**-11:.1e})"
)

# %% [markdown]
# ## int8: an integer times a scale
#
# **Symmetric quantization** to b bits stores each weight as an integer q in [-L, L] with
# L = 2^(b-1) - 1 (127 for int8), and one float **scale** s per group of weights:
#
#     s = max |w| / L          q = round(w / s)          w_hat = q * s   (dequantized)
#
# The largest weight maps to +-L exactly, and every weight is rounded to the nearest of 2L + 1
# evenly spaced levels, an error of at most s / 2. The group can be
#
# - **per tensor**: one scale for the whole weight matrix, or
# - **per channel**: one scale per output channel (per row of a linear weight, per filter of a conv).
#
# Per channel costs a few more floats and pays off when channels have very different ranges. They
# do here: in the big linear layer many rows' largest weight is a fraction of the largest in the
# whole matrix, so with one shared scale those rows fall on the few levels nearest 0 (left and
# middle plots below). Storage: b/8 bytes per weight (packed) plus 4 bytes per scale.
#
# We measure two things at 8, 4, 3 and 2 bits: the **relative weight error**
# ||w_hat - w|| / ||w|| over all weights, and the test accuracy. The error is always lower per
# channel; the accuracy only notices below 4 bits. One reason it tolerates so much: many of the
# small-range rows belong to **dead units**, hidden units of linear 1 whose ReLU is 0 for every test
# digit. Their weights stopped moving when the unit died (no gradient flows through a ReLU that
# is off), so they stay near their random start, and rounding them changes nothing downstream.


# %%
def quantize(w: np.ndarray, bits: int, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric quantization of w: (O, ...) -> (q: int8 array in [-L, L], scale: float32, (O, 1, ...) or (1, ...))."""
    levels = 2 ** (bits - 1) - 1
    axes = tuple(range(1, w.ndim)) if per_channel else None
    peak = np.abs(w).max(axis=axes, keepdims=True)
    scale = (np.where(peak > 0, peak, 1.0) / levels).astype(np.float32)
    return np.clip(np.round(w / scale), -levels, levels).astype(np.int8), scale


def dequantize(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """w_hat = q * scale, as float32: what the network runs with."""
    return q.astype(np.float32) * scale


def quantized_variant(bits: int, per_channel: bool) -> tuple[int, float, float]:
    """(bytes, test accuracy, relative weight error) with every weight quantized to `bits`, dequantized to run."""
    dequantized, size = {}, 4 * bias_count
    for name in weight_names:
        q, scale = quantize(weights[name], bits, per_channel)
        dequantized[name] = dequantize(q, scale)
        size += -(-q.size * bits // 8) + 4 * scale.size
    error_norm = np.sqrt(sum(((dequantized[n] - weights[n]) ** 2).sum() for n in weight_names))
    relative_error = float(error_norm / np.sqrt(sum((weights[n] ** 2).sum() for n in weight_names)))
    return size, test_accuracy(with_weights(dequantized)), relative_error


# %%
bit_widths = [8, 4, 3, 2]
weight_errors = {}  # (bits, per_channel) -> relative weight error
for bits in bit_widths:
    for per_channel in (False, True):
        name = f"int{bits} per {'channel' if per_channel else 'tensor'}"
        size, acc, weight_errors[bits, per_channel] = quantized_variant(bits, per_channel)
        results[name] = (size, acc)
        print(f"{name:<17} {size:>7,} bytes, weight error {weight_errors[bits, per_channel]:.4f}, accuracy {acc:.4f}")
assert all(weight_errors[b, True] < weight_errors[b, False] for b in bit_widths), "per channel beats per tensor"
assert weight_errors[8, True] < 0.02, f"int8 per channel should be close (0.005-0.008): {weight_errors[8, True]:.4f}"

with tn.no_grad():
    hidden = model[:9](x_test[:250]).numpy()  # (N, 64): linear 1's units after their ReLU, N <= 250 test digits
dead_units = int((hidden.max(axis=0) == 0).sum())
print(f"dead units in linear 1: {dead_units} of 64 (zero on all of {len(hidden)} test digits)")

# %%
weights = lesson.load_arrays("weights.npz")
linear1 = weights["7.weight"]  # (64, 1600)
_, shared_scale = quantize(linear1, 4, per_channel=False)
fig, (ax_hist, ax_range, ax_bits) = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
ax_hist.hist(linear1.ravel(), bins=150, histtype="stepfilled", alpha=0.7)
for level in np.arange(-7, 8) * float(shared_scale.ravel()[0]):
    ax_hist.axvline(level, color="C3", linewidth=0.8)
ax_hist.set(xlabel="weight", ylabel="count", title="Linear 1 weights; red: the 15 int4 levels per tensor")
peaks = np.abs(linear1).max(axis=1)
ax_range.vlines(range(len(peaks)), 0, peaks, linewidth=4, label="max |w| of each row (its own range)")
ax_range.axhline(peaks.max(), color="C3", label="per tensor: one range for all")
ax_range.set(xlabel="output channel (row) of linear 1", ylabel="max |weight|", title="Per-channel ranges")
ax_range.legend(fontsize=8)
for label in ["per tensor", "per channel"]:
    ax_bits.plot(bit_widths, [results[f"int{b} {label}"][1] for b in bit_widths], marker="o", label=label)
ax_bits.axhline(accuracy_float32, color="gray", linestyle=":", label="float32")
ax_bits.set(xlabel="bits per weight", ylabel="test accuracy", xticks=bit_widths, title="Accuracy after quantization")
ax_bits.legend(fontsize=8)
lesson.savefig(fig, "quantization.png")

# %% [markdown]
# ## Pruning: most weights are not needed
#
# **Magnitude pruning** sets the weights with the smallest |w| to zero, on the bet that they
# contribute least. We prune globally: one threshold for all layers, chosen so that a fraction
# (the **sparsity**) of all weights falls below it. Layers with many small weights lose the most:
# the big linear layer, whose 1600 inputs each get a small weight, keeps only about 1 % of its
# weights at 95 % sparsity, while the 288 large weights of the first conv layer mostly survive.
#
# A pruned model must store which weights survive and their values. A simple format: one bit per
# weight (a mask: kept or not), then the kept values as float32 (or as int8, combining both ideas).
#
# Removing weights shifts the network's outputs. **Fine-tuning** retrains the survivors for a few
# steps (6 batches in the smoke run, one epoch in the full run), re-applying the mask after each
# Adam step so the pruned weights stay zero, and lets them compensate. (Part of what fine-tuning
# gains is simply more training: a fine-tuned model can end up better than the unpruned original,
# all the more in the smoke run, whose model is far from fully trained.)


# %%
def prune_masks(sparsity: float) -> dict:
    """weight name -> 0/1 float32 mask keeping the weights above one global |w| threshold."""
    magnitudes = np.concatenate([np.abs(weights[name]).ravel() for name in weight_names])
    threshold = np.quantile(magnitudes, sparsity)
    return {name: (np.abs(weights[name]) > threshold).astype(np.float32) for name in weight_names}


def pruned_size(masks: dict, bytes_per_value: int) -> int:
    """Bytes of a pruned model: a 1-bit mask per weight, the kept values, the float32 biases (and int8 scales)."""
    size = 4 * bias_count
    for mask in masks.values():
        size += -(-mask.size // 8) + bytes_per_value * int(mask.sum())
        size += 4 * mask.shape[0] if bytes_per_value == 1 else 0  # per-channel scales for int8 values
    return size


# %%
pruning = {}  # sparsity -> accuracy without / with fine-tuning, kept fraction per layer
finetuned = {}  # sparsity -> the fine-tuned parameters (name -> array)
for sparsity in sparsities:
    masks = prune_masks(sparsity)
    pruned = with_weights({name: weights[name] * masks[name] for name in weight_names})
    before = test_accuracy(pruned)
    train_steps(pruned, loader, finetune_steps, f"fine-tuning at {sparsity:.0%} sparsity", masks)
    after = test_accuracy(pruned)
    finetuned[sparsity] = {name: p.numpy() for name, p in pruned.named_parameters()}
    kept = {name: float(masks[name].mean()) for name in weight_names}
    pruning[sparsity] = (before, after, kept)
    results[f"pruned {sparsity:.0%}"] = (pruned_size(masks, 4), before)
    results[f"pruned {sparsity:.0%} + fine-tune"] = (pruned_size(masks, 4), after)
    print(
        f"sparsity {sparsity:.0%}: accuracy {before:.4f} -> {after:.4f} after fine-tuning; kept per layer "
        + ", ".join(f"{layer_names[name]} {fraction:.1%}" for name, fraction in kept.items())
    )
lesson.save_arrays("pruning.npz", **{f"{s:.2f}": pruning[s][:2] for s in sparsities})  # sparsity -> before, after

# %%
# Both ideas at once: the 90 % pruned, fine-tuned model with its survivors stored as int8 per channel.
# Quantizing keeps zeros zero (round(0 / s) = 0), so the same mask still describes the quantized weights.
tuned = dict(finetuned[0.9])
tuned.update({name: dequantize(*quantize(tuned[name], 8, per_channel=True)) for name in weight_names})
results["pruned 90% + fine-tune + int8"] = (pruned_size(prune_masks(0.9), 1), test_accuracy(with_weights(tuned)))
print(
    f"pruned 90% + fine-tune + int8: {results['pruned 90% + fine-tune + int8'][0]:,} bytes, "
    f"accuracy {results['pruned 90% + fine-tune + int8'][1]:.4f}"
)
assert results["float32"][0] == 4 * parameter_count == 4 * 121930, "float32 stores 4 bytes for each of 121,930 numbers"
assert results["pruned 90% + fine-tune + int8"][0] < results["float32"][0] / 15, "pruned + int8: over 15x smaller"
lesson.save_arrays("results.npz", names=list(results), sizes=[r[0] for r in results.values()],
                   accuracies=[r[1] for r in results.values()])  # fmt: skip

# %%
weights = lesson.load_arrays("weights.npz")
before_after = {float(s): tuple(v) for s, v in lesson.load_arrays("pruning.npz").items()}  # sparsity -> accuracies
fig, (ax_mag, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
# log10 |w| on a plain axis: the magnitudes span five decades.
log_magnitudes = {name: np.log10(np.abs(weights[name]).ravel() + 1e-12) for name in weight_names}
ax_mag.hist(list(log_magnitudes.values()), bins=np.linspace(-5, 0, 61), stacked=True, histtype="stepfilled",
            label=[layer_names[name] for name in weight_names])  # fmt: skip
for sparsity in sparsities:
    threshold = np.quantile(np.concatenate(list(log_magnitudes.values())), sparsity)
    ax_mag.axvline(threshold, color="black", linewidth=0.8)
    ax_mag.text(threshold, ax_mag.get_ylim()[1] * 0.97, f"{sparsity:.0%}", rotation=90, va="top", ha="right")
ax_mag.set(xlabel="log10 |weight|", ylabel="count (stacked by layer)", title="Each line prunes all weights left of it")
ax_mag.legend(fontsize=8, loc="upper left")
percent = [100 * s for s in sparsities]
ax_acc.plot(percent, [before_after[s][0] for s in sparsities], marker="o", label="pruned")
ax_acc.plot(percent, [before_after[s][1] for s in sparsities], marker="o", label=f"+ {finetune_steps} fine-tune steps")
ax_acc.axhline(accuracy_float32, color="gray", linestyle=":", label="unpruned")
ax_acc.set(xlabel="sparsity (% of weights set to 0)", ylabel="test accuracy", title="Accuracy after pruning")
ax_acc.legend(fontsize=8)
lesson.savefig(fig, "pruning.png")

# %% [markdown]
# ## Accuracy against size
#
# Every variant on one plot: moving left is a smaller model, moving down a worse one. float16 and
# int8 cost nothing measurable (a change of one or two test digits is noise), and 4 bits little;
# below that, per-channel scales are what keeps the network working. Pruning alone is cheap up to
# a point and then falls off a cliff, which a short fine-tune mostly repairs (the fine-tuned models
# can even beat the original: fine-tuning is also more training). Combining both ideas, 90 %
# pruned with int8 survivors, gives the smallest model that still works.


# %%
def size_and_accuracy(names: list[str]) -> tuple[np.ndarray, list[float]]:
    """(sizes in KB, accuracies) of the named variants."""
    return np.array([results[name][0] for name in names]) / 1000, [results[name][1] for name in names]


saved = lesson.load_arrays("results.npz")
results = {str(n): (int(size), float(acc)) for n, size, acc in zip(saved["names"], saved["sizes"], saved["accuracies"])}
fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
formats = ["float32", "float16"] + [f"int{bits} per channel" for bits in bit_widths]
ax.plot(*size_and_accuracy(formats), "s--", markersize=8, label="number formats (int: per channel)")
for name in formats:
    size, acc = results[name]
    ax.annotate(name.removesuffix(" per channel"), (size / 1000, acc), textcoords="offset points", xytext=(6, 6))
ax.plot(*size_and_accuracy([f"pruned {s:.0%}" for s in sparsities]), "o-", label="pruned (float32 values)")
ax.plot(*size_and_accuracy([f"pruned {s:.0%} + fine-tune" for s in sparsities]), "^-", label="pruned + fine-tuned")
for sparsity in sparsities:
    size, acc = results[f"pruned {sparsity:.0%}"]
    ax.annotate(f"{sparsity:.0%}", (size / 1000, acc), textcoords="offset points", xytext=(6, -12), color="C1")
ax.plot(*size_and_accuracy(["pruned 90% + fine-tune + int8"]), "*", markersize=14, label="90% pruned, tuned, int8")
ax.axhline(accuracy_float32, color="gray", linestyle=":", linewidth=1)
ax.set(xscale="log", xlabel="stored size (KB, log scale)", ylabel="test accuracy")
ax.minorticks_off()
ax.set_xticks([25, 50, 100, 200, 400], labels=["25", "50", "100", "200", "400"])
ax.set_title("Accuracy against stored size: left is smaller, up is better")
ax.legend(loc="lower right")
lesson.savefig(fig, "accuracy_vs_size.png")
for name, (size, acc) in results.items():
    print(f"  {name:<32} {size:>9,} bytes ({4 * parameter_count / size:5.1f}x smaller)  accuracy {acc:.4f}")

# %%
lesson.report(
    accuracy_float32=accuracy_float32,
    accuracy_float16=results["float16"][1],
    float16_largest_relative_change=largest_relative_change,
    **{f"accuracy_int{b}_per_tensor": results[f"int{b} per tensor"][1] for b in bit_widths},
    **{f"accuracy_int{b}_per_channel": results[f"int{b} per channel"][1] for b in bit_widths},
    **{f"weight_error_int{b}_per_tensor": weight_errors[b, False] for b in bit_widths},
    **{f"weight_error_int{b}_per_channel": weight_errors[b, True] for b in bit_widths},
    **{f"accuracy_pruned_{round(100 * s)}": pruning[s][0] for s in sparsities},
    **{f"accuracy_pruned_{round(100 * s)}_finetuned": pruning[s][1] for s in sparsities},
    accuracy_pruned_90_finetuned_int8=results["pruned 90% + fine-tune + int8"][1],
    linear1_kept_at_95=pruning[0.95][2]["7.weight"],
    linear1_dead_units=dead_units,
    bytes_float32=results["float32"][0],
    bytes_float16=results["float16"][0],
    **{f"bytes_int{b}_per_channel": results[f"int{b} per channel"][0] for b in bit_widths},
    **{f"bytes_pruned_{round(100 * s)}": results[f"pruned {s:.0%}"][0] for s in sparsities},
    bytes_pruned_90_int8=results["pruned 90% + fine-tune + int8"][0],
    train_images=train_size,
    epochs=epochs,
)

# %% [markdown]
# ## Your turn

# %%
lesson.what_next(
    "Quantize the activations as well as the weights (int8 after each ReLU) and measure the accuracy.",
    "Prune by structure (whole conv channels with the smallest norm) instead of single weights: where does the "
    "accuracy cliff move?",
    "Fine-tune for 3 epochs instead of 1 at 95 % sparsity: how much comes back?",
)
