"""n-gram language models (n元语言模型): counting, smoothing (平滑), perplexity (困惑度) and sampling.

A language model gives every sentence a probability through the chain rule, and an n-gram model
keeps only the last ``n - 1`` words of the history (the Markov approximation)::

    P(w_1 .. w_m) = prod_i P(w_i | w_1 .. w_{i-1}) ~= prod_i P(w_i | w_{i-n+1} .. w_{i-1})

Every model here is fitted on tokenized sentences and shares one interface:
``prob(word, context)``, ``logprob(word, context)``, ``distribution(context)`` (the whole
conditional distribution, an array [V]), ``token_logprobs(sentences)``, ``perplexity(sentences)``
and ``sample(rng, max_len, temperature)``.

* :class:`Uniform` - every word equally likely (perplexity = V, the baseline);
* :class:`MLE` - maximum-likelihood counts ``c(h, w) / c(h)``: zero for every unseen n-gram;
* :class:`AddK` (and :class:`Laplace`, k = 1) - add ``k`` to every count;
* :class:`Interpolated` - ``sum_k lambda_k P_MLE(w | last k-1 words)``, lambdas tuned on held-out
  data by EM (:meth:`Interpolated.tune_lambdas`);
* :class:`KneserNey` - interpolated Kneser-Ney: absolute discounting at every order, continuation
  counts below the highest order, recursion down to the continuation unigram.

Conventions (the same for every model, so perplexities are comparable):

* Each sentence is padded with ``n - 1`` ``<bos>`` tokens on the left and one ``<eos>`` on the
  right (the course's :data:`course_utils.text.BOS` / :data:`~course_utils.text.EOS`, so neural
  models later predict the same token set). ``<eos>`` is predicted (it ends the sentence),
  ``<bos>`` never is. The V words of :attr:`NgramLM.words` are the vocabulary minus ``<pad>`` and
  ``<bos>``, plus ``<eos>``; every conditional distribution sums to 1 over them.
* A context shorter than ``n - 1`` words means "the start of a sentence" and is padded with
  ``<bos>``; only the last ``n - 1`` words of a longer context are used.
* Sentences must not contain ``<bos>``, ``<eos>`` (the models add them) nor ``<pad>`` (padding is not
  a word; it is refused as a word or context too), in training and in evaluation alike.
* Words outside the vocabulary become ``<unk>`` when the vocabulary has it; otherwise they are an
  error. The vocabulary is fixed on the training data, e.g.
  ``Vocab.build(train, min_freq=2)``, so that ``<unk>`` is seen in training.
* A context never seen in training has no MLE (0 / 0): :class:`MLE` and :class:`Interpolated` then
  use the MLE of the longest seen suffix of the context, and :class:`KneserNey` its lower order.
* Probabilities are computed for many tokens at once: n-grams are integer-encoded and looked up
  in sorted numpy arrays, so fitting the 409k predicted tokens of Multi30k takes well under a second.

Kneser-Ney and ``nltk.lm.KneserNeyInterpolated`` give identical probabilities when nltk is given the
same n-grams (the 1..n-grams ending at each predicted token, see tests/test_ngram.py); with nltk's
own ``padded_everygram_pipeline`` they differ: it pads with ``n - 1`` ``</s>`` too and counts the
n-grams made only of padding, so ``<s>`` becomes a continuation of ``<s>``, and because its
lower-order weight counts the word types seen after a context (raw counts), not those with a
continuation count, its distribution after ``<s>`` sums to more than 1.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from course_utils.metrics import perplexity as _perplexity
from course_utils.text import BOS, EOS, PAD, UNK, Vocab

__all__ = ["AddK", "Interpolated", "KneserNey", "Laplace", "MLE", "NgramLM", "Uniform", "padded_ngrams"]

# The words a model never predicts (nor keeps as vocabulary words).
_NOT_PREDICTED = (PAD, BOS)
# Tokens that may not occur inside a sentence: the model adds <bos>/<eos> itself, and <pad> is no word.
# (<unk> may: it is an ordinary word of the vocabulary, e.g. in pre-processed corpora.)
_RESERVED = frozenset((PAD, BOS, EOS))


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_sentences(sentences: Any, what: str = "sentences") -> tuple[list[list[str]], set[str]]:
    """Validate tokenized sentences (lists of str); return them as lists and their set of distinct tokens."""
    if isinstance(sentences, str) or not isinstance(sentences, Iterable):
        raise TypeError(
            f"{what} must be a list of tokenized sentences (lists of str), got {type(sentences).__name__}; "
            f"e.g. [tokenize(s) for s in raw_sentences]"
        )
    out = []
    for i, sent in enumerate(sentences):
        if isinstance(sent, str) or not isinstance(sent, Iterable):
            raise TypeError(
                f"{what}[{i}] is a {type(sent).__name__}, not a list of tokens; tokenize it first, "
                f"e.g. get_tokenizer('spacy_en', lower=True)(s)"
            )
        out.append(sent if type(sent) is list else list(sent))
    try:
        distinct: set[str] = set().union(*out)
        suspicious = any(not isinstance(tok, str) or tok in _RESERVED for tok in distinct)
    except TypeError:  # an unhashable token, e.g. a nested list
        distinct, suspicious = set(), True
    if suspicious:
        for i, sent in enumerate(out):  # slow path, only to name the culprit
            for tok in sent:
                if not isinstance(tok, str):
                    raise TypeError(f"{what}[{i}] holds a {type(tok).__name__} ({tok!r}); tokens must be str")
                if tok in (BOS, EOS):
                    raise ValueError(
                        f"{what}[{i}] contains {tok!r}; give sentences without boundary markers, "
                        f"the model adds {BOS!r} and {EOS!r} itself"
                    )
                if tok == PAD:
                    raise ValueError(
                        f"{what}[{i}] contains the padding token {PAD!r}, which is not a word; give the "
                        f"unpadded sentences (e.g. vocab.decode(ids) drops it, or cut each row to its length)"
                    )
    return out, distinct


def padded_ngrams(sentences: Iterable[Sequence[str]], n: int) -> list[list[tuple[str, ...]]]:
    """The 1..n-grams that end at each predicted token of each sentence: exactly what the models here count.

    A sentence is padded with n - 1 ``<bos>`` and closed with ``<eos>``; for every token after the padding
    (``<eos>`` included) its 1-gram, 2-gram, ..., n-gram ending there are listed, shortest first. This is also
    the input ``nltk.lm``'s ``fit`` expects, which is how the tests and benchmark compare the two libraries.
    ``padded_ngrams([["a"]], 2)`` -> ``[[("a",), ("<bos>", "a"), ("<eos>",), ("a", "<eos>")]]``.
    """
    sentences, _ = _check_sentences(sentences)
    n = _check_int(n, "n", 1)
    out = []
    for sent in sentences:
        toks = [BOS] * (n - 1) + sent + [EOS]
        out.append([tuple(toks[i - k + 1 : i + 1]) for i in range(n - 1, len(toks)) for k in range(1, n + 1)])
    return out


class _Table:
    """Counts of one order k: n-gram (context id, word id) -> count, sorted for lookups.

    ``keys`` are ``context_id * V + word`` (sorted, unique), ``counts`` their counts;
    ``totals[c]`` = sum of the counts in context c, ``types[c]`` = number of distinct words after c.
    """

    def __init__(self, keys: np.ndarray, counts: np.ndarray, n_contexts: int, V: int) -> None:
        self.keys = keys
        self.counts = counts.astype(np.float64)
        ctx = keys // V
        self.totals = np.bincount(ctx, weights=self.counts, minlength=n_contexts)  # [n_contexts]
        self.types = np.bincount(ctx, minlength=n_contexts).astype(np.float64)  # [n_contexts]
        self.V = V

    @classmethod
    def from_keys(cls, keys: np.ndarray, n_contexts: int, V: int) -> _Table:
        uniq, counts = np.unique(keys, return_counts=True)
        return cls(uniq, counts, n_contexts, V)

    def lookup(self, ctx: np.ndarray, word: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(count, total, types) for arrays of context ids (-1 = unseen) and word ids, all [N]."""
        seen = ctx >= 0
        query = np.where(seen, ctx, 0) * self.V + word
        pos = np.searchsorted(self.keys, query)
        pos = np.minimum(pos, len(self.keys) - 1)
        hit = seen & (self.keys[pos] == query)
        count = np.where(hit, self.counts[pos], 0.0)
        safe = np.where(seen, ctx, 0)
        total = np.where(seen, self.totals[safe], 0.0)
        types = np.where(seen, self.types[safe], 0.0)
        return count, total, types


