"""The benchmark workloads: what one step computes, how many FLOPs and bytes it needs, and its code.

Each workload's ``setup(fw)`` builds float32 inputs (from a fixed seed, identical on every framework)
on a ``Framework`` and returns ``step``, a function of no arguments that the harness times. The step is
written once and runs on tinynet and PyTorch alike (see frameworks.py).

FLOP counts: 2 per multiply-add of the matmul-like work; a backward pass costs one such product per
input that needs a gradient (x W: dx and dW, each as much as the forward). Element-wise workloads carry
nominal per-element counts, and a minimum memory traffic (``bytes``: every input read once, every
output written once), because memory, not arithmetic, bounds them: they are held to the speed of a
plain copy moving as many bytes, instead of the matmul peak.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from frameworks import Framework

FLOAT = 4  # bytes per float32
ADAM_FLOPS_PER_PARAM = 13  # PyTorch's single-tensor Adam: m (3), v (4), sqrt(v)/c + eps (3), p -= s m/denom (3)

# Shapes per size: "full" is the issue's; "quick" cuts the big batches by 4 (the MNIST-1D models keep
# theirs), so that a quick run stays under a minute; "tiny" only checks that everything runs.
SIZES = {
    "full": dict(matmul=1024, conv2d=(64, 16, 28, 28, 32), batch=100, pool=(64, 32, 28, 28),
                 attention=(8, 4, 128, 64), xent=(2048, 1000), layernorm=(8192, 256), adam=1_000_000, lenet=64,
                 resnet=32),
    "quick": dict(matmul=512, conv2d=(16, 16, 28, 28, 32), batch=100, pool=(16, 32, 28, 28),
                  attention=(2, 4, 128, 64), xent=(512, 1000), layernorm=(2048, 256), adam=250_000, lenet=16, resnet=8),
    "tiny": dict(matmul=64, conv2d=(2, 3, 8, 8, 4), batch=4, pool=(2, 3, 8, 8),
                 attention=(1, 2, 16, 8), xent=(16, 10), layernorm=(16, 32), adam=1000, lenet=4, resnet=2),
}  # fmt: skip
SIGNAL = 40  # MNIST-1D signal length: the reference models are built for it


@dataclass(frozen=True)
class Workload:
    """One benchmark: ``setup(fw)`` returns the step to time; ``bound`` says which peak it is held to."""

    name: str
    shape: str  # what one step computes, for the tables
    flops: float  # floating-point operations per step
    bytes: float | None  # least memory traffic per step (memory-bound workloads only)
    bound: str  # "compute" (held to the matmul peak) or "memory" (to a copy of ``bytes``)
    setup: Callable[[Framework], Callable[[], object]]


def _arrays(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32) for shape in shapes]


def _forward_backward(fw: Framework, forward: Callable, inputs: list[np.ndarray], grad_out: np.ndarray):
    """A step running ``forward(*tensors).backward(grad_out)``, clearing the inputs' grads first."""
    tensors = [fw.tensor(a, requires_grad=True) for a in inputs]
    grad = fw.tensor(grad_out)

    def step():
        for t in tensors:
            t.grad = None
        forward(*tensors).backward(grad)

    return step


def _training_flops(*layers: tuple[float, bool]) -> float:
    """FLOPs of forward + backward for layers given as (forward FLOPs, needs a gradient w.r.t. its input)."""
    return sum(flops * (3 if input_grad else 2) for flops, input_grad in layers)


def _conv_flops(batch: int, c_in: int, c_out: int, out_positions: int, kernel_size: int) -> float:
    return 2 * batch * c_out * out_positions * c_in * kernel_size


# --- the workloads --------------------------------------------------------------------------


def matmul(n: int) -> Workload:
    a, b = _arrays(0, (n, n), (n, n))

    def setup(fw: Framework):
        ta, tb = fw.tensor(a), fw.tensor(b)
        return lambda: fw.lib.matmul(ta, tb)

    return Workload("matmul", f"({n}, {n}) @ ({n}, {n}), forward", 2 * n**3, None, "compute", setup)


def conv2d(n: int, c: int, h: int, w: int, o: int) -> Workload:
    x, weight, grad = _arrays(1, (n, c, h, w), (o, c, 3, 3), (n, o, h, w))

    def setup(fw: Framework):
        return _forward_backward(fw, lambda x, w: fw.F.conv2d(x, w, padding=1), [x, weight], grad)

    flops = _training_flops((_conv_flops(n, c, o, h * w, 9), True))
    return Workload("conv2d", f"x ({n}, {c}, {h}, {w}), w ({o}, {c}, 3, 3), pad 1", flops, None, "compute", setup)


def conv1d_mnist1d(batch: int) -> Workload:
    """The MNIST-1D CNN's three conv1d layers in a row (the input signal needs no gradient)."""
    (x,) = _arrays(2, (batch, 1, SIGNAL))
    layers, lengths, c_in, length = [], [], 1, SIGNAL
    for index, kernel in enumerate((5, 3, 3)):
        length = (length + 2 - kernel) // 2 + 1
        layers.append((_conv_flops(batch, c_in, 25, length, kernel), index > 0))
        lengths.append(length)
        c_in = 25
    (grad,) = _arrays(3, (batch, 25, length))

    def setup(fw: Framework):
        model = fw.model("MNIST1DCNN")
        signal, grad_out = fw.tensor(x), fw.tensor(grad)

        def step():
            model.zero_grad()
            model.conv3(model.conv2(model.conv1(signal))).backward(grad_out)

        return step

    shape = f"({batch}, 1, {SIGNAL}) -> 25 x {lengths[0]} -> {lengths[1]} -> {lengths[2]}"
    return Workload("conv1d_mnist1d", shape, _training_flops(*layers), None, "compute", setup)


def maxpool2d(n: int, c: int, h: int, w: int) -> Workload:
    x, grad = _arrays(4, (n, c, h, w), (n, c, h // 2, w // 2))

    def setup(fw: Framework):
        return _forward_backward(fw, lambda x: fw.F.max_pool2d(x, 2, 2), [x], grad)

    size = n * c * h * w
    # Forward: read x, write a quarter of it; backward: read that quarter's gradient, write dx.
    traffic = FLOAT * size * (1 + 1 / 4 + 1 / 4 + 1)
    return Workload("maxpool2d", f"({n}, {c}, {h}, {w}), kernel 2, stride 2", size, traffic, "memory", setup)


def attention(b: int, h: int, length: int, e: int, causal: bool) -> Workload:
    q, k, v, grad = _arrays(5, *[(b, h, length, e)] * 4)

    def setup(fw: Framework):
        def forward(q, k, v):
            return fw.F.scaled_dot_product_attention(q, k, v, is_causal=causal)

        return _forward_backward(fw, forward, [q, k, v], grad)

    # Forward: scores q k^T and weights v (2 products); backward: dv, dweights, dq, dk (4 products).
    # Causal counts only the query-key pairs it keeps: a kernel that skips the masked half gains.
    pairs = length * (length + 1) // 2 if causal else length * length
    name, mask = ("attention_causal", ", causal") if causal else ("attention", "")
    return Workload(name, f"q, k, v ({b}, {h}, {length}, {e}){mask}", 12 * b * h * pairs * e, None, "compute", setup)


def softmax_xent(n: int, classes: int) -> Workload:
    (logits,) = _arrays(6, (n, classes))
    labels = np.random.default_rng(7).integers(0, classes, n)

    def setup(fw: Framework):
        x, y = fw.tensor(logits, requires_grad=True), fw.tensor(labels)

        def step():
            x.grad = None
            fw.F.cross_entropy(x, y).backward()

        return step

    # Forward max, subtract, exp, sum; backward normalise and subtract the one-hot: 6 per logit.
    size = n * classes
    return Workload("softmax_xent", f"logits ({n}, {classes}), int labels", 6 * size, 2 * FLOAT * size, "memory", setup)


def layernorm(n: int, d: int) -> Workload:
    x, weight, bias, grad = _arrays(8, (n, d), (d,), (d,), (n, d))

    def setup(fw: Framework):
        return _forward_backward(fw, lambda x, w, b: fw.F.layer_norm(x, (d,), w, b), [x, weight, bias], grad)

    # Forward: statistics, normalise, scale and shift (7 per element); backward: 11 per element.
    # Traffic: read x, write y; read x and dy, write dx.
    return Workload("layernorm", f"({n}, {d}), with weight and bias", 18 * n * d, 5 * FLOAT * n * d, "memory", setup)


def adam_step(n: int) -> Workload:
    param, grad = _arrays(9, (n,), (n,))

    def setup(fw: Framework):
        p = fw.nn.Parameter(fw.tensor(param))
        p.grad = fw.tensor(grad)
        optimizer = fw.optim.Adam([p], lr=1e-2)
        return optimizer.step

    # Read p, g, m, v; write p, m, v.
    return Workload("adam_step", f"{n:,} parameters", ADAM_FLOPS_PER_PARAM * n, 7 * FLOAT * n, "memory", setup)


def _classifier_step(fw: Framework, factory, x: np.ndarray, labels: np.ndarray, train: bool):
    """Forward, cross-entropy, backward (and an Adam step with lr 1e-2 when ``train``)."""
    model = fw.model(factory)
    inputs, targets = fw.tensor(x), fw.tensor(labels)
    optimizer = fw.optim.Adam(model.parameters(), lr=1e-2)

    def step():
        optimizer.zero_grad()
        fw.F.cross_entropy(model(inputs), targets).backward()
        if train:
            optimizer.step()

    return step


def _mnist1d_batch(batch: int) -> tuple[np.ndarray, np.ndarray]:
    # Random signals: a step's time does not depend on the values, only on the shapes.
    (x,) = _arrays(10, (batch, SIGNAL))
    return x, np.random.default_rng(11).integers(0, 10, batch)


def _gru_layers(batch: int, hidden: int = 6, classes: int = 10) -> list[tuple[float, bool]]:
    steps = 2 * SIGNAL  # both directions
    return [
        (steps * 2 * batch * 1 * 3 * hidden, False),  # input projections (x needs no gradient)
        (steps * 2 * batch * hidden * 3 * hidden, True),  # hidden projections
        (2 * batch * 2 * hidden * SIGNAL * classes, True),  # head
    ]


def gru(batch: int) -> Workload:
    x, labels = _mnist1d_batch(batch)
    flops = _training_flops(*_gru_layers(batch))
    return Workload(
        "gru", f"MNIST-1D bidirectional GRU (hidden 6) + head on ({batch}, {SIGNAL}, 1), no optimizer",
        flops, None, "compute", lambda fw: _classifier_step(fw, "MNIST1DGRU", x, labels, train=False),
    )  # fmt: skip


def _with_adam(layers: list[tuple[float, bool]], params: int) -> float:
    return _training_flops(*layers) + ADAM_FLOPS_PER_PARAM * params


def train_cnn(batch: int) -> Workload:
    x, labels = _mnist1d_batch(batch)
    layers = [(_conv_flops(batch, 1, 25, 19, 5), False), (_conv_flops(batch, 25, 25, 10, 3), True),
              (_conv_flops(batch, 25, 25, 5, 3), True), (2 * batch * 125 * 10, True)]  # fmt: skip
    params = 25 * 5 + 25 + 2 * (25 * 25 * 3 + 25) + 125 * 10 + 10
    return Workload(
        "train_cnn", f"MNIST-1D CNN training step, batch {batch}, Adam lr 1e-2", _with_adam(layers, params),
        None, "compute", lambda fw: _classifier_step(fw, "MNIST1DCNN", x, labels, train=True),
    )  # fmt: skip


def train_lenet(batch: int) -> Workload:
    """Lesson 08's image CNN (Conv32-Pool-Conv64-Pool-Dense64-Dense10) on (batch, 1, 28, 28), Adam lr 1e-2."""
    (x,) = _arrays(12, (batch, 1, 28, 28))  # random images: a step's time depends on the shapes only
    labels = np.random.default_rng(13).integers(0, 10, batch)
    layers = [(_conv_flops(batch, 1, 32, 26 * 26, 9), False), (_conv_flops(batch, 32, 64, 11 * 11, 9), True),
              (2 * batch * 1600 * 64, True), (2 * batch * 64 * 10, True)]  # fmt: skip
    params = 32 * 9 + 32 + 64 * 32 * 9 + 64 + 1600 * 64 + 64 + 64 * 10 + 10
    return Workload(
        "train_lenet", f"lesson 08's MNIST CNN training step, batch {batch} of 1x28x28, Adam lr 1e-2",
        _with_adam(layers, params), None, "compute",
        lambda fw: _classifier_step(fw, "mnist_cnn", x, labels, train=True),
    )  # fmt: skip


def _small_resnet(nn):
    """A CIFAR-style residual network with batch norm: a stem, a residual block, a 2x2 max pool, a second block,
    the global average pool and a linear head, 32 channels throughout (no bias before a batch norm)."""

    class Block(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            conv = lambda: nn.Conv2d(channels, channels, 3, padding=1, bias=False)  # noqa: E731
            self.body = nn.Sequential(conv(), nn.BatchNorm2d(channels), nn.ReLU(), conv(), nn.BatchNorm2d(channels))
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(x + self.body(x))

    stem = [nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)]
    return nn.Sequential(*stem, Block(32), nn.MaxPool2d(2), Block(32), *head)


def train_resnet(batch: int) -> Workload:
    """_small_resnet on (batch, 3, 32, 32), Adam lr 1e-2: convolutions, batch norm in training, a residual add and
    adaptive pooling, as in the CIFAR chapters."""
    (x,) = _arrays(14, (batch, 3, 32, 32))
    labels = np.random.default_rng(15).integers(0, 10, batch)
    convs = [(_conv_flops(batch, 3, 32, 32 * 32, 9), False)] + [(_conv_flops(batch, 32, 32, 32 * 32, 9), True)] * 2
    convs += [(_conv_flops(batch, 32, 32, 16 * 16, 9), True)] * 2
    params = 3 * 32 * 9 + 4 * 32 * 32 * 9 + 5 * 2 * 32 + 32 * 10 + 10
    return Workload(
        "train_resnet", f"a small ResNet with batch norm (32 channels, 2 blocks) training step, batch {batch} of "
        "3x32x32, Adam lr 1e-2", _with_adam([*convs, (2 * batch * 32 * 10, True)], params), None, "compute",
        lambda fw: _classifier_step(fw, _small_resnet, x, labels, train=True),
    )  # fmt: skip


def train_mlp(batch: int) -> Workload:
    x, labels = _mnist1d_batch(batch)
    sizes = [(SIGNAL, 100), (100, 100), (100, 10)]
    layers = [(2 * batch * i * o, k > 0) for k, (i, o) in enumerate(sizes)]
    params = sum(i * o + o for i, o in sizes)
    return Workload(
        "train_mlp", f"MNIST-1D MLP (40-100-100-10) training step, batch {batch}, Adam lr 1e-2",
        _with_adam(layers, params), None, "compute",
        lambda fw: _classifier_step(fw, "mnist1d_mlp", x, labels, train=True),
    )  # fmt: skip


def _xor_mlp(nn):
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())


def train_xor() -> Workload:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)

    def setup(fw: Framework):
        model = fw.model(_xor_mlp)
        inputs, targets = fw.tensor(x), fw.tensor(y)
        optimizer = fw.optim.Adam(model.parameters(), lr=1e-2)

        def step():
            optimizer.zero_grad()
            fw.F.mse_loss(model(inputs), targets).backward()
            optimizer.step()

        return step

    flops = _with_adam([(2 * 4 * 2 * 8, False), (2 * 4 * 8 * 1, True)], 2 * 8 + 8 + 8 + 1)
    return Workload(
        "train_xor", "2-8-1 XOR MLP training step, batch 4: framework overhead", flops, None, "compute", setup
    )


