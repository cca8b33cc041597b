"""Tests for course_utils.bleu: equal to sacreBLEU on real and edge-case data; by hand and by brute force."""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
import sacrebleu
from nltk.translate import bleu_score as nltk_bleu

from course_utils.bleu import (
    SMOOTHING_METHODS,
    BleuScore,
    brevity_penalty,
    closest_ref_length,
    corpus_bleu,
    modified_precision,
    ngram_counts,
    sentence_bleu,
)
from course_utils.data import load_multi30k

TOL = 1e-9
# (smooth, smooth_value) pairs; every one is also run with and without effective order
SMOOTHINGS = [("exp", None), ("none", None), ("floor", None), ("floor", 0.3), ("add-k", None), ("add-k", 0.5)]
OPTIONS = [(s, v, eff) for s, v in SMOOTHINGS for eff in (False, True)]


def option_id(option):
    smooth, value, eff = option
    return f"{smooth}{'' if value is None else f'={value}'}{'-eff' if eff else ''}"


# ------------------------------------------------------------------------------------------ helpers
def sacre_corpus(hyps, refs, smooth="exp", smooth_value=None, use_effective_order=False):
    """sacrebleu.corpus_bleu on the same tokens: refs[i] (references of sentence i) -> streams."""
    n_streams = max(len(r) for r in refs)
    streams = [[" ".join(r[k]) if k < len(r) else None for r in refs] for k in range(n_streams)]
    return sacrebleu.corpus_bleu(
        [" ".join(h) for h in hyps], streams, smooth_method=smooth, smooth_value=smooth_value,
        use_effective_order=use_effective_order, tokenize="none", force=True,
    )  # fmt: skip


def sacre_sentence(hyp, refs, smooth="exp", smooth_value=None, use_effective_order=True):
    return sacrebleu.sentence_bleu(
        " ".join(hyp), [" ".join(r) for r in refs], smooth_method=smooth, smooth_value=smooth_value,
        use_effective_order=use_effective_order, tokenize="none",
    )  # fmt: skip


def assert_same(mine: BleuScore, theirs, smooth="exp", smooth_value=None) -> None:
    """Score, precisions, BP, lengths, counts and the printed line all equal sacreBLEU's."""
    assert abs(mine.score - theirs.score) <= TOL, (mine.score, theirs.score)
    assert len(mine.precisions) == len(theirs.precisions)
    for n, (p, q) in enumerate(zip(mine.precisions, theirs.precisions, strict=True), start=1):
        assert abs(p - q) <= TOL, f"p_{n}: {p} vs {q}"
    assert abs(mine.bp - theirs.bp) <= TOL
    assert (mine.hyp_len, mine.ref_len) == (theirs.sys_len, theirs.ref_len)
    assert mine.ratio == pytest.approx(theirs.ratio, abs=TOL)
    # sacreBLEU reports its counts after add-k smoothing has added k to the orders >= 2
    if smooth == "add-k" and any(mine.counts):
        k = 1 if smooth_value is None else smooth_value
        assert theirs.counts == mine.counts[:1] + [c + k for c in mine.counts[1:]]
        assert theirs.totals == mine.totals[:1] + [t + k for t in mine.totals[1:]]
    else:
        assert (mine.counts, mine.totals) == (theirs.counts, theirs.totals)
    assert str(mine) == theirs.format()


def perturb(tokens, rng: random.Random, vocab, strength: float) -> list[str]:
    """A noisy copy: words dropped, replaced, inserted and swapped with probability ~strength."""
    out = []
    for tok in tokens:
        r = rng.random()
        if r < strength / 4:
            continue  # drop
        if r < strength / 2:
            out.append(rng.choice(vocab))  # replace
        elif r < 3 * strength / 4:
            out += [tok, rng.choice(vocab)]  # insert after
        else:
            out.append(tok)
    for _ in range(int(strength * len(out) / 2)):
        if len(out) > 1:
            i = rng.randrange(len(out) - 1)
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


