"""Language-model data shared by the neural language models (notebooks 07 and 10), on notebook 02's terms.

Notebook 02's n-gram models are scored on Multi30k's English side, tokenised with spaCy's rule-based
English tokenizer and lower-cased, with the vocabulary of the training split at ``min_freq=2`` (rarer
words become ``<unk>``). Every sentence is one sequence: the model reads ``<bos> w_1 .. w_n`` and predicts
``w_1 .. w_n <eos>``; ``<bos>`` and ``<pad>`` are never predicted. A neural model scored with
:func:`lm_perplexity` on these batches is therefore comparable token for token with 02's perplexities,
provided its distribution covers the same tokens: give ``never_predict=data.never_predict`` to
:class:`course_utils.transformer.TransformerLM`.

* :func:`load_lm_data` -> :class:`LMData` (vocabulary, token and id sentences per split);
* :func:`make_lm_loader` - padded, length-bucketed batches ``((tokens_in,), targets)`` for
  :func:`course_utils.train.fit`;
* :func:`lm_perplexity` - exp(mean cross-entropy per predicted token) of a split;
* :class:`FeedForwardLM` - Bengio et al. (2003): the embeddings of the previous n - 1 words, a tanh hidden
  layer, a softmax (with ``hidden_size=None`` and one word of context: a neural bigram model);
* :class:`RNNLM` - an embedding, stacked LSTM / GRU / RNN layers with dropout between them (Zaremba et al.,
  2014) and an output layer that may share the embedding's weights (Press & Wolf, 2017).

Both models map ``tokens (B, T) -> logits (B, T, V)``, where position t predicts token t + 1 from tokens
0..t, with -inf for the ids in ``never_predict``, and implement the decoding interface of
:mod:`course_utils.decoding` (``start(context)``, ``step(tokens, state)``), so the course's greedy search,
beam search and sampler generate from them.

Shape legend: B batch, T time (sentence length + 1), V vocabulary, E embedding width, H hidden width,
L layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from course_utils.data import load_multi30k
from course_utils.rnn import _check_dropout, _check_positive_ints
from course_utils.text import UNK, BucketBatchSampler, Vocab, get_tokenizer, pad_batch

__all__ = [
    "FeedForwardLM",
    "LMData",
    "RNNLM",
    "RNNLMState",
    "lm_perplexity",
    "load_lm_data",
    "make_lm_loader",
]

SPLITS = ("train", "val", "test")


@dataclass
class LMData:
    """Multi30k English as notebook 02 uses it: ``tokens[split]`` (with ``<unk>`` for rare words) and
    ``ids[split]`` (their ids, without ``<bos>`` / ``<eos>``), the ``vocab``, and ``never_predict`` (the ids
    of ``<pad>`` and ``<bos>``)."""

    vocab: Vocab
    tokens: dict[str, list[list[str]]]
    ids: dict[str, list[list[int]]]

    @property
    def never_predict(self) -> tuple[int, int]:
        return (self.vocab.pad_idx, self.vocab.bos_idx)

    def predicted_tokens(self, split: str) -> int:
        """How many tokens a model predicts on ``split``: every word and one ``<eos>`` per sentence."""
        _check_split(split)
        return sum(len(s) + 1 for s in self.ids[split])


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")


def load_lm_data(*, min_freq: int = 2, max_train: int | None = None) -> LMData:
    """Multi30k English, tokenised and lower-cased as in notebook 02; vocabulary of the training split.
    ``max_train`` keeps only the first training sentences (quick runs; the vocabulary then shrinks too)."""
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
    if max_train is not None and (
        isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1
    ):
        raise ValueError(f"max_train must be None or an int >= 1, got {max_train!r}")
    tokenize = get_tokenizer("spacy_en", lower=True)
    corpus = {split: [tokenize(en) for _, en in load_multi30k(split)] for split in SPLITS}
    corpus["train"] = corpus["train"][:max_train]
    vocab = Vocab.build(corpus["train"], min_freq=min_freq)
    tokens = {split: [[w if w in vocab else UNK for w in s] for s in corpus[split]] for split in SPLITS}
    ids = {split: [vocab.encode(s) for s in tokens[split]] for split in SPLITS}
    return LMData(vocab, tokens, ids)


class _Collate:
    def __init__(self, vocab: Vocab) -> None:
        self.pad, self.bos, self.eos = vocab.pad_idx, vocab.bos_idx, vocab.eos_idx

    def __call__(self, batch: list[list[int]]) -> tuple[tuple[Tensor], Tensor]:
        inputs, _ = pad_batch([[self.bos, *s] for s in batch], self.pad)  # (B, T)
        targets, _ = pad_batch([[*s, self.eos] for s in batch], self.pad)  # (B, T)
        return (inputs,), targets


def make_lm_loader(
    data: LMData, split: str, batch_size: int, *, shuffle: bool | None = None, seed: int = 0
) -> DataLoader:
    """Batches ``((inputs,), targets)``: inputs ``<bos> w_1 .. w_n`` (B, T), targets ``w_1 .. w_n <eos>``
    (B, T), padded with ``<pad>``; sentences of similar length share a batch. ``shuffle`` defaults to
    True for "train" only."""
    _check_split(split)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    sentences = data.ids[split]
    shuffle = split == "train" if shuffle is None else shuffle
    sampler = BucketBatchSampler([len(s) + 1 for s in sentences], batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(sentences, batch_sampler=sampler, collate_fn=_Collate(data.vocab))


@torch.no_grad()
def lm_perplexity(
    model: torch.nn.Module, data: LMData, split: str = "test", *, autocast_dtype: torch.dtype | None = None
) -> float:
    """exp(mean cross-entropy per predicted token) of ``split``, the measure of notebook 02.

    ``model(inputs (B, T)) -> logits (B, T, V)`` with V = ``len(data.vocab)``; the logits of
    ``data.never_predict`` must be -inf (the model must not give probability to ``<pad>`` or ``<bos>``)."""
    from course_utils.seq2seq import SequenceCrossEntropy
    from course_utils.train import evaluate

    _check_split(split)
    probe = model(torch.tensor([[data.vocab.bos_idx]], device=next(model.parameters()).device))
    if probe.shape[-1] != len(data.vocab):
        raise ValueError(
            f"the model predicts {probe.shape[-1]} tokens but the vocabulary has {len(data.vocab)}"
        )
    if not torch.isneginf(probe[0, 0, list(data.never_predict)]).all():
        raise ValueError(
            "the model gives probability to <pad> or <bos>, which notebook 02's models never predict, so its "
            "perplexity would not be comparable; build it with never_predict=data.never_predict"
        )
    loss = evaluate(
        model, make_lm_loader(data, split, 256), SequenceCrossEntropy(data.vocab.pad_idx),
        autocast_dtype=autocast_dtype,
    )["loss"]  # fmt: skip
    return math.exp(loss)


# --------------------------------------------------------------------------- models


def _check_token_ids(name: str, x: object, vocab_size: int, owner: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 2 or x.dtype not in (torch.long, torch.int):
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{owner}: {name} must be token ids, a (B, T) long tensor, got {got}")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab_size):
        raise ValueError(
            f"{owner}: {name} holds ids {int(x.min())}..{int(x.max())}, outside the vocabulary [0, {vocab_size})"
        )
    return x


def _check_step_ids(tokens: object, rows: int, owner: str) -> Tensor:
    if (
        not isinstance(tokens, Tensor)
        or tokens.shape != (rows,)
        or tokens.dtype not in (torch.long, torch.int)
    ):
        got = f"{tokens.dtype} {tuple(tokens.shape)}" if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError(f"{owner}.step: tokens must be a ({rows},) long tensor, one id per row, got {got}")
    return tokens


def _blocked_ids(never_predict: tuple[int, ...], vocab_size: int) -> Tensor:
    if isinstance(never_predict, (int, str)) or any(
        isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < vocab_size for i in never_predict
    ):
        raise ValueError(
            f"never_predict must be a tuple of token ids in [0, {vocab_size}), got {never_predict!r}"
        )
    blocked = torch.zeros(vocab_size, dtype=torch.bool)
    blocked[list(never_predict)] = True
    return blocked


class FeedForwardLM(nn.Module):
    """Bengio et al. (2003): ``P(w_t | w_{t-n+1} .. w_{t-1}) = softmax(U tanh(H x + d) + b)``, x the
    concatenated embeddings of the ``context`` previous words (``<bos>`` fills in before the sentence, as
    the n-gram models of notebook 02 pad it). ``hidden_size=None`` drops the hidden layer:
    ``softmax(U x + b)``, which with ``context=1`` is a (low-rank) neural bigram model.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        bos_idx: int,
        context: int = 3,
        emb_dim: int = 64,
        hidden_size: int | None = 256,
        dropout: float = 0.0,
        pad_idx: int | None = None,
        never_predict: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        _check_positive_ints(vocab_size=vocab_size, context=context, emb_dim=emb_dim)
        if hidden_size is not None:
            _check_positive_ints(hidden_size=hidden_size)
        _check_dropout(dropout)
        if isinstance(bos_idx, bool) or not isinstance(bos_idx, int) or not 0 <= bos_idx < vocab_size:
            raise ValueError(f"bos_idx must be a token id in [0, {vocab_size}), got {bos_idx!r}")
        self.vocab_size, self.bos_idx, self.context = vocab_size, bos_idx, context
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        width = context * emb_dim
        self.hidden = None if hidden_size is None else nn.Linear(width, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(width if hidden_size is None else hidden_size, vocab_size)
        self.register_buffer("blocked", _blocked_ids(never_predict, vocab_size), persistent=False)

    def _windows(self, tokens: Tensor) -> Tensor:
        """(B, T) -> (B, T, context): at position t the tokens t - context + 1 .. t, ``<bos>`` before the start."""
        padded = F.pad(tokens, (self.context - 1, 0), value=self.bos_idx)  # (B, T + context - 1)
        return padded.unfold(1, self.context, 1)  # (B, T, context)

    def _logits(self, windows: Tensor) -> Tensor:
        x = self.embed(windows).flatten(-2)  # (..., context * E)
        if self.hidden is not None:
            x = torch.tanh(self.hidden(x))  # (..., H)
        logits = self.out(self.dropout(x))  # (..., V)
        return logits.masked_fill(self.blocked, float("-inf"))

    def forward(self, tokens: Tensor) -> Tensor:
        _check_token_ids("tokens", tokens, self.vocab_size, type(self).__name__)
        return self._logits(self._windows(tokens))  # (B, T, V)

    def start(self, context: Tensor) -> Tensor:
        """The state is the last ``context - 1`` tokens read, (B, context - 1); ``context`` (B, t0) may be empty."""
        _check_token_ids("context", context, self.vocab_size, type(self).__name__)
        padded = F.pad(context, (self.context - 1, 0), value=self.bos_idx)
        return padded[:, padded.shape[1] - (self.context - 1) :]

    def step(self, tokens: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        _check_step_ids(tokens, state.shape[0], type(self).__name__)
        window = torch.cat([state, tokens[:, None].to(state)], dim=1)  # (B, context)
        logits = self._logits(window)  # (B, V)
        return torch.log_softmax(logits.float(), dim=-1), window[:, 1:]


@dataclass
class RNNLMState:
    """The decoding state of :class:`RNNLM`: hidden states ``h`` (B, L, H) and, for an LSTM, cells ``c``
    (B, L, H), batch first as :mod:`course_utils.decoding` requires."""

    h: Tensor
    c: Tensor | None = None


class RNNLM(nn.Module):
    """Embedding -> L recurrent layers -> output layer, with dropout on the embeddings, between the layers
    and on the last layer's output (Zaremba et al., 2014: never on the recurrent connections).

    ``tie_weights=True`` makes the output layer reuse the embedding matrix (Press & Wolf, 2017); when
    ``hidden_size != emb_dim`` a linear projection H -> E comes first. ``run(tokens, state)`` also returns
    the final state, for truncated back-propagation through time over running text.
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        emb_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.3,
        tie_weights: bool = True,
        pad_idx: int | None = None,
        never_predict: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        _check_positive_ints(
            vocab_size=vocab_size, emb_dim=emb_dim, hidden_size=hidden_size, num_layers=num_layers
        )
        _check_dropout(dropout)
        cells = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
        if not isinstance(cell, str) or cell.lower() not in cells:
            raise ValueError(f"unknown cell {cell!r}; use one of {sorted(cells)}")
        self.vocab_size, self.cell = vocab_size, cell.lower()
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.rnn = cells[self.cell](
            emb_dim, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(hidden_size, emb_dim) if tie_weights and hidden_size != emb_dim else None
        self.out = nn.Linear(emb_dim if tie_weights else hidden_size, vocab_size)
        if tie_weights:
            self.out.weight = self.embed.weight  # one V x E matrix reads and writes words
        self.register_buffer("blocked", _blocked_ids(never_predict, vocab_size), persistent=False)

    def run(self, tokens: Tensor, state: RNNLMState | None = None) -> tuple[Tensor, RNNLMState]:
        """``tokens (B, T) -> (logits (B, T, V), final state)``, starting from ``state`` (zeros if None)."""
        _check_token_ids("tokens", tokens, self.vocab_size, type(self).__name__)
        hidden = None
        if state is not None:
            if not isinstance(state, RNNLMState) or state.h.shape[0] != tokens.shape[0]:
                raise ValueError(
                    f"{type(self).__name__}: state must be an RNNLMState with one row per sequence "
                    f"({tokens.shape[0]}), e.g. the one run() returned for the previous chunk"
                )
            if (state.c is None) != (self.cell != "lstm"):
                raise ValueError(
                    f"{type(self).__name__}: an {self.cell} state has h{' and c' * (self.cell == 'lstm')}"
                )
            h = state.h.transpose(0, 1).contiguous()  # (L, B, H)
            hidden = (h, state.c.transpose(0, 1).contiguous()) if self.cell == "lstm" else h
        x = self.dropout(self.embed(tokens))  # (B, T, E)
        out, hidden = self.rnn(x, hidden)  # (B, T, H)
        out = self.dropout(out)
        if self.proj is not None:
            out = self.proj(out)  # (B, T, E)
        logits = self.out(out).masked_fill(self.blocked, float("-inf"))  # (B, T, V)
        h, c = hidden if self.cell == "lstm" else (hidden, None)
        return logits, RNNLMState(h.transpose(0, 1), None if c is None else c.transpose(0, 1))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.run(tokens)[0]

    def start(self, context: Tensor) -> RNNLMState:
        """Read ``context`` (B, t0) (t0 may be 0: zero states); the first :meth:`step` feeds what follows."""
        _check_token_ids("context", context, self.vocab_size, type(self).__name__)
        B, L, H = context.shape[0], self.rnn.num_layers, self.rnn.hidden_size
        if context.shape[1] == 0:
            zeros = torch.zeros(B, L, H, device=self.embed.weight.device)
            return RNNLMState(zeros, zeros.clone() if self.cell == "lstm" else None)
        return self.run(context)[1]

    def step(self, tokens: Tensor, state: RNNLMState) -> tuple[Tensor, RNNLMState]:
        _check_step_ids(tokens, state.h.shape[0], type(self).__name__)
        logits, state = self.run(tokens[:, None], state)
        return torch.log_softmax(logits[:, 0].float(), dim=-1), state
