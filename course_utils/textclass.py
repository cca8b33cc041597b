"""Text classification (notebook 06): sentence sentiment on rt-polarity, from counts to neural networks.

* Data: :func:`encode_reviews` turns ``(sentence, label)`` pairs into id tensors; :func:`review_loader` batches
  them as ``((x, lengths), y)`` for :func:`course_utils.train.fit`; :func:`kfold_indices` gives the stratified
  folds of 10-fold cross-validation, the way the literature scores this data set.
* Pooling over time that ignores padding: :func:`masked_mean`, :func:`masked_max`, :class:`MaskedPooling`.
* Neural models, each called as ``model(x, lengths)`` and returning logits (B, C):
  :class:`BiLSTMClassifier` (embedding, bidirectional LSTM over the packed batch, the last states or a pooling,
  a linear layer) and :class:`KimCNN` (Kim 2014: convolutions of widths 3, 4, 5 over the word vectors,
  max over time, dropout, a linear layer).
* Count-based baselines on bags of n-grams: :func:`ngram_matrix` (a sparse binary document-by-n-gram matrix),
  :func:`nb_log_ratios`, :class:`LinearBagClassifier` (logistic regression or an L2-loss SVM, fitted by L-BFGS),
  and :class:`NBSVM` (Wang & Manning 2012).
* :func:`platt_scaling`: turns a classifier's scores into probabilities (fitted on validation data), so that a
  count model and neural models can be averaged; :func:`accuracy_interval`: a Wilson confidence interval.

Shape legend: B batch, T time (words), H hidden size, V vocabulary, d embedding size, C classes, F features.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_utils.metrics import accuracy
from course_utils.rnn import _check_dropout, _check_pad_idx, _check_positive_ints
from course_utils.runtime import autocast_dtype
from course_utils.text import Vocab, pad_batch
from course_utils.train import History, fit

__all__ = [
    "BagOfEmbeddings",
    "BiLSTMClassifier",
    "KimCNN",
    "LinearBagClassifier",
    "MaskedPooling",
    "NBSVM",
    "accuracy_interval",
    "encode_reviews",
    "kfold_indices",
    "masked_max",
    "masked_mean",
    "nb_log_ratios",
    "review_vectors",
    "ngram_matrix",
    "platt_scaling",
    "review_loader",
    "tokenize_review",
    "train_classifier",
]


# --------------------------------------------------------------------------------------------- data


def tokenize_review(text: str) -> list[str]:
    """rt-polarity is distributed lower-cased and tokenized (``"it's a charming and often affecting journey ."``):
    its tokens are the whitespace-separated pieces."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize_review expects a str, got {type(text).__name__}")
    return text.split()


def encode_reviews(
    items: Sequence[tuple[str, str]], vocab: Vocab, classes: Sequence[str]
) -> list[tuple[Tensor, int]]:
    """``(sentence, label)`` pairs -> ``(ids (T,), class index)``; words outside ``vocab`` become ``<unk>``
    (the vocabulary needs one). A sentence with no tokens is refused."""
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a course_utils.text.Vocab, got {type(vocab).__name__}")
    if "<unk>" not in vocab:
        raise ValueError("the vocabulary has no <unk>: build it with specials=['<pad>', '<unk>']")
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise TypeError(f"classes must be a list of class labels, e.g. ['neg', 'pos'], got {classes!r:.60}")
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError(
            f"classes must list each label once (its position is its class index), got {list(classes)}"
        )
    out = []
    for i, item in enumerate(items):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"items[{i}] must be a (sentence, label) pair, got {item!r:.60}")
        text, label = item
        if not isinstance(label, Hashable) or label not in index:
            raise ValueError(f"items[{i}] has label {label!r}, not one of the classes {list(classes)}")
        if not isinstance(text, str):
            raise TypeError(f"items[{i}] has sentence {text!r:.40}, not a str; pass the review's text")
        tokens = tokenize_review(text)
        if not tokens:
            raise ValueError(f"items[{i}] is an empty sentence; drop it before encoding")
        unk = vocab.unk_idx
        ids = [vocab[t] if t in vocab else unk for t in tokens]
        out.append((torch.tensor(ids, dtype=torch.long), index[label]))
    if not out:
        raise ValueError("encode_reviews got no items: pass (sentence, label) pairs")
    return out


