"""The Transformer (Vaswani et al. 2017), one ``nn.Module`` per box of the paper's figure.

* :func:`scaled_dot_product_attention` - ``softmax(Q Kᵀ / √d_k) V`` with a mask;
* :func:`padding_mask` and :func:`causal_mask` - the two masks, as bool tensors that are True where a
  position may be attended (the convention of :func:`course_utils.attention.masked_softmax` and of
  ``F.scaled_dot_product_attention``; ``nn.MultiheadAttention`` uses the opposite one, True = blocked);
* :class:`MultiHeadAttention` (多头注意力) - h heads of width d_k = d / h, concatenated and projected;
* :class:`SinusoidalPositionalEncoding` and :class:`LearnedPositionalEncoding` (位置编码);
* :class:`TokenEmbedding` - a lookup table scaled by √d;
* :class:`PositionwiseFeedForward` - ``W₂ max(0, W₁ x + b₁) + b₂`` at every position;
* :class:`EncoderLayer` and :class:`DecoderLayer` - sublayers with residual connections and LayerNorm,
  after the residual (post-LN, the paper) or before the sublayer (pre-LN, ``norm_first=True``);
* :class:`Encoder` and :class:`Decoder` - N layers (plus a final LayerNorm with pre-LN);
* :class:`TransformerSeq2Seq` - the encoder-decoder for translation, with the course's decoding
  interface (``start`` / ``step``, see :mod:`course_utils.decoding`) and a key/value cache;
* :class:`TransformerLM` - the decoder alone (causal self-attention, no cross-attention): a language model;
* :func:`copy_from_torch` - copy the weights of PyTorch's ``nn.MultiheadAttention`` /
  ``nn.TransformerEncoderLayer`` / ... into these modules, to check them against PyTorch;
* :func:`inverse_sqrt_schedule` - the paper's learning rate: linear warm-up, then 1/√step.

Shape legend: B batch, S source length, T target length, d model width, h heads, d_k = d / h per head,
V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.attention import masked_softmax
from course_utils.rnn import _check_positive_int

__all__ = [
    "Decoder",
    "DecoderLayer",
    "Encoder",
    "EncoderLayer",
    "KVCache",
    "LMState",
    "LearnedPositionalEncoding",
    "MultiHeadAttention",
    "PositionwiseFeedForward",
    "SinusoidalPositionalEncoding",
    "TokenEmbedding",
    "TransformerLM",
    "TransformerSeq2Seq",
    "TransformerState",
    "attention_weights",
    "causal_mask",
    "copy_from_torch",
    "inverse_sqrt_schedule",
    "padding_mask",
    "scaled_dot_product_attention",
]


# --------------------------------------------------------------------------- checks


def _check_float(name: str, x: object, dims: int, owner: str, legend: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: {name} must be a tensor of shape {legend}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{owner}: {name} must be floating point (embeddings, not token ids), got {x.dtype}; "
            "embed token ids first"
        )
    if x.dim() != dims:
        raise ValueError(f"{owner}: {name} must have shape {legend}, got {tuple(x.shape)}")
    return x


def _check_mask(mask: object, shape: tuple[int, ...], owner: str) -> None:
    """``mask`` must be None or a bool tensor broadcastable to ``shape`` with as many dimensions."""
    if mask is None:
        return
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(
            f"{owner}: mask must be a bool tensor, True where a position may be attended, got {got}; "
            "build it with padding_mask(...) or causal_mask(...) (a float or 0/1 mask is ambiguous)"
        )
    if mask.dim() != len(shape) or any(m not in (1, n) for m, n in zip(mask.shape, shape, strict=True)):
        raise ValueError(
            f"{owner}: mask of shape {tuple(mask.shape)} does not fit the attention scores (B, h, T, S) = "
            f"{shape}: it needs 4 dimensions, each of the same size or 1, e.g. (B, 1, 1, S) for padding "
            "(padding_mask) and (1, 1, T, T) for the causal mask (causal_mask)"
        )


def _check_tokens(name: str, x: object, owner: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 2 or x.dtype not in (torch.long, torch.int):
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{owner}: {name} must be token ids, a (B, T) long tensor, got {got}")
    return x


# --------------------------------------------------------------------------- attention


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, dropout: nn.Module | None = None
) -> tuple[Tensor, Tensor]:
    """``softmax(Q Kᵀ / √d_k) V``: q (..., T, d_k), k (..., S, d_k), v (..., S, d_v) -> (output (..., T, d_v),
    weights (..., T, S)). ``mask`` bool, True where attending is allowed, broadcastable to the weights
    and with as many dimensions; masked positions get weight exactly 0."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        _check_float(name, x, q.dim() if isinstance(q, Tensor) else 2, "scaled_dot_product_attention",
                     "(..., length, features)")  # fmt: skip
    if q.dim() < 2 or k.shape[-1] != q.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            "scaled_dot_product_attention: need q (..., T, d_k), k (..., S, d_k), v (..., S, d_v), got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T, S)
    weights = masked_softmax(scores, mask)  # (..., T, S), rows sum to 1 over allowed positions
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights  # (..., T, d_v), (..., T, S)


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(B, 1, 1, S) bool, True at the first ``lengths[b]`` positions of sentence b (its real tokens)."""
    if not isinstance(lengths, Tensor) or lengths.dim() != 1 or lengths.is_floating_point():
        raise ValueError(f"padding_mask: lengths must be a (B,) integer tensor, got {lengths!r}")
    _check_positive_int(max_len, "max_len")
    if len(lengths) and (int(lengths.min()) < 1 or int(lengths.max()) > max_len):
        raise ValueError(
            f"padding_mask: every length must be in [1, {max_len}] (the padded length), got "
            f"{lengths.min().item()}..{lengths.max().item()}"
        )
    positions = torch.arange(max_len, device=lengths.device)
    return (positions[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, S)


def causal_mask(size: int, device: torch.device | str | None = None) -> Tensor:
    """(1, 1, T, T) bool, lower triangular: position t may attend to positions 0..t, never to later ones."""
    _check_positive_int(size, "size")
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()[None, None]


def _fused_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float) -> Tensor:
    """``F.scaled_dot_product_attention`` (B, h, T, d_k); in float32 when a CPU autocast made q bfloat16: PyTorch's
    fused CPU kernel is slow in bfloat16 (its backward about 25x slower than in float32 on a CPU with AMX),
    while the projections around it gain from bfloat16."""
    if q.device.type == "cpu" and q.dtype == torch.bfloat16:
        with torch.autocast("cpu", enabled=False):
            out = F.scaled_dot_product_attention(
                q.float(), k.float(), v.float(), attn_mask=mask, dropout_p=dropout_p
            )
        return out.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


class MultiHeadAttention(nn.Module):
    """``MultiHead(Q, K, V) = Concat(head_1..head_h) W_O``, ``head_i = Attention(Q W_Qi, K W_Ki, V W_Vi)``.

    The h projections W_Qi (d × d_k) sit side by side in one d × d linear layer ``w_q`` (same for K, V).
    ``forward(query (B, T, d), key (B, S, d), value (B, S, d), mask) -> (output (B, T, d), weights)`` with
    weights (B, h, T, S) when ``need_weights=True``, else None (then the fused
    ``F.scaled_dot_product_attention`` computes the same output, faster). :meth:`keys_values` and
    :meth:`attend` split the work so that a decoder can cache keys and values (:class:`KVCache`).
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        _check_positive_int(d_model, "d_model")
        _check_positive_int(num_heads, "num_heads")
        if d_model % num_heads:
            raise ValueError(
                f"d_model = {d_model} is not divisible by num_heads = {num_heads}: each head gets d_model / "
                f"num_heads features; choose e.g. num_heads in "
                f"{[h for h in range(1, min(d_model, 16) + 1) if d_model % h == 0]}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.d_model, self.num_heads, self.d_k = d_model, num_heads, d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.keep_weights = False  # when True, every call stores its weights (B, h, T, S) in last_weights
        self.last_weights: Tensor | None = None

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, d) -> (B, h, T, d_k)."""
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.d_k).transpose(1, 2)

    def merge_heads(self, x: Tensor) -> Tensor:
        """(B, h, T, d_k) -> (B, T, d): the concatenation of the heads."""
        B, _, T, _ = x.shape
        return x.transpose(1, 2).reshape(B, T, self.d_model)

    def _check_input(self, name: str, x: object) -> Tensor:
        x = _check_float(name, x, 3, "MultiHeadAttention", f"(B, length, d={self.d_model})")
        if x.shape[-1] != self.d_model:
            raise ValueError(
                f"MultiHeadAttention: {name} must have d = {self.d_model} features, got shape {tuple(x.shape)}"
            )
        return x

    def keys_values(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """The projected keys and values, split into heads: (B, h, S, d_k) each."""
        self._check_input("key", key)
        self._check_input("value", value)
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(
                f"MultiHeadAttention: key {tuple(key.shape)} and value {tuple(value.shape)} differ"
            )
        return self.split_heads(self.w_k(key)), self.split_heads(self.w_v(value))

    def attend(
        self, query: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Attention of ``query`` (B, T, d) over projected keys and values (B, h, S, d_k)."""
        self._check_input("query", query)
        B, T, _ = query.shape
        _check_mask(mask, (B, self.num_heads, T, k.shape[2]), "MultiHeadAttention")
        q = self.split_heads(self.w_q(query))  # (B, h, T, d_k)
        if need_weights or self.keep_weights:
            heads, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)
        else:
            if mask is not None and not bool(mask.any(dim=-1).all()):  # the fused kernel would return NaN
                raise ValueError(
                    "MultiHeadAttention: the mask leaves a query with no position to attend (a row of the "
                    "mask is all False); every sentence needs at least one real token"
                )
            heads, weights = _fused_attention(q, k, v, mask, self.dropout.p if self.training else 0.0), None
        if self.keep_weights:
            self.last_weights = weights.detach()
        return self.w_o(self.merge_heads(heads)), weights if need_weights else None  # (B, T, d), (B, h, T, S)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """(output (B, T, d), weights (B, h, T, S) or None); see the class docstring."""
        return self.attend(query, *self.keys_values(key, value), mask, need_weights)


