"""Real models' training steps beyond the bench's workloads, tinynet (numba) against PyTorch on the CPU.

Each step is written once against PyTorch's API and run as `import tinynet as torch` and as PyTorch itself, each
framework in a process of its own (started afresh for every round, rounds alternating which goes first); a round
times every step in turn after warming it up (WARM_SECONDS of steps). The table gives, per step, the median over
rounds of each framework's median step time and of their ratio within a round (the two processes of a round ran
minutes apart at most).

    python benchmarks/model_steps.py                      # every step, 3 rounds, 2 threads
    python benchmarks/model_steps.py --only cnn_bn,gru_classifier --rounds 5

Needs PyTorch (pip install -e ".[bench]"). Stop 23's survey (benchmarks/README.md) was taken with this.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

STEP_SECONDS = 0.05  # each timed repeat lasts about this long
REPEATS = 9
# Warm-up per step before timing it: PyTorch's first ~120 steps of conv_5x5_stride2 took 6.7-7.0 ms and the rest
# 5.3-5.9 (2026-12-06, the Intel Xeon), so with 3 warm-up calls a step early in the list was timed before PyTorch
# settled and one later after it (7.4 against 4.8 ms), and its ratio depended on its place in the list.
WARM_SECONDS = 1.0


def _models(lib):
    """name -> (model factory, input shape or ("tokens", shape, vocabulary), target, loss, optimizer), for ``lib``:
    tinynet or torch."""
    nn, F = lib.nn, lib.nn.functional

    class Residual(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            conv = lambda: nn.Conv2d(channels, channels, 3, padding=1, bias=False)  # noqa: E731
            self.body = nn.Sequential(conv(), nn.BatchNorm2d(channels), nn.ReLU(), conv(), nn.BatchNorm2d(channels))

        def forward(self, x):
            return F.relu(x + self.body(x))

    class Recurrent(nn.Module):
        """Embedding, a recurrent layer (batch first) and a head: on the last step, or on every step."""

        def __init__(self, cell, hidden: int, layers: int, out: int, every_step: bool) -> None:
            super().__init__()
            self.embed, self.every_step = nn.Embedding(1000, 64), every_step
            self.rnn = cell(64, hidden, num_layers=layers, batch_first=True)
            self.head = nn.Linear(hidden, out)

        def forward(self, tokens):
            out, _ = self.rnn(self.embed(tokens))
            return self.head(out).flatten(0, 1) if self.every_step else self.head(out[:, -1])

    class Encoder(nn.Module):
        def __init__(self, width: int, heads: int, norm_first: bool, causal: bool) -> None:
            super().__init__()
            self.embed, self.causal = nn.Embedding(100, width), causal
            layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.1 if not causal else 0.0,
                                               batch_first=True, norm_first=norm_first)  # fmt: skip
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(width, 100)

        def forward(self, tokens):
            mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1]) if self.causal else None
            return self.head(self.encoder(self.embed(tokens), mask=mask, is_causal=self.causal)).flatten(0, 1)

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention, self.head = nn.MultiheadAttention(64, 4, batch_first=True), nn.Linear(64, 10)

        def forward(self, x):
            out, _ = self.attention(x, x, x)  # need_weights: PyTorch's default
            return self.head(out.mean(1))

    class CellLoop(nn.Module):
        """An embedding, a recurrent cell called once a step in a Python loop (as seq2seq decoders and char-RNNs call
        theirs), and a head on every step's state: an LSTMCell's or a GRUCell's."""

        def __init__(self, cell, hidden: int) -> None:
            super().__init__()
            self.embed, self.cell, self.head = nn.Embedding(1000, 64), cell(64, hidden), nn.Linear(hidden, 10)

        def forward(self, tokens):
            states, outputs = None, []
            for t in range(tokens.shape[1]):
                states = self.cell(self.embed(tokens[:, t]), states)
                outputs.append(states[0] if isinstance(states, tuple) else states)
            return self.head(lib.stack(outputs, 1)).flatten(0, 1)

    class TinyUNet(nn.Module):
        """Two levels: convolutions, a max pool, an upsampling and the skip connection joined by channels."""

        def __init__(self) -> None:
            super().__init__()
            block = lambda c_in, c_out: nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU())  # noqa: E731
            self.down, self.middle, self.up = block(3, 16), block(16, 32), nn.Upsample(scale_factor=2, mode="bilinear")
            self.out = nn.Sequential(block(48, 16), nn.Conv2d(16, 1, 1))

        def forward(self, x):
            skip = self.down(x)
            return self.out(lib.cat([skip, self.up(self.middle(F.max_pool2d(skip, 2)))], dim=1))

    class PatchTransformer(nn.Module):
        """ViT-style: 4x4 patches by a strided convolution, a class token, positions, an encoder, a head."""

        def __init__(self, width: int = 64) -> None:
            super().__init__()
            self.patches = nn.Conv2d(3, width, 4, stride=4)
            self.token, self.positions = nn.Parameter(lib.zeros(1, 1, width)), nn.Parameter(lib.zeros(1, 65, width))
            layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, activation="gelu", batch_first=True,
                                               norm_first=True)  # fmt: skip
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 10))

        def forward(self, x):
            patches = self.patches(x).flatten(2).transpose(1, 2)
            tokens = lib.cat([self.token.expand(x.shape[0], -1, -1), patches], dim=1) + self.positions
            return self.head(self.encoder(tokens)[:, 0])

    class VAE(nn.Module):
        """An MLP encoder to a mean and a log-variance, a sample by the reparametrization, an MLP decoder to logits;
        its KL term to the unit normal waits in ``extra_loss`` for the step to add."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.mean, self.log_var = (
                nn.Sequential(nn.Linear(784, 400), nn.ReLU()),
                *(nn.Linear(400, 20) for _ in range(2)),
            )
            self.decoder = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))

        def forward(self, x):
            hidden = self.encoder(x)
            mean, log_var = self.mean(hidden), self.log_var(hidden)
            z = mean + lib.randn_like(mean) * lib.exp(0.5 * log_var)
            self.extra_loss = -0.5 * lib.mean(lib.sum(1 + log_var - mean**2 - log_var.exp(), dim=1))
            return self.decoder(z)

    def mobile():
        """Depthwise-separable blocks (a depthwise 3x3, BatchNorm, ReLU6, then a pointwise 1x1) after a SiLU stem."""

        def block(c_in: int, c_out: int):
            depthwise = [nn.Conv2d(c_in, c_in, 3, 2, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in), nn.ReLU6()]
            pointwise = [nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU6()]
            return nn.Sequential(*depthwise, *pointwise)

        return nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1), nn.SiLU(), block(32, 64), block(64, 128),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))  # fmt: skip

    def lenet():
        convolutions = [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU()]
        return nn.Sequential(*convolutions, nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(),
                             nn.Linear(64, 10))  # fmt: skip

    def discriminator():
        """A DCGAN discriminator on 28x28 images: strided convolutions, LeakyReLU, one logit (BCE with logits)."""
        return nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1, bias=False),
                             nn.BatchNorm2d(128), nn.LeakyReLU(0.2), nn.Flatten(),
                             nn.Linear(128 * 7 * 7, 1))  # fmt: skip

    def conv_autoencoder():
        """Strided convolutions down, nearest-neighbour upsampling and convolutions back up, to pixel logits."""
        up = lambda c_in, c_out: [nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, padding=1)]  # noqa: E731
        return nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                             *up(32, 16), nn.ReLU(), *up(16, 1))  # fmt: skip

    def resnet_stem():
        """ResNet's ImageNet stem (a 7x7 convolution at stride 2, a 3x3 max pool at stride 2) on 64 x 64 images."""
        return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                             nn.MaxPool2d(3, 2, 1), nn.Conv2d(64, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
                             nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))  # fmt: skip

    def cifar_tutorial():
        """PyTorch's CIFAR-10 tutorial's network."""
        return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                             nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                             nn.ReLU(), nn.Linear(84, 10))  # fmt: skip

    def groupnorm_cnn():
        return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.GroupNorm(8, 32), nn.SiLU(),
                             nn.Conv2d(32, 64, 3, 2, 1), nn.GroupNorm(8, 64), nn.SiLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))  # fmt: skip

    classes = lambda n: ("classes", n, 10)  # noqa: E731
    return {
        "mlp_sgd": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                                          nn.ReLU(), nn.Linear(128, 10)), (64, 1, 28, 28), classes(64), "sgd"),
        "mlp_dropout_adamw": (lambda: nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                                                    nn.Linear(512, 10)), (128, 784), classes(128), "adamw"),
        "mlp_batchnorm": (lambda: nn.Sequential(nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.1),
                                                nn.Linear(256, 10)), (128, 784), classes(128), "sgd"),
        "mlp_silu_rmsprop": (lambda: nn.Sequential(nn.Linear(784, 512), nn.SiLU(), nn.Linear(512, 256),
                                                   nn.LeakyReLU(0.1), nn.Linear(256, 10)),
                             (128, 784), classes(128), "rmsprop"),
        "mlp_layernorm_gelu": (lambda: nn.Sequential(nn.Linear(256, 512), nn.LayerNorm(512), nn.GELU(),
                                                     nn.Linear(512, 10)), (256, 256), classes(256), "adam"),
        "autoencoder_mse": (lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU(),
                                                  nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 784), nn.Sigmoid()),
                            (64, 784), ("values", (64, 784)), "adam"),
        "lenet_b16": (lenet, (16, 1, 28, 28), classes(16), "adam"),
        "lenet_b128": (lenet, (128, 1, 28, 28), classes(128), "adam"),
        "cnn_bn": (lambda: nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                         nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32),
                                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 49, 10)),
                   (64, 1, 28, 28), classes(64), "adam"),
        "resnet_cifar": (lambda: nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
                                               nn.ReLU(), Residual(32), nn.MaxPool2d(2), Residual(32),
                                               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)),
                         (32, 3, 32, 32), classes(32), "sgd"),
        "vgg_cifar": (lambda: nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1),
                                            nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 64, 10)),
                      (32, 3, 32, 32), classes(32), "adam"),
        "conv_32_64_14x14": (lambda: nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Flatten(),
                                                   nn.Linear(64 * 196, 10)), (64, 32, 14, 14), classes(64), "adam"),
        "conv_5x5_stride2": (lambda: nn.Sequential(nn.Conv2d(3, 32, 5, stride=2, padding=2), nn.ReLU(),
                                                   nn.Conv2d(32, 64, 5, stride=2, padding=2), nn.ReLU(), nn.Flatten(),
                                                   nn.Linear(64 * 8 * 8, 10)), (32, 3, 32, 32), classes(32), "adam"),
        "conv1d_global_pool": (lambda: nn.Sequential(nn.Conv1d(8, 32, 5, padding=2), nn.ReLU(),
                                                     nn.Conv1d(32, 32, 5, padding=2), nn.ReLU(),
                                                     nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, 10)),
                               (64, 8, 128), classes(64), "adam"),
        "dcgan_generator": (lambda: nn.Sequential(nn.ConvTranspose2d(64, 64, 7, 1, 0, bias=False), nn.BatchNorm2d(64),
                                                  nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False),
                                                  nn.BatchNorm2d(32), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1),
                                                  nn.Tanh()), (64, 64, 1, 1), ("values", (64, 1, 28, 28)), "adam"),
        "mobilenet_blocks": (mobile, (32, 3, 32, 32), classes(32), "rmsprop"),
        "unet_small": (TinyUNet, (16, 3, 32, 32), ("values", (16, 1, 32, 32)), "adam"),
        "patch_transformer": (PatchTransformer, (32, 3, 32, 32), classes(32), "adamw"),
        "rnn_classifier": (lambda: Recurrent(nn.RNN, 128, 1, 10, False), ("tokens", (32, 35)), classes(32), "adam"),
        "gru_classifier": (lambda: Recurrent(nn.GRU, 128, 1, 10, False), ("tokens", (32, 35)), classes(32), "adam"),
        "lstm2_lm": (lambda: Recurrent(nn.LSTM, 128, 2, 1000, True), ("tokens", (20, 35)), ("classes", 700, 1000),
                     "adam"),
        "lstm256_lm": (lambda: Recurrent(nn.LSTM, 256, 1, 1000, True), ("tokens", (32, 35)), ("classes", 1120, 1000),
                       "adam"),
        "multihead_attention": (SelfAttention, (32, 50, 64), classes(32), "adam"),
        "gan_discriminator": (discriminator, (64, 1, 28, 28), ("probabilities", (64, 1)), "adam"),
        "vae_mlp": (VAE, (128, 784), ("probabilities", (128, 784)), "adam"),
        "conv_autoencoder": (conv_autoencoder, (32, 1, 28, 28), ("probabilities", (32, 1, 28, 28)), "adam"),
        "groupnorm_cnn": (groupnorm_cnn, (32, 3, 32, 32), classes(32), "adamw"),
        "transformer_postnorm": (lambda: Encoder(64, 4, False, False), ("tokens", (32, 64)), ("classes", 2048, 100),
                                 "adam"),
        "transformer_prenorm_causal": (lambda: Encoder(128, 8, True, True), ("tokens", (16, 128)),
                                       ("classes", 2048, 100), "adam"),
        "lstmcell_loop": (lambda: CellLoop(nn.LSTMCell, 128), ("tokens", (32, 20)), ("classes", 640, 10), "adam"),
        "grucell_loop": (lambda: CellLoop(nn.GRUCell, 256), ("tokens", (32, 20)), ("classes", 640, 10), "adam"),
        "resnet_stem": (resnet_stem, (16, 3, 64, 64), classes(16), "sgd"),
        "cifar_tutorial": (cifar_tutorial, (32, 3, 32, 32), classes(32), "sgd"),
    }  # fmt: skip