def review_loader(
    examples: Sequence[tuple[Tensor, int]],
    batch_size: int = 50,
    *,
    shuffle: bool = False,
    bucket: bool = False,
    seed: int = 0,
    pad_idx: int = 0,
) -> _ReviewLoader:
    """Batches ``((x (B, T), lengths (B,)), y (B,))`` of encoded reviews; with ``shuffle`` a new order each
    pass (seeded, so two runs see the same batches). ``bucket=True`` (with ``shuffle``) batches reviews of
    similar length: each pool of 50 batches' worth of shuffled reviews is sorted by length and cut into batches,
    and the batches are shuffled, so a batch holds little padding and an RNN takes fewer steps per batch."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    for name, flag in (("shuffle", shuffle), ("bucket", bucket)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if isinstance(pad_idx, bool) or not isinstance(pad_idx, int):
        raise TypeError(f"pad_idx must be an int (the vocabulary's <pad> id), got {pad_idx!r}")
    if pad_idx < 0:
        raise ValueError(f"pad_idx must be >= 0 (the vocabulary's <pad> id), got {pad_idx}")
    if not examples:
        raise ValueError("review_loader got no examples")
    for i, example in enumerate(examples):
        ok = isinstance(example, (tuple, list)) and len(example) == 2
        ids, label = example if ok else (None, None)
        if not (ok and isinstance(ids, Tensor) and ids.dim() == 1 and ids.numel() > 0
                and not ids.is_floating_point() and not ids.is_complex()
                and isinstance(label, int) and not isinstance(label, bool)):  # fmt: skip
            raise TypeError(f"examples[{i}] must be (ids, label): a non-empty 1-D integer tensor and an int class "
                            f"index, as encode_reviews returns; got {example!r:.80}")  # fmt: skip
        if label < 0:
            raise ValueError(
                f"examples[{i}] has label {label}; class indices are >= 0, as encode_reviews returns"
            )
    if bucket and not shuffle:
        raise ValueError("bucket=True reorders the batches of a shuffled pass; pass shuffle=True with it")
    return _ReviewLoader(list(examples), batch_size, shuffle, seed, pad_idx, bucket)


class _ReviewLoader:
    def __init__(
        self, examples: list, batch_size: int, shuffle: bool, seed: int, pad_idx: int, bucket: bool = False
    ) -> None:
        self.examples, self.batch_size, self.shuffle, self.pad_idx = examples, batch_size, shuffle, pad_idx
        self.bucket = bucket
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.examples) // self.batch_size)

    def _batches(self) -> list[list[int]]:
        n, size = len(self.examples), self.batch_size
        order = torch.randperm(n, generator=self.gen).tolist() if self.shuffle else list(range(n))
        if not self.bucket:
            return [order[i : i + size] for i in range(0, n, size)]
        pool = 50 * size
        batches = []
        for p in range(0, n, pool):
            chunk = sorted(order[p : p + pool], key=lambda j: len(self.examples[j][0]))
            batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=self.gen).tolist()]

    def __iter__(self) -> Iterator[tuple[tuple[Tensor, Tensor], Tensor]]:
        for indices in self._batches():
            batch = [self.examples[j] for j in indices]
            x, lengths = pad_batch([ids for ids, _ in batch], self.pad_idx)
            yield (x, lengths), torch.tensor([y for _, y in batch], dtype=torch.long)


def kfold_indices(labels: Sequence[object], k: int = 10, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """Stratified k-fold cross-validation: ``k`` pairs ``(train indices, test indices)``; every example is in
    exactly one test fold, and each fold keeps the class proportions (within one example per class)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an int >= 2, got {k!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if hasattr(labels, "tolist") and hasattr(labels, "ndim"):  # a tensor or an array: compare labels by value
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D, one label per example, got shape {tuple(labels.shape)}")
        labels = labels.tolist()
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise TypeError(
            f"labels must be a list of class labels, one per example, got {type(labels).__name__}"
        )
    for i, y in enumerate(labels):
        if not isinstance(y, Hashable):
            raise TypeError(f"labels[{i}] is {y!r:.40}; a class label must be hashable (a str or an int)")
    if len(labels) < k:
        raise ValueError(f"need at least k = {k} examples for {k} folds, got {len(labels)}")
    rng = random.Random(seed)
    by_class: dict[object, list[int]] = defaultdict(list)
    for i, y in enumerate(labels):
        by_class[y].append(i)
    folds: list[list[int]] = [[] for _ in range(k)]
    start = 0
    for y in sorted(by_class, key=str):
        idx = by_class[y]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[(start + j) % k].append(i)
        start += len(idx)  # the next class continues where this one stopped, so fold sizes stay level
    return [(sorted(i for f in folds[:j] + folds[j + 1 :] for i in f), sorted(folds[j])) for j in range(k)]


# --------------------------------------------------------------------------------------------- pooling


def _check_sequence_batch(h: Tensor, lengths: Tensor, who: str) -> Tensor:
    if not isinstance(h, Tensor) or h.dim() != 3:
        got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise ValueError(f"{who} expects h of shape (B, T, H), got {got}")
    B, T, _ = h.shape
    if not isinstance(lengths, Tensor) or lengths.shape != (B,):
        got = tuple(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__
        raise ValueError(f"{who} expects lengths of shape ({B},), one per sequence, got {got}")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"{who}: lengths must be integers, got dtype {lengths.dtype}")
    if B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
        raise ValueError(f"{who}: lengths must be in [1, T] = [1, {T}], got {lengths.tolist()[:8]}")
    return torch.arange(T, device=h.device)[None, :] < lengths.to(h.device)[:, None]  # (B, T)


def masked_mean(h: Tensor, lengths: Tensor) -> Tensor:
    """(B, T, H) -> (B, H): the mean over each sequence's first ``lengths[b]`` steps (padding left out)."""
    mask = _check_sequence_batch(h, lengths, "masked_mean")
    return (h * mask[..., None]).sum(1) / lengths.to(h.device, h.dtype)[:, None]


def masked_max(h: Tensor, lengths: Tensor) -> Tensor:
    """(B, T, H) -> (B, H): the maximum over each sequence's real steps (padding can never win)."""
    mask = _check_sequence_batch(h, lengths, "masked_max")
    if not h.is_floating_point():
        raise TypeError(
            f"masked_max expects floating-point h (hidden states), got dtype {h.dtype}; use h.float()"
        )
    return h.masked_fill(~mask[..., None], float("-inf")).amax(1)


class MaskedPooling(nn.Module):
    """Pool (B, T, H) over time into (B, H) with ``"mean"`` or ``"max"``, or (B, 2H) with ``"meanmax"``,
    ignoring padding."""

    def __init__(self, mode: str = "max") -> None:
        super().__init__()
        if mode not in ("mean", "max", "meanmax"):
            raise ValueError(f"mode must be 'mean', 'max' or 'meanmax', got {mode!r}")
        self.mode = mode

    def forward(self, h: Tensor, lengths: Tensor) -> Tensor:
        if self.mode == "mean":
            return masked_mean(h, lengths)
        if self.mode == "max":
            return masked_max(h, lengths)
        return torch.cat([masked_mean(h, lengths), masked_max(h, lengths)], -1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


# --------------------------------------------------------------------------------------------- models


def _is_int_dtype(x: Tensor) -> bool:
    return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)


def _check_id_batch(
    ids: Tensor,
    lengths: Tensor,
    size: int,
    who: str,
    names: tuple[str, str] = ("word", "lengths"),
    hint: str = "use review_loader",
    vocab_hint: str = "was the batch encoded with the vocabulary the model was built for?",
) -> None:
    """ids (B, T) integers in [0, size), lengths (B,) integers in [1, T], B >= 1 (cheap, vectorised); shared by
    the classifiers here and the tagger of :mod:`course_utils.seqlabel`. ``names`` name the two tensors in the
    errors, ``hint`` says where well-formed batches come from, ``vocab_hint`` what to check for ids out of range."""
    x, n = names
    if not isinstance(ids, Tensor) or ids.dim() != 2:
        got = tuple(ids.shape) if isinstance(ids, Tensor) else type(ids).__name__
        raise ValueError(f"{who} expects {x} of shape (B, T), got {got}; {hint}")
    if not _is_int_dtype(ids):
        raise TypeError(f"{who} expects integer {x} ids (torch.long), got dtype {ids.dtype}; {hint}")
    if not ids.shape[0]:
        raise ValueError(f"{who} got an empty batch ({x} of shape {tuple(ids.shape)}); pass at least one row")
    if int(ids.min()) < 0 or int(ids.max()) >= size:
        raise ValueError(
            f"{who}: {x} ids must be in [0, {size}), got min {int(ids.min())}, max {int(ids.max())}; {vocab_hint}"
        )
    if not isinstance(lengths, Tensor) or lengths.shape != ids.shape[:1]:
        got = tuple(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__
        raise ValueError(
            f"{who} expects {n} of shape ({ids.shape[0]},), one per row of {x} ids, got {got}; {hint}"
        )
    if not _is_int_dtype(lengths):
        raise TypeError(f"{who}: {n} must be integers, got dtype {lengths.dtype}")
    if int(lengths.min()) < 1 or int(lengths.max()) > ids.shape[1]:
        raise ValueError(
            f"{who}: {n} must be in [1, T] = [1, {ids.shape[1]}], got min {int(lengths.min())}, "
            f"max {int(lengths.max())}; use the {n} that came with the padded batch"
        )


def _check_hparams(dropout: float, vocab_size: int, pad_idx: int, **ints: int) -> None:
    _check_positive_ints(vocab_size=vocab_size, **ints)
    _check_dropout(dropout)
    _check_pad_idx(pad_idx, vocab_size)


class BagOfEmbeddings(nn.Module):
    """The simplest neural text classifier (fastText's, Joulin et al. 2016): the mean of the sentence's word
    vectors -> dropout -> linear. Word order is ignored; it trains in seconds, which makes it the model for
    comparing optimizers and schedules."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int = 2,
        emb_dim: int = 100,
        *,
        dropout: float = 0.0,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        _check_hparams(dropout, vocab_size, pad_idx, num_classes=num_classes, emb_dim=emb_dim)
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(emb_dim, num_classes)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) ids, (B,) lengths -> (B, C) logits."""
        _check_id_batch(x, lengths, self.vocab_size, "BagOfEmbeddings")
        return self.fc(self.dropout(masked_mean(self.embedding(x), lengths.to(x.device))))


class BiLSTMClassifier(nn.Module):
    """The lecture's text classifier: embedding -> dropout -> (bi)LSTM -> a sentence vector -> dropout -> linear.

    ``pooling="last"`` takes the final forward and backward states (the seed's choice), ``"mean"``/``"max"``
    pool the outputs over the real words. ``pack=True`` runs the LSTM on a packed batch, so padding is never
    read; ``pack=False`` runs it on the padded batch as it is, which is only correct for the longest
    sentence of each batch (notebook 06 shows the difference)."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int = 2,
        emb_dim: int = 300,
        hidden: int = 150,
        *,
        layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.5,
        pad_idx: int = 0,
        pooling: str = "max",
        pack: bool = True,
    ) -> None:
        super().__init__()
        _check_hparams(dropout, vocab_size, pad_idx, num_classes=num_classes,
                       emb_dim=emb_dim, hidden=hidden, layers=layers)  # fmt: skip
        if pooling not in ("last", "mean", "max", "meanmax"):
            raise ValueError(f"pooling must be 'last', 'mean', 'max' or 'meanmax', got {pooling!r}")
        for name, flag in (("bidirectional", bidirectional), ("pack", pack)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.vocab_size, self.pooling, self.pack = vocab_size, pooling, pack
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.lstm = nn.LSTM(emb_dim, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)  # fmt: skip
        self.pool = None if pooling == "last" else MaskedPooling(pooling)
        self.dropout = nn.Dropout(dropout)
        directions = 2 if bidirectional else 1
        self.fc = nn.Linear(hidden * directions * (2 if pooling == "meanmax" else 1), num_classes)

    def encode(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) ids -> (B, features): the sentence vector before the classifier."""
        _check_id_batch(x, lengths, self.vocab_size, "BiLSTMClassifier")
        e = self.dropout(self.embedding(x))  # (B, T, d)
        if self.pack:
            packed = pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, (h, _) = self.lstm(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        else:
            out, (h, _) = self.lstm(e)  # reads the padding after short sentences
        if self.pool is None:
            return torch.cat([h[-2], h[-1]], -1) if self.lstm.bidirectional else h[-1]
        return self.pool(out, lengths.to(out.device))

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) ids, (B,) lengths -> (B, C) logits."""
        return self.fc(self.dropout(self.encode(x, lengths)))


class KimCNN(nn.Module):
    """Kim (2014): word vectors (B, T, d) -> convolutions of each width in ``widths`` with ``filters`` maps
    each -> ReLU -> max over time (windows that hold only padding are left out) -> dropout -> linear."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int = 2,
        emb_dim: int = 300,
        *,
        widths: Sequence[int] = (3, 4, 5),
        filters: int = 100,
        dropout: float = 0.5,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(widths, str) or not isinstance(widths, Iterable):
            raise TypeError(f"widths must be a sequence of filter widths, e.g. (3, 4, 5), got {widths!r}")
        widths = tuple(widths)  # once: a generator would be used up by the checks below
        _check_hparams(dropout, vocab_size, pad_idx, num_classes=num_classes, emb_dim=emb_dim,
                       filters=filters, **{f"widths[{i}]": w for i, w in enumerate(widths)})  # fmt: skip
        if not widths:
            raise ValueError("KimCNN needs at least one filter width, e.g. widths=(3, 4, 5)")
        self.vocab_size, self.widths = vocab_size, tuple(widths)
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, filters, w) for w in self.widths)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(filters * len(self.widths), num_classes)

    def encode(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) ids -> (B, filters * len(widths)): the max-pooled feature maps."""
        _check_id_batch(x, lengths, self.vocab_size, "KimCNN")
        pad = max(self.widths) - 1  # pad both ends, so even a one-word sentence fills every window width
        e = F.pad(self.embedding(x).transpose(1, 2), (pad, pad))  # (B, d, T + 2 pad)
        feats = []
        for width, conv in zip(self.widths, self.convs, strict=True):
            c = F.relu(conv(e))  # (B, filters, T + 2 pad - width + 1)
            # window s covers words s - pad .. s - pad + width - 1: keep it if it overlaps a real word
            start = torch.arange(c.shape[-1], device=c.device)[None, :] - pad  # (1, windows)
            real = (start + width > 0) & (start < lengths.to(c.device)[:, None])  # (B, windows)
            feats.append(c.masked_fill(~real[:, None, :], float("-inf")).amax(-1))
        return torch.cat(feats, -1)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) ids, (B,) lengths -> (B, C) logits."""
        return self.fc(self.dropout(self.encode(x, lengths)))


