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
  2014) and an output layer that may share the embedding's weights (Press & Wolf, 2017);
* :func:`train_lm` - the course's recipe (AdamW, one-cycle, clipping) around :func:`course_utils.train.fit`;
  :data:`FFNN_LM` and :data:`LSTM_LM` - notebook 07's sizes and epochs;
* :func:`make_stream_batches` and :class:`CarryState` - truncated back-propagation through time over the
  sentences laid end to end; :func:`stream_perplexity` scores such running text;
* :func:`lm_token_logprobs`, :func:`perplexity_of`, :func:`interpolate_logprobs`, :func:`tune_interpolation` -
  per-token scores in the order of :meth:`course_utils.ngram.NgramLM.token_logprobs`, and mixtures with
  n-gram models;
* :func:`load_char_lm_data` - the same sentences as characters, for a character-level model.

Both models map ``tokens (B, T) -> logits (B, T, V)``, where position t predicts token t + 1 from tokens
0..t, with -inf for the ids in ``never_predict``, and implement the decoding interface of
:mod:`course_utils.decoding` (``start(context)``, ``step(tokens, state)``), so the course's greedy search,
beam search and sampler generate from them.

Shape legend: B batch, T time (sentence length + 1), V vocabulary, E embedding width, H hidden width,
L layers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from course_utils.data import load_multi30k
from course_utils.rnn import _check_dropout, _check_positive_ints
from course_utils.text import UNK, BucketBatchSampler, Vocab, get_tokenizer, pad_batch
from course_utils.train import History, fit

__all__ = [
    "FFNN_LM",
    "LSTM_LM",
    "FeedForwardLM",
    "LMData",
    "RNNLM",
    "RNNLMState",
    "lm_perplexity",
    "CarryState",
    "interpolate_logprobs",
    "lm_token_logprobs",
    "load_char_lm_data",
    "load_lm_data",
    "make_lm_loader",
    "make_stream_batches",
    "perplexity_of",
    "stream_perplexity",
    "train_lm",
    "tune_interpolation",
]

SPLITS = ("train", "val", "test")

#: Notebook 07's feed-forward model (Bengio et al., 2003) and its training recipe, the one
#: benchmarks/language_models.py trains too: ``FeedForwardLM(**sizes)`` and ``train_lm(epochs, batch_size)``.
FFNN_LM = dict(context=4, emb_dim=128, hidden_size=256, dropout=0.3, epochs=1, batch_size=64)
#: Notebook 07's LSTM language model (section 6) with AWD-LSTM's regularisers, and its training recipe
#: (``epochs``, ``batch_size``, ``lr`` go to ``train_lm``, the rest to ``RNNLM``). In a grid on a GPU (seed 0),
#: dropout 0.3 at batch 128 and lr 4e-3 gave the lowest validation perplexity (22.5 after 10 epochs, against 23.2
#: for dropout 0.4 at batch 64, and 27.1 for dropout 0.5 in 6 epochs). An epoch takes about a minute on a 2-core
#: CPU with AMX; 9 epochs are the fewest that bring validation perplexity below 23 there (8 give 23.09).
LSTM_LM = dict(
    emb_dim=400, hidden_size=400, num_layers=2, dropout=0.3, embed_dropout=0.1, weight_drop=0.5, variational=True,
    epochs=9, batch_size=128, lr=4e-3,
)  # fmt: skip


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


def _check_max_train(max_train: int | None) -> None:
    if max_train is not None and (
        isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1
    ):
        raise ValueError(f"max_train must be None or an int >= 1, got {max_train!r}")


@functools.lru_cache(maxsize=8)
def _tokenized_tuple(split: str, limit: int | None) -> tuple[tuple[str, ...], ...]:
    tokenize = get_tokenizer("spacy_en", lower=True)
    return tuple(tuple(tokenize(en)) for _, en in load_multi30k(split)[:limit])


def _tokenized(split: str, limit: int | None = None) -> list[list[str]]:
    """The first ``limit`` sentences of ``split`` (all if None), tokenised once per process and cached."""
    return [list(s) for s in _tokenized_tuple(split, limit)]