def _array(spec, rng: np.random.Generator, vocabulary: int = 1000):
    """Inputs or targets: a float32 shape, ("tokens", shape), ("classes", n, k), or ("values", shape) and
    ("probabilities", shape) in [0, 1) (the targets of the MSE and of BCE with logits)."""
    if spec[0] == "tokens":
        return rng.integers(0, vocabulary, spec[1])
    if spec[0] == "classes":
        return rng.integers(0, spec[2], spec[1])
    if spec[0] in ("values", "probabilities"):
        return rng.random(spec[1]).astype(np.float32)
    return rng.standard_normal(spec).astype(np.float32)


def _step(lib, name: str):
    """One training step of ``name`` in ``lib`` (tinynet or torch): forward, loss, backward, optimizer step; the
    step returns the loss."""
    F = lib.nn.functional
    factory, input_spec, target_spec, optimizer = _models(lib)[name]
    rng = np.random.default_rng(0)
    vocabulary = 100 if name.startswith("transformer") else 1000
    x, target = lib.tensor(_array(input_spec, rng, vocabulary)), lib.tensor(_array(target_spec, rng))
    lib.manual_seed(0)
    model = factory()
    make = {"adam": lambda p: lib.optim.Adam(p, lr=1e-3), "adamw": lambda p: lib.optim.AdamW(p, lr=1e-3),
            "sgd": lambda p: lib.optim.SGD(p, lr=1e-2, momentum=0.9),
            "rmsprop": lambda p: lib.optim.RMSprop(p, lr=1e-3)}  # fmt: skip
    opt = make[optimizer](model.parameters())
    loss = {"values": F.mse_loss, "probabilities": F.binary_cross_entropy_with_logits}.get(
        target_spec[0], F.cross_entropy
    )

    def step():
        opt.zero_grad()
        value = loss(model(x), target)
        if hasattr(model, "extra_loss"):  # (the VAE's KL term)
            value = value + model.extra_loss
        value.backward()
        opt.step()
        return value

    return step