def review_vectors(
    train_texts: Sequence[str], *, seed: int = 0, max_sentences: int | None = None, progress: bool = True
) -> tuple[Tensor, Vocab]:
    """Skip-gram vectors by notebook 03's recipe (:data:`course_utils.embeddings.WORD2VEC`) trained on notebook
    03's corpus (Wikipedia sample and Multi30k captions, ``max_sentences`` of it in the quick profile) plus
    ``train_texts``, the training reviews tokenized by :func:`tokenize_review`, so that review words such as
    "it's" or "unfunny" can get a vector. Pass training reviews only: held-out text would leak into the
    vectors. Returns the vectors (V, d) and their vocabulary, for
    :func:`course_utils.embeddings.pretrained_embedding`."""
    from course_utils import embeddings as emb

    if isinstance(train_texts, str):
        raise TypeError("train_texts must be a list of review sentences, not one str")
    if not isinstance(train_texts, Sequence):
        raise TypeError(
            f"train_texts must be a list of review sentences (str), got {type(train_texts).__name__}"
        )
    for i, text in enumerate(train_texts):
        if not isinstance(text, str):
            raise TypeError(f"train_texts[{i}] is {text!r:.40}, not a str; pass the review sentences' text")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    hp = emb.WORD2VEC
    corpus = emb.load_embedding_corpus(max_sentences=max_sentences) + [
        tokenize_review(t) for t in train_texts
    ]
    vocab = emb.build_vocab(corpus, hp["min_count"])
    torch.manual_seed(seed)
    model = emb.SkipGram(len(vocab), hp["dim"])
    keys = ("epochs", "window", "negative", "sample", "alpha", "min_alpha")
    emb.train_word2vec(model, emb.encode_corpus(corpus, vocab), **{k: hp[k] for k in keys}, seed=seed,
                       progress=progress)  # fmt: skip
    return model.word_vectors(), vocab


