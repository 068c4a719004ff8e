"""Transformer layers, as ``torch.nn``'s: TransformerEncoderLayer and TransformerDecoderLayer, the stacks of them
TransformerEncoder and TransformerDecoder, and the whole encoder-decoder Transformer.

Each sublayer (attention, feed-forward) is wrapped in a residual connection and a LayerNorm: after
the sum in the original post-norm design (``norm_first=False``: x = norm(x + sublayer(x))), or
before the sublayer in pre-norm (``norm_first=True``: x = x + sublayer(norm(x))), which trains more
stably in deep stacks. Masks follow MultiheadAttention's convention: bool True = may NOT attend.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from tinynet.dtypes import get_default_dtype
from tinynet.errors import ArgumentError, ShapeError
from tinynet.nn import functional as F
from tinynet.nn import init
from tinynet.nn.attention import MultiheadAttention
from tinynet.nn.container import ModuleList
from tinynet.nn.dropout import Dropout
from tinynet.nn.layers import Linear
from tinynet.nn.module import Module
from tinynet.nn.normalization import LayerNorm
from tinynet.tensor import Tensor, tensor

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise ArgumentError(f"activation must be one of {sorted(ACTIVATIONS)} or a function, got {activation!r}")
    return ACTIVATIONS[activation]


class TransformerEncoderLayer(Module):
    """Self-attention then a position-wise feed-forward network, each with residual + LayerNorm.

    src: (S, N, d_model) ((N, S, d_model) when batch_first; (S, d_model) unbatched) -> the same shape.
    Modules, as in PyTorch: self_attn, linear1 (d_model -> dim_feedforward), dropout, linear2
    (dim_feedforward -> d_model), norm1, norm2, dropout1, dropout2.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        """src_mask: (S, S) or (N * nhead, S, S); src_key_padding_mask: (N, S), True = padding."""
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x))

    def _self_attention(self, x: Tensor, mask, key_padding_mask, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )
        return self.dropout1(out)

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Masked self-attention, attention to the encoder's output (memory), then feed-forward; each with
    residual + LayerNorm.

    tgt: (T, N, d_model), memory: (S, N, d_model) (batch first when batch_first) -> tgt's shape.
    Modules, as in PyTorch: self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2, norm3,
    dropout1, dropout2, dropout3.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """tgt_mask: (T, T) (tgt_is_causal=True: the causal one); memory_mask: (T, S);
        tgt_key_padding_mask: (N, T), memory_key_padding_mask: (N, S), True = padding."""
        x = tgt
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._cross_attention(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._feed_forward(self.norm3(x))
        x = self.norm1(x + self._self_attention(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._cross_attention(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._feed_forward(x))

    def _self_attention(self, x: Tensor, mask, key_padding_mask, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )
        return self.dropout1(out)

    def _cross_attention(self, x: Tensor, memory: Tensor, mask, key_padding_mask, is_causal: bool) -> Tensor:
        out, _ = self.multihead_attn(
            x,
            memory,
            memory,
            attn_mask=mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )
        return self.dropout2(out)

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clones(layer: Module, n: int) -> ModuleList:
    # Independent copies (deepcopy), as PyTorch: each layer starts from the same values but learns its own.
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """The causal mask (sz, sz): 0.0 on and below the diagonal, -inf above (position i sees 0..i)."""
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    mask = np.triu(np.full((sz, sz), -np.inf, dtype=dtype), k=1)
    return tensor(mask, dtype=dtype) if device is None else tensor(mask, dtype=dtype).to(device)


def _is_causal(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """PyTorch's reading of is_causal=None: True exactly when ``mask`` is the (size, size) causal mask (bool True
    or -inf above the diagonal, False or 0 elsewhere); the mask is still used, is_causal is only a hint."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    if mask.shape != (size, size):
        return False
    above = np.triu(np.ones((size, size), dtype=bool), k=1)
    values = mask.numpy()
    causal = above if values.dtype == bool else np.where(above, -np.inf, 0.0).astype(values.dtype)
    return bool(np.array_equal(values, causal))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer``, then ``norm`` (when given).

    src: (S, N, E) ((N, S, E) when the layers are batch_first) -> the same shape. Modules: layers (a ModuleList of
    the copies), norm. ``enable_nested_tensor`` is accepted and does nothing: PyTorch's nested-tensor fast path
    (eval, no grad) is a speed-up whose only visible effect is zeros at padded positions, which tinynet leaves
    computed. ``mask_check`` is accepted too.
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        """mask: (S, S) or (N * nhead, S, S); src_key_padding_mask: (N, S), True = padding. is_causal=None: True
        when ``mask`` is the causal mask."""
        batch_first = (
            getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False) if self.layers else False
        )
        seq_dim = 1 if batch_first and src.ndim == 3 else 0
        is_causal = _is_causal(mask, is_causal, src.shape[seq_dim])
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, then ``norm`` (when given).

    tgt: (T, N, E), memory: (S, N, E) (batch first when the layers are) -> tgt's shape. Modules: layers, norm.
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """tgt_mask: (T, T); memory_mask: (T, S); padding masks (N, T) and (N, S), True = padding."""
        batch_first = (
            getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False) if self.layers else False
        )
        seq_dim = 1 if batch_first and tgt.ndim == 3 else 0
        tgt_is_causal = _is_causal(tgt_mask, tgt_is_causal, tgt.shape[seq_dim])
        x = tgt
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=tgt_is_causal,
                memory_is_causal=memory_is_causal,
            )
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need", as ``torch.nn.Transformer``.

    src: (S, N, d_model), tgt: (T, N, d_model) ((N, S, E), (N, T, E) when batch_first) -> (T, N, d_model).
    Modules: encoder (TransformerEncoder with a final LayerNorm), decoder (TransformerDecoder with one), unless
    custom_encoder / custom_decoder replace them. Every parameter with more than one dim is Xavier-uniform
    initialised, as PyTorch. Embeddings and positional encodings are the caller's, as in PyTorch.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(*layer_args, bias=bias)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(*layer_args, bias=bias)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Encode src, then decode tgt attending to it. Masks as TransformerEncoder's and TransformerDecoder's."""
        batched = src.ndim == 3
        if batched and src.shape[0 if self.batch_first else 1] != tgt.shape[0 if self.batch_first else 1]:
            raise ShapeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ShapeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )
