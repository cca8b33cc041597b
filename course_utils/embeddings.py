"""Word embeddings (notebook 03): word2vec, GloVe and fastText from their objectives, and how to evaluate them.

The corpus (:func:`load_embedding_corpus`) is the bundled Wikipedia sample plus the English side of Multi30k
train, tokenized by :func:`tokenize_words`. The models follow the papers and their reference code:

* :class:`SkipGram` and :class:`CBOW` with negative sampling (Mikolov et al., 2013): word2vec's subsampling
  (:func:`keep_probabilities`), its unigram^0.75 noise (:func:`noise_distribution`) and dynamic windows
  (:func:`skipgram_pairs`, :func:`cbow_contexts`), trained by :func:`train_word2vec` with word2vec's plain
  SGD and linearly decaying learning rate, in batches (no Python loop per pair);
* :class:`GloVe` (Pennington et al., 2014): :func:`cooccurrence` with 1/distance weighting, the weighting
  function :func:`glove_weight`, AdaGrad in :func:`train_glove`;
* :class:`FastText` (Bojanowski et al., 2017): skip-gram whose input vector is the mean of the word's vector
  and its character n-grams' (:func:`char_ngrams`, hashed by :func:`fnv1a_32` into buckets as fastText and
  gensim do), so that words never seen in training get vectors too (:meth:`FastText.vector`).

Evaluation: :func:`nearest_neighbours`, :func:`analogy_accuracy` (3CosAdd and 3CosMul),
:func:`similarity_correlation` (Spearman's rho, :func:`spearman`), :func:`pca_2d`.

Shapes: B batch (pairs or centre words), K negatives per pair, C context slots, V vocabulary, d width.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.text import Vocab

__all__ = [
    "WORD2VEC",
    "CBOW",
    "AnalogyResult",
    "EncodedCorpus",
    "FastText",
    "GloVe",
    "SkipGram",
    "TrainStats",
    "analogy_accuracy",
    "build_vocab",
    "cbow_contexts",
    "char_ngrams",
    "cooccurrence",
    "encode_corpus",
    "evaluate_embeddings",
    "fnv1a_32",
    "glove_step",
    "glove_weight",
    "keep_probabilities",
    "load_embedding_corpus",
    "nearest_neighbours",
    "noise_distribution",
    "pca_2d",
    "pretrained_embedding",
    "sample_negatives",
    "similarity_correlation",
    "sgns_step",
    "skipgram_pairs",
    "spearman",
    "subsample",
    "tokenize_words",
    "train_gensim",
    "train_glove",
    "train_word2vec",
]

#: Notebook 03's hyperparameters, shared by our models and gensim's (gensim's defaults, except more epochs
#: for a small corpus and fewer fastText buckets: gensim's 2,000,000 x 100 floats would take 800 MB).
WORD2VEC = dict(
    dim=100, window=5, negative=5, min_count=5, sample=1e-3, alpha=0.025, min_alpha=1e-4, epochs=10,
    min_n=3, max_n=6, buckets=200_000,
)  # fmt: skip

_WORD = re.compile(r"[^\W_]+")


def _check_positive_int(**values: object) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _check_fraction(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not 0 < value < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")


# --------------------------------------------------------------------------- corpus


def tokenize_words(text: str) -> list[str]:
    """Lower-cased runs of letters and digits: ``"Lincoln's 16th term."`` -> ``['lincoln', 's', '16th', 'term']``.
    Punctuation is dropped (word2vec needs words, not sentence structure)."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize_words expects a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


@functools.lru_cache(maxsize=2)
def _corpus(max_sentences: int | None) -> tuple[tuple[str, ...], ...]:
    from course_utils.data import load_multi30k, load_wikipedia

    wiki = [tokenize_words(line) for _, text in load_wikipedia() for line in text.split("\n")]
    captions = [tokenize_words(en) for _, en in load_multi30k("train")]
    sentences = [tuple(s) for s in wiki + captions if s]
    if max_sentences and max_sentences < len(sentences):  # an evenly spread sample: both sources stay in
        step = len(sentences) / max_sentences
        sentences = [sentences[int(i * step)] for i in range(max_sentences)]
    return tuple(sentences)


def load_embedding_corpus(*, max_sentences: int | None = None) -> list[list[str]]:
    """The training corpus of notebook 03: every paragraph of the Wikipedia sample (one "sentence" each), then
    every English caption of Multi30k train, tokenized by :func:`tokenize_words`; empty ones dropped.
    ``max_sentences`` keeps that many, evenly spread over both sources (the quick profile)."""
    if max_sentences is not None:
        _check_positive_int(max_sentences=max_sentences)
    return [list(s) for s in _corpus(max_sentences)]


def build_vocab(corpus: Sequence[Sequence[str]], min_count: int = 5) -> Vocab:
    """Words seen at least ``min_count`` times, most frequent first, no special tokens; ``vocab.freqs`` holds
    the counts of every word (the rarer ones are dropped from the text, as word2vec does)."""
    _check_positive_int(min_count=min_count)
    return Vocab.build(corpus, min_freq=min_count, specials=())


@dataclass
class EncodedCorpus:
    """A corpus as one long id array: ``ids`` (N,) and ``sentence`` (N,), the sentence each token came from
    (windows never cross a sentence), ``counts`` (V,) of each word in ``vocab``."""

    ids: Tensor
    sentence: Tensor
    counts: Tensor
    vocab: Vocab

    def __len__(self) -> int:
        return int(self.ids.numel())