def load_lm_data(*, min_freq: int = 2, max_train: int | None = None) -> LMData:
    """Multi30k English, tokenised and lower-cased as in notebook 02; vocabulary of the training split.
    ``max_train`` keeps only the first training sentences (quick runs; the vocabulary then shrinks too)."""
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
    _check_max_train(max_train)
    corpus = {split: _tokenized(split, max_train if split == "train" else None) for split in SPLITS}
    vocab = Vocab.build(corpus["train"], min_freq=min_freq)
    tokens = {split: [[w if w in vocab else UNK for w in s] for s in corpus[split]] for split in SPLITS}
    ids = {split: [vocab.encode(s) for s in tokens[split]] for split in SPLITS}
    return LMData(vocab, tokens, ids)


def load_char_lm_data(*, max_train: int | None = None) -> LMData:
    """The same sentences as :func:`load_lm_data`, as characters: each sentence is its lower-cased spaCy
    tokens joined by single spaces, one token per character (``" "`` included). The vocabulary holds every
    character of the training split (a character never seen there becomes ``<unk>``), so a character model
    predicts the real words, rare ones included, where the word models predict ``<unk>``."""
    _check_max_train(max_train)
    corpus = {
        split: [list(" ".join(s)) for s in _tokenized(split, max_train if split == "train" else None)]
        for split in SPLITS
    }
    vocab = Vocab.build(corpus["train"], min_freq=1)
    tokens = {split: [[c if c in vocab else UNK for c in s] for s in corpus[split]] for split in SPLITS}
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


def _masked_output(out: nn.Linear, x: Tensor, blocked: Tensor) -> Tensor:
    """``out(x)`` with -inf for the ``blocked`` tokens, put in the bias: the same logits as masking them
    afterwards, but the output layer's matrix product adds it for free instead of another pass (and its
    backward) over the (..., V) logits, a third of a small model's training step."""
    return F.linear(x, out.weight, out.bias.masked_fill(blocked, float("-inf")))


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
        return _masked_output(self.out, self.dropout(x), self.blocked)  # (..., V)

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

    Three regularisers of AWD-LSTM (Merity et al., 2018), all off by default and active only in training:
    ``embed_dropout`` drops whole words (rows of the embedding matrix, every occurrence in the batch; Gal &
    Ghahramani, 2016); ``variational=True`` draws the dropout masks on the embeddings and on the last layer's
    output once per sequence instead of once per time step ("locked" dropout; between stacked layers
    ``nn.LSTM``'s own dropout keeps a fresh mask per step); ``weight_drop`` drops entries of the
    hidden-to-hidden matrices, one mask per batch (DropConnect, Wan et al., 2013), so the recurrent
    connections are regularised without touching the states.
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
        embed_dropout: float = 0.0,
        weight_drop: float = 0.0,
        variational: bool = False,
    ) -> None:
        super().__init__()
        _check_positive_ints(
            vocab_size=vocab_size, emb_dim=emb_dim, hidden_size=hidden_size, num_layers=num_layers
        )
        for name, p in (("dropout", dropout), ("embed_dropout", embed_dropout), ("weight_drop", weight_drop)):
            _check_dropout(p, name)
        if not isinstance(variational, bool):
            raise TypeError(f"variational must be True or False, got {variational!r}")
        self.embed_dropout, self.weight_drop, self.variational = embed_dropout, weight_drop, variational
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
        # Tied, the embedding is also the output layer, so it starts as an output layer would, N(0, 1/E) instead of
        # nn.Embedding's N(0, 1), whose logits would be huge; the input side multiplies by sqrt(E) to read the
        # same N(0, 1) vectors as an untied model (the Transformer's scaling, Vaswani et al. 2017).
        self.input_scale = math.sqrt(emb_dim) if tie_weights else 1.0
        if tie_weights:
            with torch.no_grad():
                nn.init.normal_(self.embed.weight, 0.0, 1.0 / math.sqrt(emb_dim))
                if pad_idx is not None:
                    self.embed.weight[pad_idx].zero_()
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
        x = self._drop(self._embed(tokens) * self.input_scale)  # (B, T, E)
        out, hidden = self._recur(x, hidden)  # (B, T, H)
        out = self._drop(out)
        if self.proj is not None:
            out = self.proj(out)  # (B, T, E)
        logits = _masked_output(self.out, out, self.blocked)  # (B, T, V)
        h, c = hidden if self.cell == "lstm" else (hidden, None)
        return logits, RNNLMState(h.transpose(0, 1), None if c is None else c.transpose(0, 1))

    def _embed(self, tokens: Tensor) -> Tensor:
        """Embedding lookup; in training with ``embed_dropout``, whole rows (words) are dropped first."""
        if not (self.training and self.embed_dropout > 0):
            return self.embed(tokens)
        w = self.embed.weight  # (V, E)
        keep = w.new_empty(w.shape[0], 1).bernoulli_(1 - self.embed_dropout) / (1 - self.embed_dropout)
        return F.embedding(tokens, w * keep, padding_idx=self.embed.padding_idx)

    def _drop(self, x: Tensor) -> Tensor:
        """Dropout on (B, T, .) activations: a fresh mask per entry, or with ``variational`` one per sequence."""
        p = self.dropout.p
        if not (self.training and self.variational and p > 0):
            return self.dropout(x)
        keep = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)  # (B, 1, .)
        return x * keep

    def _recur(self, x: Tensor, hidden: Any) -> tuple[Tensor, Any]:
        """The recurrent layers; in training with ``weight_drop``, on dropped hidden-to-hidden matrices."""
        if not (self.training and self.weight_drop > 0):
            return self.rnn(x, hidden)
        dropped = {
            name: F.dropout(getattr(self.rnn, name), self.weight_drop)  # (gates * H, H), one mask per batch
            for name in (f"weight_hh_l{k}" for k in range(self.rnn.num_layers))
        }
        return torch.func.functional_call(self.rnn, dropped, (x, hidden))

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