@pytest.fixture(scope="module")
def val_refs() -> list[list[str]]:
    """Lower-cased, whitespace-split English side of Multi30k val (1,014 sentences)."""
    return [en.lower().split() for _, en in load_multi30k("val")]


@pytest.fixture(scope="module")
def val_hyps(val_refs) -> list[list[str]]:
    rng = random.Random(0)
    vocab = sorted({t for r in val_refs for t in r})
    return [perturb(r, rng, vocab, rng.uniform(0.0, 0.8)) for r in val_refs]


@pytest.fixture(scope="module")
def multi_refs(val_refs) -> tuple[list[list[str]], list[list[list[str]]]]:
    """Real hypotheses against three references each: the true one, a shorter and a longer variant."""
    rng = random.Random(1)
    vocab = sorted({t for r in val_refs for t in r})
    refs, hyps = [], []
    for ref in val_refs[:300]:
        shorter = [t for t in ref if rng.random() > 0.3] or ref[:1]
        longer = ref + rng.sample(vocab, rng.randint(1, 4))
        refs.append([ref, shorter, longer])
        hyps.append(perturb(ref, rng, vocab, rng.uniform(0.1, 0.8)))
    return hyps, refs


# ----------------------------------------------------------------------------- real data vs sacreBLEU
def test_corpus_bleu_equals_sacrebleu_on_multi30k(val_hyps, val_refs):
    refs = [[r] for r in val_refs]
    mine = corpus_bleu(val_hyps, refs)
    assert_same(mine, sacre_corpus(val_hyps, refs))
    # a realistic score: every precision strictly between 0 and 100
    assert all(0 < p < 100 for p in mine.precisions) and 0 < mine.score < 100
    assert mine.counts[0] < mine.totals[0]
    # the flat layout (one reference per sentence, its token list) gives the same score
    assert corpus_bleu(val_hyps, val_refs) == mine


@pytest.mark.parametrize("option", OPTIONS, ids=option_id)
def test_corpus_bleu_smoothing_options_equal_sacrebleu(val_hyps, val_refs, option):
    smooth, value, eff = option
    refs = [[r] for r in val_refs[:200]]
    mine = corpus_bleu(val_hyps[:200], refs, smooth=smooth, smooth_value=value, use_effective_order=eff)
    assert_same(mine, sacre_corpus(val_hyps[:200], refs, smooth, value, eff), smooth, value)


def test_hypotheses_longer_than_references_on_multi30k(val_refs):
    rng = random.Random(2)
    hyps = [r + ["a"] * rng.randint(0, 3) for r in val_refs]
    mine = corpus_bleu(hyps, [[r] for r in val_refs])
    assert mine.bp == 1.0 and mine.hyp_len > mine.ref_len
    assert_same(mine, sacre_corpus(hyps, [[r] for r in val_refs]))


def test_several_references_on_multi30k(multi_refs):
    hyps, refs = multi_refs
    mine = corpus_bleu(hyps, refs)
    assert_same(mine, sacre_corpus(hyps, refs))
    # the closest-length rule matters here: neither "first reference" nor "shortest reference"
    assert mine.ref_len != sum(len(r[0]) for r in refs)
    assert mine.ref_len != sum(min(len(x) for x in r) for r in refs)
    assert mine.ref_len == sum(
        closest_ref_length(len(h), [len(x) for x in r]) for h, r in zip(hyps, refs, strict=True)
    )
    # extra references can only add matches
    assert all(
        m >= s for m, s in zip(mine.counts, corpus_bleu(hyps, [r[:1] for r in refs]).counts, strict=True)
    )


def test_sentence_bleu_equals_sacrebleu_on_multi30k(val_hyps, val_refs, multi_refs):
    for hyp, ref in zip(val_hyps[:300], val_refs[:300], strict=True):
        assert_same(sentence_bleu(hyp, [ref]), sacre_sentence(hyp, [ref]))
    for hyp, refs in zip(*multi_refs, strict=True):
        assert_same(sentence_bleu(hyp, refs), sacre_sentence(hyp, refs))


