"""A word-level language model in the style of pytorch/examples (LSTM/GRU/RNN or a TransformerEncoder).

The corpus is synthetic: a small grammar of sentences made with NumPy. Training is the original's manual SGD
(`p.data.add_(p.grad, alpha=-lr)`) with truncated backpropagation through time. The only tinynet-specific
lines are the imports. Run: python tests/programs/word_language_model.py [LSTM|GRU|RNN_TANH|RNN_RELU|Transformer]
"""

import math
import sys

import numpy as np

import tinynet as torch
import tinynet.nn as nn
import tinynet.nn.functional as F

ntokens = 12
emsize, nhid, nlayers = 16, 16, 2
bptt, batch_size, lr, clip = 6, 4, 2.0, 0.25


class RNNModel(nn.Module):
    """Encoder (embedding), a recurrent module, and a decoder (linear) to next-word log-probabilities."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.2, tie_weights=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ["LSTM", "GRU"]:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, tokens, hidden):
        emb = self.drop(self.encoder(tokens))  # (bptt, batch, ninp)
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


class PositionalEncoding(nn.Module):
    """Adds the sine/cosine position signal (a buffer, not a parameter) to the embeddings."""

    def __init__(self, d_model, dropout=0.1, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0).transpose(0, 1)  # (max_len, 1, d_model)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[: x.size(0), :]
        return self.dropout(x)


class TransformerModel(nn.Module):
    """Embedding, positional encoding, a causal TransformerEncoder, and a linear decoder."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.2):
        super().__init__()
        self.model_type = "Transformer"
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        encoder_layers = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers, enable_nested_tensor=False)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src):
        if self.src_mask is None or self.src_mask.size(0) != len(src):
            self.src_mask = nn.Transformer.generate_square_subsequent_mask(len(src))
        src = self.encoder(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, self.src_mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)


def make_corpus(n_words: int, seed: int = 0) -> torch.Tensor:
    """Word ids of a toy language: sentences "<s> det noun verb det noun ." from small vocabularies."""
    rng = np.random.default_rng(seed)
    ids = []
    while len(ids) < n_words:
        ids += [0, rng.integers(1, 3), rng.integers(3, 6), rng.integers(6, 9), rng.integers(1, 3), rng.integers(3, 6)]
        ids += [int(rng.integers(9, 12))]
    return torch.tensor(np.array(ids[:n_words], dtype=np.int64))


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()  # (nbatch, bsz): each column a stream


def get_batch(source, i):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i : i + seq_len]
    target = source[i + 1 : i + 1 + seq_len].view(-1)
    return data, target


def repackage_hidden(h):
    """Cuts the hidden state from the previous batch's graph (truncated backpropagation through time)."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def make_model(model_type: str = "LSTM", dropout: float = 0.2) -> nn.Module:
    if model_type == "Transformer":
        return TransformerModel(ntokens, emsize, 2, nhid, nlayers, dropout)
    return RNNModel(model_type, ntokens, emsize, nhid, nlayers, dropout, tie_weights=model_type == "LSTM")


def train(model: nn.Module, steps: int = 6) -> list[float]:
    """`steps` truncated-BPTT windows of manual SGD with gradient clipping; returns each window's loss."""
    train_data = batchify(make_corpus(batch_size * (steps * bptt + 1)), batch_size)
    criterion = nn.NLLLoss()
    model.train()
    is_transformer = getattr(model, "model_type", None) == "Transformer"
    if not is_transformer:
        hidden = model.init_hidden(batch_size)
    losses = []
    for i in range(0, train_data.size(0) - 1, bptt):
        data, targets = get_batch(train_data, i)
        model.zero_grad()
        if is_transformer:
            output = model(data)
            output = output.view(-1, ntokens)
        else:
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()

        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return losses


def main() -> None:
    torch.manual_seed(0)
    model_type = sys.argv[1] if len(sys.argv) > 1 else "LSTM"
    losses = train(make_model(model_type), steps=40)
    print(f"{model_type}: loss {losses[0]:.4f} -> {losses[-1]:.4f}, ppl {math.exp(losses[-1]):.2f}")


if __name__ == "__main__":
    main()