def _accuracy(logits: Tensor, y: Tensor) -> float:
    return accuracy(logits.argmax(-1), y)


def train_classifier(
    model: nn.Module,
    train: Sequence[tuple[Tensor, int]],
    val: Sequence[tuple[Tensor, int]],
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 50,
    weight_decay: float = 0.0,
    patience: int | None = 3,
    bucket: bool = True,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Notebook 06's recipe for the neural sentiment models: AdamW (``weight_decay`` decoupled), cross-entropy,
    shuffled batches of ``batch_size`` encoded reviews (of similar length with ``bucket``, see
    :func:`review_loader`), validation accuracy after every epoch, early stopping
    after ``patience`` epochs without improvement and the best epoch's weights restored; bfloat16 autocast
    where the CPU supports it. Frozen parameters (``requires_grad=False``) are left out of the optimizer."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, e.g. KimCNN(len(vocab)), got {type(model).__name__}")
    _check_positive_number(lr, "lr", "1e-3")
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, (int, float))
        or not 0 <= weight_decay < math.inf
    ):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    for name, split in (("train", train), ("val", val)):
        if isinstance(split, str) or not isinstance(split, Sequence) or not split:
            raise ValueError(
                f"{name} must be a non-empty list of encoded reviews (encode_reviews), got {split!r:.60}"
            )
    train_loader = review_loader(train, batch_size, shuffle=True, bucket=bucket, seed=seed)
    val_loader = review_loader(val, 500)  # both check the (ids, label) structure of every example
    n_classes = getattr(getattr(model, "fc", None), "out_features", None)  # the models of this module
    for name, split in (("train", train), ("val", val)):
        top = max(label for _, label in split)
        if isinstance(n_classes, int) and top >= n_classes:
            raise ValueError(
                f"{name} has label {top} but the model predicts {n_classes} classes (0 .. {n_classes - 1}); "
                f"build it with num_classes=len(classes)"
            )
    torch.manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters (all have requires_grad=False); unfreeze some")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    device = next(model.parameters()).device
    return fit(model, optimizer, nn.CrossEntropyLoss(), train_loader, val_loader, epochs=epochs,
               metrics={"accuracy": _accuracy}, monitor="val_accuracy", mode="max", patience=patience,
               autocast_dtype=autocast_dtype(device), progress=progress)  # fmt: skip