@pytest.mark.parametrize("option", OPTIONS, ids=option_id)
def test_sentence_bleu_smoothing_options_equal_sacrebleu(val_hyps, val_refs, option):
    smooth, value, eff = option
    for hyp, ref in zip(val_hyps[:60], val_refs[:60], strict=True):
        mine = sentence_bleu(hyp, [ref], smooth=smooth, smooth_value=value, use_effective_order=eff)
        assert_same(mine, sacre_sentence(hyp, [ref], smooth, value, eff), smooth, value)


def test_corpus_bleu_is_not_the_mean_of_sentence_bleus(val_hyps, val_refs):
    corpus = corpus_bleu(val_hyps, [[r] for r in val_refs]).score
    mean = float(np.mean([sentence_bleu(h, [r]).score for h, r in zip(val_hyps, val_refs, strict=True)]))
    assert abs(corpus - mean) > 1.0, (corpus, mean)
    # ... but it is BLEU of the pooled statistics, which sentence-level counts add up to
    sentences = [sentence_bleu(h, [r]) for h, r in zip(val_hyps, val_refs, strict=True)]
    pooled = corpus_bleu(val_hyps, [[r] for r in val_refs])
    assert pooled.counts == [sum(s.counts[n] for s in sentences) for n in range(4)]
    assert pooled.totals == [sum(s.totals[n] for s in sentences) for n in range(4)]
    assert (pooled.hyp_len, pooled.ref_len) == (
        sum(s.hyp_len for s in sentences),
        sum(s.ref_len for s in sentences),
    )


# -------------------------------------------------------------------------------------- worked example
HAND_HYPS = [["the", "cat", "is", "on", "the", "mat"], ["a", "dog", "runs"]]
HAND_REFS = [[["there", "is", "a", "cat", "on", "the", "mat"]], [["a", "dog", "runs", "fast"]]]


def test_worked_example_by_hand():
    # sentence 1: unigrams 5/6 (the x2 is clipped to 1), bigrams 2/5 (on the, the mat),
    #             trigrams 1/4 (on the mat), 4-grams 0/3; lengths 6 vs 7
    # sentence 2: 3/3, 2/2, 1/1, 0/0; lengths 3 vs 4
    score = corpus_bleu(HAND_HYPS, HAND_REFS)
    assert (score.counts, score.totals) == ([8, 4, 2, 0], [9, 7, 5, 3])
    assert (score.hyp_len, score.ref_len) == (9, 11)
    bp = math.exp(1 - 11 / 9)
    assert score.bp == pytest.approx(bp, abs=1e-12)
    # exp smoothing: the first order without a match gets 1 / (2 * total) = 1 / 6
    precisions = [8 / 9, 4 / 7, 2 / 5, 1 / 6]
    assert score.precisions == pytest.approx([100 * p for p in precisions], abs=1e-12)
    assert score.score == pytest.approx(100 * bp * math.prod(precisions) ** 0.25, abs=1e-12)
    assert (
        str(score) == "BLEU = 34.35 88.9/57.1/40.0/16.7 (BP = 0.801 ratio = 0.818 hyp_len = 9 ref_len = 11)"
    )
    assert_same(score, sacre_corpus(HAND_HYPS, HAND_REFS))
    # without smoothing the missing 4-gram match makes BLEU 0
    assert corpus_bleu(HAND_HYPS, HAND_REFS, smooth="none").score == 0.0

    # sentence BLEU: sentence 2 has no 4-grams, so effective order uses p_1..p_3 only
    s1 = sentence_bleu(HAND_HYPS[0], HAND_REFS[0])
    s2 = sentence_bleu(HAND_HYPS[1], HAND_REFS[1])
    assert s1.score == pytest.approx(100 * math.exp(1 - 7 / 6) * (5 / 6 * 2 / 5 * 1 / 4 * 1 / 6) ** 0.25)
    assert s2.score == pytest.approx(100 * math.exp(1 - 4 / 3))
    assert s2.precisions == [100.0, 100.0, 100.0, 0.0]
    mean = (s1.score + s2.score) / 2
    assert mean == pytest.approx(50.36, abs=0.01) and score.score == pytest.approx(34.35, abs=0.01)


