"""BLEU (Papineni et al. 2002): clipped n-gram precision (修正的 n 元精确率) and the brevity penalty (简短惩罚).

BLEU compares a system's translations (the *hypotheses*) with human translations (the *references*)
by counting shared n-grams, and is computed on a whole test set (the *corpus*) at once::

    BLEU = BP * exp( sum_n w_n log p_n ),   n = 1 .. N   (N = 4, w_n = 1/4)

* ``p_n`` is the **modified n-gram precision**, pooled over the corpus: the number of hypothesis
  n-grams that also occur in a reference, each n-gram's count *clipped* to the largest number of
  times it occurs in any single reference, divided by the number of hypothesis n-grams. Clipping
  is what stops "the the the the" from scoring well against "the cat is on the mat": ``the`` occurs
  at most twice in the reference, so only 2 of the 4 unigrams count (``p_1 = 2/4``).
* ``BP`` is the **brevity penalty**, ``1`` if ``c >= r`` else ``exp(1 - r / c)``, where ``c`` is the
  total hypothesis length and ``r`` the total *effective reference length*: for each sentence the
  length of the reference closest to the hypothesis length, ties going to the shorter reference.
  Precision alone would reward very short outputs; BP takes that reward back.
* Corpus BLEU sums the matches and totals of all sentences before dividing, so it is **not** the
  mean of the sentence BLEUs.

One n-gram order without a single match makes ``log p_n = -inf`` and BLEU 0. On a corpus this is
rare; for one sentence it is common, so sentence BLEU needs **smoothing** (平滑). The methods are
those of sacreBLEU, from Chen & Cherry (2014), applied to the orders with no match:

* ``"exp"`` (the default, NIST's method): the k-th order without a match gets ``1 / (2**k * total)``;
* ``"floor"``: it gets ``smooth_value / total`` (default 0.1);
* ``"add-k"``: ``smooth_value`` (default 1) is added to the matches and the totals of every order >= 2;
* ``"none"``: no smoothing.

With ``use_effective_order=True`` (the default of :func:`sentence_bleu`) the geometric mean runs only
over the orders the hypothesis has n-grams of: BLEU of a 3-word sentence uses p_1..p_3.

Scores are percentages (0-100), as sacreBLEU reports them, and equal sacreBLEU's to rounding error::

    corpus_bleu(hyps, refs) ==
        sacrebleu.corpus_bleu([" ".join(h) for h in hyps], streams, tokenize="none", force=True).score

where ``hyps[i]`` is the token list of sentence i, ``refs[i]`` the list of its references (each a token
list) and ``streams`` is ``refs`` transposed: sacreBLEU takes one list per *reference position*
(``streams[k][i]`` = the k-th reference of sentence i). Here ``refs[i]`` is always about sentence i:
``refs = [list(r) for r in zip(*streams)]`` converts streams (of token lists) to this layout.

Public names:

* :func:`ngram_counts` - the n-grams of a token list, counted;
* :func:`modified_precision` - clipped matches and total n-grams of one sentence;
* :func:`closest_ref_length` - the effective reference length of one sentence;
* :func:`brevity_penalty` - BP from the hypothesis and reference lengths;
* :class:`BleuScore` - a score with its precisions, BP, lengths and counts;
* :func:`corpus_bleu` - BLEU of a corpus (equal to ``sacrebleu.corpus_bleu``);
* :func:`sentence_bleu` - smoothed BLEU of one sentence (equal to ``sacrebleu.sentence_bleu``);
* :data:`SMOOTHING_METHODS` - the names accepted by ``smooth``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SMOOTHING_METHODS",
    "BleuScore",
    "brevity_penalty",
    "closest_ref_length",
    "corpus_bleu",
    "modified_precision",
    "ngram_counts",
    "sentence_bleu",
]

SMOOTHING_METHODS: tuple[str, ...] = ("exp", "none", "floor", "add-k")
_SMOOTH_DEFAULTS: dict[str, float | None] = {"exp": None, "none": None, "floor": 0.1, "add-k": 1}

Tokens = Sequence[str]


# ------------------------------------------------------------------------------ input checks
def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _is_sequence(x: Any) -> bool:
    return isinstance(x, Sequence) and not isinstance(x, (str, bytes))


def _check_tokens(tokens: Any, what: str) -> list[str]:
    """Validate one tokenized sentence and return it as a list of str."""
    if isinstance(tokens, str):
        raise TypeError(
            f"{what} is a str ({tokens[:40]!r}), but a list of tokens is expected; "
            "tokenize it first, e.g. sentence.split() or the course's tokenizer."
        )
    if not _is_sequence(tokens):
        raise TypeError(f"{what} must be a list of str tokens, got {type(tokens).__name__}.")
    for i, tok in enumerate(tokens):
        if not isinstance(tok, str):
            raise TypeError(
                f"{what}[{i}] is a {type(tok).__name__} ({tok!r}); tokens must be str "
                "(map ids back to tokens first, e.g. with Vocab.decode)."
            )
    return list(tokens)


def _check_sentence_references(references: Any, what: str) -> list[list[str]]:
    """The references of one sentence: a list of token lists, or one token list (a single reference)."""
    if isinstance(references, str):
        raise TypeError(
            f"{what} is a str ({references[:40]!r}), but token lists are expected; "
            "tokenize the reference(s) first, e.g. [ref.split()]."
        )
    if not _is_sequence(references):
        raise TypeError(
            f"{what} must be a list of references, each a list of str tokens; "
            f"got {type(references).__name__}."
        )
    if len(references) == 0:
        raise ValueError(
            f"{what} is empty: every sentence needs at least one reference "
            "(an empty reference is written [[]], a list holding one empty token list)."
        )
    if all(isinstance(r, str) for r in references):  # one reference, given as its token list
        return [list(references)]
    strs = [k for k, r in enumerate(references) if isinstance(r, str)]
    if strs:
        k, j = strs[0], next(j for j, r in enumerate(references) if not isinstance(r, str))
        raise TypeError(
            f"{what}[{k}] is a str ({references[k][:40]!r}) but {what}[{j}] is a "
            f"{type(references[j]).__name__}: give a list of references, each a token list, e.g. "
            "[['a', 'cat'], ['the', 'cat']] (tokenize first), or one reference as a single token list."
        )
    return [_check_tokens(r, f"{what}[{k}]") for k, r in enumerate(references)]


def _check_corpus(hypotheses: Any, references: Any) -> tuple[list[list[str]], list[list[list[str]]]]:
    """Validate a corpus; return the hypotheses and, per sentence, its list of references."""
    if isinstance(hypotheses, str) or not _is_sequence(hypotheses):
        raise TypeError(
            "hypotheses must be a list with one token list per sentence, got "
            f"{type(hypotheses).__name__}; tokenize each sentence first, e.g. [s.split() for s in sentences]."
        )
    if len(hypotheses) > 0 and isinstance(hypotheses[0], str):
        raise TypeError(
            f"hypotheses[0] is a str ({hypotheses[0][:40]!r}), but one token list per sentence is expected. "
            "For a single tokenized sentence use sentence_bleu(hypothesis, references) or "
            "corpus_bleu([hypothesis], [references]); for raw strings, tokenize them first."
        )
    hyps = [_check_tokens(h, f"hypotheses[{i}]") for i, h in enumerate(hypotheses)]
    if isinstance(references, str) or not _is_sequence(references):
        raise TypeError(
            "references must be a list with one entry per sentence (the list of its references, "
            f"each a token list), got {type(references).__name__}."
        )
    if len(hyps) == 0:
        raise ValueError("the corpus is empty: give at least one hypothesis and its references.")
    if len(references) != len(hyps):
        raise ValueError(
            f"got {len(hyps)} hypotheses but {len(references)} reference entries; references[i] must hold "
            "the references of sentence i. If you have sacreBLEU-style streams (one list per reference "
            "position), transpose them: references = [list(refs) for refs in zip(*streams)]."
        )
    for i, entry in enumerate(references):
        if isinstance(entry, str):
            raise TypeError(
                f"references[{i}] is a str ({entry[:40]!r}), but token lists are expected; "
                "tokenize the references first, e.g. [[r.split()] for r in refs]."
            )
        if not _is_sequence(entry):
            raise TypeError(
                f"references[{i}] must be the list of references of sentence {i} (each a token list), "
                f"got {type(entry).__name__}."
            )
    # Two layouts: nested (references[i] = list of token lists) or flat (references[i] = the one
    # reference of sentence i, a token list). The layout is decided for the whole corpus.
    has_tokens = [i for i, e in enumerate(references) if any(isinstance(x, str) for x in e)]
    has_lists = [i for i, e in enumerate(references) if any(not isinstance(x, str) for x in e)]
    if has_tokens and has_lists:
        raise TypeError(
            f"references mixes two layouts: references[{has_tokens[0]}] holds tokens (one reference) but "
            f"references[{has_lists[0]}] holds token lists (several references). Use the nested layout "
            "everywhere: references[i] = [ref_1, ref_2, ...], e.g. [[ref] for ref in refs] for one "
            "reference each."
        )
    if has_tokens:  # flat: one reference per sentence; an empty entry is an empty reference
        refs = [[_check_tokens(e, f"references[{i}]")] for i, e in enumerate(references)]
    elif has_lists:
        refs = []
        for i, entry in enumerate(references):
            if len(entry) == 0:
                raise ValueError(
                    f"references[{i}] is empty: sentence {i} has no reference. Every sentence needs at "
                    "least one (an empty reference is written [[]])."
                )
            refs.append([_check_tokens(r, f"references[{i}][{k}]") for k, r in enumerate(entry)])
    else:
        raise ValueError(
            "every entry of references is an empty list, which could mean 'no references' or 'one empty "
            "reference each'; write the references of sentence i as references[i] = [ref_1, ...], "
            "e.g. [[]] for one empty reference."
        )
    return hyps, refs


def _check_order(n: Any, name: str) -> int:
    if not _is_int(n):
        raise TypeError(f"{name} must be an int (an n-gram order), got {type(n).__name__} ({n!r}).")
    if n < 1:
        raise ValueError(f"{name} must be >= 1 (1 = unigrams), got {n}.")
    return int(n)


def _check_length(x: Any, name: str) -> int:
    if not _is_int(x):
        raise TypeError(f"{name} must be an int (a number of tokens), got {type(x).__name__} ({x!r}).")
    if x < 0:
        raise ValueError(f"{name} must be >= 0 (a number of tokens), got {x}.")
    return int(x)


def _check_options(
    max_order: Any, weights: Any, smooth: Any, smooth_value: Any, use_effective_order: Any
) -> tuple[int, tuple[float, ...] | None, float | None]:
    """Validate the BLEU options; return max_order, the weights (None = uniform) and the smoothing value."""
    max_order = _check_order(max_order, "max_order")
    if weights is not None:
        if isinstance(weights, str) or not (_is_sequence(weights) or isinstance(weights, np.ndarray)):
            raise TypeError(
                f"weights must be a list of {max_order} numbers (one per n-gram order), "
                f"got {type(weights).__name__}."
            )
        values = list(np.asarray(weights).ravel()) if isinstance(weights, np.ndarray) else list(weights)
        if len(values) != max_order:
            raise ValueError(
                f"weights has {len(values)} entries but max_order={max_order}; give one weight per "
                f"n-gram order 1..{max_order} (uniform: [1 / {max_order}] * {max_order})."
            )
        for k, w in enumerate(values):
            if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, float, np.integer, np.floating)):
                raise TypeError(f"weights[{k}] must be a number, got {type(w).__name__} ({w!r}).")
            if math.isnan(w):
                raise ValueError(f"weights[{k}] is nan; every weight must be a number >= 0.")
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"weights[{k}] = {w}; every weight must be finite and >= 0.")
        total = math.fsum(float(w) for w in values)
        if not math.isclose(total, 1.0, rel_tol=0.0, abs_tol=1e-9):
            raise ValueError(
                f"weights sum to {total}, not 1; BLEU's weights average the log precisions, "
                f"divide them by their sum (e.g. [w / sum(weights) for w in weights])."
            )
        weights = tuple(float(w) for w in values)
    if not isinstance(smooth, str) or smooth not in SMOOTHING_METHODS:
        raise ValueError(f"unknown smooth={smooth!r}; use one of {SMOOTHING_METHODS}.")
    if smooth_value is None:
        smooth_value = _SMOOTH_DEFAULTS[smooth]
    elif smooth in ("exp", "none"):
        raise ValueError(
            f"smooth_value={smooth_value!r} has no effect with smooth={smooth!r}; it only applies to "
            "'floor' and 'add-k'. Leave smooth_value=None."
        )
    else:
        if isinstance(smooth_value, (bool, np.bool_)) or not isinstance(
            smooth_value, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"smooth_value must be a number, got {type(smooth_value).__name__}.")
        if math.isnan(smooth_value):
            raise ValueError("smooth_value is nan; give a positive number (or None for the default).")
        if not math.isfinite(smooth_value) or smooth_value <= 0:
            raise ValueError(f"smooth_value must be a finite number > 0, got {smooth_value}.")
    if not isinstance(use_effective_order, (bool, np.bool_)):
        raise TypeError(f"use_effective_order must be True or False, got {use_effective_order!r}.")
    return max_order, weights, smooth_value


# ------------------------------------------------------------------------------ the pieces
def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _max_ref_counts(references: list[list[str]], n: int) -> Counter[tuple[str, ...]]:
    """For each n-gram, the largest number of times it occurs in any single reference."""
    best: Counter[tuple[str, ...]] = Counter()
    for ref in references:
        for gram, count in _ngrams(ref, n).items():
            if count > best[gram]:
                best[gram] = count
    return best


def _closest(hyp_len: int, ref_lens: list[int]) -> int:
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def ngram_counts(tokens: Tokens, n: int) -> Counter[tuple[str, ...]]:
    """How often each n-gram (a tuple of ``n`` consecutive tokens) occurs in ``tokens``.

    ``ngram_counts(["a", "b", "a", "b"], 2) == Counter({("a", "b"): 2, ("b", "a"): 1})``; a list shorter
    than ``n`` has no n-grams (an empty Counter).
    """
    return _ngrams(_check_tokens(tokens, "tokens"), _check_order(n, "n"))


def modified_precision(hypothesis: Tokens, references: Sequence[Tokens] | Tokens, n: int) -> tuple[int, int]:
    """Clipped n-gram matches and total n-grams of one hypothesis: ``(matches, total)``.

    Each hypothesis n-gram counts at most as often as it occurs in the single reference where it occurs
    most (clipping); ``p_n = matches / total``. ``references`` is a list of token lists (one token list
    is taken as a single reference).
    """
    hyp = _check_tokens(hypothesis, "hypothesis")
    refs = _check_sentence_references(references, "references")
    n = _check_order(n, "n")
    hyp_counts = _ngrams(hyp, n)
    best = _max_ref_counts(refs, n)
    return sum(min(c, best[g]) for g, c in hyp_counts.items()), sum(hyp_counts.values())


def closest_ref_length(hyp_len: int, ref_lens: Sequence[int]) -> int:
    """The effective reference length of one sentence: the reference length closest to ``hyp_len``.

    Ties go to the shorter reference (as in sacreBLEU and NLTK): ``closest_ref_length(5, [4, 6]) == 4``.
    """
    hyp_len = _check_length(hyp_len, "hyp_len")
    if isinstance(ref_lens, str) or not _is_sequence(ref_lens):
        raise TypeError(
            f"ref_lens must be a list of ints (reference lengths), got {type(ref_lens).__name__}."
        )
    if len(ref_lens) == 0:
        raise ValueError("ref_lens is empty: a sentence needs at least one reference length.")
    return _closest(hyp_len, [_check_length(r, f"ref_lens[{k}]") for k, r in enumerate(ref_lens)])


def brevity_penalty(hyp_len: int, ref_len: int) -> float:
    """BP = ``1`` if ``hyp_len >= ref_len`` else ``exp(1 - ref_len / hyp_len)``; 0 for an empty hypothesis.

    Pass corpus totals for corpus BLEU: ``hyp_len`` = all hypothesis tokens, ``ref_len`` = the sum of
    the effective reference lengths (:func:`closest_ref_length`).
    """
    hyp_len = _check_length(hyp_len, "hyp_len")
    ref_len = _check_length(ref_len, "ref_len")
    if hyp_len >= ref_len:
        return 1.0
    if hyp_len == 0:
        return 0.0
    return math.exp(1 - ref_len / hyp_len)


# ------------------------------------------------------------------------------ the score
@dataclass(frozen=True)
class BleuScore:
    """A BLEU score with the statistics it was computed from; ``str(score)`` prints it like sacreBLEU.

    Attributes:
        score: BLEU in percent, 0-100.
        precisions: ``p_1 .. p_N`` in percent, after smoothing (as sacreBLEU reports them); orders
            left out (no n-grams, or no match at all) show 0.
        bp: the brevity penalty.
        hyp_len: total hypothesis length ``c`` (tokens).
        ref_len: total effective reference length ``r`` (tokens).
        counts: clipped matches per order, before smoothing.
        totals: hypothesis n-grams per order, before smoothing.
    """

    score: float
    precisions: list[float]
    bp: float
    hyp_len: int
    ref_len: int
    counts: list[int]
    totals: list[int]

    @property
    def ratio(self) -> float:
        """``hyp_len / ref_len`` (0 when there is no reference token)."""
        return self.hyp_len / self.ref_len if self.ref_len else 0.0

    def __str__(self) -> str:
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        return (
            f"BLEU = {self.score:.2f} {precisions} (BP = {self.bp:.3f} ratio = {self.ratio:.3f} "
            f"hyp_len = {self.hyp_len:d} ref_len = {self.ref_len:d})"
        )


def _sentence_stats(hyp: list[str], refs: list[list[str]], max_order: int) -> tuple[int, int, list, list]:
    """hyp_len, effective ref_len, clipped matches and totals per order of one sentence."""
    counts, totals = [0] * max_order, [0] * max_order
    for n in range(1, min(max_order, len(hyp)) + 1):
        hyp_counts = _ngrams(hyp, n)
        best = _max_ref_counts(refs, n)
        counts[n - 1] = sum(min(c, best[g]) for g, c in hyp_counts.items())
        totals[n - 1] = len(hyp) - n + 1
    return len(hyp), _closest(len(hyp), [len(r) for r in refs]), counts, totals


def _score(
    counts: list[int],
    totals: list[int],
    hyp_len: int,
    ref_len: int,
    weights: tuple[float, ...] | None,
    smooth: str,
    smooth_value: float | None,
    use_effective_order: bool,
) -> BleuScore:
    """BLEU from the (pooled) statistics, with the arithmetic of sacreBLEU's ``BLEU.compute_bleu``."""
    max_order = len(counts)
    bp = brevity_penalty(hyp_len, ref_len)
    precisions = [0.0] * max_order
    if not any(counts):  # not even one unigram in common
        return BleuScore(0.0, precisions, bp, hyp_len, ref_len, list(counts), list(totals))

    doubling = 1.0  # "exp": the k-th order without a match gets 1 / (2**k * total)
    used = max_order  # how many orders enter the geometric mean
    for n in range(1, max_order + 1):
        matches, total = counts[n - 1], totals[n - 1]
        if smooth == "add-k" and n > 1:
            matches, total = matches + smooth_value, total + smooth_value
        if total == 0:  # no n-grams of this order, hence none of higher orders
            break
        if use_effective_order:
            used = n
        if matches == 0:
            if smooth == "exp":
                doubling *= 2
                precisions[n - 1] = 100.0 / (doubling * total)
            elif smooth == "floor":
                precisions[n - 1] = 100.0 * smooth_value / total
        else:
            precisions[n - 1] = 100.0 * matches / total

    kept = precisions[:used]
    if weights is None:  # uniform weights 1 / used
        if any(p == 0.0 for p in kept):  # log 0 = -inf
            score = 0.0
        else:
            score = bp * math.exp(sum(math.log(p) for p in kept) / used)
    else:
        w_sum = sum(weights[:used])
        if w_sum == 0:
            raise ValueError(
                f"the hypotheses have n-grams only up to order {used}, and weights give those orders no "
                "weight, so the effective-order BLEU is undefined; use use_effective_order=False "
                "(the score is then 0) or other weights."
            )
        terms = [(w / w_sum, p) for w, p in zip(weights[:used], kept, strict=True) if w > 0]
        if any(p == 0.0 for _, p in terms):
            score = 0.0
        else:
            score = bp * math.exp(sum(w * math.log(p) for w, p in terms))
    return BleuScore(score, precisions, bp, hyp_len, ref_len, list(counts), list(totals))