# --------------------------------------------------------------------------- embeddings and positions


class TokenEmbedding(nn.Module):
    """Token ids (B, T) -> vectors (B, T, d), multiplied by √d as in the paper (section 3.4)."""

    def __init__(self, vocab_size: int, d_model: int, pad_idx: int | None = None) -> None:
        super().__init__()
        _check_positive_int(vocab_size, "vocab_size")
        _check_positive_int(d_model, "d_model")
        self.lookup = nn.Embedding(vocab_size, d_model, padding_idx=pad_idx)
        nn.init.normal_(self.lookup.weight, std=d_model**-0.5)  # so that √d · e has unit scale
        if pad_idx is not None:
            with torch.no_grad():
                self.lookup.weight[pad_idx].zero_()
        self.scale = math.sqrt(d_model)

    def forward(self, tokens: Tensor) -> Tensor:
        _check_tokens("tokens", tokens, "TokenEmbedding")
        V = self.lookup.num_embeddings
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= V):
            raise ValueError(
                f"TokenEmbedding: token ids must be in [0, {V}), got {int(tokens.min())}..{int(tokens.max())}"
            )
        return self.lookup(tokens) * self.scale  # (B, T, d)


def _check_positions(x: Tensor, offset: int, max_len: int, owner: str) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"{owner}: offset must be an int >= 0, got {offset!r}")
    if offset + x.shape[1] > max_len:
        raise ValueError(
            f"{owner}: positions {offset}..{offset + x.shape[1] - 1} do not fit the table of max_len = {max_len} "
            f"positions; build the model with a larger max_len or feed shorter sequences"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """Adds ``PE(pos, 2i) = sin(pos / 10000^(2i/d))``, ``PE(pos, 2i+1) = cos(pos / 10000^(2i/d))``.

    ``forward(x (B, T, d), offset=0)`` adds the rows ``offset .. offset+T-1`` (``offset`` > 0 when decoding
    one token at a time). ``pe`` (max_len, d) is a buffer: fixed, not learned.
    """

    def __init__(self, d_model: int, max_len: int = 256) -> None:
        super().__init__()
        _check_positive_int(d_model, "d_model")
        _check_positive_int(max_len, "max_len")
        if d_model % 2:
            raise ValueError(f"d_model must be even (sine and cosine pairs), got {d_model}")
        pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
        freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d/2,)
        pe = torch.zeros(max_len, d_model, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(pos * freq)
        pe[:, 1::2] = torch.cos(pos * freq)
        self.register_buffer("pe", pe.float(), persistent=False)
        self.max_len = max_len

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        _check_float("x", x, 3, "SinusoidalPositionalEncoding", "(B, T, d)")
        _check_positions(x, offset, self.max_len, "SinusoidalPositionalEncoding")
        return x + self.pe[offset : offset + x.shape[1]]  # (B, T, d)


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned vector per position (as in BERT and GPT): an ``nn.Embedding(max_len, d)``."""

    def __init__(self, d_model: int, max_len: int = 256) -> None:
        super().__init__()
        _check_positive_int(d_model, "d_model")
        _check_positive_int(max_len, "max_len")
        self.table = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.table.weight, std=0.02)
        self.max_len = max_len

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        _check_float("x", x, 3, "LearnedPositionalEncoding", "(B, T, d)")
        _check_positions(x, offset, self.max_len, "LearnedPositionalEncoding")
        positions = torch.arange(offset, offset + x.shape[1], device=x.device)
        return x + self.table(positions)  # (B, T, d)


# --------------------------------------------------------------------------- the layers


class PositionwiseFeedForward(nn.Module):
    """``FFN(x) = W₂ max(0, W₁ x + b₁) + b₂``, the same two layers at every position: (B, T, d) -> (B, T, d)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(self.dropout(torch.relu(self.w_1(x))))


@dataclass
class KVCache:
    """What one decoder layer keeps between decoding steps: the keys and values of its self-attention for
    the tokens so far (B, h, t, d_k), and those of its cross-attention over the source (B, h, S, d_k),
    computed once. ``None`` until the first step / for a decoder-only model."""

    self_k: Tensor | None = None
    self_v: Tensor | None = None
    cross_k: Tensor | None = None
    cross_v: Tensor | None = None


def _self_attention(
    attn: MultiHeadAttention, x: Tensor, mask: Tensor | None, cache: KVCache | None
) -> Tensor:
    """Self-attention of ``x`` (B, T, d); with a cache, x holds only the new positions, whose keys and
    values are appended to the cache's (which then updates in place) and which attend to all of them."""
    if cache is None:
        return attn(x, x, x, mask)[0]
    k, v = attn.keys_values(x, x)  # (B, h, T_new, d_k)
    if cache.self_k is not None:
        k, v = torch.cat([cache.self_k, k], dim=2), torch.cat([cache.self_v, v], dim=2)
    cache.self_k, cache.self_v = k, v
    return attn.attend(x, k, v, mask)[0]


class EncoderLayer(nn.Module):
    """Self-attention and a feed-forward network, each in a residual connection with LayerNorm.

    Post-LN (the paper): ``x = LayerNorm(x + Sublayer(x))``. Pre-LN (``norm_first=True``):
    ``x = x + Sublayer(LayerNorm(x))``, which trains stably without a long warm-up.
    ``forward(x (B, S, d), mask) -> (B, S, d)``; mask e.g. :func:`padding_mask` (B, 1, 1, S).
    """

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False
    ) -> None:
        super().__init__()
        # dropout where the paper puts it (section 5.4): on each sublayer's output, before the residual sum
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.ffn = PositionwiseFeedForward(d_model, d_ff)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: Tensor, mask: Tensor | None = None, cache: KVCache | None = None) -> Tensor:
        # a decoder-only language model uses this layer with a causal mask (and a cache when generating)
        if self.norm_first:
            x = x + self.dropout1(_self_attention(self.self_attn, self.norm1(x), mask, cache))
            x = x + self.dropout2(self.ffn(self.norm2(x)))
        else:
            x = self.norm1(x + self.dropout1(_self_attention(self.self_attn, x, mask, cache)))
            x = self.norm2(x + self.dropout2(self.ffn(x)))
        return x  # (B, S, d)


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder's output (the memory), a feed-forward network.

    ``forward(y (B, T, d), memory (B, S, d), tgt_mask, memory_mask, cache=None) -> (B, T, d)``: tgt_mask
    the causal mask (1, 1, T, T), memory_mask the source padding mask (B, 1, 1, S). With a
    :class:`KVCache`, ``y`` holds only the new positions: the cache supplies the keys and values of the
    earlier ones (and of the memory, computed on the first call), and is updated in place.
    """

    def __init__(
        self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads)  # dropout as in EncoderLayer
        self.cross_attn = MultiHeadAttention(d_model, num_heads)
        self.ffn = PositionwiseFeedForward(d_model, d_ff)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))
        self.norm_first = norm_first

    def _cross_attention(
        self, y: Tensor, memory: Tensor, memory_mask: Tensor | None, cache: KVCache | None
    ) -> Tensor:
        if cache is None:
            k, v = self.cross_attn.keys_values(memory, memory)
        else:
            if cache.cross_k is None:
                cache.cross_k, cache.cross_v = self.cross_attn.keys_values(memory, memory)
            k, v = cache.cross_k, cache.cross_v
        return self.cross_attn.attend(y, k, v, memory_mask)[0]

    def forward(
        self,
        y: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        if self.norm_first:
            y = y + self.dropout1(_self_attention(self.self_attn, self.norm1(y), tgt_mask, cache))
            y = y + self.dropout2(self._cross_attention(self.norm2(y), memory, memory_mask, cache))
            y = y + self.dropout3(self.ffn(self.norm3(y)))
        else:
            y = self.norm1(y + self.dropout1(_self_attention(self.self_attn, y, tgt_mask, cache)))
            y = self.norm2(y + self.dropout2(self._cross_attention(y, memory, memory_mask, cache)))
            y = self.norm3(y + self.dropout3(self.ffn(y)))
        return y  # (B, T, d)


class _Stack(nn.Module):
    """N layers of ``layer_cls``; with pre-LN a final LayerNorm (the residual stream is otherwise never normalised)."""

    layer_cls: type[nn.Module]

    def __init__(
        self, num_layers: int, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1,
        norm_first: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        _check_positive_int(num_layers, "num_layers")
        self.layers = nn.ModuleList(
            self.layer_cls(d_model, num_heads, d_ff, dropout, norm_first) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model) if norm_first else None


class Encoder(_Stack):
    """N encoder layers; with pre-LN a final LayerNorm."""

    layer_cls = EncoderLayer

    def forward(self, x: Tensor, mask: Tensor | None = None, caches: list[KVCache] | None = None) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, None if caches is None else caches[i])
        return x if self.norm is None else self.norm(x)  # (B, S, d)


class Decoder(_Stack):
    """N decoder layers; with pre-LN a final LayerNorm."""

    layer_cls = DecoderLayer

    def forward(
        self,
        y: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        caches: list[KVCache] | None = None,
    ) -> Tensor:
        for i, layer in enumerate(self.layers):
            y = layer(y, memory, tgt_mask, memory_mask, None if caches is None else caches[i])
        return y if self.norm is None else self.norm(y)  # (B, T, d)


# --------------------------------------------------------------------------- the models


@dataclass
class TransformerState:
    """The decoding state of :class:`TransformerSeq2Seq` (every tensor batch first, for beam search).

    ``memory`` (B, S, d) the encoder output; ``memory_mask`` (B, 1, 1, S); ``tokens`` (B, t) the tokens fed
    so far; ``caches`` one :class:`KVCache` per decoder layer (empty when the model recomputes);
    ``weights`` (B, S) the last layer's cross-attention for the latest token, averaged over heads.
    """

    memory: Tensor
    memory_mask: Tensor
    tokens: Tensor
    caches: list[KVCache] = field(default_factory=list)
    weights: Tensor | None = None


def _check_src(src: object, src_len: object, owner: str) -> tuple[Tensor, Tensor]:
    src = _check_tokens("src", src, owner)
    if not isinstance(src_len, Tensor) or src_len.shape != (src.shape[0],) or src_len.is_floating_point():
        got = (
            f"{src_len.dtype} {tuple(src_len.shape)}"
            if isinstance(src_len, Tensor)
            else type(src_len).__name__
        )
        raise ValueError(f"{owner}: src_len must be a (B,) = ({src.shape[0]},) integer tensor, got {got}")
    return src, src_len


def _check_step_tokens(tokens: object, batch: int) -> None:
    if not isinstance(tokens, Tensor) or tokens.shape != (batch,) or tokens.is_floating_point():
        raise ValueError(f"step: tokens must be a (B,) = ({batch},) tensor of token ids, got {tokens!r}")


def _xavier(module: nn.Module) -> None:
    """Xavier-uniform init of every weight matrix, as nn.Transformer and the paper's reference code do."""
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


