"""Part-of-speech tagging (词性标注) with hidden Markov models.

:class:`HMMTagger` is a supervised HMM tagger in the style of TnT (Brants 2000):

* transitions: maximum-likelihood tag n-grams, smoothed by deleted interpolation (删除插值) of
  unigram, bigram and — for ``order=2``, a second-order (trigram) HMM — trigram estimates;
  sentence boundaries are a tag of their own, so starts and ends are modelled;
* emissions (发射概率): ``P(word | tag)`` by relative frequency for words seen in training;
* unknown words (未登录词): :class:`SuffixModel` guesses ``P(tag | suffix)`` from the rare training
  words, backing off from the longest known suffix to shorter ones ("successive abstraction");
* decoding: Viterbi (维特比) — first order with :func:`course_utils.hmm.viterbi_log`, second order with
  :func:`second_order_viterbi`, both vectorised over tags.

:class:`MostFrequentTagger` is the baseline every tagger must beat. Shapes: ``T`` time (words),
``N`` tags.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_utils.hmm import HMM, _as_log_scores, _check_int, viterbi_log

__all__ = [
    "UNK",
    "HMMTagger",
    "MostFrequentTagger",
    "SuffixModel",
    "TaggingScores",
    "deleted_interpolation",
    "second_order_viterbi",
]

UNK = "<unk>"


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)


_SENTENCES_HINT = "pass e.g. course_utils.data.load_conll2000('train')"


def _sentence_list(sentences: Any, what: str = "sentences") -> list[Any]:
    """``sentences`` as a list; a string or a non-iterable is refused."""
    if isinstance(sentences, (str, bytes)):
        raise ValueError(
            f"{what} must be a list of sentences, got the string {sentences!r:.40}; "
            f"a sentence is a list of (word, tag, ...) tuples; {_SENTENCES_HINT}."
        )
    if not isinstance(sentences, Iterable):
        raise TypeError(
            f"{what} must be a list of sentences, got {type(sentences).__name__}; {_SENTENCES_HINT}."
        )
    return list(sentences)


def _is_item(x: Any) -> bool:
    """Whether ``x`` is a ``(word, tag, ...)`` item: a tuple or list of length >= 2."""
    return isinstance(x, (tuple, list)) and len(x) >= 2


def _check_sentence(sent: Any, i: int) -> list[Any]:
    """Sentence ``i`` as a list of ``(word, tag, ...)`` items with str word and tag."""
    if isinstance(sent, (str, bytes)) or not isinstance(sent, Iterable):
        raise ValueError(
            f"sentence {i} is not a list of (word, tag, ...) tuples, got {type(sent).__name__} "
            f"{sent!r:.40}; {_SENTENCES_HINT}."
        )
    sent = list(sent)
    for j, item in enumerate(sent):
        if not _is_item(item):
            kind = (
                "a plain word: untagged sentences cannot be used here"
                if isinstance(item, str)
                else "not a tuple"
            )
            raise ValueError(
                f"sentence {i} is not a list of (word, tag, ...) tuples: item {j} is {item!r:.40} ({kind}; "
                f"a single tagged sentence must be wrapped in a list: [sentence]); {_SENTENCES_HINT}."
            )
        for name, value in (("word", item[0]), ("tag", item[1])):
            if not isinstance(value, str):
                raise TypeError(
                    f"the {name} of item {j} of sentence {i} is {type(value).__name__} {value!r:.40}, "
                    "not a str; words and tags must be strings (convert them with str())."
                )
    return sent


def _split(sentences: Iterable[Sequence[Sequence[str]]]) -> list[tuple[list[str], list[str]]]:
    """``[(word, tag, ...), ...]`` sentences -> ``[(words, tags), ...]``, with a clear error on bad input."""
    out = []
    for i, sent in enumerate(_sentence_list(sentences)):
        sent = _check_sentence(sent, i)
        if sent:
            out.append(([x[0] for x in sent], [x[1] for x in sent]))
    if not out:
        raise ValueError(f"no tagged sentences given; {_SENTENCES_HINT}.")
    return out


def _words(words: Any) -> list[str]:
    """A list of word tokens; a plain string is refused (it would be tagged letter by letter)."""
    if isinstance(words, (str, bytes)):
        raise TypeError(
            f"words must be a list of words (tokens), not the string {words!r:.40}; "
            "tokenize it first, e.g. 'The cat sat .'.split()."
        )
    if not isinstance(words, Iterable):
        raise TypeError(f"words must be a list of words (str), got {type(words).__name__}.")
    words = list(words)
    for t, w in enumerate(words):
        if not isinstance(w, str):
            raise TypeError(
                f"words[{t}] is {type(w).__name__} {w!r:.40}, not a str; words must be a list of strings "
                "(for (word, tag) tuples use predict() or evaluate())."
            )
    return words


@dataclass(frozen=True)
class TaggingScores:
    """Token accuracy overall and on words seen / not seen in training."""

    accuracy: float
    known: float
    unknown: float
    n_tokens: int
    n_unknown: int

    def __str__(self) -> str:
        return (
            f"accuracy {self.accuracy:.2%} | known {self.known:.2%} | unknown {self.unknown:.2%} "
            f"({self.n_unknown} of {self.n_tokens} tokens unknown)"
        )


def _score(gold: list[list[str]], pred: list[list[str]], known: list[list[bool]]) -> TaggingScores:
    g, p, k = (np.array([x for s in seqs for x in s]) for seqs in (gold, pred, known))
    ok = g == p
    k = k.astype(bool)
    return TaggingScores(
        accuracy=float(ok.mean()),
        known=float(ok[k].mean()) if k.any() else float("nan"),
        unknown=float(ok[~k].mean()) if (~k).any() else float("nan"),
        n_tokens=int(ok.size),
        n_unknown=int((~k).sum()),
    )


class MostFrequentTagger:
    """Baseline: each known word gets its most frequent training tag, every unknown word the most frequent tag."""

    def fit(self, sentences: Iterable[Sequence[Sequence[str]]]) -> MostFrequentTagger:
        """Count ``(word, tag)`` pairs in ``[(word, tag, ...), ...]`` sentences."""
        counts: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for words, tags in _split(sentences):
            for w, t in zip(words, tags, strict=True):
                counts[w][t] += 1
                overall[t] += 1
        self.lexicon = {w: c.most_common(1)[0][0] for w, c in counts.items()}
        self.default = overall.most_common(1)[0][0]
        return self

    def tag(self, words: Sequence[str]) -> list[str]:
        """Tags for a list of words (a plain string is refused: tokenize it first)."""
        if not hasattr(self, "lexicon"):
            raise RuntimeError("this MostFrequentTagger is not trained yet; call fit(train_sentences) first.")
        return [self.lexicon.get(w, self.default) for w in _words(words)]

    def evaluate(self, sentences: Iterable[Sequence[Sequence[str]]]) -> TaggingScores:
        """Accuracy overall / known / unknown on ``[(word, tag, ...), ...]`` sentences."""
        data = _split(sentences)
        pred = [self.tag(words) for words, _ in data]  # raises if not trained
        known = [[w in self.lexicon for w in words] for words, _ in data]
        return _score([tags for _, tags in data], pred, known)


def _check_ngram_counts(counts: Any) -> list[np.ndarray]:
    """Validate ``counts`` for :func:`deleted_interpolation`: [N], [N, N], ... of whole numbers >= 0."""
    hint = "pass [unigram counts [N], bigram counts [N, N], ...]"
    if isinstance(counts, (str, bytes, Mapping)) or not isinstance(counts, Iterable):
        raise TypeError(f"counts must be a list of count arrays, got {type(counts).__name__}; {hint}.")
    counts = list(counts)
    if not counts:
        raise ValueError(f"counts is empty; {hint}.")
    out = []
    for k, c in enumerate(counts):
        raw = np.asarray(c)
        if raw.dtype.kind not in "biuf":
            raise TypeError(f"counts[{k}] must be an array of numbers, got dtype {raw.dtype}; {hint}.")
        arr = raw.astype(np.float64)
        if arr.ndim != k + 1:
            raise ValueError(
                f"counts[{k}] must have {k + 1} axes ({k + 1}-gram counts), got shape {arr.shape}; {hint}."
            )
        n_tags = out[0].shape[0] if out else arr.shape[0]
        if arr.shape != (n_tags,) * (k + 1) or n_tags == 0:
            raise ValueError(
                f"counts[{k}] must have shape {[n_tags] * (k + 1)} (N = {n_tags} from counts[0], N >= 1), "
                f"got {arr.shape}."
            )
        for bad, what in (
            (~np.isfinite(arr), "NaN or infinite"),
            (arr < 0, "negative"),
            (arr != np.round(arr), "non-integer"),
        ):
            if bad.any():
                at = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    f"counts[{k}] has a {what} entry {arr[at]:g} at index {at}; counts must be whole "
                    "numbers >= 0 (how often each n-gram occurs)."
                )
        if not arr.any():
            raise ValueError(
                f"counts[{k}] ({k + 1}-gram counts) are all zero; deleted interpolation needs observed "
                "n-grams: count them from a non-empty corpus."
            )
        out.append(arr)
    return out


def deleted_interpolation(counts: Sequence[np.ndarray]) -> np.ndarray:
    """Interpolation weights ``λ_1..λ_n`` for n-gram estimates (Brants 2000, "deleted interpolation").

    ``counts[k]`` holds the (k+1)-gram counts as an array with k+1 axes (``counts[0]``: unigrams [N]).
    For each n-gram ``(t_1..t_n)`` with count ``f > 0``, every order's estimate is recomputed with
    that occurrence left out, ``(c(t_{n-k}..t_n) - 1) / (c(t_{n-k}..t_{n-1}) - 1)`` (0 if the
    denominator is 0; contexts are counted in the same table), and ``f`` is credited to the order
    with the largest estimate. Returns ``λ`` [n], summing to 1, lowest order first. Counts must be
    whole numbers >= 0 (no NaN or inf), and no order may be all zero.
    """
    counts = _check_ngram_counts(counts)
    n = len(counts)
    top = counts[-1]
    idx = np.nonzero(top)
    estimates = []
    for k in range(n):  # order k+1 looks at the last k+1 tags of each n-gram
        gram = idx[n - 1 - k :]
        num = counts[k][gram] - 1.0
        den = (counts[k].sum(axis=-1)[gram[:-1]] if k > 0 else np.full(num.shape, counts[0].sum())) - 1.0
        estimates.append(np.divide(num, den, out=np.zeros_like(num), where=den > 0))
    winner = np.argmax(np.stack(estimates), axis=0)  # ties go to the lower order
    lambdas = np.bincount(winner, weights=top[idx], minlength=n)
    return lambdas / lambdas.sum()


def second_order_viterbi(log_trans: np.ndarray, log_emit: np.ndarray) -> tuple[np.ndarray, float]:
    """Viterbi for a second-order (trigram) HMM, pruned to the tags each word can have.

    ``log_trans`` [N+1, N+1, N+1]: ``log P(t_k | t_i, t_j)`` where index ``N`` is the sentence
    boundary (both the two start symbols and the end symbol). ``log_emit`` [T, N]: ``log P(w_t | t)``;
    tags with ``-inf`` there are skipped, which changes nothing (they can never be on a finite path).
    The state at step t is the pair ``(t_{t-1}, t_t)``:
    ``delta_t(j, k) = max_i delta_{t-1}(i, j) + log_trans[i, j, k] + log_emit[t, k]``.
    Returns ``(path [T], log P(path, words, end))``. NaN or ``+inf`` scores are refused.
    """
    log_emit = _as_log_scores(log_emit, "log_emit")
    log_trans = _as_log_scores(log_trans, "log_trans")
    if log_emit.ndim != 2 or log_emit.shape[0] == 0 or log_emit.shape[1] == 0:
        raise ValueError(f"log_emit must have shape [T, N] with T >= 1 and N >= 1, got {log_emit.shape}.")
    T, N = log_emit.shape
    if log_trans.shape != (N + 1, N + 1, N + 1):
        raise ValueError(
            f"log_trans must have shape [N+1, N+1, N+1] = [{N + 1}]*3 for N={N} tags, got {log_trans.shape}."
        )
    return _second_order_viterbi(log_trans, log_emit)


def _second_order_viterbi(log_trans: np.ndarray, log_emit: np.ndarray) -> tuple[np.ndarray, float]:
    """:func:`second_order_viterbi` without the input checks (for inputs already known to be valid)."""
    T, N = log_emit.shape
    bos = np.array([N])
    cands = []
    for t in range(T):
        c = np.flatnonzero(np.isfinite(log_emit[t]))
        if c.size == 0:
            raise ValueError(f"word {t} has log emission -inf for every tag; no path exists.")
        cands.append(c)
    # delta[i, j]: best score of a path ending with tags (cands[t-1][i], cands[t][j])
    delta = log_trans[N, N, cands[0]][None, :] + log_emit[0, cands[0]][None, :]
    prev2, prev1 = bos, cands[0]  # candidate tags at t-1 and t (t = 0 here; t-1 is the start symbol)
    back = []
    for t in range(1, T):
        cur = cands[t]
        scores = delta[:, :, None] + log_trans[prev2[:, None, None], prev1[None, :, None], cur]  # [i, j, k]
        best = np.argmax(scores, axis=0)  # [j, k]
        delta = scores.max(axis=0) + log_emit[t, cur][None, :]
        back.append(best)
        prev2, prev1 = prev1, cur
    final = delta + log_trans[prev2[:, None], prev1[None, :], N]
    i, j = np.unravel_index(int(np.argmax(final)), final.shape)
    logp = float(final[i, j])
    pos = [j, i]  # positions in the candidate lists, read backwards: t = T-1, T-2, ...
    for t in range(T - 1, 1, -1):
        pos.append(back[t - 1][pos[-1], pos[-2]])
    pos = pos[:T][::-1]
    return np.array([cands[t][p] for t, p in enumerate(pos)], dtype=np.int64), logp


class SuffixModel:
    """``P(tag | word)`` for unseen words from their final letters (TnT's suffix tries, Brants 2000).

    Fit it on rare words, which look most like unseen ones (:class:`HMMTagger` uses the words seen at
    most ``rare_threshold`` times). Capitalised and lower-case words get separate statistics. For a word ending ``l_1..l_n``::

        P(t | l_{n-i+1..n}) = (P̂(t | l_{n-i+1..n}) + θ P(t | l_{n-i+2..n})) / (1 + θ)

    from the empty suffix (``P(t)`` over rare words) up to the longest suffix seen (at most
    ``max_suffix`` letters); ``θ`` is the standard deviation of the rare words' tag probabilities.
    """

    def __init__(self, n_tags: int, max_suffix: int = 10) -> None:
        self.n_tags = _check_int(n_tags, "n_tags", 1, " (the number of tags)")
        self.max_suffix = _check_int(max_suffix, "max_suffix", 1, " (the longest suffix in letters, e.g. 10)")

    def fit(self, lexicon: Mapping[str, np.ndarray]) -> SuffixModel:
        """Count suffix/tag pairs from ``lexicon``: rare word -> its tag counts [N] (>= 0, not all zero)."""
        if not isinstance(lexicon, Mapping):
            raise TypeError(
                f"lexicon must be a mapping word -> tag counts [{self.n_tags}], "
                f"got {type(lexicon).__name__}; e.g. {{'running': np.array([0, 3, 0])}}."
            )
        tries: dict[bool, dict[str, np.ndarray]] = {True: {}, False: {}}
        for w, counts in lexicon.items():
            if not isinstance(w, str):
                raise TypeError(f"lexicon keys must be words (str), got {type(w).__name__} {w!r:.40}.")
            if not w:
                raise ValueError("lexicon contains the empty word ''; its keys must be non-empty words.")
            raw = np.asarray(counts)
            if raw.dtype.kind not in "biuf":
                raise TypeError(f"tag counts of {w!r} must be numbers, got dtype {raw.dtype}.")
            counts = raw.astype(np.float64)
            if counts.shape != (self.n_tags,):
                raise ValueError(f"tag counts of {w!r} have shape {counts.shape}, expected [{self.n_tags}].")
            if not np.all(np.isfinite(counts)) or (counts < 0).any():
                raise ValueError(
                    f"tag counts of {w!r} must be finite and >= 0 (how often the word has each tag), "
                    f"got {counts.tolist()}."
                )
            if not counts.any():
                raise ValueError(
                    f"tag counts of {w!r} are all zero; every word in lexicon needs at least one tag "
                    "count (leave out words that were never seen)."
                )
            trie = tries[w[:1].isupper()]
            for k in range(min(self.max_suffix, len(w)) + 1):
                suffix = w[len(w) - k :]
                if suffix in trie:
                    trie[suffix] = trie[suffix] + counts
                else:
                    trie[suffix] = counts.copy()
        self.tries = {}
        for cap, trie in tries.items():
            root = trie.get("")
            if root is None:  # no rare word of this kind: fall back to the other kind
                continue
            p0 = root / root.sum()
            self.tries[cap] = (trie, float(np.std(p0)), p0)
        if not self.tries:
            raise ValueError("lexicon is empty; SuffixModel.fit needs at least one word with tag counts.")
        return self

    def predict(self, word: str) -> np.ndarray:
        """``P(tag | suffix of word)`` [N] (sums to 1)."""
        if not hasattr(self, "tries"):
            raise RuntimeError("this SuffixModel is not trained yet; call fit(lexicon) first.")
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__} {word!r:.40}.")
        cap = word[:1].isupper()
        trie, theta, p = self.tries.get(cap) or next(iter(self.tries.values()))
        for k in range(1, min(self.max_suffix, len(word)) + 1):
            row = trie.get(word[len(word) - k :])
            if row is None:
                break
            p = (row / row.sum() + theta * p) / (1.0 + theta)
        return p.copy()


class HMMTagger:
    """Supervised HMM part-of-speech tagger (``order=1``: bigram HMM, ``order=2``: trigram HMM).

    ``rare_threshold``: words seen at most this often train the unknown-word :class:`SuffixModel`;
    ``max_suffix``: its longest suffix. Train with :meth:`fit`, then :meth:`tag` / :meth:`evaluate`.
    """

    def __init__(self, order: int = 2, rare_threshold: int = 10, max_suffix: int = 5) -> None:
        if isinstance(order, (bool, np.bool_)) or not isinstance(order, (int, np.integer)):
            raise TypeError(f"order must be the int 1 (bigram HMM) or 2 (trigram HMM), got {order!r}.")
        if order not in (1, 2):
            raise ValueError(f"order must be 1 (bigram HMM) or 2 (trigram HMM), got {order!r}.")
        self.order = int(order)
        self.rare_threshold = _check_int(
            rare_threshold, "rare_threshold", 1, " (words seen at most this often train the suffix model)"
        )
        self.max_suffix = _check_int(max_suffix, "max_suffix", 1, " (the longest suffix in letters, e.g. 5)")

    def fit(self, sentences: Iterable[Sequence[Sequence[str]]]) -> HMMTagger:
        """Estimate transitions, emissions and the suffix model from ``[(word, tag, ...), ...]`` sentences."""
        data = _split(sentences)
        self.tags = sorted({t for _, tags in data for t in tags})
        self.tag_index = {t: i for i, t in enumerate(self.tags)}
        N = len(self.tags)
        edge = N  # the boundary tag: start and end of sentence
        trigrams, pairs = Counter(), Counter()
        for words, tags in data:
            ids = [self.tag_index[t] for t in tags]
            seq = [edge, edge, *ids, edge]
            trigrams.update(zip(seq[:-2], seq[1:-1], seq[2:], strict=True))
            pairs.update(zip(words, ids, strict=True))
        c3 = np.zeros((N + 1, N + 1, N + 1))
        c3[tuple(np.array(list(trigrams)).T)] = list(trigrams.values())
        c2, c1 = c3.sum(axis=0), c3.sum(axis=(0, 1))  # every tag token ends exactly one trigram

        # transitions: interpolated unigram / bigram (/ trigram) estimates, boundary included
        p1 = c1 / c1.sum()
        ctx1 = c2.sum(axis=1, keepdims=True)
        p2 = np.divide(c2, ctx1, out=np.zeros_like(c2), where=ctx1 > 0)
        self.bigram_lambdas = deleted_interpolation([c1, c2])
        bigram = self.bigram_lambdas[0] * p1[None, :] + self.bigram_lambdas[1] * p2  # [N+1, N+1]
        self.log_bigram = _log(bigram)
        if self.order == 1:
            self.lambdas, self.log_trans = self.bigram_lambdas, self.log_bigram
        else:
            ctx2 = c3.sum(axis=2, keepdims=True)
            p3 = np.divide(c3, ctx2, out=np.zeros_like(c3), where=ctx2 > 0)
            self.lambdas = deleted_interpolation([c1, c2, c3])
            trans = self.lambdas[0] * p1 + self.lambdas[1] * p2[None] + self.lambdas[2] * p3  # [N+1]*3
            self.log_trans = _log(trans)

        # emissions of known words: relative frequencies P(w | t) = c(t, w) / c(t)
        self.vocab = sorted({w for w, _ in pairs})
        self.word_index = {w: k for k, w in enumerate(self.vocab)}
        self.emission_counts = np.zeros((N, len(self.vocab)))  # [N, V]
        keys = np.array([(t, self.word_index[w]) for w, t in pairs]).T
        self.emission_counts[tuple(keys)] = list(pairs.values())
        self.tag_counts = self.emission_counts.sum(axis=1)  # [N]
        self.log_emission = _log(self.emission_counts / self.tag_counts[:, None])  # [N, V]

        # unknown words: suffix model on rare words; P(w | t) ∝ P(t | suffix) / P(t)
        rare = np.flatnonzero(self.emission_counts.sum(axis=0) <= self.rare_threshold)
        if rare.size == 0:
            raise ValueError(
                f"no training word occurs at most rare_threshold={self.rare_threshold} times, so the "
                "unknown-word model has nothing to learn from; raise rare_threshold or add training data."
            )
        lexicon = {self.vocab[k]: self.emission_counts[:, k] for k in rare}
        self.suffix_model = SuffixModel(N, self.max_suffix).fit(lexicon)
        self.log_tag_prior = _log(self.tag_counts / self.tag_counts.sum())
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "log_trans"):
            raise RuntimeError("this HMMTagger is not trained yet; call fit(train_sentences) first.")

    def is_known(self, word: str) -> bool:
        """Whether ``word`` occurred in the training data."""
        self._check_fitted()
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__} {word!r:.40}.")
        return word in self.word_index

    def log_emissions(self, words: Sequence[str]) -> np.ndarray:
        """``log P(w_t | tag)`` [T, N]; for unknown words up to a per-word constant (harmless for decoding).

        A known word uses its relative frequencies; so does an unknown capitalised first word whose
        lower-case form is known (sentence-initial capitals say nothing about the tag). Other unknown
        words get ``log P(t | suffix) - log P(t)`` from the :class:`SuffixModel`.
        """
        self._check_fitted()
        words = _words(words)
        out = np.empty((len(words), len(self.tags)))
        for t, w in enumerate(words):
            k = self.word_index.get(w)
            if k is None and t == 0:  # "Trouble ..." at the start of a sentence: try "trouble"
                k = self.word_index.get(w.lower())
            if k is not None:
                out[t] = self.log_emission[:, k]
            else:
                out[t] = _log(self.suffix_model.predict(w)) - self.log_tag_prior
        return out

    def tag(self, words: Sequence[str]) -> list[str]:
        """The most probable tag sequence (Viterbi) for a list of words (a plain string is refused)."""
        self._check_fitted()
        if isinstance(words, (str, bytes)):
            raise TypeError(
                f"tag() takes a list of words, not the string {words!r:.40}; e.g. 'The cat sat .'.split()."
            )
        words = _words(words)
        if len(words) == 0:
            return []
        log_emit = self.log_emissions(words)
        N = len(self.tags)
        if self.order == 2:
            path, _ = _second_order_viterbi(self.log_trans, log_emit)
        else:
            # first-order HMM with the end-of-sentence transition folded into the last step
            log_emit[-1] += self.log_trans[:N, N]
            path, _ = viterbi_log(self.log_trans[N, :N], self.log_trans[:N, :N], log_emit)
        return [self.tags[i] for i in path]

    def predict(self, sentences: Iterable[Sequence[Sequence[str]]]) -> list[list[str]]:
        """Tags for each of ``[(word, ...), ...]`` sentences (only the words are used).

        A sentence may also be a plain list of words; a sentence given as one string is refused.
        """
        self._check_fitted()
        out = []
        for i, sent in enumerate(_sentence_list(sentences)):
            if isinstance(sent, (str, bytes)) or not isinstance(sent, Iterable):
                raise ValueError(
                    f"sentence {i} must be a list of words or of (word, ...) tuples, got "
                    f"{type(sent).__name__} {sent!r:.40}; tokenize strings first, e.g. s.split()."
                )
            sent = list(sent)
            if all(isinstance(x, str) for x in sent):
                words = sent
            else:
                bad = next((j for j, x in enumerate(sent) if not (isinstance(x, (tuple, list)) and x)), None)
                if bad is not None:
                    raise ValueError(
                        f"sentence {i}: item {bad} is {sent[bad]!r:.40}; a sentence must be either a list of "
                        "words (str) or a list of (word, ...) tuples, not a mix."
                    )
                words = [x[0] for x in sent]
            try:
                out.append(self.tag(words))
            except TypeError as err:
                raise TypeError(f"sentence {i}: {err}") from err
        return out

    def evaluate(self, sentences: Iterable[Sequence[Sequence[str]]]) -> TaggingScores:
        """Accuracy overall / on known / on unknown words of ``[(word, tag, ...), ...]`` sentences."""
        data = _split(sentences)
        pred = [self.tag(words) for words, _ in data]
        known = [[self.is_known(w) for w in words] for words, _ in data]
        return _score([tags for _, tags in data], pred, known)

    def to_hmm(self) -> HMM:
        """The bigram model as a plain first-order :class:`~course_utils.hmm.HMM` over ``vocab + [UNK]``.

        ``π = P(t | start)``, ``A[i] = P(· | i)`` renormalised without the end transition, and
        ``B[t, w] = c(t, w) / (c(t) + n_1(t) + 1)``, ``B[t, UNK] = (n_1(t) + 1) / (c(t) + n_1(t) + 1)``
        where ``n_1(t)`` counts words seen once, with tag t (the chance that t emits a new word).
        Encode a sentence with ``hmm.encode(words, unk=UNK)``.
        """
        self._check_fitted()
        N = len(self.tags)
        trans = np.exp(self.log_bigram)
        pi = trans[N, :N] / trans[N, :N].sum()
        A = trans[:N, :N] / trans[:N, :N].sum(axis=1, keepdims=True)
        counts = self.emission_counts
        singletons = (counts * (counts.sum(axis=0) == 1)).sum(axis=1)  # n_1(t)
        denom = (self.tag_counts + singletons + 1)[:, None]
        B = np.concatenate([counts / denom, (singletons + 1)[:, None] / denom], axis=1)
        return HMM(pi, A, B, states=self.tags, symbols=[*self.vocab, UNK])