def library(framework: str, threads: int):
    """PyTorch, or tinynet on its numba backend, set to ``threads`` threads."""
    if framework == "torch":
        import torch as lib
    else:
        import tinynet as lib

        lib.set_backend("numba")
    lib.set_num_threads(threads)
    return lib


def _worker(framework: str, names: list[str], threads: int) -> None:
    """Time each step in this process; print {name: median ms} as JSON."""
    lib = library(framework, threads)
    import gc

    times = {}
    for name in names:
        step = _step(lib, name)
        warm_until = time.perf_counter() + WARM_SECONDS
        for _ in range(3):  # compiles (numba), then warms up for WARM_SECONDS of steps
            step()
        while time.perf_counter() < warm_until:
            step()
        start = time.perf_counter()
        step()
        calls = max(1, int(STEP_SECONDS / max(time.perf_counter() - start, 1e-6)))
        gc.collect()
        repeats = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            for _ in range(calls):
                step()
            repeats.append((time.perf_counter() - start) / calls * 1e3)
        times[name] = float(np.median(repeats))
    print(json.dumps(times))


def main(argv: list[str] | None = None) -> int:
    import tinynet  # (imports neither numba nor PyTorch: only the steps' names are read here)

    return command_line(argv, __doc__, __file__, list(_models(tinynet)), _worker, "step")