def test_custom_weights_by_hand_and_against_nltk(val_hyps, val_refs):
    # unigram precision only: BLEU-1 = BP * p_1
    score = corpus_bleu(HAND_HYPS, HAND_REFS, weights=[1, 0, 0, 0])
    assert score.score == pytest.approx(100 * math.exp(1 - 11 / 9) * 8 / 9, abs=1e-12)
    # uniform weights given explicitly change nothing
    default = corpus_bleu(val_hyps, [[r] for r in val_refs])
    explicit = corpus_bleu(val_hyps, [[r] for r in val_refs], weights=np.full(4, 0.25))
    assert explicit.score == pytest.approx(default.score, abs=1e-12)
    # NLTK (no smoothing needed: every precision > 0) with non-uniform weights and with BLEU-2
    hyps, refs = val_hyps[:300], [[r] for r in val_refs[:300]]
    for weights in [(0.4, 0.3, 0.2, 0.1), (0.5, 0.5)]:
        ours = corpus_bleu(hyps, refs, max_order=len(weights), weights=weights, smooth="none")
        assert ours.score / 100 == pytest.approx(nltk_bleu.corpus_bleu(refs, hyps, weights=weights), abs=TOL)


def test_effective_order_rescales_custom_weights():
    hyp, refs = ["a", "dog", "runs"], [["a", "dog", "runs", "fast"]]
    # orders 1..3 are used, weights (0.4, 0.2, 0.2) rescaled to (0.5, 0.25, 0.25)
    score = sentence_bleu(hyp, refs, weights=[0.4, 0.2, 0.2, 0.2])
    assert score.score == pytest.approx(100 * math.exp(1 - 4 / 3), abs=1e-12)
    # p_1 = 2/3; no bigram or trigram match: exp smoothing gives p_2 = 1 / (2 * 2), p_3 = 1 / (4 * 1)
    hyp2 = ["a", "cat", "runs"]
    score2 = sentence_bleu(hyp2, refs, weights=[0.4, 0.2, 0.2, 0.2])
    expected = math.exp(0.5 * math.log(2 / 3) + 0.25 * math.log(1 / 4) + 0.25 * math.log(1 / 4))
    assert score2.score == pytest.approx(100 * math.exp(1 - 4 / 3) * expected, abs=1e-12)
    assert_same(sentence_bleu(hyp2, refs, weights=[0.25] * 4), sacre_sentence(hyp2, refs))


# ---------------------------------------------------------------------------------------- edge cases
def _s(text: str) -> list[str]:
    return text.split()


EDGE_CASES = {
    "empty hypothesis": (
        [[], _s("a man rides a horse on the beach")],
        [[_s("a dog")], [_s("a man rides a horse")]],
    ),
    "only an empty hypothesis": ([[]], [[_s("a dog runs")]]),
    "empty hypothesis and reference": ([[]], [[[]]]),
    "empty reference": ([_s("a dog"), _s("a cat sits on a mat")], [[[]], [_s("a cat sits on the mat")]]),
    "no 4-gram match": ([_s("a b c x a b c y"), _s("d e f g")], [[_s("a b c d a b c e")], [_s("d e f h")]]),
    "no match at all": ([_s("x y z w v")], [[_s("a b c d e")]]),
    "hypothesis longer than reference": (
        [_s("the cat sat on the mat today again")],
        [[_s("the cat sat on the mat")]],
    ),
    "several references, closest length": (
        [_s("a b c d e"), _s("a b c d e"), _s("a b c"), _s("the cat sat on a mat")],
        [
            [_s("a b c d"), _s("a b c d e f")],  # tie 4 / 6 -> the shorter, 4
            [_s("a b c d e f"), _s("a b c d")],  # the same in the other order
            [_s("a b c d e f g"), _s("a b"), _s("a b c d e")],  # tie 2 / ... -> 2
            [_s("the cat sat on the mat"), _s("a cat sat on a mat there")],
        ],
    ),
    "variable number of references": (
        [_s("a b c d e"), _s("the dog runs fast now")],
        [[_s("a b c d e f")], [_s("a dog runs"), _s("the dog is running fast"), _s("dogs run")]],
    ),
    "identical": ([_s("a man in a red shirt is climbing a rock"), _s("two dogs play")], None),
    "single token": ([["hello"]], [[["hello"]]]),
    "single wrong token": ([["hello"]], [[["bye"]]]),
    "short sentences only": ([_s("a b"), _s("c d e")], [[_s("a b")], [_s("c d f")]]),
    "clipping": ([_s("the the the the")], [[_s("the cat is on the mat")]]),
    "clipping with several references": ([_s("the the the")], [[_s("the cat the"), _s("the the dog")]]),
}