# --------------------------------------------------------------------------- truncated BPTT over running text


def make_stream_batches(
    data: LMData, split: str, batch_size: int, bptt: int
) -> list[tuple[tuple[Tensor], Tensor]]:
    """The split as running text for truncated back-propagation through time (Zaremba et al., 2014).

    The sentences are laid end to end in their order, as inputs ``<bos> w_1 .. w_n <bos> v_1 ..`` and
    targets ``w_1 .. w_n <eos> v_1 ..`` (so the model reads ``<bos>`` where one sentence ends and the next
    begins, and predicts exactly the tokens of :func:`make_lm_loader`). The stream is cut into
    ``batch_size`` rows of equal length (the last row padded with ``<pad>``, whose targets no loss counts)
    and each row into chunks of ``bptt`` steps: batch k holds chunk k of every row, so row b of batch k + 1
    continues row b of batch k. Returns ``[((inputs (B, bptt),), targets (B, bptt)), ...]``, in order (never
    shuffle them: :class:`CarryState` relies on it)."""
    _check_split(split)
    _check_positive_ints(batch_size=batch_size, bptt=bptt)
    bos, eos, pad = data.vocab.bos_idx, data.vocab.eos_idx, data.vocab.pad_idx
    inputs = torch.tensor([t for s in data.ids[split] for t in (bos, *s)])
    targets = torch.tensor([t for s in data.ids[split] for t in (*s, eos)])
    per_row = -(-len(inputs) // batch_size)  # ceil
    steps = -(-per_row // bptt) * bptt
    rows_in = F.pad(inputs, (0, batch_size * steps - len(inputs)), value=pad).view(batch_size, steps)
    rows_out = F.pad(targets, (0, batch_size * steps - len(targets)), value=pad).view(batch_size, steps)
    return [
        ((rows_in[:, t : t + bptt],), rows_out[:, t : t + bptt])
        for t in range(0, steps, bptt)
        if (rows_out[:, t : t + bptt] != pad).any()
    ]


class CarryState(nn.Module):
    """Truncated BPTT: wraps an :class:`RNNLM` so that in training mode each call continues from the state
    the previous call ended in, with the gradient cut there (``detach``): the forward pass sees the whole
    running text, the backward pass only the last chunk. Train it on the batches of
    :func:`make_stream_batches` (in order), e.g. with :func:`train_lm`.

    In eval mode every call starts from zeros, so validation scores sentences one by one like every other
    model (:func:`stream_perplexity` scores the running text instead). The state also restarts when the
    mode or the batch size changes, and on ``reset()``. The wrapped model is ``.lm``."""

    def __init__(self, lm: RNNLM) -> None:
        super().__init__()
        if not isinstance(lm, RNNLM):
            raise TypeError(f"CarryState wraps an RNNLM, got {type(lm).__name__}")
        self.lm = lm
        self.state: RNNLMState | None = None

    def reset(self) -> None:
        self.state = None

    def train(self, mode: bool = True) -> CarryState:
        self.reset()
        return super().train(mode)

    def forward(self, tokens: Tensor) -> Tensor:
        if not self.training:
            return self.lm(tokens)  # (B, T, V), from zero state
        if self.state is not None and self.state.h.shape[0] != tokens.shape[0]:
            self.reset()
        logits, state = self.lm.run(tokens, self.state)  # (B, T, V)
        self.state = RNNLMState(state.h.detach(), None if state.c is None else state.c.detach())
        return logits


@torch.no_grad()
def stream_perplexity(
    lm: RNNLM, data: LMData, split: str = "test", *, batch_size: int = 10, bptt: int = 64,
    autocast_dtype: torch.dtype | None = None,
) -> float:  # fmt: skip
    """Perplexity of ``split`` read as running text (:func:`make_stream_batches`): the state is carried
    from each sentence into the next instead of starting every sentence from zeros. The same tokens are
    predicted as by :func:`lm_perplexity`, so the two numbers compare directly."""
    if not isinstance(lm, RNNLM):
        raise TypeError(f"stream_perplexity needs an RNNLM, got {type(lm).__name__}")
    device = lm.embed.weight.device
    was_training = lm.training
    lm.eval()
    total, count, state = 0.0, 0, None
    try:
        for (inputs,), targets in make_stream_batches(data, split, batch_size, bptt):
            inputs, targets = inputs.to(device), targets.to(device)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits, state = lm.run(inputs, state)  # (B, bptt, V)
            total += float(
                F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=data.vocab.pad_idx,
                                reduction="sum")
            )  # fmt: skip
            count += int((targets != data.vocab.pad_idx).sum())
    finally:
        lm.train(was_training)
    return math.exp(total / count)


# --------------------------------------------------------------------------- per-token scores, interpolation


@torch.no_grad()
def lm_token_logprobs(
    model: nn.Module,
    data: LMData,
    split: str = "test",
    *,
    batch_size: int = 256,
    autocast_dtype: torch.dtype | None = None,
) -> Tensor:
    """log P of every predicted token of ``split`` under ``model`` (natural log, float64), in the order of
    :meth:`course_utils.ngram.NgramLM.token_logprobs`: sentence by sentence, each ``w_1 .. w_n <eos>``.
    So the two can be compared token by token or interpolated (:func:`interpolate_logprobs`)."""
    _check_split(split)
    _check_positive_ints(batch_size=batch_size)
    device = next(model.parameters()).device
    collate = _Collate(data.vocab)
    sentences = data.ids[split]
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(sentences), batch_size):
            (inputs,), targets = collate(sentences[start : start + batch_size])
            inputs, targets = inputs.to(device), targets.to(device)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(inputs)  # (B, T, V)
            logp = torch.log_softmax(logits.double(), dim=-1).gather(-1, targets[..., None])[..., 0]  # (B, T)
            out.append(logp[targets != data.vocab.pad_idx].cpu())  # row by row: sentence order
    finally:
        model.train(was_training)
    logp = torch.cat(out)
    if torch.isnan(logp).any():
        raise FloatingPointError("the model produced NaN log-probabilities; check its weights")
    return logp


