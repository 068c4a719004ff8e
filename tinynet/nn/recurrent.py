"""Recurrent layers, as ``torch.nn``: RNN, GRU, LSTM and their one-step cells RNNCell, GRUCell, LSTMCell.

A recurrent layer reads a sequence one step at a time, carrying a hidden state h (for LSTM also a
cell state c) from each step to the next, with the same weights at every step. Equations, parameter
names and shapes, and initialisation are PyTorch's, so state dicts carry over.

Each step's gate pre-activations split into x_t W_ih^T, which does not depend on the previous step, and
h_{t-1} W_hh^T, which does. ``rnn_step``, ``gru_step`` and ``lstm_step`` below compose one step from ops:
the equations to read, which autograd differentiates (tests/test_kernels_recurrent.py checks the fused ops
against them). The layers compute the input's share for the whole sequence with one matmul, then run each
layer and direction as one fused op over all the time steps (``tinynet.functions.recurrent``: the same
equations in one kernel, with backpropagation through time written out in its backward), since composing
~15 small ops per step would spend nearly all the time on per-op overhead. A cell's call, as seq2seq decoders
and char-RNNs make it in a loop, is one op too (``CellStep``: the input's share and the layer's kernels over a
sequence of one step), whose weights' gradients backward sums over the calls as one product (autograd.ProductSum):
benchmarks/model_steps.py's lstmcell_loop, 20 calls of an LSTMCell with N = 32, H = 128, took 26 ms a training step
composed, 13.7 as one op, PyTorch's 14.0; grucell_loop (H = 256) 36-38 and 17.9, PyTorch's 20.7 (2 threads, the AMD
EPYC, 2026-12-08). tests/test_recurrent.py checks the cells against NumPy's equations and the layers against loops of
the cells.
"""

from __future__ import annotations

import math

from tinynet.errors import ArgumentError, DTypeError, ShapeError
from tinynet.functions.activations import relu, sigmoid, tanh
from tinynet.functions.linalg import matmul
from tinynet.functions.recurrent import cell_step, gru_sequence, lstm_sequence, rnn_sequence
from tinynet.functions.shape import cat, getitem, reshape, stack, transpose
from tinynet.nn import functional as F
from tinynet.nn import init
from tinynet.nn.module import Module, Parameter
from tinynet.tensor import Tensor, zeros

# --- one step of each kind ------------------------------------------------------------------------
# gi = x W_ih^T + b_ih is the input's share of every gate, (..., gates * H); w_hh_t = W_hh^T, (H, gates * H).
# The gates sit side by side along the last axis, in PyTorch's order.


def _hidden_share(h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    gh = matmul(h, w_hh_t)
    return gh if b_hh is None else gh + b_hh


def rnn_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None, nonlinearity: str = "tanh") -> Tensor:
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu. gi, h: (..., H) -> h': (..., H)."""
    pre = gi + _hidden_share(h, w_hh_t, b_hh)
    return relu(pre) if nonlinearity == "relu" else tanh(pre)


def gru_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    """One GRU step. gi: (..., 3H) (gates r, z, n), h: (..., H) -> h': (..., H).

    r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h' = (1 - z) ⊙ n + z ⊙ h,
    with gh = h W_hh^T + b_hh: the reset gate r scales the hidden share of n, its bias b_hn included.
    """
    size = h.shape[-1]
    gh = _hidden_share(h, w_hh_t, b_hh)
    r = sigmoid(gi[..., :size] + gh[..., :size])
    z = sigmoid(gi[..., size : 2 * size] + gh[..., size : 2 * size])
    n = tanh(gi[..., 2 * size :] + r * gh[..., 2 * size :])
    return n + z * (h - n)  # = (1 - z) n + z h, one op fewer


def lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """One LSTM step. gi: (..., 4H) (gates i, f, g, o), h, c: (..., H) -> (h', c'), each (..., H).

    i, f, o = σ(...), g = tanh(...) of gi + h W_hh^T + b_hh;  c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c').
    """
    size = h.shape[-1]
    gates = gi + _hidden_share(h, w_hh_t, b_hh)
    i = sigmoid(gates[..., :size])
    f = sigmoid(gates[..., size : 2 * size])
    g = tanh(gates[..., 2 * size : 3 * size])
    o = sigmoid(gates[..., 3 * size :])
    c = f * c + i * g
    return o * tanh(c), c


