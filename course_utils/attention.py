"""Attention (注意力机制) for RNN encoder-decoders: a masked softmax and the classic scoring rules.

At every decoding step the decoder state s (the query) is compared with each encoder output h_s
(the keys); a softmax over the real source positions turns the scores into weights, and the context
is the weighted sum of the values (the encoder outputs again, unless given separately)::

    e_s = score(s, h_s)                      one score per source position
    a   = softmax(e) over positions with mask_s = True   (padding gets exactly 0)
    c   = Σ_s a_s v_s

The scoring rules, one module each:

* :class:`AdditiveAttention` - Bahdanau et al. 2015: ``score(s, h) = vᵀ tanh(W_q s + W_k h + b)``;
  ``W_k h + b`` does not depend on the step, so :meth:`AdditiveAttention.project_keys` computes it once
  per sentence;
* :class:`DotAttention` - Luong et al. 2015 "dot": ``score(s, h) = sᵀ h``, or ``sᵀ h / √d`` with
  ``scaled=True`` (the scaling the Transformer uses);
* :class:`GeneralAttention` - Luong et al. 2015 "general": ``score(s, h) = sᵀ W h`` (W h precomputable);
* :class:`ConcatAttention` - Luong et al. 2015 "concat": ``score(s, h) = vᵀ tanh(W [s; h] + b)``, one
  linear layer on the concatenation. Splitting W = [W_q  W_k] column-wise shows it *is* the additive
  rule: ``W [s; h] = W_q s + W_k h`` (``tests/test_attention.py`` copies the weights both ways).

Every rule has the same interface: ``forward(query, keys, mask, values=None, projected_keys=None)
-> (context, weights)``, ``score(query, keys, projected_keys=None)`` for the raw scores and
``project_keys(keys)`` for what can be computed once per sentence (None where nothing can).
:func:`make_attention` builds a rule from its name (:data:`ATTENTION_KINDS`).

:func:`masked_softmax` also takes (B, T, S) and (B, heads, T, S) scores, for the Transformer's
scaled dot-product and multi-head attention.

Shape legend: B batch, S source length, T target length, H hidden (Hq query, Hk key, Hv value
features), A attention width (``attn_dim``), d model width.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from course_utils.rnn import _check_positive_int

__all__ = [
    "ATTENTION_KINDS",
    "AdditiveAttention",
    "ConcatAttention",
    "DotAttention",
    "GeneralAttention",
    "make_attention",
    "masked_softmax",
]

ATTENTION_KINDS = ("additive", "dot", "scaled_dot", "general", "concat")


# ----------------------------------------------------------------------------------------------------
# Masked softmax
# ----------------------------------------------------------------------------------------------------


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last dimension that gives masked-out positions exactly 0.

    ``scores`` (B, S), (B, T, S) or (B, heads, T, S), floating point; ``mask`` bool, True where a
    position may be attended (a real source token), with the same number of dimensions as ``scores``
    and each size equal or 1: (B, S) for (B, S) scores; (B, 1, S) padding, (1, T, S) causal or
    (B, T, S) masks for (B, T, S) scores. ``None`` means every position is real (plain softmax).

    Every row sums to 1 over its allowed positions. A row with no allowed position has no defined
    weights, so it raises a ValueError instead of returning NaN.
    """
    if not isinstance(scores, Tensor):
        raise TypeError(f"masked_softmax: scores must be a tensor, got {type(scores).__name__}")
    if not scores.is_floating_point():
        raise TypeError(f"masked_softmax: scores must be a floating-point tensor, got {scores.dtype}")
    if scores.dim() < 2:
        raise ValueError(
            f"masked_softmax: scores must have shape (B, S), (B, T, S) or (B, heads, T, S), got "
            f"{tuple(scores.shape)}; add the batch dimension (scores[None]) for a single sentence"
        )
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if not isinstance(mask, Tensor):
        raise TypeError(f"masked_softmax: mask must be a bool tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"masked_softmax: mask must be a bool tensor (True at real tokens), got {mask.dtype}; "
            "build it with a comparison, e.g. torch.arange(S)[None, :] < lengths[:, None]"
        )
    if mask.dim() != scores.dim() or any(
        m not in (1, n) for m, n in zip(mask.shape, scores.shape, strict=True)
    ):
        hint = ""
        if scores.dim() == 3 and mask.dim() == 2:
            hint = "; for a (B, S) padding mask on (B, T, S) scores pass mask[:, None, :]"
        raise ValueError(
            f"masked_softmax: mask of shape {tuple(mask.shape)} does not fit scores of shape "
            f"{tuple(scores.shape)}: it needs as many dimensions, each of the same size or 1{hint}"
        )
    empty = ~mask.any(dim=-1)
    if empty.any():
        row = ", ".join(str(i) for i in empty.nonzero()[0].tolist())
        raise ValueError(
            f"masked_softmax: mask[{row}] is all False: a sentence has no real source token "
            "(length 0?), so its attention weights are undefined; every sentence needs at least one "
            "real token"
        )
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # exp(-inf) = 0 exactly