class NgramLM:
    """Base class of the n-gram models: vocabulary, counting, scoring, perplexity and sampling.

    Subclasses implement :meth:`_probs`, the probabilities of many (context, word) pairs at once.

    Args:
        n: the order: 1 = unigram, 2 = bigram, 3 = trigram ...

    After :meth:`fit`: ``words`` (the V predicted tokens, in the order of :meth:`distribution`),
    ``V`` and ``n_train_tokens`` (predicted tokens in the training data, ``<eos>`` included).
    """

    #: True where words never seen in training get probability 0 (fit warns about them).
    _zero_for_unseen_words = True

    def __init__(self, n: int) -> None:
        self.n = _check_int(n, "n", 1)
        self._fitted = False

    # ------------------------------------------------------------------ vocabulary
    def _set_vocab(self, vocab: Vocab | Iterable[str] | None, sentences: list[list[str]]) -> None:
        if vocab is None:
            tokens = list(dict.fromkeys(itertools.chain.from_iterable(sentences)))
        elif isinstance(vocab, Vocab):
            tokens = vocab.itos
        elif isinstance(vocab, str) or not isinstance(vocab, Iterable):
            raise TypeError(
                f"vocab must be a course_utils.text.Vocab, a list of str tokens or None, got {type(vocab).__name__}"
            )
        else:
            tokens = list(vocab)
            for tok in tokens:
                if not isinstance(tok, str):
                    raise TypeError(f"vocab holds a {type(tok).__name__} ({tok!r}); tokens must be str")
        words = [tok for tok in dict.fromkeys(tokens) if tok not in _NOT_PREDICTED]
        if EOS not in words:
            words.append(EOS)
        self.words: list[str] = words
        self.V = len(words)
        self._stoi = {w: i for i, w in enumerate(words)}
        self._stoi[BOS] = self.V  # context-only id
        self._unk = self._stoi.get(UNK)

    def _id(self, token: str, *, as_context: bool = False) -> int:
        if not isinstance(token, str):
            raise TypeError(f"tokens must be str, got {type(token).__name__} ({token!r})")
        if token == BOS and not as_context:
            raise ValueError(
                f"{BOS!r} is never predicted (it only pads the context); ask about a word or {EOS!r}"
            )
        if token == PAD:
            raise ValueError(
                f"{PAD!r} is padding, not a word: the model neither predicts it nor uses it as context; "
                f"remove it from the words and contexts you pass"
            )
        idx = self._stoi.get(token)
        if idx is not None:
            return idx
        if self._unk is not None:
            return self._unk
        raise KeyError(
            f"{token!r} is not in the model's vocabulary of {self.V} words, which has no {UNK!r}; "
            f"fit with a vocabulary that has {UNK!r}, e.g. Vocab.build(train, min_freq=2)"
        )

    def _context_ids(self, context: Sequence[str]) -> np.ndarray:
        """The last n-1 context tokens as ids, left-padded with <bos>: [n-1]."""
        if isinstance(context, str):
            raise TypeError(
                f"context must be a sequence of tokens, got the str {context!r}; e.g. ['a', 'man'] or ()"
            )
        ids = [self._id(tok, as_context=True) for tok in context]
        ids = [self.V] * (self.n - 1) + ids
        return np.asarray(ids[len(ids) - (self.n - 1) :], dtype=np.int64)

    def _encode(self, sentences: list[list[str]], distinct: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sentences -> (contexts [N, n-1], targets [N]) for every predicted token (words and <eos>)."""
        to_id = {tok: self._id(tok) for tok in distinct}.__getitem__
        words = np.fromiter(map(to_id, itertools.chain.from_iterable(sentences)), dtype=np.int64)
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences)) + 1  # words + <eos>
        # Padded layout per sentence: n-1 <bos>, the words, <eos>; targets are all but the <bos>.
        padded = np.full(int(lengths.sum()) + len(sentences) * (self.n - 1), self.V, dtype=np.int64)
        sent_start = np.cumsum(lengths + self.n - 1) - lengths  # index of each first predicted token
        first = np.repeat(sent_start - np.cumsum(lengths) + lengths, lengths)
        pos = first + np.arange(int(lengths.sum()))  # [N]
        is_eos = np.zeros(len(pos), dtype=bool)
        is_eos[np.cumsum(lengths) - 1] = True
        padded[pos[~is_eos]] = words
        padded[pos[is_eos]] = self._stoi[EOS]
        offsets = np.arange(-(self.n - 1), 0)  # oldest .. newest context word
        contexts = padded[pos[:, None] + offsets[None, :]]  # [N, n-1]
        return contexts, padded[pos]

    # ------------------------------------------------------------------ fitting
    def fit(self, sentences: Iterable[Sequence[str]], vocab: Vocab | Iterable[str] | None = None) -> NgramLM:
        """Count the n-grams of ``sentences`` (tokenized, without ``<bos>``/``<eos>``/``<pad>``); returns self.

        ``vocab`` fixes the words: a :class:`~course_utils.text.Vocab` (e.g. ``Vocab.build(train,
        min_freq=2)``), a list of tokens, or None for the tokens of ``sentences`` (no ``<unk>``).
        """
        sentences, distinct = _check_sentences(sentences)
        if not sentences:
            raise ValueError("fit needs at least one training sentence, got none")
        self._set_vocab(vocab, sentences)
        contexts, targets = self._encode(sentences, distinct)
        self.n_train_tokens = len(targets)
        B = self.V + 1  # ids of context tokens: words and <bos>
        # Context ids per order k = 1..n: order 1 has one empty context; the order-(k+1) context
        # (w_{i-k} .. w_{i-1}) is the order-k context extended by one older word.
        self._ctx_keys: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        ctx_ids = [np.zeros(len(targets), dtype=np.int64)]
        for k in range(1, self.n):
            keys = ctx_ids[-1] * B + contexts[:, self.n - 1 - k]
            uniq, inverse = np.unique(keys, return_inverse=True)
            self._ctx_keys.append(uniq)
            ctx_ids.append(inverse.reshape(-1))
        self._tables = [
            _Table.from_keys(ids * self.V + targets, len(self._ctx_keys[k]), self.V)
            for k, ids in enumerate(ctx_ids)
        ]
        self._fitted = True
        self._after_fit()
        if self._zero_for_unseen_words and len(targets):
            unseen = np.flatnonzero(np.bincount(targets, minlength=self.V) == 0)
            if len(unseen):
                names = ", ".join(repr(self.words[i]) for i in unseen[:5])
                more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
                warnings.warn(
                    f"{len(unseen)} vocabulary words never occur in the training sentences ({names}{more}); "
                    f"{type(self).__name__} gives them probability 0. Build the vocabulary from the training "
                    f"data (e.g. Vocab.build(train, min_freq=2), so that {UNK!r} occurs in it).",
                    stacklevel=2,
                )
        return self

    def _after_fit(self) -> None:
        """Hook for subclasses (extra counts)."""

    def _check_fitted(self) -> None:
        if not getattr(self, "_fitted", False):
            raise RuntimeError(
                f"this {type(self).__name__} is not fitted yet; call .fit(train_sentences, vocab)"
            )

    def _lookup_contexts(self, contexts: np.ndarray) -> list[np.ndarray]:
        """Context ids for orders 1..n of contexts [N, n-1]; -1 where a context was never seen."""
        B = self.V + 1
        ids = [np.zeros(len(contexts), dtype=np.int64)]
        for k in range(1, self.n):
            prev = ids[-1]
            keys = np.where(prev >= 0, prev, 0) * B + contexts[:, self.n - 1 - k]
            table = self._ctx_keys[k]
            pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
            ids.append(np.where((prev >= 0) & (table[pos] == keys), pos, -1))
        return ids

    # ------------------------------------------------------------------ the model
    def _probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        """P(word | context) for contexts [N, n-1] (ids, <bos> = V) and words [N]: returns [N]."""
        raise NotImplementedError

    def _mle_by_order(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        """MLE of each order k = 1..n: [N, n]; an unseen context takes the order below's value."""
        ids = self._lookup_contexts(contexts)
        out = np.empty((len(words), self.n))
        lower = np.zeros(len(words))
        for k, (table, ctx) in enumerate(zip(self._tables, ids, strict=True)):
            count, total, _ = table.lookup(ctx, words)
            with np.errstate(invalid="ignore", divide="ignore"):
                lower = np.where(total > 0, count / np.where(total > 0, total, 1.0), lower)
            out[:, k] = lower
        return out

    # ------------------------------------------------------------------ public interface
    def prob(self, word: str, context: Sequence[str] = ()) -> float:
        """P(word | context); ``context`` is the preceding words (``()`` = start of a sentence)."""
        self._check_fitted()
        ctx = self._context_ids(context)[None, :]
        return float(self._probs(ctx, np.asarray([self._id(word)]))[0])

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        """Natural log of :meth:`prob` (``-inf`` for probability 0)."""
        p = self.prob(word, context)
        return math.log(p) if p > 0 else -math.inf

    def distribution(self, context: Sequence[str] = ()) -> np.ndarray:
        """P(w | context) for every word w of :attr:`words` (same order): array [V], sums to 1."""
        self._check_fitted()
        ctx = np.repeat(self._context_ids(context)[None, :], self.V, axis=0)  # [V, n-1]
        return self._probs(ctx, np.arange(self.V))

    def token_logprobs(self, sentences: Iterable[Sequence[str]]) -> np.ndarray:
        """log P of every predicted token (each word and each sentence's ``<eos>``): array [N]."""
        self._check_fitted()
        contexts, targets = self._encode(*_check_sentences(sentences))
        with np.errstate(divide="ignore"):
            return np.log(self._probs(contexts, targets))

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """``exp(-mean log P)`` over the predicted tokens (words and ``<eos>``, never ``<bos>``).

        ``inf`` when some token has probability 0.
        """
        logp = self.token_logprobs(sentences)
        if len(logp) == 0:
            raise ValueError("perplexity needs at least one sentence")
        # max(0, .): a probability of 1 may round to 1 + 1e-16, whose log is a hair above 0.
        return _perplexity(max(0.0, float(-logp.sum())), len(logp))

    def sample(
        self,
        rng: np.random.Generator | int | None = None,
        max_len: int = 30,
        temperature: float = 1.0,
        prefix: Sequence[str] = (),
    ) -> list[str]:
        """Generate one sentence word by word, until ``<eos>`` or ``max_len`` words.

        Each word is drawn from ``P(w | context) ** (1 / temperature)``, renormalised:
        ``temperature`` < 1 sharpens the distribution, > 1 flattens it, 0 always takes the most
        likely word (greedy). ``rng`` is a numpy Generator or a seed. ``prefix`` words start the
        sentence (they are not returned). Returns the words, without ``<eos>``.
        """
        self._check_fitted()
        max_len = _check_int(max_len, "max_len", 1)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)):
            raise TypeError(f"temperature must be a number >= 0, got {type(temperature).__name__}")
        if not temperature >= 0 or math.isinf(temperature):
            raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature}")
        rng = np.random.default_rng(rng)
        context = list(prefix)
        self._context_ids(context)  # validates the prefix
        eos = self._stoi[EOS]
        out: list[str] = []
        while len(out) < max_len:
            p = self.distribution(context)  # [V]
            if temperature == 0:
                idx = int(np.argmax(p))
            else:
                with np.errstate(divide="ignore"):
                    logits = np.log(p) / temperature
                q = np.exp(logits - logits.max())
                idx = int(rng.choice(self.V, p=q / q.sum()))
            if idx == eos:
                break
            out.append(self.words[idx])
            context.append(self.words[idx])
        return out

    def count(self, ngram: Sequence[str]) -> int:
        """How often ``ngram`` (1 to n tokens; may start with ``<bos>``) ends at a predicted token in training."""
        self._check_fitted()
        if isinstance(ngram, str):
            ngram = (ngram,)
        ngram = list(ngram)
        if not 1 <= len(ngram) <= self.n:
            raise ValueError(f"ngram must have 1 to n={self.n} tokens, got {len(ngram)}")
        *ctx, word = ngram
        if word == BOS:
            return 0
        ids = np.asarray([self._id(t, as_context=True) for t in ctx], dtype=np.int64)
        full = np.full(self.n - 1, self.V, dtype=np.int64)
        if len(ids):
            full[len(full) - len(ids) :] = ids
        ctx_id = self._lookup_contexts(full[None, :])[len(ngram) - 1]
        count, _, _ = self._tables[len(ngram) - 1].lookup(ctx_id, np.asarray([self._id(word)]))
        return int(count[0])

    def __repr__(self) -> str:
        state = f"V={self.V}" if getattr(self, "_fitted", False) else "not fitted"
        return f"{type(self).__name__}(n={self.n}, {state})"