def _check_sizes(name: str, input_size: int, hidden_size: int) -> None:
    if not (isinstance(input_size, int) and input_size >= 0 and isinstance(hidden_size, int) and hidden_size > 0):
        raise ArgumentError(
            f"{name}: input_size must be an integer >= 0 and hidden_size one > 0, got {input_size} and {hidden_size}"
        )


def _check_floating(name: str, what: str, t: Tensor) -> None:
    if t.dtype.kind != "f":
        raise DTypeError(f"{name}: {what} must be floating point, got {t.dtype}")


def _reset_uniform(module: Module, hidden_size: int) -> None:
    # PyTorch's default for every recurrent weight and bias alike.
    bound = 1 / math.sqrt(hidden_size)
    for param in module.parameters():
        init.uniform_(param, -bound, bound)


# --- cells: one step ------------------------------------------------------------------------------


class _CellBase(Module):
    """Parameters weight_ih (gates*H, in), weight_hh (gates*H, H), bias_ih and bias_hh (gates*H,)."""

    gates, kind = 1, "rnn"  # kind: CellStep's

    def __init__(self, input_size: int, hidden_size: int, bias: bool) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gates * hidden_size
        self.weight_ih = Parameter(zeros(rows, input_size))
        self.weight_hh = Parameter(zeros(rows, hidden_size))
        self.bias_ih = Parameter(zeros(rows)) if bias else None
        self.bias_hh = Parameter(zeros(rows)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in PyTorch."""
        _reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _name(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def _check(self, x: Tensor, states: tuple[Tensor | None, ...]) -> None:
        """ShapeError unless x is (N, input_size) or (input_size,) and each given state (N, H) or (H,)."""
        name = self._name()
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: expected input of shape (N, {self.input_size}) or unbatched ({self.input_size},), "
                f"got {x.shape}"
            )
        _check_floating(name, "the input", x)
        expected = (*x.shape[:-1], self.hidden_size)
        for state in states:
            if state is not None and state.shape != expected:
                raise ShapeError(
                    f"{name}: expected a hidden state of shape {expected} for input {x.shape}, got {state.shape}"
                )

    def _step(self, x: Tensor, h: Tensor | None, c: Tensor | None = None, nonlinearity: str = "tanh") -> Tensor:
        """One CellStep over x: (N, input_size) -> h' (N, H), or (2, N, H) for an LSTM; an unbatched x and its states
        go in as a batch of one and come out as (H,) or (2, H)."""
        weights = (self.weight_ih, self.bias_ih, self.weight_hh, self.bias_hh)
        if x.ndim == 2:
            return cell_step(self.kind, x, *weights, h, c, nonlinearity)
        one = tuple(s if s is None else reshape(s, 1, self.hidden_size) for s in (h, c))
        out = cell_step(self.kind, reshape(x, 1, self.input_size), *weights, *one, nonlinearity)
        return getitem(out, (slice(None), 0) if self.kind == "lstm" else 0)


class RNNCell(_CellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    input: (N, input_size) or (input_size,); hx: (N, H) or (H,), zeros when None -> h': shaped like hx.
    """

    gates, kind = 1, "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002 (PyTorch's name)
        self._check(input, (hx,))
        return self._step(input, hx, nonlinearity=self.nonlinearity)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}")


class GRUCell(_CellBase):
    """One GRU step (see ``gru_step``). Gates r, z, n stacked in that order in the weights (3H rows).

    input: (N, input_size) or (input_size,); hx: (N, H) or (H,), zeros when None -> h': shaped like hx.
    """

    gates, kind = 3, "gru"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        self._check(input, (hx,))
        return self._step(input, hx)


class LSTMCell(_CellBase):
    """One LSTM step (see ``lstm_step``). Gates i, f, g, o stacked in that order in the weights (4H rows).

    input: (N, input_size) or (input_size,); hx: a pair (h, c), each (N, H) or (H,), zeros when None
    -> (h', c'), each shaped like h.
    """

    gates, kind = 4, "lstm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ShapeError(f"{self._name()}: hx must be a pair (h, c) of hidden and cell states, or None")
        h, c = (None, None) if hx is None else hx
        self._check(input, (h, c))
        both = self._step(input, h, c)
        return getitem(both, 0), getitem(both, 1)


# --- layers: whole sequences ----------------------------------------------------------------------