def _generator(d_model: int, embedding: TokenEmbedding, vocab_size: int, tie: bool) -> nn.Linear:
    out = nn.Linear(d_model, vocab_size, bias=False)
    if tie:  # Press & Wolf 2017: the output layer reuses the target embedding matrix
        out.weight = embedding.lookup.weight
    return out


class TransformerSeq2Seq(nn.Module):
    """The encoder-decoder Transformer for translation, built from the boxes above.

    ``forward(src (B, S), src_len (B,), tgt_in (B, T)) -> logits (B, T, V)`` (teacher forcing, the batches
    of :func:`course_utils.translation.make_loader`). The decoding interface: ``start(src, src_len)``
    encodes once; ``step(tokens (B,), state) -> (log-probabilities (B, V), state)``. With ``use_cache``
    (default) a step runs the decoder on the new token only, reusing the cached keys and values
    (:class:`KVCache`); without it, a step re-runs the decoder over every token so far.
    ``tie_embeddings`` shares the target embedding with the output layer.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        *,
        pad_idx: int,
        d_model: int = 256,
        num_heads: int = 8,
        num_encoder_layers: int = 3,
        num_decoder_layers: int = 3,
        d_ff: int = 1024,
        dropout: float = 0.1,
        norm_first: bool = True,
        max_len: int = 256,
        tie_embeddings: bool = True,
        learned_positions: bool = False,
    ) -> None:
        super().__init__()
        self.src_embed = TokenEmbedding(src_vocab_size, d_model, pad_idx)
        self.tgt_embed = TokenEmbedding(tgt_vocab_size, d_model, pad_idx)
        position = LearnedPositionalEncoding if learned_positions else SinusoidalPositionalEncoding
        self.src_position, self.tgt_position = position(d_model, max_len), position(d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        self.encoder = Encoder(num_encoder_layers, d_model, num_heads, d_ff, dropout, norm_first)
        self.decoder = Decoder(num_decoder_layers, d_model, num_heads, d_ff, dropout, norm_first)
        self.generator = _generator(d_model, self.tgt_embed, tgt_vocab_size, tie_embeddings)
        self.pad_idx, self.tgt_vocab_size = pad_idx, tgt_vocab_size
        self.use_cache = True
        _xavier(self.encoder)
        _xavier(self.decoder)

    def encode(self, src: Tensor, src_len: Tensor) -> tuple[Tensor, Tensor]:
        """(memory (B, S, d), memory_mask (B, 1, 1, S))."""
        src, src_len = _check_src(src, src_len, type(self).__name__)
        mask = padding_mask(src_len.to(src.device), src.shape[1])  # (B, 1, 1, S)
        x = self.dropout(self.src_position(self.src_embed(src)))  # (B, S, d)
        return self.encoder(x, mask), mask

    def decode(
        self, tgt_in: Tensor, memory: Tensor, memory_mask: Tensor, caches: list[KVCache] | None = None,
        offset: int = 0,
    ) -> Tensor:  # fmt: skip
        """Decoder output (B, T, d) for target tokens (B, T) at positions offset.. offset+T-1."""
        y = self.dropout(self.tgt_position(self.tgt_embed(tgt_in), offset))  # (B, T, d)
        tgt_mask = causal_mask(tgt_in.shape[1], tgt_in.device) if caches is None else None
        return self.decoder(y, memory, tgt_mask, memory_mask, caches)

    def forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        _check_tokens("tgt_in", tgt_in, type(self).__name__)
        if tgt_in.shape[0] != src.shape[0]:
            raise ValueError(f"tgt_in has {tgt_in.shape[0]} sentences but src has {src.shape[0]}")
        memory, memory_mask = self.encode(src, src_len)
        return self.generator(self.decode(tgt_in, memory, memory_mask))  # (B, T, V)

    def start(self, src: Tensor, src_len: Tensor) -> TransformerState:
        memory, memory_mask = self.encode(src, src_len)
        B = src.shape[0]
        caches = [KVCache() for _ in self.decoder.layers] if self.use_cache else []
        tokens = torch.zeros(B, 0, dtype=torch.long, device=src.device)
        return TransformerState(memory, memory_mask, tokens, caches)

    def step(self, tokens: Tensor, state: TransformerState) -> tuple[Tensor, TransformerState]:
        B = state.memory.shape[0]
        _check_step_tokens(tokens, B)
        history = torch.cat([state.tokens, tokens[:, None].to(state.tokens)], dim=1)  # (B, t)
        last = self.decoder.layers[-1].cross_attn
        last.keep_weights = True
        try:
            if state.caches:  # the new token only; the caches (copied, so `state` stays valid) do the rest
                caches = [KVCache(c.self_k, c.self_v, c.cross_k, c.cross_v) for c in state.caches]
                y = self.decode(
                    tokens[:, None], state.memory, state.memory_mask, caches, history.shape[1] - 1
                )
            else:
                caches = []
                y = self.decode(history, state.memory, state.memory_mask)[:, -1:]
            weights = last.last_weights[:, :, -1].float().mean(dim=1)  # (B, S)
        finally:
            last.keep_weights, last.last_weights = False, None
        logits = self.generator(y[:, 0])  # (B, V)
        state = TransformerState(state.memory, state.memory_mask, history, caches, weights)
        return torch.log_softmax(logits.float(), dim=-1), state


@dataclass
class LMState:
    """The decoding state of :class:`TransformerLM`: tokens so far (B, t) and one cache per layer."""

    tokens: Tensor
    caches: list[KVCache] = field(default_factory=list)


class TransformerLM(nn.Module):
    """The decoder alone: token embedding, positions, N layers of causal self-attention and a FFN (no
    cross-attention: there is no source), a final LayerNorm with pre-LN, and the output layer.

    ``forward(tokens (B, T)) -> logits (B, T, V)``: position t predicts token t+1 from tokens 0..t; the
    logits of the ids in ``never_predict`` (e.g. ``<pad>``, ``<bos>``) are -inf. The
    decoding interface: ``start(context (B, t0))`` reads what comes before the first step's token (t0 may
    be 0) and returns a state; ``step(tokens (B,), state)`` feeds one token each and returns the next
    token's log-probabilities (with a :class:`KVCache` per layer).
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        pad_idx: int | None = None,
        d_model: int = 256,
        num_heads: int = 8,
        num_layers: int = 4,
        d_ff: int = 1024,
        dropout: float = 0.1,
        norm_first: bool = True,
        max_len: int = 256,
        tie_embeddings: bool = True,
        never_predict: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.embed = TokenEmbedding(vocab_size, d_model, pad_idx)
        self.position = SinusoidalPositionalEncoding(d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        self.layers = Encoder(num_layers, d_model, num_heads, d_ff, dropout, norm_first)
        self.generator = _generator(d_model, self.embed, vocab_size, tie_embeddings)
        self.vocab_size = vocab_size
        if any(
            isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < vocab_size for i in never_predict
        ):
            raise ValueError(f"never_predict must hold token ids in [0, {vocab_size}), got {never_predict!r}")
        blocked = torch.zeros(vocab_size, dtype=torch.bool)
        blocked[list(never_predict)] = True
        self.register_buffer("blocked", blocked, persistent=False)
        _xavier(self.layers)

    def _run(self, tokens: Tensor, caches: list[KVCache] | None, offset: int) -> Tensor:
        x = self.dropout(self.position(self.embed(tokens), offset))  # (B, T, d)
        mask = causal_mask(tokens.shape[1], tokens.device) if tokens.shape[1] > 1 else None
        logits = self.generator(self.layers(x, mask, caches))  # (B, T, V)
        return logits.masked_fill(self.blocked, float("-inf"))  # tokens never predicted get probability 0

    def forward(self, tokens: Tensor) -> Tensor:
        _check_tokens("tokens", tokens, type(self).__name__)
        return self._run(tokens, None, 0)

    def start(self, context: Tensor) -> LMState:
        """Read ``context`` (B, t0), t0 >= 0 (e.g. ``<bos>`` and a prompt without its last word, or (B, 0));
        the first :meth:`step` feeds the token that follows it."""
        _check_tokens("context", context, type(self).__name__)
        caches = [KVCache() for _ in self.layers.layers]
        if context.shape[1]:
            self._run(context, caches, 0)
        return LMState(context, caches)

    def step(self, tokens: Tensor, state: LMState) -> tuple[Tensor, LMState]:
        B = state.tokens.shape[0]
        _check_step_tokens(tokens, B)
        caches = [KVCache(c.self_k, c.self_v) for c in state.caches]
        logits = self._run(tokens[:, None], caches, state.tokens.shape[1])[:, 0]  # (B, V)
        history = torch.cat([state.tokens, tokens[:, None].to(state.tokens)], dim=1)
        return torch.log_softmax(logits.float(), dim=-1), LMState(history, caches)


@torch.no_grad()
def attention_weights(model: nn.Module, *inputs: Tensor) -> dict[str, Tensor]:
    """Run ``model(*inputs)`` once in eval mode and return the weights (B, h, T, S) of every
    :class:`MultiHeadAttention` inside it, by module name (e.g. ``"encoder.layers.0.self_attn"``,
    ``"decoder.layers.2.cross_attn"``)."""
    attns = {name: m for name, m in model.named_modules() if isinstance(m, MultiHeadAttention)}
    if not attns:
        raise ValueError(f"{type(model).__name__} has no MultiHeadAttention module")
    was_training = model.training
    model.eval()
    try:
        for m in attns.values():
            m.keep_weights = True
        model(*inputs)
        return {name: m.last_weights for name, m in attns.items()}
    finally:
        for m in attns.values():
            m.keep_weights, m.last_weights = False, None
        model.train(was_training)


# --------------------------------------------------------------------------- training


def inverse_sqrt_schedule(step: int, *, d_model: int, warmup_steps: int, factor: float = 1.0) -> float:
    """The paper's learning rate at ``step`` (counted from 1): ``factor · d^-0.5 · min(step^-0.5,
    step · warmup^-1.5)``, rising linearly for ``warmup_steps`` steps and then falling as 1/√step."""
    _check_positive_int(step, "step")
    _check_positive_int(d_model, "d_model")
    _check_positive_int(warmup_steps, "warmup_steps")
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


# --------------------------------------------------------------------------- PyTorch's modules


def copy_from_torch(ours: nn.Module, theirs: nn.Module) -> None:
    """Copy the weights of a PyTorch module into the matching module here (in place), to compare outputs:
    ``nn.MultiheadAttention`` -> :class:`MultiHeadAttention`, ``nn.TransformerEncoderLayer`` ->
    :class:`EncoderLayer`, ``nn.TransformerDecoderLayer`` -> :class:`DecoderLayer`,
    ``nn.TransformerEncoder`` -> :class:`Encoder`, ``nn.TransformerDecoder`` -> :class:`Decoder`."""
    pairs = {
        MultiHeadAttention: nn.MultiheadAttention,
        EncoderLayer: nn.TransformerEncoderLayer,
        DecoderLayer: nn.TransformerDecoderLayer,
        Encoder: nn.TransformerEncoder,
        Decoder: nn.TransformerDecoder,
    }
    expected = pairs.get(type(ours))
    if expected is None or not isinstance(theirs, expected):
        raise TypeError(
            f"copy_from_torch: cannot copy a {type(theirs).__name__} into a {type(ours).__name__}; pairs: "
            + ", ".join(f"{b.__name__} -> {a.__name__}" for a, b in pairs.items())
        )
    with torch.no_grad():
        _copy(ours, theirs)


def _copy_linear(ours: nn.Linear, weight: Tensor, bias: Tensor | None) -> None:
    if ours.weight.shape != weight.shape:
        raise ValueError(
            f"copy_from_torch: shapes differ, {tuple(ours.weight.shape)} vs {tuple(weight.shape)}"
        )
    ours.weight.copy_(weight)
    if ours.bias is not None and bias is not None:
        ours.bias.copy_(bias)


def _copy(ours: nn.Module, theirs: nn.Module) -> None:
    if isinstance(ours, MultiHeadAttention):
        if theirs.in_proj_weight is None or not theirs.batch_first:
            raise ValueError(
                "copy_from_torch: nn.MultiheadAttention must have batch_first=True and kdim = vdim = d"
            )
        w, b = theirs.in_proj_weight.chunk(3), (theirs.in_proj_bias.chunk(3) if theirs.in_proj_bias is not None
                                                 else (None, None, None))  # fmt: skip
        for lin, wi, bi in zip((ours.w_q, ours.w_k, ours.w_v), w, b, strict=True):
            _copy_linear(lin, wi, bi)
        _copy_linear(ours.w_o, theirs.out_proj.weight, theirs.out_proj.bias)
        return
    if isinstance(ours, (EncoderLayer, DecoderLayer)):
        if ours.norm_first != theirs.norm_first:
            raise ValueError(
                f"copy_from_torch: norm_first differs (ours {ours.norm_first}, PyTorch's {theirs.norm_first})"
            )
        _copy(ours.self_attn, theirs.self_attn)
        if isinstance(ours, DecoderLayer):
            _copy(ours.cross_attn, theirs.multihead_attn)
            ours.norm3.load_state_dict(theirs.norm3.state_dict())
        _copy_linear(ours.ffn.w_1, theirs.linear1.weight, theirs.linear1.bias)
        _copy_linear(ours.ffn.w_2, theirs.linear2.weight, theirs.linear2.bias)
        ours.norm1.load_state_dict(theirs.norm1.state_dict())
        ours.norm2.load_state_dict(theirs.norm2.state_dict())
        return
    if len(ours.layers) != len(theirs.layers):
        raise ValueError(
            f"copy_from_torch: {len(ours.layers)} layers here, {len(theirs.layers)} in PyTorch's"
        )
    if (ours.norm is None) != (theirs.norm is None):
        raise ValueError(
            "copy_from_torch: one stack has a final LayerNorm and the other does not; ours has one with "
            "norm_first=True only (set PyTorch's .norm = None for a post-LN comparison)"
        )
    for a, b in zip(ours.layers, theirs.layers, strict=True):
        _copy(a, b)
    if ours.norm is not None:
        ours.norm.load_state_dict(theirs.norm.state_dict())