def encode_corpus(corpus: Sequence[Sequence[str]], vocab: Vocab) -> EncodedCorpus:
    """Map ``corpus`` to ids, dropping words outside ``vocab`` (word2vec removes them before windowing)."""
    if isinstance(corpus, str) or not isinstance(corpus, Sequence):
        raise TypeError("corpus must be a list of token lists, e.g. load_embedding_corpus()")
    stoi = vocab.stoi
    ids, sentence = [], []
    for i, tokens in enumerate(corpus):
        if isinstance(tokens, str):
            raise TypeError(
                f"corpus[{i}] is a str; each sentence must be a list of tokens (tokenize_words(s))"
            )
        kept = [stoi[t] for t in tokens if t in stoi]
        ids.extend(kept)
        sentence.extend([i] * len(kept))
    if not ids:
        raise ValueError("no word of the corpus is in the vocabulary: nothing to train on")
    ids_t = torch.tensor(ids, dtype=torch.long)
    counts = torch.bincount(ids_t, minlength=len(vocab))
    return EncodedCorpus(ids_t, torch.tensor(sentence, dtype=torch.long), counts, vocab)


# --------------------------------------------------------------------------- word2vec's samplers


def keep_probabilities(counts: Tensor, sample: float = 1e-3) -> Tensor:
    """word2vec's subsampling of frequent words: a word with count f among N tokens is kept with probability
    ``(sqrt(f / (s N)) + 1) * s N / f``, capped at 1 (the reference code's formula, also gensim's; the
    paper's ``1 - sqrt(t / f)`` is the probability of dropping it, close to it for frequent words).
    ``sample = 0`` keeps everything."""
    counts = torch.as_tensor(counts)
    if (
        counts.dim() != 1
        or counts.numel() == 0
        or counts.is_floating_point()
        and not torch.isfinite(counts).all()
    ):
        raise ValueError(
            f"counts must be a non-empty 1-D tensor of word counts, got shape {tuple(counts.shape)}"
        )
    if (counts < 0).any():
        raise ValueError("counts must be >= 0")
    if sample == 0:
        return torch.ones(counts.shape, dtype=torch.float64)
    _check_fraction("sample", sample)
    f = counts.double()
    threshold = sample * f.sum()
    keep = (torch.sqrt(f / threshold) + 1) * threshold / f.clamp(min=1)
    return keep.clamp(max=1.0)


def noise_distribution(counts: Tensor, power: float = 0.75) -> Tensor:
    """The negative-sampling distribution ``P(w) ∝ count(w)^power`` (0.75 in word2vec: rare words are drawn
    more often than their frequency, frequent ones less)."""
    counts = torch.as_tensor(counts).double()
    if counts.dim() != 1 or counts.numel() == 0 or not torch.isfinite(counts).all() or (counts < 0).any():
        raise ValueError("counts must be a non-empty 1-D tensor of finite counts >= 0")
    if counts.sum() == 0:
        raise ValueError("counts are all zero: no word to sample")
    p = counts.pow(power)
    return p / p.sum()


def sample_negatives(cdf: Tensor, shape: tuple[int, ...], generator: torch.Generator | None = None) -> Tensor:
    """Draw word ids from the noise distribution given as its cumulative sum ``cdf`` (V,): one binary search
    per sample (word2vec's 10^8-entry table does the same job by lookup)."""
    u = torch.rand(shape, generator=generator, dtype=cdf.dtype) * cdf[-1]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.numel() - 1)


def subsample(corpus: EncodedCorpus, keep: Tensor, generator: torch.Generator | None = None) -> EncodedCorpus:
    """One random draw of word2vec's subsampling: keep each token with probability ``keep[word]`` (a fresh
    draw every epoch). Windows are then taken over what is left, as word2vec does."""
    mask = torch.rand(len(corpus), generator=generator, dtype=torch.float64) < keep[corpus.ids]
    return EncodedCorpus(corpus.ids[mask], corpus.sentence[mask], corpus.counts, corpus.vocab)


def _window_sizes(n: int, window: int, generator: torch.Generator | None) -> Tensor:
    # word2vec's dynamic window: each centre word looks at b ~ U{1 .. window} words on each side, so a
    # neighbour at distance k counts with probability (window - k + 1) / window.
    return torch.randint(1, window + 1, (n,), generator=generator)


