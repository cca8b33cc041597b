"""RNN encoder-decoders (编码器-解码器) for translation, on the course's decoding interface.

Three models, from the lecture and the papers it follows:

* :class:`LSTMSeq2Seq` - Sutskever et al. 2014: a multi-layer LSTM reads the source, its final
  hidden and cell states start a multi-layer LSTM decoder; ŷ_t = softmax(W s_t);
* :class:`GRUContextSeq2Seq` - Cho et al. 2014: the encoder's final state is a context vector c that
  also enters every decoder step: s_t = GRU([d(y_{t-1}); c], s_{t-1}),
  ŷ_t = softmax(W_o maxout(W_t [s_t; d(y_{t-1}); c])) (the papers' "deep output", :class:`DeepOutput`);
* :class:`AttentionSeq2Seq` - Bahdanau et al. 2015: a bidirectional GRU encoder, and a decoder that
  recomputes its context at every step by attending over all encoder outputs (masked on padding):
  c_t = Σ_s a_ts h_s, s_t = GRU([d(y_{t-1}); c_t], s_{t-1}), ŷ_t = softmax(W_o maxout(W_t [s_t; c_t; d(y_{t-1})])).

Every model has ``forward(src, src_len, tgt_in, teacher_forcing=1.0) -> logits (B, T, V)`` for
training and the decoding interface of :mod:`course_utils.decoding` for inference:
``state = model.start(src, src_len)`` and ``logp, state = model.step(tokens, state)``. States
hold batch-first tensors only, so beam search can reorder them. ``forward`` is built from the same
step as decoding (teacher forcing feeds the reference token, otherwise the model's own argmax), so
training and decoding cannot drift apart; the LSTM and context-GRU models also have a fast path
that runs the decoder RNN over the whole target at once when ``teacher_forcing == 1``.

:class:`SequenceCrossEntropy` is the loss: cross-entropy over every target position except padding,
optionally with label smoothing.

Shape legend: B batch, S source length, T target length, E embedding, H hidden, V vocabulary,
L layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_utils.attention import make_attention
from course_utils.rnn import _check_dropout, _check_positive_ints
from course_utils.transformer import TransformerSeq2Seq
from course_utils.translation import Recipe

__all__ = [
    "AttentionSeq2Seq",
    "AttentionState",
    "DeepOutput",
    "GRUContextSeq2Seq",
    "GRUContextState",
    "LSTMSeq2Seq",
    "LSTMState",
    "MODELS",
    "ModelSpec",
    "SequenceCrossEntropy",
    "make_model",
]


def _check_batch(src: Tensor, src_len: Tensor, pad_idx: int) -> None:
    if not isinstance(src, Tensor) or src.dim() != 2 or src.dtype != torch.long:
        got = f"{tuple(src.shape)} {src.dtype}" if isinstance(src, Tensor) else type(src).__name__
        raise ValueError(f"src must be a (B, S) LongTensor of token ids, got {got}")
    if not isinstance(src_len, Tensor) or src_len.shape != (src.shape[0],):
        got = tuple(src_len.shape) if isinstance(src_len, Tensor) else type(src_len).__name__
        raise ValueError(f"src_len must be a (B,) tensor with B = {src.shape[0]} lengths, got {got}")
    if int(src_len.min()) < 1 or int(src_len.max()) > src.shape[1]:
        raise ValueError(
            f"src_len must be between 1 and S = {src.shape[1]}, got {src_len.min().item()}..{src_len.max().item()}"
        )


def _check_tokens(tokens: Tensor, batch: int, vocab_size: int) -> None:
    if not isinstance(tokens, Tensor) or tokens.shape != (batch,) or tokens.dtype != torch.long:
        got = f"{tuple(tokens.shape)} {tokens.dtype}" if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError(f"step takes the previous tokens as a (B,) LongTensor with B = {batch}, got {got}")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise ValueError(
            f"token ids must be in [0, {vocab_size}), got {tokens.min().item()}..{tokens.max().item()}"
        )


class SequenceCrossEntropy(nn.Module):
    """Mean cross-entropy of logits (B, T, V) against targets (B, T), ignoring ``pad_idx`` targets.

    ``label_smoothing`` spreads that much probability mass uniformly over the vocabulary
    (Szegedy et al. 2016). ``ignore_index`` is exposed so :func:`course_utils.train.fit` counts
    only real tokens.
    """

    def __init__(self, pad_idx: int, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if isinstance(pad_idx, bool) or not isinstance(pad_idx, int):
            raise TypeError(f"pad_idx must be an int, got {pad_idx!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.ignore_index = pad_idx
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        if logits.dim() != 3 or targets.shape != logits.shape[:2]:
            raise ValueError(
                f"expected logits (B, T, V) and targets (B, T), got {tuple(logits.shape)} and {tuple(targets.shape)}"
            )
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),  # (B*T, V)
            targets.reshape(-1),
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )


class DeepOutput(nn.Module):
    """The "deep output" of Cho et al. and Bahdanau et al.: a maxout layer, then the vocabulary projection.

    t = maxout(W_t x) keeps the larger of each pair of the 2P units of W_t x (Goodfellow et al. 2013),
    then logits = W_o t (B, ..., V). With ``tie_to`` (the target embedding, V x P) W_o is that
    embedding matrix (weight tying, Press & Wolf 2017). Projecting from P (e.g. 256) instead of from
    x (e.g. 3H + E = 1024) makes the largest matrix product of the decoder about 4x cheaper.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        vocab_size: int,
        tie_to: nn.Embedding | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_dropout(dropout)
        self.dropout = nn.Dropout(dropout)
        _check_positive_ints(in_dim=in_dim, out_dim=out_dim, vocab_size=vocab_size)
        if tie_to is not None and tuple(tie_to.weight.shape) != (vocab_size, out_dim):
            raise ValueError(
                f"tie_to must be an embedding of shape (V, P) = ({vocab_size}, {out_dim}), "
                f"got {tuple(tie_to.weight.shape)}"
            )
        self.pre = nn.Linear(in_dim, 2 * out_dim)
        self.proj = nn.Linear(out_dim, vocab_size)
        if tie_to is not None:
            # nn.Embedding starts at N(0, 1): as an output matrix that gives logits of size ~sqrt(P) and a
            # first loss far above log V. N(0, 1/P) starts both roles at a sensible scale.
            with torch.no_grad():
                nn.init.normal_(tie_to.weight, std=out_dim**-0.5)
                if tie_to.padding_idx is not None:
                    tie_to.weight[tie_to.padding_idx].zero_()
            self.proj.weight = tie_to.weight

    def forward(self, x: Tensor) -> Tensor:
        t = self.pre(x).unflatten(-1, (-1, 2)).amax(-1)  # (..., P): maxout over pairs of units
        return self.proj(self.dropout(t))  # (..., V); dropout on the P units, 4x cheaper than on x