def command_line(argv: list[str] | None, doc: str, script: str, everything: list[str], worker, what: str) -> int:
    """The command of a side-by-side benchmark: ``--only``, ``--rounds``, ``--threads``; as a worker
    (``--worker FRAMEWORK``, how ``compare`` starts it) ``worker(framework, names, threads)``, else ``compare``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--only", default=None, help=f"comma-separated {what}s (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each a fresh process per framework")
    parser.add_argument("--threads", type=int, default=2, help="threads for both frameworks (default 2)")
    parser.add_argument("--worker", choices=("tinynet", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = everything if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(everything))
    if unknown or not names:
        parser.error(f"--only: unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(everything)}")
    if args.worker:
        worker(args.worker, names, args.threads)
        return 0
    return compare(script, names, args.rounds, args.threads, what)


def compare(script: str, names: list[str], rounds: int, threads: int, what: str) -> int:
    """Run ``script --worker FRAMEWORK --only NAMES --threads THREADS`` (a worker prints {name: ms} as JSON in its
    last line) for tinynet and PyTorch in turn, a fresh process each, ``rounds`` times, alternating which goes
    first; print the table of medians and of the ratios within each round. ``what`` heads the names' column."""
    times: dict[str, list[dict]] = {"tinynet": [], "torch": []}
    for index in range(rounds):
        order = ("tinynet", "torch") if index % 2 == 0 else ("torch", "tinynet")
        for framework in order:
            command = [sys.executable, script, "--worker", framework, "--only", ",".join(names),
                       "--threads", str(threads)]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                print(f"{framework} failed:\n{result.stderr[-3000:]}", file=sys.stderr)
                return 1
            times[framework].append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(f"round {index + 1} of {rounds} done", file=sys.stderr, flush=True)
    print(f"| {what} | tinynet (numba) ms | PyTorch ms | ratio (median over {rounds} rounds, range) |")
    print("|---|---|---|---|")
    for name in names:
        ours, theirs = ([r[name] for r in times[f]] for f in ("tinynet", "torch"))
        ratios = [a / b for a, b in zip(ours, theirs)]
        print(f"| {name} | {np.median(ours):.3g} | {np.median(theirs):.3g} | {np.median(ratios):.3g}x "
              f"({min(ratios):.2f}-{max(ratios):.2f}) |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