class Uniform(NgramLM):
    """Every word of the vocabulary (``<eos>`` included) has probability 1 / V; perplexity = V."""

    _zero_for_unseen_words = False

    def __init__(self) -> None:
        super().__init__(1)

    def _probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        return np.full(len(words), 1.0 / self.V)


class MLE(NgramLM):
    """Maximum-likelihood n-gram model: ``P(w | h) = c(h, w) / c(h)``.

    Any n-gram not seen in training gets probability 0, hence infinite perplexity on new text.
    For a context never seen in training (``c(h) = 0``, no estimate) it uses the MLE of the
    longest seen suffix of the context (the unigram MLE at worst).
    """

    def _probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        return self._mle_by_order(contexts, words)[:, -1]


class AddK(NgramLM):
    """Add-k (Lidstone) smoothing: ``P(w | h) = (c(h, w) + k) / (c(h) + k V)``; k = 1 is Laplace.

    An unseen context gets the uniform distribution 1 / V.
    """

    _zero_for_unseen_words = False

    def __init__(self, n: int, k: float = 1.0) -> None:
        super().__init__(n)
        self.k = k

    @property
    def k(self) -> float:
        """The pseudo-count added to every count (> 0)."""
        return self._k

    @k.setter
    def k(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"k must be a number > 0, got {type(value).__name__}")
        if not value > 0 or math.isinf(value):
            raise ValueError(
                f"k must be a finite number > 0 (k = 1 is Laplace; use MLE for no smoothing), got {value}"
            )
        self._k = float(value)

    def _probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        ids = self._lookup_contexts(contexts)
        count, total, _ = self._tables[-1].lookup(ids[-1], words)
        return (count + self.k) / (total + self.k * self.V)