def edge_case(name):
    hyps, refs = EDGE_CASES[name]
    return hyps, refs if refs is not None else [[h] for h in hyps]


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_equal_sacrebleu(name):
    hyps, refs = edge_case(name)
    for smooth, value, eff in [("exp", None, False), *OPTIONS]:
        mine = corpus_bleu(hyps, refs, smooth=smooth, smooth_value=value, use_effective_order=eff)
        assert_same(mine, sacre_corpus(hyps, refs, smooth, value, eff), smooth, value)
        for hyp, sentence_refs in zip(hyps, refs, strict=True):
            mine = sentence_bleu(
                hyp, sentence_refs, smooth=smooth, smooth_value=value, use_effective_order=eff
            )
            assert_same(mine, sacre_sentence(hyp, sentence_refs, smooth, value, eff), smooth, value)


def test_edge_case_values():
    hyps, refs = edge_case("identical")
    assert corpus_bleu(hyps, refs).score == pytest.approx(100.0, abs=1e-12)
    assert sentence_bleu(hyps[1], refs[1]).score == pytest.approx(100.0, abs=1e-12)
    # an empty hypothesis: BP = 0 (nothing was translated)
    only_empty = corpus_bleu(*edge_case("only an empty hypothesis"))
    assert (only_empty.score, only_empty.bp, only_empty.hyp_len, only_empty.ref_len) == (0.0, 0.0, 0, 3)
    empty_both = corpus_bleu(*edge_case("empty hypothesis and reference"))
    assert (empty_both.score, empty_both.bp, empty_both.ratio) == (0.0, 1.0, 0.0)
    assert corpus_bleu(*edge_case("hypothesis longer than reference")).bp == 1.0
    no4 = corpus_bleu(*edge_case("no 4-gram match"))
    assert no4.counts[3] == 0 and no4.totals[3] > 0 and no4.score > 0  # rescued by exp smoothing
    assert corpus_bleu(*edge_case("no 4-gram match"), smooth="none").score == 0.0
    several = corpus_bleu(*edge_case("several references, closest length"))
    assert several.ref_len == 4 + 4 + 2 + 6
    # a corpus of one-token sentences has no bigrams: without effective order BLEU is 0 even for a
    # perfect match (as in sacreBLEU); sentence BLEU uses the effective order and gives 100
    assert corpus_bleu(*edge_case("single token")).score == 0.0
    assert corpus_bleu(*edge_case("single token"), use_effective_order=True).score == pytest.approx(100.0)
    assert sentence_bleu(["hello"], [["hello"]]).score == pytest.approx(100.0)
    assert sentence_bleu(["hello"], [["bye"]]).score == 0.0
    # no unigram in common: 0 whatever the smoothing, precisions reported as 0
    for smooth in SMOOTHING_METHODS:
        none = corpus_bleu(*edge_case("no match at all"), smooth=smooth)
        assert none.score == 0.0 and none.precisions == [0.0] * 4