CHAIN = 16  # op_overhead's elementwise ops, before its sum


def op_overhead() -> Workload:
    """One op's fixed cost, forward and backward: CHAIN multiplies of a (4, 8) tensor by a number, their sum, and
    the backward through all CHAIN + 1 ops; the step's time / (CHAIN + 1) is what an op costs beyond its arithmetic:
    Function.apply, the graph's node and the backward's bookkeeping (PyTorch's: its dispatcher and autograd). Its
    ops compute inline, so it times the engine alone, no backend's kernel (a relu chain adds the kernel's call: 7.1
    us an op on numba, 6.5 on NumPy, 4.0 on PyTorch, 2026-12-05)."""
    (x,) = _arrays(12, (4, 8))

    def setup(fw: Framework):
        leaf = fw.tensor(x, requires_grad=True)

        def step():
            leaf.grad = None
            y = leaf
            for _ in range(CHAIN):
                y = y * 1.0001
            y.sum().backward()

        return step

    flops = 2.0 * CHAIN * x.size + x.size  # a multiply per element each way, and the sum
    shape = f"{CHAIN} multiplies of a (4, 8) tensor and their sum, forward and backward: an op = step / {CHAIN + 1}"
    return Workload("op_overhead", shape, flops, None, "compute", setup)


# Vocabulary, embedding, hidden size, sequence length, batch: PyTorch's word_language_model example's bptt 35
# and batch 20, an LSTM of 128 (the example's 200 is in between), and a vocabulary of 1000 rather than
# WikiText-2's 33,278, so that the head does not drown the recurrence that this workload is about.
LSTM_LM_SIZES = {"full": (1000, 64, 128, 35, 20), "quick": (1000, 64, 128, 35, 20), "tiny": (50, 8, 16, 5, 3)}