class Laplace(AddK):
    """Add-one (Laplace, 拉普拉斯) smoothing: :class:`AddK` with k = 1."""

    def __init__(self, n: int) -> None:
        super().__init__(n, k=1.0)


class Interpolated(NgramLM):
    """Linear interpolation (线性插值) of the MLE models of orders 1..n::

        P(w | h) = lambda_1 P_MLE(w) + lambda_2 P_MLE(w | w_{i-1}) + ... + lambda_n P_MLE(w | w_{i-n+1} ..)

    ``lambdas`` (unigram first) are >= 0 and sum to 1; the default gives every order 1 / n. Tune
    them on held-out sentences with :meth:`tune_lambdas` (EM). Each P_MLE is a distribution (an
    unseen context uses its longest seen suffix), so the mixture is one too.
    """

    def __init__(self, n: int, lambdas: Sequence[float] | None = None) -> None:
        super().__init__(n)
        self.lambdas = np.full(self.n, 1.0 / self.n) if lambdas is None else lambdas

    @property
    def lambdas(self) -> np.ndarray:
        """Interpolation weights [n], unigram first."""
        return self._lambdas.copy()

    @lambdas.setter
    def lambdas(self, value: Sequence[float]) -> None:
        arr = np.asarray(value, dtype=np.float64).reshape(-1) if not isinstance(value, str) else None
        if arr is None or arr.shape != (self.n,):
            raise ValueError(
                f"lambdas must be {self.n} weights (unigram first, one per order 1..{self.n}), got {value!r}"
            )
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"lambdas must be finite and >= 0, got {arr.tolist()}")
        if abs(arr.sum() - 1.0) > 1e-6:
            raise ValueError(
                f"lambdas must sum to 1 so the mixture is a distribution, got sum {arr.sum():.6g} "
                f"({arr.tolist()}); e.g. divide them by their sum"
            )
        self._lambdas = arr / arr.sum()

    def component_probs(self, sentences: Iterable[Sequence[str]]) -> np.ndarray:
        """P_MLE of orders 1..n for every predicted token of ``sentences``: array [N, n]."""
        self._check_fitted()
        contexts, targets = self._encode(*_check_sentences(sentences))
        return self._mle_by_order(contexts, targets)

    def tune_lambdas(
        self, sentences: Iterable[Sequence[str]], max_iter: int = 500, tol: float = 1e-9
    ) -> np.ndarray:
        """Set the lambdas that maximise the likelihood of held-out ``sentences`` (EM); returns them.

        E-step: each token's responsibility ``r_k = lambda_k P_k / sum_j lambda_j P_j``; M-step:
        ``lambda_k = mean of r_k``. The held-out log-likelihood never decreases; tokens that every
        order gives probability 0 (words never seen in training) are left out.
        """
        max_iter = _check_int(max_iter, "max_iter", 1)
        P = self.component_probs(sentences)  # [N, n]
        P = P[P.sum(axis=1) > 0]
        if len(P) == 0:
            raise ValueError("no held-out token has a non-zero probability; cannot tune the lambdas")
        lam = np.full(self.n, 1.0 / self.n)
        prev = -np.inf
        for _ in range(max_iter):
            mix = P @ lam  # [N]
            ll = float(np.log(mix).mean())
            lam = (P * lam / mix[:, None]).mean(axis=0)
            if ll - prev < tol:
                break
            prev = ll
        self.lambdas = lam / lam.sum()
        return self.lambdas

    def _probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        return self._mle_by_order(contexts, words) @ self._lambdas