def test_add_k_smooths_orders_without_ngrams():
    # add-k adds k to the matches and totals of orders >= 2 even when there are no such n-grams:
    # a correct one-word sentence gets p_2 = p_3 = p_4 = k / k = 100% (as in sacreBLEU)
    score = sentence_bleu(["hello"], [["hello"]], smooth="add-k", use_effective_order=False)
    assert score.precisions == [100.0] * 4 and score.score == pytest.approx(100.0)
    assert (score.counts, score.totals) == ([1, 0, 0, 0], [1, 0, 0, 0])
    # add-k with k = 1 on the worked example: p_n = (m + 1) / (t + 1) for n >= 2
    s1 = sentence_bleu(HAND_HYPS[0], HAND_REFS[0], smooth="add-k")
    expected = (5 / 6 * 3 / 6 * 2 / 5 * 1 / 4) ** 0.25 * math.exp(1 - 7 / 6)
    assert s1.score == pytest.approx(100 * expected, abs=1e-12)


def test_bleu_score_string_and_ratio():
    score = BleuScore(
        score=35.0214, precisions=[67.12, 42.3, 28.04, 19.1], bp=0.98101, hyp_len=981, ref_len=1000,
        counts=[1, 2, 3, 4], totals=[5, 6, 7, 8],
    )  # fmt: skip
    assert (
        str(score)
        == "BLEU = 35.02 67.1/42.3/28.0/19.1 (BP = 0.981 ratio = 0.981 hyp_len = 981 ref_len = 1000)"
    )
    assert score.ratio == pytest.approx(0.981)
    with pytest.raises(AttributeError):
        score.score = 1.0  # a result, not a mutable record


# ------------------------------------------------------------------------------- the pieces, by brute force
def random_sentence(rng: random.Random, vocab="abcd", max_len=9) -> list[str]:
    return [rng.choice(vocab) for _ in range(rng.randint(0, max_len))]


def brute_modified_precision(hyp, refs, n):
    """Count every hypothesis n-gram position, clip by the best single reference."""
    grams = [tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1)]
    matches = 0
    for g in set(grams):
        in_hyp = sum(x == g for x in grams)
        best = max(sum(tuple(r[i : i + n]) == g for i in range(len(r) - n + 1)) for r in refs)
        matches += min(in_hyp, best)
    return matches, len(grams)


def test_modified_precision_clipping_by_hand():
    hyp, ref = _s("the the the the"), _s("the cat is on the mat")
    assert modified_precision(hyp, [ref], 1) == (2, 4)
    assert modified_precision(hyp, ref, 1) == (2, 4)  # one reference given as its token list
    assert modified_precision(hyp, [ref], 2) == (0, 3)
    # clipped by the best *single* reference (2), not by the sum over references (3)
    assert modified_precision(_s("the the the"), [_s("the cat the"), _s("the the dog")], 1) == (2, 3)
    assert modified_precision(_s("the the the"), [_s("the cat the"), _s("the the dog")], 2) == (1, 2)
    assert modified_precision([], [ref], 1) == (0, 0)
    assert modified_precision(_s("a b"), [ref], 3) == (0, 0)


def test_modified_precision_brute_force_and_nltk():
    rng = random.Random(3)
    for _ in range(300):
        hyp = random_sentence(rng)
        refs = [random_sentence(rng) for _ in range(rng.randint(1, 3))]
        for n in range(1, 5):
            got = modified_precision(hyp, refs, n)
            assert got == brute_modified_precision(hyp, refs, n), (hyp, refs, n)
            if got[1]:
                frac = nltk_bleu.modified_precision(refs, hyp, n)
                assert (frac.numerator, frac.denominator) == got


def test_ngram_counts_brute_force():
    assert ngram_counts(_s("a b a b"), 2) == Counter({("a", "b"): 2, ("b", "a"): 1})
    assert ngram_counts(_s("a b"), 3) == Counter()
    assert ngram_counts((), 1) == Counter()
    rng = random.Random(4)
    for _ in range(100):
        tokens = random_sentence(rng)
        for n in range(1, 5):
            expected = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens)) if i + n <= len(tokens))
            assert ngram_counts(tokens, n) == expected
            assert sum(expected.values()) == max(len(tokens) - n + 1, 0)