# ----------------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------------


def _check_tensor(
    owner: str, name: str, x: object, legend: tuple[str, ...], sizes: tuple[int | None, ...]
) -> None:
    """``x`` must be a tensor whose shape matches ``sizes`` (None: any size); the error spells out
    the expected shape with the legend, e.g. ``(B=3, S, key_dim=8)``, and the received one."""
    expected = (
        "(" + ", ".join(n if s is None else f"{n}={s}" for n, s in zip(legend, sizes, strict=True)) + ")"
    )
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: {name} must be a tensor of shape {expected}, got {type(x).__name__}")
    if x.dim() != len(sizes) or any(s is not None and x.shape[i] != s for i, s in enumerate(sizes)):
        hint = ""
        if name == "query" and x.dim() == 3:
            hint = "; attend one decoder step at a time: the query is the decoder state s (B, Hq)"
        raise ValueError(f"{owner}: {name} must have shape {expected}, got {tuple(x.shape)}{hint}")


# ----------------------------------------------------------------------------------------------------
# Scoring rules
# ----------------------------------------------------------------------------------------------------


class _Attention(nn.Module):
    """Shared parts of the rules: input checks, masked softmax and the weighted sum.

    A rule implements ``_score(query, keys, projected_keys) -> (B, S)`` (its equation) and, if part of
    it can be computed once per sentence, ``project_keys`` and ``projected_dim``.
    """

    projected_dim: int | None = None  # feature size of project_keys' output; None: nothing to precompute

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__()
        _check_positive_int(query_dim, "query_dim")
        _check_positive_int(key_dim, "key_dim")
        self.query_dim, self.key_dim = query_dim, key_dim

    def _check_keys(self, keys: Tensor, batch: int | None = None) -> None:
        _check_tensor(type(self).__name__, "keys", keys, ("B", "S", "key_dim"), (batch, None, self.key_dim))

    def _check_inputs(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None,
        values: Tensor | None,
        projected_keys: Tensor | None,
    ) -> None:
        owner = type(self).__name__
        _check_tensor(owner, "query", query, ("B", "query_dim"), (None, self.query_dim))
        B = query.shape[0]
        self._check_keys(keys, B)
        S = keys.shape[1]
        if mask is not None:
            _check_tensor(owner, "mask", mask, ("B", "S"), (B, S))
            if mask.dtype != torch.bool:
                raise TypeError(
                    f"{owner}: mask must be a bool tensor (True at real tokens), got {mask.dtype}"
                )
        if values is not None:
            _check_tensor(owner, "values", values, ("B", "S", "Hv"), (B, S, None))
        if projected_keys is not None:
            if self.projected_dim is None:
                raise ValueError(
                    f"{owner}: projected_keys must be None, this rule has nothing to precompute "
                    "(its project_keys returns None)"
                )
            legend = ("B", "S", "projected_dim")
            _check_tensor(owner, "projected_keys", projected_keys, legend, (B, S, self.projected_dim))

    def project_keys(self, keys: Tensor) -> Tensor | None:
        """The part of the score that depends on the keys only, computed once per sentence (None here)."""
        self._check_keys(keys)
        return None

    def _score(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None) -> Tensor:
        raise NotImplementedError

    def score(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None = None) -> Tensor:
        """Raw scores e (B, S) of query (B, Hq) against keys (B, S, Hk), before masking and softmax."""
        self._check_inputs(query, keys, None, None, projected_keys)
        return self._score(query, keys, projected_keys)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None,
        values: Tensor | None = None,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Context (B, Hv) and weights (B, S) of query (B, Hq) over keys (B, S, Hk).

        ``mask`` (B, S) bool, True at real source tokens (None: no padding); ``values`` (B, S, Hv)
        default to the keys; ``projected_keys`` is :meth:`project_keys` of these keys, if precomputed.
        """
        self._check_inputs(query, keys, mask, values, projected_keys)
        values = keys if values is None else values
        scores = self._score(query, keys, projected_keys)  # (B, S)
        weights = masked_softmax(scores, mask)  # (B, S)
        context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, 1, S) @ (B, S, Hv) -> (B, Hv)
        return context, weights


class AdditiveAttention(_Attention):
    """Bahdanau et al. 2015: ``score(s, h) = vᵀ tanh(W_q s + W_k h + b)``.

    ``W_q`` (no bias) maps the query to ``attn_dim``, ``W_k`` (with the bias b) the keys, ``v`` reduces
    to a scalar; together one bias, exactly as one linear layer on [s; h] (:class:`ConcatAttention`).
    ``project_keys`` computes ``W_k h + b`` (B, S, attn_dim) once per sentence.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int) -> None:
        super().__init__(query_dim, key_dim)
        _check_positive_int(attn_dim, "attn_dim")
        self.attn_dim = self.projected_dim = attn_dim
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim, bias=True)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def extra_repr(self) -> str:
        return f"query_dim={self.query_dim}, key_dim={self.key_dim}, attn_dim={self.attn_dim}"

    def project_keys(self, keys: Tensor) -> Tensor:
        """W_k h + b for every key: (B, S, Hk) -> (B, S, attn_dim)."""
        self._check_keys(keys)
        return self.W_k(keys)

    def _score(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None) -> Tensor:
        wk_h = self.W_k(keys) if projected_keys is None else projected_keys  # (B, S, A)
        wq_s = self.W_q(query).unsqueeze(1)  # (B, 1, A), broadcast over S
        return self.v(torch.tanh(wq_s + wk_h)).squeeze(-1)  # (B, S)