class _Seq2SeqBase(nn.Module):
    """The teacher-forcing loop shared by the models: ``forward`` = ``start`` + one ``_step`` per target position."""

    pad_idx: int
    tgt_vocab_size: int
    #: probability of feeding the reference token in training when ``forward`` is not given one
    teacher_forcing: float = 1.0

    def start(self, src: Tensor, src_len: Tensor):  # pragma: no cover - every model overrides it
        raise NotImplementedError

    def _step(self, tokens: Tensor, state):  # pragma: no cover
        raise NotImplementedError

    def step(self, tokens: Tensor, state) -> tuple[Tensor, object]:
        """One decoding step: previous tokens (B,) -> next-token log-probabilities (B, V), new state."""
        _check_tokens(tokens, self._batch_size(state), self.tgt_vocab_size)
        logits, state = self._step(tokens, state)
        return torch.log_softmax(logits.float(), dim=-1), state

    @staticmethod
    def _batch_size(state) -> int:
        return state[0].shape[0]

    def _loop(self, state, tgt_in: Tensor, teacher_forcing: float) -> Tensor:
        """Decode the whole target step by step; feed the reference token with probability ``teacher_forcing``."""
        logits, tokens = [], tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            if t > 0:
                tokens = tgt_in[:, t]
                if teacher_forcing < 1.0:
                    own = logits[-1].argmax(-1)  # (B,) the model's own previous prediction
                    use_ref = torch.rand(tokens.shape, device=tokens.device) < teacher_forcing
                    tokens = torch.where(use_ref, tokens, own)
            step_logits, state = self._step(tokens, state)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)  # (B, T, V)

    def _ratio(self, teacher_forcing: float | None) -> float:
        """The teacher-forcing ratio of this call: given, else the model's own in training, 1 in eval mode."""
        if teacher_forcing is not None:
            return float(teacher_forcing)
        return float(self.teacher_forcing) if self.training else 1.0

    def _check_forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor, teacher_forcing: float) -> None:
        _check_batch(src, src_len, self.pad_idx)
        if not isinstance(tgt_in, Tensor) or tgt_in.dim() != 2 or tgt_in.shape[0] != src.shape[0]:
            got = tuple(tgt_in.shape) if isinstance(tgt_in, Tensor) else type(tgt_in).__name__
            raise ValueError(f"tgt_in must be (B, T) with B = {src.shape[0]}, got {got}")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be a probability in [0, 1], got {teacher_forcing!r}")