class KneserNey(NgramLM):
    """Interpolated Kneser-Ney smoothing with one absolute discount D (0 < D <= 1)::

        P_k(w | h) = max(c_k(h, w) - D, 0) / c_k(h) + D N1+(h .) / c_k(h) * P_{k-1}(w | h')

    where h' drops the oldest word of h. At the highest order c_k are raw counts; below it they
    are continuation counts (接续计数) ``N1+(. h w)``: the number of distinct words seen before
    ``h w``. ``N1+(h .)`` is the number of distinct words with a non-zero count after h. The
    recursion ends at the continuation unigram ``N1+(. w) / N1+(. .)`` (no discount, as in
    nltk; Chen & Goodman also discount it and mix in 1/V). A context with no counts uses
    ``P_{k-1}`` directly. Needs n >= 2: the unigram level is made from bigram counts.
    """

    def __init__(self, n: int, discount: float = 0.75) -> None:
        super().__init__(n)
        if self.n < 2:
            raise ValueError(
                "KneserNey needs n >= 2 (its unigram level counts the distinct words before each word); "
                "for a unigram model use MLE(1) or AddK(1, k)"
            )
        self.discount = discount

    @property
    def discount(self) -> float:
        """The absolute discount D subtracted from every non-zero count (0 < D <= 1)."""
        return self._discount

    @discount.setter
    def discount(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"discount must be a number in (0, 1], got {type(value).__name__}")
        if not 0 < value <= 1:
            raise ValueError(
                f"discount must be in (0, 1] so every distribution sums to 1 (0.75 is typical), got {value}"
            )
        self._discount = float(value)

    def _after_fit(self) -> None:
        # Continuation counts of order k < n: N1+(. h w) = number of distinct order-(k+1) n-grams
        # (v, h, w) whose suffix is (h, w). The parent of an order-(k+1) context id is its key // B.
        B = self.V + 1
        self._kn_tables: list[_Table] = []
        for k in range(self.n - 1):
            higher = self._tables[k + 1]
            ctx_hi, word = higher.keys // self.V, higher.keys % self.V
            parent = self._ctx_keys[k + 1][ctx_hi] // B
            self._kn_tables.append(_Table.from_keys(parent * self.V + word, len(self._ctx_keys[k]), self.V))
        self._kn_tables.append(self._tables[-1])  # the highest order uses raw counts

    def continuation_count(self, ngram: Sequence[str]) -> int:
        """``N1+(. ngram)``: how many distinct words precede ``ngram`` (1 to n-1 tokens) in training."""
        self._check_fitted()
        if isinstance(ngram, str):
            ngram = (ngram,)
        ngram = list(ngram)
        if not 1 <= len(ngram) <= self.n - 1:
            raise ValueError(f"ngram must have 1 to n-1={self.n - 1} tokens, got {len(ngram)}")
        *ctx, word = ngram
        full = np.full(self.n - 1, self.V, dtype=np.int64)
        if ctx:
            full[len(full) - len(ctx) :] = [self._id(t, as_context=True) for t in ctx]
        ctx_id = self._lookup_contexts(full[None, :])[len(ngram) - 1]
        count, _, _ = self._kn_tables[len(ngram) - 1].lookup(ctx_id, np.asarray([self._id(word)]))
        return int(count[0])

    def _probs(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        D = self._discount
        ids = self._lookup_contexts(contexts)
        count, total, _ = self._kn_tables[0].lookup(ids[0], words)
        p = count / total  # continuation unigram N1+(. w) / N1+(. .)
        for k in range(1, self.n):
            count, total, types = self._kn_tables[k].lookup(ids[k], words)
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            p = np.where(seen, np.maximum(count - D, 0.0) / safe + D * types / safe * p, p)
        return p