# --------------------------------------------------------------------------------------------- bags of n-grams


def ngram_matrix(
    docs: Sequence[Sequence[str]], n: int = 2, vocab: dict[tuple[str, ...], int] | None = None
) -> tuple[Tensor, dict[tuple[str, ...], int]]:
    """Binary bag of 1..n-grams: a sparse (documents, features) float tensor with 1 where the document holds the
    n-gram. Without ``vocab`` the features are the n-grams of ``docs`` (fit on training data); with it, n-grams
    outside it are dropped (apply to held-out data). Returns the matrix and the feature index."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(docs, str) or not isinstance(docs, Sequence):
        raise TypeError(f"docs must be a list of token lists, got {type(docs).__name__}")
    if not docs:
        raise ValueError("ngram_matrix got no documents (docs is empty)")
    if vocab is not None and not isinstance(vocab, dict):
        raise TypeError(
            f"vocab must be None or the n-gram index ngram_matrix returned, got {type(vocab).__name__}"
        )
    grow = vocab is None
    index: dict[tuple[str, ...], int] = {} if vocab is None else vocab
    rows, cols = [], []
    for d, doc in enumerate(docs):
        if isinstance(doc, str):
            raise TypeError(f"docs[{d}] is a str; pass token lists, e.g. tokenize_review(text)")
        if not isinstance(doc, Sequence) or not all(isinstance(t, str) for t in doc):
            raise TypeError(
                f"docs[{d}] must be a list of tokens (str), e.g. tokenize_review(text), got {doc!r:.60}"
            )
        feats = set()
        for k in range(1, n + 1):
            for i in range(len(doc) - k + 1):
                g = tuple(doc[i : i + k])
                j = index.get(g)
                if j is None and grow:
                    j = index[g] = len(index)
                if j is not None:
                    feats.add(j)
        rows += [d] * len(feats)
        cols += sorted(feats)
    values = torch.ones(len(rows))
    indices = torch.tensor([rows, cols], dtype=torch.long).view(2, -1)
    m = torch.sparse_coo_tensor(indices, values, (len(docs), len(index)), check_invariants=True).coalesce()
    return m, index


def _as_matrix(X: Tensor) -> Tensor:
    """A (N, F) feature matrix, sparse or dense, as a coalesced sparse float tensor."""
    if not isinstance(X, Tensor) or X.dim() != 2:
        got = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"X must be a (documents, features) matrix, e.g. from ngram_matrix, got {got}")
    X = X.float()
    X = X.coalesce() if X.is_sparse else X.to_sparse()
    if not torch.isfinite(X.values()).all():
        raise ValueError("X holds NaN or inf; features must be finite numbers (e.g. ngram_matrix's 0/1)")
    return X


def _as_labels(y: Tensor, n: int) -> Tensor:
    try:
        y = torch.as_tensor(y)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"y must be a tensor (or list) of 0/1 labels, got {y!r:.60}") from None
    if y.shape != (n,):
        raise ValueError(f"X has {n} rows but y has shape {tuple(y.shape)}: one 0/1 label per row")
    if y.numel() and not set(y.unique().tolist()) <= {0, 1}:
        raise ValueError(f"y must hold 0/1 labels, got {sorted(set(y.unique().tolist()))[:5]}")
    return y


def _check_fit_data(X: Tensor, y: Tensor, who: str) -> None:
    """X (N, F) and y (N,) 0/1 that a model can be fitted on: some rows, some features, both classes."""
    if not X.shape[0] or not X.shape[1]:
        raise ValueError(
            f"{who} needs at least one document and one feature, got X of shape {tuple(X.shape)}"
        )
    if y.min() == y.max():
        raise ValueError(
            f"{who}: y holds one class only ({int(y[0])}); fitting needs examples of both classes"
        )


def _check_positive_number(value: float, name: str, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number > 0 (e.g. {example}), got {value!r}")


def nb_log_ratios(X: Tensor, y: Tensor, alpha: float = 1.0) -> Tensor:
    """Wang & Manning's r = log((p / |p|_1) / (q / |q|_1)) with p = alpha + the feature counts of the positive
    documents (y = 1) and q the same for the negative ones: (F,), positive for n-grams of positive reviews."""
    X = _as_matrix(X)
    y = _as_labels(y, X.shape[0])
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < math.inf:
        raise ValueError(f"alpha (the smoothing count) must be a finite number > 0, e.g. 1.0, got {alpha!r}")
    _check_fit_data(X, y, "nb_log_ratios")
    if X.values().numel() and X.values().min() < 0:
        raise ValueError(
            "nb_log_ratios needs feature counts >= 0 (e.g. ngram_matrix's 0/1), X has negative entries"
        )
    pos = torch.sparse.mm(X.t(), y.float()[:, None]).to_dense().squeeze(1)
    tot = torch.sparse.sum(X, 0).to_dense()
    p, q = alpha + pos, alpha + (tot - pos)
    return torch.log(p / p.sum()) - torch.log(q / q.sum())


class LinearBagClassifier:
    """A linear classifier on a sparse feature matrix, fitted to convergence by L-BFGS: ``loss="log"`` is
    L2-regularized logistic regression, ``"squared_hinge"`` the L2-loss SVM of liblinear. Both minimise
    ||w||^2 / 2 + C * sum_i loss(y_i, w.x_i + b) with y in {0, 1} (the intercept is not regularized)."""

    def __init__(self, C: float = 1.0, loss: str = "log", max_iter: int = 500) -> None:
        _check_positive_number(C, "C", "1.0")
        if loss not in ("log", "squared_hinge"):
            raise ValueError(f"loss must be 'log' or 'squared_hinge', got {loss!r}")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive int (L-BFGS iterations), got {max_iter!r}")
        self.C, self.loss, self.max_iter = float(C), loss, max_iter

    def _objective(self, X: Tensor, s: Tensor, w: Tensor, b: Tensor) -> Tensor:
        z = torch.sparse.mm(X, w[:, None]).squeeze(1) + b
        if self.loss == "log":
            data = F.softplus(-s * z).sum()
        else:
            data = F.relu(1 - s * z).pow(2).sum()
        return 0.5 * (w @ w) + self.C * data

    def fit(self, X: Tensor, y: Tensor) -> LinearBagClassifier:
        """Fit on X (N, F) sparse or dense, y (N,) of 0/1."""
        X = _as_matrix(X)
        y = _as_labels(y, X.shape[0])
        _check_fit_data(X, y, type(self).__name__)
        s = y.double() * 2 - 1
        X = X.double()
        w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=1, max_iter=self.max_iter, tolerance_grad=1e-9,
                                tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")  # fmt: skip

        def closure() -> Tensor:
            opt.zero_grad()
            value = self._objective(X, s, w, b)
            value.backward()
            return value

        opt.step(closure)
        self.coef_, self.intercept_ = w.detach().float(), b.item()
        return self

    def decision_function(self, X: Tensor) -> Tensor:
        """(N,) scores w.x + b; positive means class 1."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("call fit(X, y) first")
        X = _as_matrix(X)
        if X.shape[1] != self.coef_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features, the model was fitted on {self.coef_.shape[0]}")
        return torch.sparse.mm(X, self.coef_[:, None]).squeeze(1) + self.intercept_

    def predict(self, X: Tensor) -> Tensor:
        """(N,) predicted 0/1 labels."""
        return (self.decision_function(X) > 0).long()