def perplexity_of(logprobs: Tensor | Sequence[float]) -> float:
    """exp(-mean log P) of per-token natural-log probabilities (e.g. from :func:`lm_token_logprobs`)."""
    logp = torch.as_tensor(logprobs, dtype=torch.float64)
    if logp.dim() != 1 or logp.numel() == 0:
        raise ValueError(
            f"logprobs must be a non-empty 1-D sequence of log-probabilities, got shape {tuple(logp.shape)}"
        )
    if torch.isnan(logp).any() or (logp > 1e-9).any():
        raise ValueError(
            "logprobs must be natural-log probabilities (log-probabilities <= 0, not NaN): pass log P, not P"
        )
    return math.exp(-float(logp.mean()))


def interpolate_logprobs(
    logp_a: Tensor | Sequence[float], logp_b: Tensor | Sequence[float], weight: float
) -> Tensor:
    """log(weight * P_a + (1 - weight) * P_b) per token, computed in log space (``logaddexp``)."""
    a = torch.as_tensor(logp_a, dtype=torch.float64)
    b = torch.as_tensor(logp_b, dtype=torch.float64)
    if a.shape != b.shape or a.dim() != 1:
        raise ValueError(
            f"interpolate_logprobs needs two 1-D sequences of the same tokens, got shapes {tuple(a.shape)} "
            f"and {tuple(b.shape)}; score the same split with both models"
        )
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise ValueError(f"weight must be a number in [0, 1], got {weight!r}")
    if weight == 0:
        return b.clone()
    if weight == 1:
        return a.clone()
    return torch.logaddexp(a + math.log(weight), b + math.log1p(-weight))