# --------------------------------------------------------------------------- Sutskever et al.


def _lstm_fp32(lstm: nn.LSTM, x, hx=None):
    """Run ``lstm`` in float32 even under autocast: oneDNN's bfloat16 LSTM kernel rejects some inputs
    on CPU ("could not create a primitive descriptor"), so the recurrence stays in float32 and only
    the layers around it (embeddings, output projection) use the lower precision."""
    device_type = next(lstm.parameters()).device.type
    with torch.autocast(device_type, enabled=False):
        if isinstance(x, Tensor):
            x = x.float()
        else:  # a PackedSequence
            x = x._replace(data=x.data.float())
        if hx is not None:
            hx = tuple(h.float() for h in hx)
        return lstm(x, hx)


class LSTMState(NamedTuple):
    """Decoder state of :class:`LSTMSeq2Seq`: h and c of every layer, batch first: (B, L, H) each."""

    h: Tensor
    c: Tensor


class LSTMSeq2Seq(_Seq2SeqBase):
    """The lecture's LSTM encoder-decoder (Sutskever et al. 2014).

    Encoder: h_t = LSTM(e(x_t), h_{t-1}) over the source (reversed by the data pipeline if asked);
    its final (h, c) of every layer start the decoder: s_t = LSTM(d(y_{t-1}), s_{t-1});
    ŷ_t = softmax(W s_t).
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        emb_dim: int = 256,
        hidden_size: int = 512,
        num_layers: int = 2,
        dropout: float = 0.3,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        _check_positive_ints(
            src_vocab_size=src_vocab_size,
            tgt_vocab_size=tgt_vocab_size,
            emb_dim=emb_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )
        _check_dropout(dropout)
        self.pad_idx, self.tgt_vocab_size = pad_idx, tgt_vocab_size
        inner = dropout if num_layers > 1 else 0.0
        self.src_emb = nn.Embedding(src_vocab_size, emb_dim, padding_idx=pad_idx)
        self.tgt_emb = nn.Embedding(tgt_vocab_size, emb_dim, padding_idx=pad_idx)
        self.encoder = nn.LSTM(emb_dim, hidden_size, num_layers, batch_first=True, dropout=inner)
        self.decoder = nn.LSTM(emb_dim, hidden_size, num_layers, batch_first=True, dropout=inner)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, tgt_vocab_size)

    def start(self, src: Tensor, src_len: Tensor) -> LSTMState:
        """Encode the source: (B, S), (B,) -> the decoder's initial state."""
        _check_batch(src, src_len, self.pad_idx)
        emb = self.dropout(self.src_emb(src))  # (B, S, E)
        packed = pack_padded_sequence(emb, src_len.cpu(), batch_first=True, enforce_sorted=False)
        # (L, B, H) each: the state after each sentence's last real token
        _, (h, c) = _lstm_fp32(self.encoder, packed)
        return LSTMState(h.transpose(0, 1).contiguous(), c.transpose(0, 1).contiguous())

    def _run(self, tokens: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        """The decoder over tokens (B, T): logits (B, T, V) and the state after the last token."""
        emb = self.dropout(self.tgt_emb(tokens))  # (B, T, E)
        hc = (state.h.transpose(0, 1).contiguous(), state.c.transpose(0, 1).contiguous())  # (L, B, H)
        out, (h, c) = _lstm_fp32(self.decoder, emb, hc)  # out (B, T, H)
        return self.out(self.dropout(out)), LSTMState(h.transpose(0, 1), c.transpose(0, 1))

    def _step(self, tokens: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        logits, state = self._run(tokens[:, None], state)
        return logits[:, 0], state

    def forward(
        self, src: Tensor, src_len: Tensor, tgt_in: Tensor, teacher_forcing: float | None = None
    ) -> Tensor:
        """Logits (B, T, V) for decoder inputs tgt_in (B, T) = <bos> y_1 .. y_{T-1}; with probability
        ``teacher_forcing`` (default: ``self.teacher_forcing`` in training, 1 in eval mode) each step is
        fed the reference token, otherwise the model's own previous prediction."""
        teacher_forcing = self._ratio(teacher_forcing)
        self._check_forward(src, src_len, tgt_in, teacher_forcing)
        state = self.start(src, src_len)
        if teacher_forcing == 1.0:
            return self._run(tgt_in, state)[0]  # the whole target through the LSTM at once
        return self._loop(state, tgt_in, teacher_forcing)


# --------------------------------------------------------------------------- Cho et al.


class GRUContextState(NamedTuple):
    """Decoder state of :class:`GRUContextSeq2Seq`: the hidden state s (B, H) and the context c (B, H)."""

    s: Tensor
    context: Tensor


class GRUContextSeq2Seq(_Seq2SeqBase):
    """GRU encoder-decoder whose context vector feeds every decoder step (Cho et al. 2014).

    c = the encoder's final state; s_0 = c; s_t = GRU([d(y_{t-1}); c], s_{t-1});
    ŷ_t = softmax(W_o maxout(W_t [s_t; d(y_{t-1}); c])), W_o tied to the target embedding. The context
    reaches every step directly instead of having to survive in s_t.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        emb_dim: int = 256,
        hidden_size: int = 512,
        dropout: float = 0.3,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        _check_positive_ints(
            src_vocab_size=src_vocab_size,
            tgt_vocab_size=tgt_vocab_size,
            emb_dim=emb_dim,
            hidden_size=hidden_size,
        )
        _check_dropout(dropout)
        self.pad_idx, self.tgt_vocab_size = pad_idx, tgt_vocab_size
        self.src_emb = nn.Embedding(src_vocab_size, emb_dim, padding_idx=pad_idx)
        self.tgt_emb = nn.Embedding(tgt_vocab_size, emb_dim, padding_idx=pad_idx)
        self.encoder = nn.GRU(emb_dim, hidden_size, batch_first=True)
        self.decoder = nn.GRU(emb_dim + hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = DeepOutput(
            hidden_size + emb_dim + hidden_size, emb_dim, tgt_vocab_size, tie_to=self.tgt_emb
        )

    def start(self, src: Tensor, src_len: Tensor) -> GRUContextState:
        """Encode the source: the context c = the encoder's final hidden state, which is also s_0."""
        _check_batch(src, src_len, self.pad_idx)
        emb = self.dropout(self.src_emb(src))  # (B, S, E)
        packed = pack_padded_sequence(emb, src_len.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.encoder(packed)  # (1, B, H)
        return GRUContextState(h[0], h[0])

    def _run(self, tokens: Tensor, state: GRUContextState) -> tuple[Tensor, GRUContextState]:
        emb = self.dropout(self.tgt_emb(tokens))  # (B, T, E)
        ctx = state.context[:, None].expand(-1, tokens.shape[1], -1)  # (B, T, H)
        out, h = self.decoder(torch.cat([emb, ctx], dim=-1), state.s[None].contiguous())  # out (B, T, H)
        logits = self.out(torch.cat([out, emb, ctx], dim=-1))  # (B, T, V)
        return logits, GRUContextState(h[0], state.context)

    def _step(self, tokens: Tensor, state: GRUContextState) -> tuple[Tensor, GRUContextState]:
        logits, state = self._run(tokens[:, None], state)
        return logits[:, 0], state

    def forward(
        self, src: Tensor, src_len: Tensor, tgt_in: Tensor, teacher_forcing: float | None = None
    ) -> Tensor:
        """Logits (B, T, V) for decoder inputs tgt_in (B, T); teacher forcing as in :meth:`LSTMSeq2Seq.forward`."""
        teacher_forcing = self._ratio(teacher_forcing)
        self._check_forward(src, src_len, tgt_in, teacher_forcing)
        state = self.start(src, src_len)
        if teacher_forcing == 1.0:
            return self._run(tgt_in, state)[0]
        return self._loop(state, tgt_in, teacher_forcing)


# --------------------------------------------------------------------------- Bahdanau et al.


class AttentionState(NamedTuple):
    """Decoder state of :class:`AttentionSeq2Seq`, batch first.

    ``s`` (B, H) the decoder's hidden state; ``memory`` (B, S, 2H) the encoder outputs (the values);
    ``keys`` (B, S, K) what the query is compared with (the memory, or its projection to H for the
    dot-product rules); ``projected`` the attention's own projection of the keys, computed once per
    sentence (None for rules without one); ``mask`` (B, S) True at real source tokens; ``weights``
    (B, S) the attention weights of the last step (for heatmaps).
    """

    s: Tensor
    memory: Tensor
    keys: Tensor
    projected: Tensor | None
    mask: Tensor
    weights: Tensor


class AttentionSeq2Seq(_Seq2SeqBase):
    """Bahdanau et al. 2015: bidirectional GRU encoder, attention decoder.

    Encoder: h_s = [h→_s; h←_s] (B, S, 2H); s_0 = tanh(W_init [h→_S; h←_1]).
    Decoder step t: a_t = softmax(score(s_{t-1}, h_s)) over real source positions,
    c_t = Σ_s a_ts h_s, s_t = GRU([d(y_{t-1}); c_t], s_{t-1}), ŷ_t = softmax(W_o maxout(W_t [s_t; c_t; d(y_{t-1})])).
    ``attention`` picks the scoring rule: "additive" (Bahdanau), "dot", "scaled_dot", "general" or
    "concat" (Luong et al.); see :func:`course_utils.attention.make_attention`.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        emb_dim: int = 256,
        hidden_size: int = 256,
        attn_dim: int = 256,
        attention: str = "additive",
        dropout: float = 0.3,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        _check_positive_ints(
            src_vocab_size=src_vocab_size,
            tgt_vocab_size=tgt_vocab_size,
            emb_dim=emb_dim,
            hidden_size=hidden_size,
            attn_dim=attn_dim,
        )
        _check_dropout(dropout)
        self.pad_idx, self.tgt_vocab_size = pad_idx, tgt_vocab_size
        H = hidden_size
        self.src_emb = nn.Embedding(src_vocab_size, emb_dim, padding_idx=pad_idx)
        self.tgt_emb = nn.Embedding(tgt_vocab_size, emb_dim, padding_idx=pad_idx)
        self.encoder = nn.GRU(emb_dim, H, batch_first=True, bidirectional=True)
        self.init = nn.Linear(2 * H, H)
        # dot-product rules compare s (H) with h (2H) directly, so they see h through a projection to H
        self.attention_kind = attention
        key_dim = H if attention in ("dot", "scaled_dot") else 2 * H
        self.key_proj = nn.Linear(2 * H, H, bias=False) if key_dim != 2 * H else None
        self.attention = make_attention(attention, H, key_dim, attn_dim)
        self.cell = nn.GRUCell(emb_dim + 2 * H, H)
        self.dropout = nn.Dropout(dropout)
        self.out = DeepOutput(
            H + 2 * H + emb_dim, emb_dim, tgt_vocab_size, tie_to=self.tgt_emb, dropout=dropout
        )

    def start(self, src: Tensor, src_len: Tensor) -> AttentionState:
        """Encode the source once: memory, projected keys, mask and s_0."""
        _check_batch(src, src_len, self.pad_idx)
        emb = self.dropout(self.src_emb(src))  # (B, S, E)
        packed = pack_padded_sequence(emb, src_len.cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.encoder(packed)  # h (2, B, H): forward after the last token, backward after the first
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])  # (B, S, 2H)
        mask = (
            torch.arange(src.shape[1], device=src.device)[None, :] < src_len.to(src.device)[:, None]
        )  # (B, S)
        s0 = torch.tanh(self.init(torch.cat([h[0], h[1]], dim=-1)))  # (B, H)
        keys = self.key_proj(memory) if self.key_proj is not None else memory  # (B, S, K)
        projected = self.attention.project_keys(keys) if hasattr(self.attention, "project_keys") else None
        weights = mask.float() / mask.sum(-1, keepdim=True)  # (B, S) uniform before the first step
        return AttentionState(s0, memory, keys, projected, mask, weights)

    def _attend(self, state: AttentionState) -> tuple[Tensor, Tensor]:
        """Context c_t (B, 2H) and weights a_t (B, S) for the query s_{t-1}."""
        return self.attention(
            state.s, state.keys, state.mask, values=state.memory, projected_keys=state.projected
        )

    def _step(self, tokens: Tensor, state: AttentionState) -> tuple[Tensor, AttentionState]:
        emb = self.dropout(self.tgt_emb(tokens))  # (B, E)
        context, weights = self._attend(state)
        s = self.cell(torch.cat([emb, context], dim=-1).float(), state.s.float())  # (B, H)
        logits = self.out(torch.cat([s, context, emb], dim=-1))  # (B, V)
        return logits, state._replace(s=s, weights=weights)

    def forward(
        self, src: Tensor, src_len: Tensor, tgt_in: Tensor, teacher_forcing: float | None = None
    ) -> Tensor:
        """Logits (B, T, V) for decoder inputs tgt_in (B, T), one attention step per position; teacher
        forcing as in :meth:`LSTMSeq2Seq.forward`. With full teacher forcing the output layer runs once
        over all positions (one big matrix product instead of T small ones).
        """
        teacher_forcing = self._ratio(teacher_forcing)
        self._check_forward(src, src_len, tgt_in, teacher_forcing)
        state = self.start(src, src_len)
        if teacher_forcing < 1.0:
            return self._loop(state, tgt_in, teacher_forcing)
        emb = self.dropout(self.tgt_emb(tgt_in))  # (B, T, E)
        states, contexts = [], []
        for t in range(tgt_in.shape[1]):
            context, weights = self._attend(state)
            s = self.cell(torch.cat([emb[:, t], context], dim=-1).float(), state.s.float())
            state = state._replace(s=s, weights=weights)
            states.append(s)
            contexts.append(context)
        features = torch.cat([torch.stack(states, 1), torch.stack(contexts, 1), emb], dim=-1)  # (B, T, 3H+E)
        return self.out(features)


# --------------------------------------------------------------------------- the course's models


@dataclass(frozen=True)
class ModelSpec:
    """A model of notebooks 08-10: its class, constructor arguments, data option and training recipe."""

    cls: type[nn.Module]
    kwargs: dict = field(default_factory=dict)
    reverse_source: bool = False
    recipe: Recipe = field(default_factory=Recipe)


#: The translation models the notebooks train, by name; notebooks and ``benchmarks/translation.py`` share them.
MODELS: dict[str, ModelSpec] = {
    # the lecture's LSTM has 2 layers of 512; 256 here (notebook 08 compares its set-ups at width 128)
    "lstm": ModelSpec(
        LSTMSeq2Seq,
        dict(emb_dim=256, hidden_size=256, num_layers=2, dropout=0.3),
        reverse_source=True,
        recipe=Recipe(epochs=2, batch_size=128, max_lr=3e-3),
    ),
    "lstm-forward": ModelSpec(
        LSTMSeq2Seq,
        dict(emb_dim=256, hidden_size=256, num_layers=2, dropout=0.3),
        recipe=Recipe(epochs=2, batch_size=128, max_lr=3e-3),
    ),
    "gru-context": ModelSpec(
        GRUContextSeq2Seq,
        dict(emb_dim=256, hidden_size=256, dropout=0.3),
        recipe=Recipe(epochs=4, batch_size=128, max_lr=3e-3),
    ),
    # 3 epochs keep notebook 09 within its time budget on a float32-only 2-core CPU; with bfloat16 (AMX)
    # the same model trained 8 epochs at batch 256, max_lr 4e-3 reaches 36.4 greedy / 38.2 beam BLEU in 17 min
    "attention": ModelSpec(
        AttentionSeq2Seq,
        dict(emb_dim=256, hidden_size=256, attn_dim=256, dropout=0.3),
        recipe=Recipe(epochs=3, batch_size=128, max_lr=3e-3),
    ),
    # notebook 10: pre-LN, 3 + 3 layers, d = 256, Adam's beta2 = 0.98, batches of up to 1,000 tokens (after one epoch,
    # validation perplexity 15.9 against 18.3 with 1,500 and 27.0 with 3,000 tokens, at about the same minutes per epoch);
    # max_lr 1.5e-3: in one grid on a GPU (5 epochs) validation BLEU 37.1 greedy against 36.5 at 2e-3 (seed 1) and
    # 27.2 at 3e-3 with dropout 0.2; dropout 0.2 instead of 0.1 lost about 1.5 (two seeds). On a 2-core CPU with AMX
    # (about 2 min per epoch) 5 epochs gave 36.3 greedy / 38.3 beam test BLEU in 10.3 min, 8 epochs 38.8 / 40.6 in 16.5
    "transformer": ModelSpec(
        TransformerSeq2Seq,
        dict(
            d_model=256,
            num_heads=8,
            num_encoder_layers=3,
            num_decoder_layers=3,
            d_ff=1024,
            dropout=0.1,
            norm_first=True,
            tie_embeddings=True,
        ),
        recipe=Recipe(epochs=8, max_tokens=1000, max_lr=1.5e-3, betas=(0.9, 0.98), warmup=0.1),
    ),  # fmt: skip
}


def make_model(name: str, data, **overrides) -> nn.Module:
    """A fresh model ``name`` of :data:`MODELS` sized for ``data`` (a :class:`TranslationData`)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    spec = MODELS[name]
    if data.reverse_source != spec.reverse_source:
        raise ValueError(
            f"model {name!r} reads the source {'reversed' if spec.reverse_source else 'in order'}, but the data "
            f"was loaded with reverse_source={data.reverse_source}; use "
            f"load_translation_data(reverse_source={spec.reverse_source})"
        )
    kwargs = {**spec.kwargs, **overrides}
    return spec.cls(len(data.src_vocab), len(data.tgt_vocab), pad_idx=data.tgt_vocab.pad_idx, **kwargs)