class NBSVM(LinearBagClassifier):
    """Wang & Manning (2012): an SVM on the binary n-gram features scaled by the NB log-count ratios r,
    then w' = (1 - beta) * mean|w| + beta * w (interpolating towards Multinomial NB, beta = 0.25 in the paper)."""

    def __init__(self, C: float = 1.0, beta: float = 0.25, alpha: float = 1.0, max_iter: int = 500) -> None:
        super().__init__(C, "squared_hinge", max_iter)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta <= 1:
            raise ValueError(f"beta must be a number in [0, 1] (0.25 in the paper), got {beta!r}")
        _check_positive_number(alpha, "alpha (the smoothing count)", "1.0")
        self.beta, self.alpha = beta, alpha

    def _scale(self, X: Tensor) -> Tensor:
        return (_as_matrix(X) * self.r[None, :]).coalesce()

    def fit(self, X: Tensor, y: Tensor) -> NBSVM:
        self.r = nb_log_ratios(X, y, self.alpha)
        super().fit(self._scale(X), y)
        w = self.coef_
        self.coef_ = (1 - self.beta) * w.abs().mean() + self.beta * w
        return self

    def decision_function(self, X: Tensor) -> Tensor:
        if not hasattr(self, "r"):
            raise RuntimeError("call fit(X, y) first")
        X = _as_matrix(X)
        if X.shape[1] != self.r.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features, the model was fitted on {self.r.shape[0]}")
        return super().decision_function(self._scale(X))