def train_lstm_lm(vocab: int, embed: int, hidden: int, length: int, batch: int) -> Workload:
    """One training step of the LSTM language model: cross-entropy over all N*T positions, Adam lr 1e-3."""
    rng = np.random.default_rng(12)
    tokens, targets = rng.integers(0, vocab, (batch, length)), rng.integers(0, vocab, (batch, length))

    def setup(fw: Framework):
        model = fw.model(lambda nn: fw.models.LSTMLanguageModel(vocab, embed, hidden))
        inputs, labels = fw.tensor(tokens), fw.tensor(targets.reshape(-1))
        optimizer = fw.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            optimizer.zero_grad()
            fw.F.cross_entropy(model(inputs).reshape(-1, vocab), labels).backward()
            optimizer.step()

        return step

    rows = length * batch
    # The input projection, the recurrent one, the head: each needs its input's gradient (the embedding's).
    layers = [(2 * rows * embed * 4 * hidden, True), (2 * rows * hidden * 4 * hidden, True)]
    layers.append((2 * rows * hidden * vocab, True))
    params = vocab * embed + 4 * hidden * (embed + hidden + 2) + hidden * vocab + vocab
    return Workload(
        "train_lstm_lm", f"LSTM LM (vocab {vocab}, embed {embed}, hidden {hidden}) step on ({batch}, {length}), Adam",
        _with_adam(layers, params), None, "compute", setup,
    )  # fmt: skip