class DotAttention(_Attention):
    """Luong et al. 2015 "dot": ``score(s, h) = sᵀ h``; with ``scaled=True`` ``sᵀ h / √d`` (d = key_dim).

    No parameters; the query and the keys must have the same size. Scaling keeps the scores' spread
    independent of d (the Transformer's scaled dot-product attention).
    """

    def __init__(self, query_dim: int, key_dim: int, scaled: bool = False) -> None:
        super().__init__(query_dim, key_dim)
        if query_dim != key_dim:
            raise ValueError(
                f"DotAttention compares sᵀh, so query_dim and key_dim must be equal, got query_dim={query_dim}, "
                f"key_dim={key_dim}; project one of them first or use 'general' (sᵀ W h) or 'additive'"
            )
        if not isinstance(scaled, bool):
            raise TypeError(f"DotAttention: scaled must be a bool, got {type(scaled).__name__}")
        self.scaled = scaled

    def extra_repr(self) -> str:
        return f"dim={self.key_dim}, scaled={self.scaled}"

    def _score(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None) -> Tensor:
        scores = torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)  # (B, S, H) @ (B, H, 1) -> (B, S)
        return scores / math.sqrt(self.key_dim) if self.scaled else scores


class GeneralAttention(_Attention):
    """Luong et al. 2015 "general": ``score(s, h) = sᵀ W h``, W (query_dim, key_dim) without bias.

    ``project_keys`` computes W h (B, S, query_dim) once per sentence; W = I gives :class:`DotAttention`.
    """

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__(query_dim, key_dim)
        self.projected_dim = query_dim
        self.W = nn.Linear(key_dim, query_dim, bias=False)  # weight (query_dim, key_dim) is W

    def extra_repr(self) -> str:
        return f"query_dim={self.query_dim}, key_dim={self.key_dim}"

    def project_keys(self, keys: Tensor) -> Tensor:
        """W h for every key: (B, S, Hk) -> (B, S, query_dim)."""
        self._check_keys(keys)
        return self.W(keys)

    def _score(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None) -> Tensor:
        w_h = self.W(keys) if projected_keys is None else projected_keys  # (B, S, Hq)
        return torch.bmm(w_h, query.unsqueeze(-1)).squeeze(-1)  # (B, S, Hq) @ (B, Hq, 1) -> (B, S)


class ConcatAttention(_Attention):
    """Luong et al. 2015 "concat": ``score(s, h) = vᵀ tanh(W [s; h] + b)``, W (attn_dim, Hq + Hk).

    One linear layer on the concatenation, as in the paper; it is :class:`AdditiveAttention` with
    W_q = W[:, :Hq] and W_k = W[:, Hq:] (which is how that class saves work, precomputing W_k h).
    Nothing is precomputed here: ``project_keys`` returns None.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int) -> None:
        super().__init__(query_dim, key_dim)
        _check_positive_int(attn_dim, "attn_dim")
        self.attn_dim = attn_dim
        self.W = nn.Linear(query_dim + key_dim, attn_dim, bias=True)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def extra_repr(self) -> str:
        return f"query_dim={self.query_dim}, key_dim={self.key_dim}, attn_dim={self.attn_dim}"

    def _score(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None) -> Tensor:
        s = query.unsqueeze(1).expand(-1, keys.shape[1], -1)  # (B, S, Hq): the same s beside every h
        return self.v(torch.tanh(self.W(torch.cat([s, keys], dim=-1)))).squeeze(-1)  # (B, S)


# ----------------------------------------------------------------------------------------------------
# Factory
# ----------------------------------------------------------------------------------------------------


def make_attention(kind: str, query_dim: int, key_dim: int, attn_dim: int | None = None) -> nn.Module:
    """The scoring rule called ``kind``, one of :data:`ATTENTION_KINDS`.

    "additive" (Bahdanau), "dot", "scaled_dot", "general", "concat" (Luong). ``attn_dim`` is the hidden
    width of the additive and concat rules (default ``query_dim``, as in Bahdanau et al.); the other
    rules have no such layer and ignore it.
    """
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"unknown attention kind {kind!r}; use one of {ATTENTION_KINDS}")
    if kind in ("additive", "concat"):
        attn_dim = query_dim if attn_dim is None else attn_dim
        return (AdditiveAttention if kind == "additive" else ConcatAttention)(query_dim, key_dim, attn_dim)
    if kind == "general":
        return GeneralAttention(query_dim, key_dim)
    return DotAttention(query_dim, key_dim, scaled=kind == "scaled_dot")
