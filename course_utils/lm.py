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
* :func:`lm_perplexity` - exp(mean cross-entropy per predicted token) of a split.

Shape legend: B batch, T time (sentence length + 1), V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from course_utils.data import load_multi30k
from course_utils.text import UNK, BucketBatchSampler, Vocab, get_tokenizer, pad_batch

__all__ = ["LMData", "lm_perplexity", "load_lm_data", "make_lm_loader"]

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