class _RNNBase(Module):
    """The multi-layer, optionally bidirectional loop shared by RNN, GRU and LSTM.

    Layer k, direction d has weight_ih_l{k}{_reverse} (gates*H, in_k) with in_0 = input_size and
    in_k = num_directions * H above, weight_hh_l{k}{_reverse} (gates*H, H), and the biases
    bias_ih_l{k}{_reverse}, bias_hh_l{k}{_reverse} (gates*H,). Subclasses set ``gates``, ``num_states``
    (1: h; 2: h and c) and ``_sequence``.
    """

    gates = 1
    num_states = 1

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN weight packing: nothing to pack here (tinynet keeps each weight as it is)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        if not (isinstance(num_layers, int) and num_layers >= 1):
            raise ArgumentError(f"{name}: num_layers must be an integer >= 1, got {num_layers}")
        if not 0 <= dropout <= 1:
            raise ArgumentError(
                f"{name}: dropout is a probability of zeroing a value and must be in [0, 1], got {dropout}"
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, dropout, bidirectional
        self.num_directions = 2 if bidirectional else 1
        rows = self.gates * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else self.num_directions * hidden_size
            for suffix in self._suffixes(layer):
                setattr(self, f"weight_ih{suffix}", Parameter(zeros(rows, layer_input)))
                setattr(self, f"weight_hh{suffix}", Parameter(zeros(rows, hidden_size)))
                if bias:
                    setattr(self, f"bias_ih{suffix}", Parameter(zeros(rows)))
                    setattr(self, f"bias_hh{suffix}", Parameter(zeros(rows)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in PyTorch."""
        _reset_uniform(self, self.hidden_size)

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.num_directions]

    def extra_repr(self) -> str:
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False}
        changed = [f"{key}={getattr(self, key)}" for key, value in defaults.items() if getattr(self, key) != value]
        return ", ".join([f"{self.input_size}, {self.hidden_size}", *self._extra_args(), *changed])

    def _extra_args(self) -> list[str]:
        return []

    def _name(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def _sequence(
        self, gi: Tensor, states: tuple[Tensor | None, ...], w_hh: Tensor, b_hh: Tensor | None, reverse: bool
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The recurrence over gi (T, N, gates*H) -> (outputs (T, N, H), final states, each (N, H))."""
        raise NotImplementedError

    def _run(self, input: Tensor, states) -> tuple[Tensor, tuple[Tensor, ...]]:  # noqa: A002
        """Every layer and direction over input (T, N, in). states: per state, (L*D, N, H) or None.

        Returns the last layer's output (T, N, D*H) and, per state, its final values (L*D, N, H).
        """
        x, finals = input, [[] for _ in range(self.num_states)]
        for layer in range(self.num_layers):
            if layer > 0:  # between layers, never after the last, as in PyTorch
                x = F.dropout(x, self.dropout, self.training)
            outputs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                index = layer * self.num_directions + direction
                initial = tuple(None if s is None else s[index] for s in states)  # None: zeros
                output, last = self._direction(x, initial, suffix, reverse=direction == 1)
                outputs.append(output)
                for final, state in zip(finals, last):
                    final.append(state)
            x = outputs[0] if len(outputs) == 1 else cat(outputs, dim=2)
        return x, tuple(stack(final) for final in finals)

    def _direction(
        self, x: Tensor, states: tuple[Tensor | None, ...], suffix: str, reverse: bool
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One layer in one direction. x: (T, N, in) -> (outputs (T, N, H), final states, each (N, H))."""
        length, batch, features = x.shape
        weight_ih, weight_hh = getattr(self, f"weight_ih{suffix}"), getattr(self, f"weight_hh{suffix}")
        bias_ih, bias_hh = getattr(self, f"bias_ih{suffix}", None), getattr(self, f"bias_hh{suffix}", None)
        # The input's share of every gate at every step, in one matmul: (T*N, in) -> (T, N, gates*H).
        gi = reshape(F.linear(reshape(x, length * batch, features), weight_ih, bias_ih), length, batch, -1)
        return self._sequence(gi, states, weight_hh, bias_hh, reverse)

    def _check_input(self, input: Tensor) -> bool:  # noqa: A002
        """Whether input is batched; a ShapeError naming the expected layout if it does not fit."""
        layout = "(N, T, {})" if self.batch_first else "(T, N, {})"
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ShapeError(
                f"{self._name()}: expected input of shape {layout.format(self.input_size)} or unbatched "
                f"(T, {self.input_size}), got {input.shape}"
            )
        time_axis = 1 if input.ndim == 3 and self.batch_first else 0
        if input.shape[time_axis] == 0:
            raise ShapeError(f"{self._name()}: the sequence is empty (T = 0 in input of shape {input.shape})")
        _check_floating(self._name(), "the input", input)
        return input.ndim == 3

    def _check_states(self, states, batch: int, batched: bool) -> None:
        layers = self.num_layers * self.num_directions
        expected = (layers, batch, self.hidden_size) if batched else (layers, self.hidden_size)
        for which, state in zip(("h0", "c0"), states):
            if state is not None and state.shape != expected:
                raise ShapeError(
                    f"{self._name()}: expected {which} of shape (num_layers * num_directions, N, hidden_size) = "
                    f"{expected}" + ("" if batched else " for unbatched input") + f", got {state.shape}"
                )

    def _forward(self, input: Tensor, states: tuple[Tensor | None, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:  # noqa: A002
        """Layout handling around ``_run``: batch_first and unbatched input in, the same layout out."""
        batched = self._check_input(input)
        x = transpose(input, 0, 1) if batched and self.batch_first else input
        if not batched:  # one sequence: a batch of one
            x = reshape(x, x.shape[0], 1, x.shape[1])
        self._check_states(states, x.shape[1], batched)
        if not batched:
            states = tuple(None if s is None else reshape(s, s.shape[0], 1, s.shape[1]) for s in states)
        output, finals = self._run(x, states)
        if not batched:
            output = reshape(output, output.shape[0], output.shape[2])
            finals = tuple(reshape(f, f.shape[0], f.shape[2]) for f in finals)
        elif self.batch_first:
            output = transpose(output, 0, 1)
        return output, finals


class RNN(_RNNBase):
    """A multi-layer Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    input: (T, N, input_size) ((N, T, input_size) when batch_first; (T, input_size) unbatched);
    hx: h0 (num_layers * D, N, H) ((num_layers * D, H) unbatched), zeros when None; D = 2 if bidirectional.
    Returns (output (T, N, D*H): the last layer's h_t at every step, both directions side by side;
    h_n (num_layers * D, N, H): every layer's and direction's final state).
    """

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.nonlinearity = nonlinearity

    def _extra_args(self) -> list[str]:
        return [] if self.nonlinearity == "tanh" else [f"nonlinearity={self.nonlinearity!r}"]

    def _sequence(self, gi, states, w_hh, b_hh, reverse):
        output = rnn_sequence(gi, w_hh, b_hh, states[0], self.nonlinearity, reverse)
        return output, (output[0 if reverse else -1],)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        output, (h_n,) = self._forward(input, (hx,))
        return output, h_n


class GRU(_RNNBase):
    """A multi-layer GRU (each step: see ``gru_step``), gates r, z, n stacked in the weights (3H rows).

    input: (T, N, input_size) ((N, T, input_size) when batch_first; (T, input_size) unbatched);
    hx: h0 (num_layers * D, N, H) ((num_layers * D, H) unbatched), zeros when None; D = 2 if bidirectional.
    Returns (output (T, N, D*H), h_n (num_layers * D, N, H)), as ``RNN``.
    """

    gates = 3

    def _sequence(self, gi, states, w_hh, b_hh, reverse):
        output = gru_sequence(gi, w_hh, b_hh, states[0], reverse)
        return output, (output[0 if reverse else -1],)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        output, (h_n,) = self._forward(input, (hx,))
        return output, h_n


class LSTM(_RNNBase):
    """A multi-layer LSTM (each step: see ``lstm_step``), gates i, f, g, o stacked in the weights (4H rows).

    input: (T, N, input_size) ((N, T, input_size) when batch_first; (T, input_size) unbatched);
    hx: a pair (h0, c0), each (num_layers * D, N, H) ((num_layers * D, H) unbatched), zeros when None.
    Returns (output (T, N, D*H), (h_n, c_n)), h_n and c_n each (num_layers * D, N, H).
    """

    gates = 4
    num_states = 2

    def _sequence(self, gi, states, w_hh, b_hh, reverse):
        output, c_last = lstm_sequence(gi, w_hh, b_hh, *states, reverse=reverse)
        return output, (output[0 if reverse else -1], c_last)

    def forward(
        self,
        input: Tensor,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ShapeError(f"{self._name()}: hx must be a pair (h0, c0) of hidden and cell states, or None")
        output, (h_n, c_n) = self._forward(input, (None, None) if hx is None else tuple(hx))
        return output, (h_n, c_n)