# Lesson 14's language model at its full-run size (tinynet.models.CharTransformer), per size of run.
LM_SIZES = {
    "full": dict(batch=32, context=64, vocab=96, d_model=64, heads=4, layers=2),
    "quick": dict(batch=32, context=64, vocab=96, d_model=64, heads=4, layers=2),
    "tiny": dict(batch=2, context=8, vocab=10, d_model=16, heads=2, layers=1),
}


def train_transformer_lm(batch: int, context: int, vocab: int, d_model: int, heads: int, layers: int) -> Workload:
    """One training step of lesson 14's character language model: forward, cross-entropy of every position's
    next-token scores, backward, Adam (lr 3e-3, as the lesson)."""
    rng = np.random.default_rng(12)
    tokens = rng.integers(0, vocab, (batch, context + 1))
    x, y = tokens[:, :-1], tokens[:, 1:]

    def setup(fw: Framework):
        model = fw.model(lambda nn: fw.models.CharTransformer(vocab, d_model, heads, layers, context))
        inputs, targets = fw.tensor(x), fw.tensor(y.reshape(-1))
        optimizer = fw.optim.Adam(model.parameters(), lr=3e-3)

        def step():
            optimizer.zero_grad()
            fw.F.cross_entropy(model(inputs).reshape(-1, vocab), targets).backward()
            optimizer.step()

        return step

    tokens_per_step, pairs = batch * context, batch * context * (context + 1) // 2
    # Per layer: the q, k, v and output projections (4 d^2 per token) and the feed-forward (8 d^2); the readout.
    linear = [(2 * tokens_per_step * 12 * d_model**2, True)] * layers + [(2 * tokens_per_step * d_model * vocab, True)]
    # Causal attention: the kept query-key pairs, 2 products forward and 4 backward, as the attention workload.
    attention_flops = layers * 12 * pairs * d_model
    block = 12 * d_model**2 + 13 * d_model  # in_proj, out_proj, linear1, linear2 with biases; two LayerNorms
    params = vocab * d_model + layers * block + 2 * d_model + d_model * vocab + vocab
    shape = (
        f"lesson 14's CharTransformer (d_model {d_model}, {heads} heads, {layers} layers, vocabulary {vocab}) "
        f"training step, batch {batch} of {context} tokens, Adam"
    )
    return Workload("train_transformer_lm", shape, _with_adam(linear, params) + attention_flops, None, "compute", setup)


def all_workloads(size: str = "full") -> list[Workload]:
    """Every workload at ``size`` (a key of SIZES), in report order."""
    s = SIZES[size]
    return [
        matmul(s["matmul"]),
        conv2d(*s["conv2d"]),
        conv1d_mnist1d(s["batch"]),
        maxpool2d(*s["pool"]),
        attention(*s["attention"], causal=False),
        attention(*s["attention"], causal=True),
        softmax_xent(*s["xent"]),
        layernorm(*s["layernorm"]),
        adam_step(s["adam"]),
        gru(s["batch"]),
        train_cnn(s["batch"]),
        train_lenet(s["lenet"]),
        train_resnet(s["resnet"]),
        train_mlp(s["batch"]),
        train_xor(),
        op_overhead(),
        train_transformer_lm(**LM_SIZES[size]),
        train_lstm_lm(*LSTM_LM_SIZES[size]),
    ]


def names() -> list[str]:
    return [w.name for w in all_workloads("tiny")]