def tune_interpolation(
    val_a: Tensor | Sequence[float], val_b: Tensor | Sequence[float], weights: Sequence[float] | None = None
) -> tuple[float, dict[float, float]]:
    """The weight of model a (0 to 1, on a grid of 0.05 by default) with the lowest validation perplexity of
    the mixture: ``(best weight, {weight: perplexity})``. Tune on validation, report on test."""
    grid = [round(0.05 * i, 2) for i in range(21)] if weights is None else list(weights)
    if not grid:
        raise ValueError("weights must hold at least one candidate weight")
    scores = {w: perplexity_of(interpolate_logprobs(val_a, val_b, w)) for w in grid}
    return min(scores, key=scores.get), scores


# --------------------------------------------------------------------------- one training recipe


def train_lm(
    model: nn.Module,
    data: LMData,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.01,
    clip_grad_norm: float | None = 0.5,
    train_batches: Sequence | None = None,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = True,
) -> History:
    """Train a language model with the course's recipe and return :func:`course_utils.train.fit`'s History.

    AdamW (``lr``, ``weight_decay``) with a one-cycle schedule (10 % warm-up, then cosine decay to ~0),
    stepped every batch; gradients clipped to norm ``clip_grad_norm``; the cross-entropy of the predicted
    tokens (``<pad>`` targets ignored); validation loss after each epoch (sentence by sentence); the
    weights of the last epoch are kept. The optimizer is made here, so every call starts afresh.
    ``train_batches`` replaces the sentence batches of :func:`make_lm_loader` (e.g.
    :func:`make_stream_batches` for a :class:`CarryState` model)."""
    from course_utils.seq2seq import SequenceCrossEntropy

    _check_positive_ints(epochs=epochs, batch_size=batch_size)
    for name, value in (("lr", lr), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if lr == 0:
        raise ValueError("lr must be > 0, e.g. 3e-3")
    train = make_lm_loader(data, "train", batch_size) if train_batches is None else train_batches
    if len(train) == 0:
        raise ValueError("train_batches is empty: nothing to train on")
    val = make_lm_loader(
        data, "val", 256
    )  # sentence by sentence (a CarryState carries no state in eval mode)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(train), pct_start=0.1
    )
    return fit(
        model, optimizer, SequenceCrossEntropy(data.vocab.pad_idx), train, val, epochs=epochs,
        clip_grad_norm=clip_grad_norm, scheduler=schedule, scheduler_interval="batch", restore_best=False,
        autocast_dtype=autocast_dtype, progress=progress,
    )  # fmt: skip