def test_brevity_penalty_by_hand():
    assert brevity_penalty(10, 10) == 1.0
    assert brevity_penalty(12, 10) == 1.0  # longer than the reference: no penalty
    assert brevity_penalty(5, 10) == pytest.approx(math.exp(-1))
    assert brevity_penalty(9, 11) == pytest.approx(math.exp(-2 / 9))
    assert brevity_penalty(0, 10) == 0.0
    assert brevity_penalty(0, 0) == 1.0
    assert brevity_penalty(np.int64(5), 10) == pytest.approx(math.exp(-1))
    # the penalty grows as the hypothesis gets shorter
    values = [brevity_penalty(c, 20) for c in range(1, 21)]
    assert all(a < b for a, b in zip(values[:-1], values[1:], strict=True)) and values[-1] == 1.0


def test_closest_ref_length_by_hand():
    assert closest_ref_length(5, [4, 6]) == 4  # tie -> shorter
    assert closest_ref_length(5, [6, 4]) == 4
    assert closest_ref_length(5, [3, 7, 6]) == 6
    assert closest_ref_length(0, [2, 1]) == 1
    assert closest_ref_length(10, [3]) == 3
    rng = random.Random(5)
    for _ in range(200):
        hyp_len, lens = rng.randint(0, 9), [rng.randint(0, 9) for _ in range(rng.randint(1, 4))]
        best = min(abs(hyp_len - r) for r in lens)
        assert closest_ref_length(hyp_len, lens) == min(r for r in lens if abs(hyp_len - r) == best)


def test_precisions_are_fractions_of_the_counts():
    score = corpus_bleu(HAND_HYPS, HAND_REFS, smooth="none")
    for n in range(3):
        assert Fraction(score.precisions[n]).limit_denominator(1000) == Fraction(
            100 * score.counts[n], score.totals[n]
        )


# --------------------------------------------------------------------------------------------- errors
H = _s("a cat sits")
R = _s("a cat sits on the mat")
ONE = ([H], [[R]])  # a valid one-sentence corpus

