"""Character-level name models in the style of makemore: bigram counts, then an MLP over an embedding table.

The names are synthetic (syllables put together here). Sampling draws with torch.multinomial from a seeded
torch.Generator. The only tinynet-specific lines are the imports. Run: python tests/programs/makemore.py
"""

import itertools

import numpy as np

import tinynet as torch
import tinynet.nn.functional as F

SYLLABLES = ["an", "el", "ma", "ri", "to", "su", "ka", "li", "ne", "o"]
block_size = 3  # characters of context for the MLP


def make_words(n: int = 60, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(SYLLABLES, rng.integers(2, 4))) for _ in range(n)]


words = make_words()
chars = sorted(set("".join(words)))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi["."] = 0  # start and end of a name
itos = {i: s for s, i in stoi.items()}
V = len(stoi)


def bigram(words: list[str], n_samples: int = 5) -> tuple[float, list[str]]:
    """Counts character pairs, smooths and normalises them, samples names; returns (mean NLL, samples)."""
    N = torch.zeros((V, V), dtype=torch.int32)
    for w in words:
        chs = [".", *w, "."]
        for ch1, ch2 in itertools.pairwise(chs):
            N[stoi[ch1], stoi[ch2]] += 1

    P = (N + 1).float()
    P /= P.sum(1, keepdim=True)

    g = torch.Generator().manual_seed(2147483647)
    samples = []
    for _ in range(n_samples):
        out, ix = [], 0
        while True:
            ix = torch.multinomial(P[ix], num_samples=1, replacement=True, generator=g).item()
            if ix == 0:
                break
            out.append(itos[ix])
        samples.append("".join(out))

    log_likelihood, n = 0.0, 0
    for w in words:
        chs = [".", *w, "."]
        for ch1, ch2 in itertools.pairwise(chs):
            log_likelihood += torch.log(P[stoi[ch1], stoi[ch2]])
            n += 1
    return (-log_likelihood / n).item(), samples


def build_dataset(words: list[str]) -> tuple:
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = [*context[1:], ix]
    return torch.tensor(X), torch.tensor(Y)


def make_model() -> dict:
    """The MLP's parameters: an embedding table C, a tanh hidden layer (W1, b1), an output layer (W2, b2)."""
    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((V, 2), generator=g)
    W1 = torch.randn((block_size * 2, 32), generator=g) * 0.2
    b1 = torch.randn(32, generator=g) * 0.01
    W2 = torch.randn((32, V), generator=g) * 0.01
    b2 = torch.randn(V, generator=g) * 0
    parameters = {"C": C, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
    for p in parameters.values():
        p.requires_grad = True
    return parameters


def forward(params: dict, X):
    emb = params["C"][X]  # (N, block_size, 2)
    h = torch.tanh(emb.view(-1, block_size * 2) @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def train(params: dict, steps: int = 20) -> list[float]:
    """Full-batch gradient descent on the cross-entropy of the next character."""
    Xtr, Ytr = build_dataset(words)
    losses = []
    for i in range(steps):
        logits = forward(params, Xtr)
        loss = F.cross_entropy(logits, Ytr)
        for p in params.values():
            p.grad = None
        loss.backward()
        lr = 0.5 if i < steps // 2 else 0.1
        for p in params.values():
            p.data += -lr * p.grad
        losses.append(loss.item())
    return losses


def sample(params: dict, n: int = 5) -> list[str]:
    g = torch.Generator().manual_seed(2147483647 + 10)
    names = []
    for _ in range(n):
        out, context = [], [0] * block_size
        while len(out) < 20:
            logits = forward(params, torch.tensor([context]))
            probs = F.softmax(logits, dim=1)
            ix = torch.multinomial(probs, num_samples=1, generator=g).item()
            if ix == 0:
                break
            context = [*context[1:], ix]
            out.append(itos[ix])
        names.append("".join(out))
    return names


def main() -> None:
    nll, names = bigram(words)
    print(f"bigram: mean negative log-likelihood {nll:.4f}; samples {names}")
    params = make_model()
    losses = train(params, steps=200)
    print(f"MLP: loss {losses[0]:.4f} -> {losses[-1]:.4f}; samples {sample(params)}")


if __name__ == "__main__":
    main()