def corpus_bleu(
    hypotheses: Sequence[Tokens],
    references: Sequence[Sequence[Tokens]] | Sequence[Tokens],
    *,
    max_order: int = 4,
    weights: Sequence[float] | None = None,
    smooth: str = "exp",
    smooth_value: float | None = None,
    use_effective_order: bool = False,
) -> BleuScore:
    """Corpus BLEU: n-gram matches, totals and lengths summed over all sentences, then the formula.

    Args:
        hypotheses: one token list per sentence.
        references: ``references[i]`` = the references of sentence ``i``, a list of token lists (several
            references may differ in number and length). If every sentence has exactly one reference
            you may give its token list directly (``references[i] = ref_tokens``); the two layouts
            cannot be mixed.
        max_order: the highest n-gram order N.
        weights: ``w_1 .. w_N`` (>= 0, summing to 1); default uniform ``1 / N``.
        smooth: one of :data:`SMOOTHING_METHODS` (see the module docstring); the default ``"exp"``
            is sacreBLEU's, so the default call equals ``sacrebleu.corpus_bleu``.
        smooth_value: the value for ``"floor"`` (default 0.1) and ``"add-k"`` (default 1).
        use_effective_order: average only over the orders the hypotheses have n-grams of (with
            custom weights, those orders' weights are rescaled to sum to 1).
    """
    max_order, weights, smooth_value = _check_options(
        max_order, weights, smooth, smooth_value, use_effective_order
    )
    hyps, refs = _check_corpus(hypotheses, references)
    hyp_len = ref_len = 0
    counts, totals = [0] * max_order, [0] * max_order
    for hyp, sentence_refs in zip(hyps, refs, strict=True):
        h, r, c, t = _sentence_stats(hyp, sentence_refs, max_order)
        hyp_len, ref_len = hyp_len + h, ref_len + r
        counts = [a + b for a, b in zip(counts, c, strict=True)]
        totals = [a + b for a, b in zip(totals, t, strict=True)]
    return _score(counts, totals, hyp_len, ref_len, weights, smooth, smooth_value, bool(use_effective_order))


def sentence_bleu(
    hypothesis: Tokens,
    references: Sequence[Tokens] | Tokens,
    *,
    max_order: int = 4,
    weights: Sequence[float] | None = None,
    smooth: str = "exp",
    smooth_value: float | None = None,
    use_effective_order: bool = True,
) -> BleuScore:
    """Smoothed BLEU of one sentence; the defaults are those of ``sacrebleu.sentence_bleu``.

    ``references`` is a list of token lists (one token list is taken as a single reference). The
    options are those of :func:`corpus_bleu`, except that ``use_effective_order`` defaults to True.
    BLEU is a corpus metric: sentence BLEU is noisy, and averaging it over a corpus does not give
    corpus BLEU.
    """
    max_order, weights, smooth_value = _check_options(
        max_order, weights, smooth, smooth_value, use_effective_order
    )
    hyp = _check_tokens(hypothesis, "hypothesis")
    refs = _check_sentence_references(references, "references")
    hyp_len, ref_len, counts, totals = _sentence_stats(hyp, refs, max_order)
    return _score(counts, totals, hyp_len, ref_len, weights, smooth, smooth_value, bool(use_effective_order))