BAD_INPUTS = [
    # (function, args, kwargs, exception, message)
    (sentence_bleu, ("a cat sits", [R]), {}, TypeError, "hypothesis is a str.*tokenize"),
    (sentence_bleu, (H, "a cat sits"), {}, TypeError, "references is a str.*tokenize"),
    (sentence_bleu, (H, [R, "a cat"]), {}, TypeError, r"references\[1\] is a str"),
    (
        sentence_bleu,
        (H, ["a", ["cat"]]),
        {},
        TypeError,
        r"references\[0\] is a str \('a'\) but references\[1\]",
    ),
    (sentence_bleu, (H, []), {}, ValueError, r"at least one reference.*\[\[\]\]"),
    (sentence_bleu, (["a", 3], [R]), {}, TypeError, r"hypothesis\[1\] is a int.*must be str"),
    (sentence_bleu, (H, 5), {}, TypeError, "list of references"),
    (corpus_bleu, (H, [[R]]), {}, TypeError, r"hypotheses\[0\] is a str.*sentence_bleu"),
    (corpus_bleu, ("a cat sits", [[R]]), {}, TypeError, "hypotheses must be a list"),
    (corpus_bleu, ([H, "a dog"], [[R], [R]]), {}, TypeError, r"hypotheses\[1\] is a str"),
    (corpus_bleu, ([H], "a cat"), {}, TypeError, "references must be a list"),
    (corpus_bleu, ([H], ["a cat sits"]), {}, TypeError, r"references\[0\] is a str"),
    (corpus_bleu, ([H], [[R, ["a", None]]]), {}, TypeError, r"references\[0\]\[1\]\[1\] is a NoneType"),
    (corpus_bleu, ([], []), {}, ValueError, "corpus is empty"),
    (corpus_bleu, ([H, H], [[R]]), {}, ValueError, r"2 hypotheses but 1 reference entries.*zip\(\*streams\)"),
    (corpus_bleu, ([H, H], [[R], []]), {}, ValueError, r"references\[1\] is empty.*no reference"),
    (corpus_bleu, ([H, H], [R, [R]]), {}, TypeError, "mixes two layouts"),
    (corpus_bleu, ([H, H], [[], []]), {}, ValueError, "every entry of references is an empty list"),
    (corpus_bleu, ONE, {"max_order": 0}, ValueError, "max_order must be >= 1"),
    (corpus_bleu, ONE, {"max_order": 2.0}, TypeError, "max_order must be an int"),
    (corpus_bleu, ONE, {"max_order": True}, TypeError, "max_order must be an int"),
    (corpus_bleu, ONE, {"weights": [0.5, 0.5]}, ValueError, "weights has 2 entries but max_order=4"),
    (corpus_bleu, ONE, {"weights": [0.5] * 4}, ValueError, "weights sum to 2.0, not 1"),
    (corpus_bleu, ONE, {"weights": [math.nan, 0.5, 0.25, 0.25]}, ValueError, r"weights\[0\] is nan"),
    (corpus_bleu, ONE, {"weights": [1.5, -0.5, 0, 0]}, ValueError, r"weights\[1\] = -0.5.*>= 0"),
    (corpus_bleu, ONE, {"weights": "0.25"}, TypeError, "weights must be a list"),
    (corpus_bleu, ONE, {"weights": [1, "0", 0, 0]}, TypeError, r"weights\[1\] must be a number"),
    (corpus_bleu, ONE, {"smooth": "add_k"}, ValueError, "unknown smooth='add_k'.*add-k"),
    (corpus_bleu, ONE, {"smooth_value": 0.1}, ValueError, "no effect with smooth='exp'"),
    (corpus_bleu, ONE, {"smooth": "floor", "smooth_value": math.nan}, ValueError, "smooth_value is nan"),
    (corpus_bleu, ONE, {"smooth": "add-k", "smooth_value": 0}, ValueError, "smooth_value must be.*> 0"),
    (corpus_bleu, ONE, {"smooth": "floor", "smooth_value": "1"}, TypeError, "smooth_value must be a number"),
    (corpus_bleu, ONE, {"use_effective_order": "yes"}, TypeError, "use_effective_order must be True"),
    (sentence_bleu, (H, [R]), {"weights": [0, 0, 0, 1]}, ValueError, "use_effective_order=False"),
    (ngram_counts, (H, 0), {}, ValueError, "n must be >= 1"),
    (ngram_counts, ("a cat", 1), {}, TypeError, "tokens is a str"),
    (modified_precision, (H, [R], 0), {}, ValueError, "n must be >= 1"),
    (modified_precision, (H, [], 1), {}, ValueError, "at least one reference"),
    (brevity_penalty, (-1, 3), {}, ValueError, "hyp_len must be >= 0"),
    (brevity_penalty, (3, 2.5), {}, TypeError, "ref_len must be an int"),
    (brevity_penalty, (math.nan, 2), {}, TypeError, "hyp_len must be an int"),
    (closest_ref_length, (3, []), {}, ValueError, "ref_lens is empty"),
    (closest_ref_length, (3, [2, -1]), {}, ValueError, r"ref_lens\[1\] must be >= 0"),
]


@pytest.mark.parametrize(
    "fn, args, kwargs, exc, match", BAD_INPUTS, ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD_INPUTS)]
)
def test_bad_input_raises_helpful_error(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_weights_without_effective_order_score_zero_when_an_order_is_missing():
    # the sentence has no 4-grams: with all the weight on p_4 and no effective order, BLEU is 0
    assert sentence_bleu(H, [R], weights=[0, 0, 0, 1], use_effective_order=False).score == 0.0