def skipgram_pairs(
    ids: Tensor, sentence: Tensor, window: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """All (centre, context) pairs of skip-gram with dynamic windows, in corpus order of the centre word:
    returns ``centres`` (P,) and ``contexts`` (P,), word ids. Pairs never cross a sentence."""
    _check_positive_int(window=window)
    n = ids.numel()
    b = _window_sizes(n, window, generator)
    pos = torch.arange(n)
    centre_pos, context_pos = [], []
    for k in range(1, window + 1):  # one vectorised pass per distance, not per pair
        for sign in (-1, 1):
            other = pos + sign * k
            ok = (other >= 0) & (other < n) & (b >= k)
            ok &= sentence[other.clamp(0, max(n - 1, 0))] == sentence
            centre_pos.append(pos[ok])
            context_pos.append(other[ok])
    centre_pos_t, context_pos_t = torch.cat(centre_pos), torch.cat(context_pos)
    order = torch.argsort(centre_pos_t, stable=True)
    return ids[centre_pos_t[order]], ids[context_pos_t[order]]


def cbow_contexts(
    ids: Tensor, sentence: Tensor, window: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """CBOW's training examples with dynamic windows: ``centres`` (B,) and ``contexts`` (B, 2 window) word ids,
    -1 where a slot is empty (outside the window, the sentence or the text). Centres with no context are dropped."""
    _check_positive_int(window=window)
    n = ids.numel()
    b = _window_sizes(n, window, generator)
    pos = torch.arange(n)
    slots = []
    for k in range(1, window + 1):
        for sign in (-1, 1):
            other = pos + sign * k
            ok = (other >= 0) & (other < n) & (b >= k)
            other = other.clamp(0, max(n - 1, 0))
            ok &= sentence[other] == sentence
            slots.append(torch.where(ok, ids[other], -1))
    contexts = torch.stack(slots, dim=1)  # (N, 2 window)
    has = (contexts >= 0).any(dim=1)
    return ids[has], contexts[has]


# --------------------------------------------------------------------------- word2vec models


class SkipGram(nn.Module):
    """Skip-gram with negative sampling: an input vector v_w per word and an output vector u_w per word;
    for a centre c, a true context o and K noise words n_1..n_K the loss is

        -log sigma(u_o . v_c) - sum_k log sigma(-u_{n_k} . v_c).

    Initialised as word2vec does: inputs uniform in +-0.5/d, outputs zero."""

    def __init__(self, vocab_size: int, dim: int = 100) -> None:
        super().__init__()
        _check_positive_int(vocab_size=vocab_size, dim=dim)
        self.vocab_size = vocab_size
        self.inp = nn.Embedding(vocab_size, dim)
        self.out = nn.Embedding(vocab_size, dim)
        with torch.no_grad():
            self.inp.weight.uniform_(-0.5 / dim, 0.5 / dim)
            self.out.weight.zero_()

    def centre_vectors(self, centres: Tensor) -> Tensor:
        """v_c for a batch of centre ids (B,) -> (B, d)."""
        return self.inp(centres)

    def input_vectors(self, inputs: Tensor) -> Tensor:
        """The vector that predicts, (B, d): the centre word's (here), the context mean (CBOW)."""
        return self.centre_vectors(inputs)

    def update_inputs(self, inputs: Tensor, delta: Tensor) -> None:
        """Add ``delta`` (B, d), the step of each input vector, to every row that made it (for CBOW and fastText,
        whose input vector is a mean of rows, the whole step goes to each row, as the reference code does)."""
        self.inp.weight.index_add_(0, inputs, delta)

    def forward(self, centres: Tensor, contexts: Tensor, negatives: Tensor) -> Tensor:
        """Loss per pair (B,): ``centres`` (B,), ``contexts`` (B,), ``negatives`` (B, K)."""
        _check_ids(self.vocab_size, centres=centres, contexts=contexts, negatives=negatives)
        v = self.centre_vectors(centres)  # (B, d)
        pos = (self.out(contexts) * v).sum(-1)  # (B,)
        neg = torch.bmm(self.out(negatives), v.unsqueeze(-1)).squeeze(-1)  # (B, K)
        return -F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)

    def word_vectors(self) -> Tensor:
        """The vectors a word2vec model hands out: the input embeddings (V, d)."""
        return self.inp.weight.detach()


class CBOW(SkipGram):
    """Continuous bag of words with negative sampling: the mean of the context words' input vectors, h,
    predicts the centre: ``-log sigma(u_c . h) - sum_k log sigma(-u_{n_k} . h)``."""

    def forward(self, contexts: Tensor, centres: Tensor, negatives: Tensor) -> Tensor:  # type: ignore[override]
        """Loss per example (B,): ``contexts`` (B, C) with -1 in empty slots, ``centres`` (B,), ``negatives`` (B, K)."""
        if contexts.dim() != 2:
            raise ValueError(
                f"CBOW: contexts must be (B, C) word ids with -1 for empty slots, got {tuple(contexts.shape)}"
            )
        mask = contexts >= 0
        if not mask.any(dim=1).all():
            raise ValueError(
                "CBOW: every example needs at least one context word (a row of contexts is all -1)"
            )
        _check_ids(self.vocab_size, contexts=contexts[mask], centres=centres, negatives=negatives)
        h = self.input_vectors(contexts)  # (B, d)
        pos = (self.out(centres) * h).sum(-1)
        neg = torch.bmm(self.out(negatives), h.unsqueeze(-1)).squeeze(-1)
        return -F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)

    def input_vectors(self, inputs: Tensor) -> Tensor:
        """h (B, d): the mean input vector of each row's context words (``inputs`` (B, C), -1 = empty)."""
        mask = inputs >= 0
        vecs = self.inp(inputs.clamp(min=0)) * mask.unsqueeze(-1)  # (B, C, d)
        return vecs.sum(1) / mask.sum(1, keepdim=True)

    def update_inputs(self, inputs: Tensor, delta: Tensor) -> None:
        # word2vec adds the whole step of h to every context word (not the 1/|C| share of the chain rule)
        mask = inputs >= 0
        rows = inputs[mask]  # (n,)
        self.inp.weight.index_add_(0, rows, delta.unsqueeze(1).expand(-1, inputs.shape[1], -1)[mask])


def _check_ids(vocab_size: int, **tensors: Tensor) -> None:
    for name, t in tensors.items():
        if not isinstance(t, Tensor) or t.dtype != torch.long:
            raise TypeError(
                f"{name} must be a torch.long tensor of word ids, got {getattr(t, 'dtype', type(t))}"
            )
        if t.numel() and (t.min() < 0 or t.max() >= vocab_size):
            raise ValueError(f"{name} holds ids outside 0..{vocab_size - 1} (min {t.min()}, max {t.max()})")


# --------------------------------------------------------------------------- fastText