# --------------------------------------------------------------------------------------------- evaluation


def platt_scaling(scores: Tensor, y: Tensor, max_iter: int = 100) -> tuple[float, float]:
    """Platt (1999): the ``(a, b)`` for which sigmoid(a * score + b) best predicts the 0/1 labels ``y``
    (maximum likelihood, by L-BFGS). Fit it on held-out scores (e.g. ``NBSVM.decision_function`` on the
    validation split); sigmoid(a * s + b) is then a probability of class 1 that can be averaged with a
    neural model's softmax."""
    if not isinstance(scores, Tensor) or scores.dim() != 1 or not scores.numel():
        got = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a non-empty 1-D tensor, one score per example, got {got}")
    if not torch.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf; check the classifier that produced them")
    y = _as_labels(y, scores.shape[0])
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int (L-BFGS iterations), got {max_iter!r}")
    if y.min() == y.max():
        raise ValueError("y holds one class only: Platt scaling needs examples of both classes")
    s, t = scores.double(), y.double()
    lo, hi = s[y == 0], s[y == 1]
    if lo.max() < hi.min() or hi.max() < lo.min():
        raise ValueError("the scores separate the two classes perfectly, so no finite (a, b) is most likely; "
                         "fit on held-out scores (not the training set's) or on more examples")  # fmt: skip
    ab = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=1, max_iter=max_iter, tolerance_grad=1e-10, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")  # fmt: skip

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(ab[0] * s + ab[1], t)
        loss.backward()
        return loss

    opt.step(closure)
    a, b = ab.detach().tolist()
    return a, b


def accuracy_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for an accuracy of ``correct`` out of ``n`` (95 % with z = 1.96)."""
    if not (isinstance(z, (int, float)) and not isinstance(z, bool) and 0 < z < math.inf):
        raise ValueError(f"z must be a positive number (1.96 for 95 %), got {z!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(correct, bool) or not isinstance(correct, int) or not 0 <= correct <= n:
        raise ValueError(f"correct must be an int in [0, n] = [0, {n}], got {correct!r}")
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half