def fnv1a_32(data: bytes) -> int:
    """fastText's string hash: 32-bit FNV-1a over the UTF-8 bytes, each byte sign-extended first as the
    C++ code's ``int8_t`` cast does (so gensim and fastText agree on words with non-ASCII letters)."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"fnv1a_32 hashes bytes, e.g. word.encode('utf-8'); got {type(data).__name__}")
    h = 2166136261
    for byte in data:
        h ^= byte if byte < 128 else byte | 0xFFFFFF00
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, min_n: int = 3, max_n: int = 6) -> list[str]:
    """The character n-grams of ``<word>`` (``<`` and ``>`` mark its boundaries) with ``min_n <= n <= max_n``,
    shortest first: ``char_ngrams("where", 3, 3)`` -> ``['<wh', 'whe', 'her', 'ere', 're>']``."""
    if not isinstance(word, str) or not word:
        raise ValueError(f"word must be a non-empty str, got {word!r}")
    _check_positive_int(min_n=min_n, max_n=max_n)
    if min_n > max_n:
        raise ValueError(f"min_n ({min_n}) must be <= max_n ({max_n})")
    w = f"<{word}>"
    return [w[i : i + n] for n in range(min_n, max_n + 1) for i in range(len(w) - n + 1)]


class FastText(SkipGram):
    """fastText's skip-gram: a word's vector is built from its own row and the rows of its character n-grams
    (3-6 by default), each n-gram stored in one of ``buckets`` rows chosen by its hash. Output vectors are per
    word, as in :class:`SkipGram`.

    Two details follow gensim, the peer the course compares with: in training, the input vector h of a word
    with n n-grams is (own row + sum of n-gram rows) / n (gensim divides by the n-gram count; fastText's C++
    code by n + 1), and every row starts uniform in +-1/d. The vectors handed out (:meth:`word_vectors`,
    :meth:`vector`) are the plain mean of the rows, as both libraries hand them out; ``vector(word)`` works for
    any word: one never seen in training gets the mean of its n-gram vectors."""

    def __init__(
        self, vocab: Vocab, dim: int = 100, *, min_n: int = 3, max_n: int = 6, buckets: int = 200_000
    ) -> None:
        _check_positive_int(buckets=buckets)
        super().__init__(len(vocab), dim)
        self.vocab, self.min_n, self.max_n, self.buckets = vocab, min_n, max_n, buckets
        # One table: rows 0..V-1 are words, rows V.. the n-gram buckets (initialised like the words).
        self.inp = nn.EmbeddingBag(len(vocab) + buckets, dim, mode="sum")
        with torch.no_grad():
            self.inp.weight.uniform_(-1 / dim, 1 / dim)
        pieces = [self.subword_ids(w, known=True) for w in vocab.itos]
        self.register_buffer(
            "piece_ids", torch.tensor([i for p in pieces for i in p], dtype=torch.long), persistent=False
        )
        lengths = torch.tensor([len(p) for p in pieces])
        self.register_buffer("piece_offsets", torch.cumsum(lengths, 0) - lengths, persistent=False)
        self.register_buffer("piece_lengths", lengths, persistent=False)

    def subword_ids(self, word: str, *, known: bool | None = None) -> list[int]:
        """Rows of the input table that make up ``word``: its own row (if in the vocabulary) and its n-grams'."""
        rows = [self.vocab[word]] if (word in self.vocab if known is None else known) else []
        return rows + [self.vocab_size + fnv1a_32(g.encode("utf-8")) % self.buckets
                       for g in char_ngrams(word, self.min_n, self.max_n)]  # fmt: skip

    def _pieces(self, centres: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The rows of each centre word, flattened (n,), with each word's offset (B,) and count (B,)."""
        lengths = self.piece_lengths[centres]
        offsets = torch.cumsum(lengths, 0) - lengths
        within = torch.arange(int(lengths.sum())) - torch.repeat_interleave(offsets, lengths)
        flat = self.piece_ids[torch.repeat_interleave(self.piece_offsets[centres], lengths) + within]
        return flat, offsets, lengths

    def centre_vectors(self, centres: Tensor) -> Tensor:
        """h in training (B, d): (own row + n-gram rows) / n, n the word's n-gram count (gensim's choice)."""
        # Skip-gram pairs come grouped by centre word: build each run's vector once (as fastText does).
        words, inverse = torch.unique_consecutive(centres, return_inverse=True)
        flat, offsets, lengths = self._pieces(words)
        n_grams = (lengths - 1).clamp(min=1).unsqueeze(1)  # (B', 1); rows = own + n-grams
        return (self.inp(flat, offsets) / n_grams)[inverse]  # one EmbeddingBag call sums each word's rows

    def update_inputs(self, inputs: Tensor, delta: Tensor) -> None:
        words, inverse = torch.unique_consecutive(inputs, return_inverse=True)
        per_word = delta.new_zeros(words.numel(), delta.shape[1]).index_add_(0, inverse, delta)
        flat, _, lengths = self._pieces(words)
        # as fastText: every row of the word gets the whole step of h (not the 1/n share of the chain rule)
        self.inp.weight.index_add_(0, flat, torch.repeat_interleave(per_word, lengths, dim=0))

    def word_vectors(self) -> Tensor:
        """(V, d): every vocabulary word's vector, the mean of its own row and its n-grams' rows."""
        with torch.no_grad():
            flat, offsets, lengths = self._pieces(torch.arange(self.vocab_size))
            return self.inp(flat, offsets) / lengths.unsqueeze(1)

    def vector(self, word: str) -> Tensor:
        """(d,) for any word, in the vocabulary or not (then from its character n-grams alone)."""
        rows = torch.tensor(self.subword_ids(word))
        with torch.no_grad():
            return self.inp(rows[None]).squeeze(0) / len(rows)


# --------------------------------------------------------------------------- training word2vec and fastText


@torch.no_grad()
def sgns_step(model: SkipGram, inputs: Tensor, targets: Tensor, negatives: Tensor, lr: float) -> float:
    """One SGD step on the summed negative-sampling loss of a batch, gradients written out: with h the input
    vector, u_o the target's output vector and u_k the noise words', dL/d(u_o.h) = sigma(u_o.h) - 1 and
    dL/d(u_k.h) = sigma(u_k.h). Output vectors and skip-gram's input vectors move exactly as autograd and SGD
    would move them; when h is a mean of rows (CBOW, fastText) every row gets the whole step of h, as in
    word2vec's and fastText's code (the chain rule would give each row 1/n of it). Returns the loss.

    ``inputs`` (B,) centre ids, or (B, C) context ids for CBOW; ``targets`` (B,). ``negatives`` (B, K) gives
    every example its own K noise words, as word2vec does; (G, K) with G < B shares them: the examples, in G
    consecutive blocks of S = ceil(B / G), use their block's K noise words (Ji et al., 2016), which turns
    B K small dot products into G matrix products and gathers and updates S times fewer noise rows."""
    h = model.input_vectors(inputs)  # (B, d)
    (B, d), (G, K) = h.shape, negatives.shape
    if not 1 <= G <= B or targets.shape != (B,):
        raise ValueError(f"sgns_step: targets must be ({B},) and negatives (G, K) with 1 <= G <= {B}, "
                         f"got {tuple(targets.shape)} and {tuple(negatives.shape)}")  # fmt: skip
    S = -(-B // G)  # examples per block
    out = model.out.weight
    u_o = out.index_select(0, targets)  # (B, d)
    pos = (u_o * h).sum(-1)  # (B,)
    g_pos = torch.sigmoid(pos) - 1  # dL/d(u_o.h)
    h_blocks = F.pad(h, (0, 0, 0, G * S - B)).view(G, S, d)  # zero rows fill the last block
    u_k = out.index_select(0, negatives.reshape(-1)).view(G, K, d)
    neg = torch.bmm(h_blocks, u_k.transpose(1, 2))  # (G, S, K)
    g_neg = torch.sigmoid(neg)  # dL/d(u_k.h)
    g_neg.view(G * S, K)[B:] = 0  # the filler rows are not examples
    grad_h = g_pos.unsqueeze(-1) * u_o + torch.bmm(g_neg, u_k).view(G * S, d)[:B]  # (B, d)
    out.index_add_(0, targets, g_pos.unsqueeze(-1) * h, alpha=-lr)
    out.index_add_(
        0, negatives.reshape(-1), torch.bmm(g_neg.transpose(1, 2), h_blocks).view(G * K, d), alpha=-lr
    )
    model.update_inputs(inputs, -lr * grad_h)
    return float(-(F.logsigmoid(pos).sum() + F.logsigmoid(-neg).view(G * S, K)[:B].sum()))


@dataclass
class TrainStats:
    """What a training run measured: seconds, words per second (in-vocabulary tokens of the text before
    subsampling, times epochs, over the time), mean loss per example in each epoch."""

    seconds: float = 0.0
    words_per_second: float = 0.0
    epoch_loss: list[float] = field(default_factory=list)


def train_word2vec(
    model: SkipGram,
    corpus: EncodedCorpus,
    *,
    epochs: int = 5,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    batch_size: int = 1024,
    share_negatives: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> TrainStats:
    """Train a :class:`SkipGram`, :class:`FastText` or :class:`CBOW` as word2vec does: every epoch a fresh
    subsampling and fresh dynamic windows, examples in text order, K = ``negative`` noise words per example
    from the unigram^0.75 distribution, plain SGD on the summed loss with a learning rate falling linearly
    from ``alpha`` to ``min_alpha`` over the run. ``batch_size`` examples per step (word2vec: one at a time);
    ``share_negatives = S > 1`` lets each block of S consecutive examples share its noise words
    (:func:`sgns_step`), 1 draws them per example as word2vec does."""
    from tqdm.auto import tqdm

    if not isinstance(model, SkipGram):
        raise TypeError(f"train_word2vec trains a SkipGram, CBOW or FastText, got {type(model).__name__}")
    if model.vocab_size != len(corpus.vocab):
        raise ValueError(
            f"the model has {model.vocab_size} words but the corpus vocabulary {len(corpus.vocab)}"
        )
    _check_positive_int(
        epochs=epochs,
        window=window,
        negative=negative,
        batch_size=batch_size,
        share_negatives=share_negatives,
    )
    for name, value in (("alpha", alpha), ("min_alpha", min_alpha)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    gen = torch.Generator().manual_seed(seed)
    keep = keep_probabilities(corpus.counts, sample)
    cdf = torch.cumsum(noise_distribution(corpus.counts), 0)
    cbow = isinstance(model, CBOW)
    stats = TrainStats()
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        kept = subsample(corpus, keep, gen)
        if cbow:
            centres, contexts = cbow_contexts(kept.ids, kept.sentence, window, gen)
        else:
            centres, contexts = skipgram_pairs(kept.ids, kept.sentence, window, gen)
        n = centres.numel()
        total, steps = 0.0, range(0, n, batch_size)
        bar = tqdm(
            steps, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False, mininterval=1
        )
        for i in bar:
            done = (epoch + i / max(n, 1)) / epochs  # fraction of the run behind us
            lr = alpha - (alpha - min_alpha) * done
            c, o = centres[i : i + batch_size], contexts[i : i + batch_size]
            negs = sample_negatives(cdf, (-(-c.numel() // share_negatives), negative), gen)
            total += sgns_step(model, o, c, negs, lr) if cbow else sgns_step(model, c, o, negs, lr)
        stats.epoch_loss.append(total / max(n, 1))
    stats.seconds = time.perf_counter() - start
    stats.words_per_second = len(corpus) * epochs / stats.seconds
    return stats


def train_gensim(
    kind: str,
    corpus: Sequence[Sequence[str]],
    vocab: Vocab,
    *,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    min_count: int = 5,
    sample: float = 1e-3,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    epochs: int = 5,
    min_n: int = 3,
    max_n: int = 6,
    buckets: int = 200_000,
    seed: int = 0,
    workers: int = 2,
) -> tuple[Tensor, TrainStats]:
    """The peer: gensim's ``Word2Vec`` (``kind`` ``"skipgram"`` or ``"cbow"``) or ``FastText`` (skip-gram) on the
    same corpus and hyperparameters, on ``workers`` threads. Returns the vectors (V, d) in the order of
    ``vocab`` (gensim must keep exactly its words) and the training time (``train()`` only, like ours)."""
    try:
        from gensim.models import FastText as GensimFastText
        from gensim.models import Word2Vec
    except ImportError as err:  # pragma: no cover - gensim is in the course's extras
        raise ImportError("gensim is needed for the comparison: pip install 'gensim>=4.3'") from err
    if kind not in ("skipgram", "cbow", "fasttext"):
        raise ValueError(f"kind must be 'skipgram', 'cbow' or 'fasttext', got {kind!r}")
    common = dict(vector_size=dim, window=window, negative=negative, min_count=min_count, sample=sample,
                  alpha=alpha, min_alpha=min_alpha, seed=seed, workers=workers, hs=0)  # fmt: skip
    if kind == "fasttext":
        model = GensimFastText(sg=1, min_n=min_n, max_n=max_n, bucket=buckets, **common)
    else:
        model = Word2Vec(sg=int(kind == "skipgram"), cbow_mean=1, **common)
    corpus = [list(s) for s in corpus]
    model.build_vocab(corpus)
    if set(model.wv.index_to_key) != set(vocab.itos):
        raise ValueError(
            "gensim's vocabulary differs from ours: build ours with the same corpus and min_count"
        )
    start = time.perf_counter()
    model.train(corpus, total_examples=len(corpus), epochs=epochs)
    seconds = time.perf_counter() - start
    vectors = torch.from_numpy(np.stack([model.wv[w] for w in vocab.itos]))
    stoi = vocab.stoi
    n_words = sum(w in stoi for s in corpus for w in s)  # in-vocabulary tokens, as ours counts
    return vectors, TrainStats(seconds=seconds, words_per_second=n_words * epochs / seconds)


# --------------------------------------------------------------------------- GloVe


def cooccurrence(corpus: EncodedCorpus, window: int = 10) -> tuple[Tensor, Tensor, Tensor]:
    """GloVe's co-occurrence counts: every pair of words at distance k <= ``window`` in one sentence adds 1/k
    to X[i, j] and to X[j, i]. Returns the non-zero entries as ``rows`` (P,), ``cols`` (P,), ``values`` (P,)."""
    _check_positive_int(window=window)
    ids, sentence, V = corpus.ids, corpus.sentence, len(corpus.vocab)
    keys, weights = [], []
    for k in range(1, window + 1):
        same = sentence[k:] == sentence[:-k]
        left, right = ids[:-k][same], ids[k:][same]
        w = torch.full((left.numel(),), 1.0 / k, dtype=torch.float64)
        keys += [left * V + right, right * V + left]
        weights += [w, w]
    key, inverse = torch.unique(torch.cat(keys), return_inverse=True)
    values = torch.zeros(key.numel(), dtype=torch.float64).index_add_(0, inverse, torch.cat(weights))
    return key // V, key % V, values.float()


def glove_weight(x: Tensor, x_max: float = 100.0, alpha: float = 0.75) -> Tensor:
    """GloVe's weighting function f(x) = (x / x_max)^alpha below x_max, 1 above: rare pairs count less,
    and no pair counts more than 1."""
    return torch.clamp(x / x_max, max=1.0).pow(alpha)


class GloVe(nn.Module):
    """GloVe: word vectors w_i, context vectors w~_j and biases b_i, b~_j fitted so that
    w_i . w~_j + b_i + b~_j ≈ log X_ij, each pair weighted by f(X_ij); the final vectors are w + w~."""

    def __init__(self, vocab_size: int, dim: int = 100) -> None:
        super().__init__()
        _check_positive_int(vocab_size=vocab_size, dim=dim)
        self.vocab_size = vocab_size
        self.w = nn.Embedding(vocab_size, dim)
        self.w_ctx = nn.Embedding(vocab_size, dim)
        self.b = nn.Embedding(vocab_size, 1)
        self.b_ctx = nn.Embedding(vocab_size, 1)
        with torch.no_grad():  # glove.c: uniform in +-0.5/d for vectors and biases
            for emb in (self.w, self.w_ctx, self.b, self.b_ctx):
                emb.weight.uniform_(-0.5 / dim, 0.5 / dim)

    def forward(
        self, rows: Tensor, cols: Tensor, x: Tensor, x_max: float = 100.0, alpha: float = 0.75
    ) -> Tensor:
        """Loss per pair (P,): f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2."""
        _check_ids(self.vocab_size, rows=rows, cols=cols)
        if not isinstance(x, Tensor) or not torch.isfinite(x).all() or (x <= 0).any():
            raise ValueError(
                "x must be a tensor of co-occurrence values > 0 (only the non-zero entries of X)"
            )
        pred = (
            (self.w(rows) * self.w_ctx(cols)).sum(-1)
            + self.b(rows).squeeze(-1)
            + self.b_ctx(cols).squeeze(-1)
        )
        return glove_weight(x, x_max, alpha) * (pred - torch.log(x)) ** 2

    def word_vectors(self) -> Tensor:
        """w + w~ (V, d), as the paper recommends."""
        return (self.w.weight + self.w_ctx.weight).detach()


@torch.no_grad()
def glove_step(
    model: GloVe,
    rows: Tensor,
    cols: Tensor,
    x: Tensor,
    squares: list[Tensor],
    *,
    lr: float = 0.05,
    x_max: float = 100.0,
    alpha: float = 0.75,
) -> float:
    """One AdaGrad step (Duchi et al., 2011) on a batch of non-zero entries, gradients written out. With
    e = f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij): dw_i = e w~_j, dw~_j = e w_i, db_i = db~_j = e (the
    gradient of J / 2, as in glove.c). Each parameter first adds g^2 to G, its sum of squared gradients
    (``squares``, one tensor per parameter of ``model``, starting at 0), then moves by lr g / sqrt(G).
    Returns J / 2 of the batch. (glove.c starts G at 1 and adds g^2 after the step: its first steps are
    then lr g instead of about lr, which is slow on a small corpus, whose counts and gradients are small.)"""
    w, w_ctx, b, b_ctx = model.w.weight, model.w_ctx.weight, model.b.weight, model.b_ctx.weight
    w_i, w_j = w[rows], w_ctx[cols]  # (P, d)
    diff = (w_i * w_j).sum(-1) + b[rows, 0] + b_ctx[cols, 0] - torch.log(x)  # (P,)
    e = glove_weight(x, x_max, alpha) * diff
    grads = ((w, rows, e.unsqueeze(-1) * w_j), (w_ctx, cols, e.unsqueeze(-1) * w_i),
             (b, rows, e.unsqueeze(-1)), (b_ctx, cols, e.unsqueeze(-1)))  # fmt: skip
    for (param, idx, g), G in zip(grads, squares, strict=True):
        G.index_add_(0, idx, g * g)
        param.index_add_(0, idx, g / (G[idx].sqrt() + 1e-8), alpha=-lr)
    return float((e * diff).sum() / 2)


def train_glove(
    model: GloVe,
    cooc: tuple[Tensor, Tensor, Tensor],
    *,
    epochs: int = 25,
    lr: float = 0.05,
    batch_size: int = 8192,
    x_max: float = 100.0,
    alpha: float = 0.75,
    seed: int = 0,
    progress: bool = True,
) -> TrainStats:
    """Fit :class:`GloVe` with AdaGrad (:func:`glove_step`, lr 0.05 as in the paper), the non-zero entries of X in
    a fresh random order each epoch, ``batch_size`` entries per step. ``epoch_loss``: J / 2 per entry."""
    from tqdm.auto import tqdm

    if not isinstance(model, GloVe):
        raise TypeError(f"train_glove trains a GloVe model, got {type(model).__name__}")
    _check_positive_int(epochs=epochs, batch_size=batch_size)
    rows, cols, x = cooc
    gen = torch.Generator().manual_seed(seed)
    squares = [
        torch.zeros_like(p) for p in (model.w.weight, model.w_ctx.weight, model.b.weight, model.b_ctx.weight)
    ]
    stats = TrainStats()
    start = time.perf_counter()
    for _ in tqdm(range(epochs), desc="GloVe epochs", disable=not progress):
        total = 0.0
        for idx in torch.randperm(x.numel(), generator=gen).split(batch_size):
            total += glove_step(model, rows[idx], cols[idx], x[idx], squares, lr=lr, x_max=x_max, alpha=alpha)
        stats.epoch_loss.append(total / x.numel())
    stats.seconds = time.perf_counter() - start
    return stats


# --------------------------------------------------------------------------- evaluation


def _unit(vectors: Tensor) -> Tensor:
    vectors = torch.as_tensor(vectors).float()
    if vectors.dim() != 2:
        raise ValueError(f"vectors must be (V, d), got shape {tuple(vectors.shape)}")
    if not torch.isfinite(vectors).all():
        raise ValueError("vectors hold NaN or inf: the training diverged (lower the learning rate)")
    return F.normalize(vectors, dim=1)


def _check_vocab(vectors: Tensor, vocab: Vocab) -> None:
    if len(vocab) != vectors.shape[0]:
        raise ValueError(f"vectors have {vectors.shape[0]} rows but the vocabulary {len(vocab)} words")


def nearest_neighbours(vectors: Tensor, vocab: Vocab, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` words closest to ``word`` by cosine similarity (the word itself excluded), with their cosines."""
    _check_vocab(vectors, vocab)
    _check_positive_int(k=k)
    if word not in vocab:
        raise KeyError(
            f"{word!r} is not in the vocabulary ({len(vocab)} words); pick a word seen >= min_count times"
        )
    unit = _unit(vectors)
    i = vocab[word]
    cos = unit @ unit[i]
    cos[i] = -math.inf
    top = torch.topk(cos, min(k, len(vocab) - 1))
    return [(vocab.itos[j], round(float(c), 4)) for c, j in zip(top.values, top.indices, strict=True)]


@dataclass
class AnalogyResult:
    """Accuracy over the questions whose four words are all in the vocabulary (``covered`` of ``total``),
    and the same per section."""

    accuracy: float
    correct: int
    covered: int
    total: int
    by_section: dict[str, tuple[int, int]]  # section -> (correct, covered)

    @property
    def coverage(self) -> float:
        return self.covered / self.total if self.total else 0.0


def analogy_accuracy(
    vectors: Tensor,
    vocab: Vocab,
    questions: Iterable[tuple[str, str, str, str, str]],
    *,
    method: str = "add",
    batch_size: int = 512,
) -> AnalogyResult:
    """Answer "a is to b as c is to ?" with the word d* (not a, b or c) that maximises, on unit vectors,
    3CosAdd: cos(d, b) - cos(d, a) + cos(d, c), or 3CosMul (Levy & Goldberg, 2014):
    cos'(d, b) cos'(d, c) / (cos'(d, a) + 0.001) with cos' = (cos + 1) / 2. ``questions`` as from
    :func:`course_utils.data.load_analogies` (section, a, b, c, d)."""
    if method not in ("add", "mul"):
        raise ValueError(f"method must be 'add' (3CosAdd) or 'mul' (3CosMul), got {method!r}")
    _check_vocab(vectors, vocab)
    questions = list(questions)
    for q in questions[:1]:
        if len(q) != 5:
            raise ValueError(f"each question must be (section, a, b, c, d), got {q!r}")
    stoi, unit = vocab.stoi, _unit(vectors)
    covered = [(s, *(stoi[w] for w in q)) for s, *q in questions if all(w in stoi for w in q)]
    by_section: dict[str, list[int]] = {}
    for s, *_ in questions:
        by_section.setdefault(s, [0, 0])
    correct = 0
    for start in range(0, len(covered), batch_size):
        chunk = covered[start : start + batch_size]
        abcd = torch.tensor([q[1:] for q in chunk])  # (B, 4)
        cos = unit[abcd[:, :3].reshape(-1)] @ unit.T  # (3B, V)
        cos_a, cos_b, cos_c = cos.view(len(chunk), 3, -1).unbind(1)
        if method == "add":
            score = cos_b - cos_a + cos_c
        else:
            score = ((cos_b + 1) / 2) * ((cos_c + 1) / 2) / ((cos_a + 1) / 2 + 1e-3)
        score.scatter_(1, abcd[:, :3], -math.inf)  # the question's own words are not answers
        hits = score.argmax(1) == abcd[:, 3]
        correct += int(hits.sum())
        for q, hit in zip(chunk, hits.tolist(), strict=True):
            by_section[q[0]][0] += hit
            by_section[q[0]][1] += 1
    return AnalogyResult(
        accuracy=correct / len(covered) if covered else 0.0, correct=correct, covered=len(covered),
        total=len(questions), by_section={s: (c, n) for s, (c, n) in by_section.items()},
    )  # fmt: skip


def evaluate_embeddings(vectors: Tensor, vocab: Vocab) -> dict[str, float]:
    """Every score of notebook 03 for one set of vectors: Spearman's rho on WordSim-353 and SimLex-999 with
    their coverage, and analogy accuracy by 3CosAdd and 3CosMul with its coverage (the bundled sets)."""
    from course_utils.data import load_analogies, load_word_similarity

    scores: dict[str, float] = {}
    for name in ("wordsim353", "simlex999"):
        rho, coverage = similarity_correlation(vectors, vocab, load_word_similarity(name))
        scores[name], scores[f"{name}_coverage"] = rho, coverage
    questions = load_analogies()
    add = analogy_accuracy(vectors, vocab, questions, method="add")
    scores["analogy_add"] = add.accuracy
    scores["analogy_mul"] = analogy_accuracy(vectors, vocab, questions, method="mul").accuracy
    scores["analogy_coverage"] = add.coverage
    return scores


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    values, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks (ties get their mean rank)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, got shapes {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (no NaN or inf)")
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float((rx**2).sum() * (ry**2).sum()))
    if denom == 0:
        raise ValueError("one of x, y is constant: the rank correlation is undefined")
    return float((rx * ry).sum() / denom)


def similarity_correlation(
    vectors: Tensor, vocab: Vocab, pairs: Iterable[tuple[str, str, float]]
) -> tuple[float, float]:
    """Spearman's rho between human scores and cosine similarities over the pairs whose two words are in the
    vocabulary, and that coverage (fraction of the pairs used). Pairs as from
    :func:`course_utils.data.load_word_similarity`."""
    _check_vocab(vectors, vocab)
    pairs = list(pairs)
    stoi, unit = vocab.stoi, _unit(vectors)
    used = [(stoi[a], stoi[b], s) for a, b, s in pairs if a in stoi and b in stoi]
    if len(used) < 2:
        raise ValueError(f"only {len(used)} of {len(pairs)} pairs have both words in the vocabulary")
    i = torch.tensor([u[0] for u in used])
    j = torch.tensor([u[1] for u in used])
    cos = (unit[i] * unit[j]).sum(-1).numpy()
    return spearman([u[2] for u in used], cos), len(used) / len(pairs)


def pretrained_embedding(
    vectors: Tensor, vocab: Vocab, target: Vocab, *, freeze: bool = True, seed: int = 0
) -> tuple[nn.Embedding, float]:
    """An ``nn.Embedding`` for the vocabulary ``target`` (e.g. a classifier's) initialised from ``vectors``
    (V, d) trained over ``vocab``: a target word found in ``vocab`` gets its vector; any other word a random one
    with the same spread (normal, std of the vectors); ``<pad>`` (if ``target`` has it) zeros, kept out of
    training by ``padding_idx``. ``freeze`` keeps the table fixed. Returns the layer and the share of
    ``target``'s non-special words that were found."""
    _check_vocab(vectors, vocab)
    vectors = torch.as_tensor(vectors).float()
    if not torch.isfinite(vectors).all():
        raise ValueError("vectors hold NaN or inf: the training diverged (lower the learning rate)")
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(len(target), vectors.shape[1], generator=gen) * vectors.std()
    stoi = vocab.stoi
    words = [w for w in target.itos if w not in target.specials]
    found = [w for w in words if w in stoi]
    if found:
        weight[torch.tensor([target[w] for w in found])] = vectors[torch.tensor([stoi[w] for w in found])]
    pad = target.stoi.get("<pad>")
    if pad is not None:
        weight[pad] = 0.0
    layer = nn.Embedding.from_pretrained(weight, freeze=freeze, padding_idx=pad)
    return layer, len(found) / len(words) if words else 0.0


def pca_2d(vectors: Tensor) -> Tensor:
    """Project rows (N, d) on their first two principal components -> (N, 2)."""
    x = torch.as_tensor(vectors).double()
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"vectors must be (N, d) with N >= 2, got {tuple(x.shape)}")
    x = x - x.mean(0)
    _, _, vt = torch.linalg.svd(x, full_matrices=False)
    return (x @ vt[:2].T).float()
