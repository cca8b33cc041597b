"""Tests for course_utils.tagger: second-order Viterbi by brute force, hand-made corpora, a CoNLL-2000 slice."""

import itertools

import numpy as np
import pytest

from course_utils.data import load_conll2000
from course_utils.hmm import HMM
from course_utils.tagger import (
    UNK,
    HMMTagger,
    MostFrequentTagger,
    SuffixModel,
    TaggingScores,
    deleted_interpolation,
    second_order_viterbi,
)

TOY = [
    [("the", "DT"), ("dog", "NN"), ("barks", "VBZ"), (".", ".")],
    [("a", "DT"), ("cat", "NN"), ("sleeps", "VBZ"), (".", ".")],
    [("the", "DT"), ("dogs", "NNS"), ("bark", "VBP"), (".", ".")],
    [("dogs", "NNS"), ("like", "VBP"), ("the", "DT"), ("cat", "NN"), (".", ".")],
    [("the", "DT"), ("running", "VBG"), ("dog", "NN"), ("barks", "VBZ"), (".", ".")],
]


@pytest.fixture(scope="module")
def conll():
    return load_conll2000("train")[:1500], load_conll2000("test")[:300]


def random_trigram_model(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(n + 1), size=(n + 1, n + 1))  # [i, j, k], index n = boundary
    return np.log(probs)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("T", [1, 2, 3, 5])
def test_second_order_viterbi_equals_brute_force(seed, T):
    n = 3
    log_trans = random_trigram_model(n, seed)
    rng = np.random.default_rng(100 + seed)
    log_emit = np.log(rng.random((T, n)))
    if T > 2:
        log_emit[1, 0] = -np.inf  # a tag this word never has: must be skipped, not chosen
    best, best_score = None, -np.inf
    for path in itertools.product(range(n), repeat=T):
        seq = [n, n, *path, n]
        score = sum(log_trans[a, b, c] for a, b, c in zip(seq[:-2], seq[1:-1], seq[2:], strict=True))
        score += sum(log_emit[t, s] for t, s in enumerate(path))
        if score > best_score:
            best, best_score = path, score
    path, score = second_order_viterbi(log_trans, log_emit)
    assert tuple(path) == best
    assert score == pytest.approx(best_score, rel=1e-12)


def test_second_order_viterbi_bad_input():
    with pytest.raises(ValueError, match=r"log_trans must have shape \[N\+1, N\+1, N\+1\]"):
        second_order_viterbi(np.zeros((3, 3, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="-inf for every tag"):
        second_order_viterbi(np.zeros((3, 3, 3)), np.array([[0.0, 0.0], [-np.inf, -np.inf]]))


def test_deleted_interpolation_hand_computed():
    # two tags a=0, b=1; bigram counts c2, unigram counts c1 = column sums of c2
    c2 = np.array([[3.0, 1.0], [2.0, 0.0]])
    c1 = c2.sum(axis=0)  # [5, 1], total 6
    # (a,a) f=3: unigram (5-1)/(6-1)=.8, bigram (3-1)/(4-1)=.67 -> unigram gets 3
    # (a,b) f=1: unigram (1-1)/5=0,    bigram (1-1)/3=0       -> tie, unigram gets 1
    # (b,a) f=2: unigram .8,           bigram (2-1)/(2-1)=1   -> bigram gets 2
    np.testing.assert_allclose(deleted_interpolation([c1, c2]), [4 / 6, 2 / 6])
    with pytest.raises(ValueError, match="must have 2 axes"):
        deleted_interpolation([c1, c1])


def test_suffix_model_learns_endings():
    tags = ["NN", "VBG", "NNP"]
    lexicon = {
        "running": np.array([0.0, 3.0, 0.0]),
        "singing": np.array([0.0, 2.0, 0.0]),
        "ceiling": np.array([1.0, 0.0, 0.0]),
        "table": np.array([2.0, 0.0, 0.0]),
        "London": np.array([0.0, 0.0, 4.0]),
    }
    model = SuffixModel(len(tags), max_suffix=4).fit(lexicon)
    p = model.predict("jumping")
    assert p.sum() == pytest.approx(1.0)
    assert tags[int(np.argmax(p))] == "VBG"
    assert tags[int(np.argmax(model.predict("cable")))] == "NN"  # against the majority (VBG) of rare words
    # hand-computed for "xg": root P = (3, 5, 0) / 8, theta = std(root); suffix "g" has counts (1, 5, 0)
    root = np.array([3.0, 5.0, 0.0]) / 8
    theta = np.std(root)
    np.testing.assert_allclose(
        model.predict("xg"), (np.array([1.0, 5.0, 0.0]) / 6 + theta * root) / (1 + theta)
    )
    assert tags[int(np.argmax(model.predict("Paris")))] == "NNP"  # capitalised words have their own trie
    with pytest.raises(ValueError, match="expected \\[3\\]"):
        SuffixModel(3).fit({"x": np.ones(2)})


@pytest.mark.parametrize("order", [1, 2])
def test_toy_corpus(order):
    tagger = HMMTagger(order=order).fit(TOY)
    assert tagger.tags == [".", "DT", "NN", "NNS", "VBG", "VBP", "VBZ"]
    assert tagger.tag("the cat barks .".split()) == ["DT", "NN", "VBZ", "."]
    assert tagger.tag("a dog sleeps .".split()) == ["DT", "NN", "VBZ", "."]
    assert tagger.tag([]) == []
    # emissions of known words are relative frequencies: P(dog | NN) = 2 / 4
    assert np.exp(tagger.log_emissions(["dog"])[0, tagger.tag_index["NN"]]) == pytest.approx(0.5)
    assert tagger.is_known("dog") and not tagger.is_known("Dog")
    # an unknown capitalised first word falls back to its lower-case form
    np.testing.assert_array_equal(tagger.log_emissions(["The"])[0], tagger.log_emissions(["the"])[0])


def test_to_hmm_is_a_valid_bigram_hmm():
    tagger = HMMTagger(order=2).fit(TOY)
    hmm = tagger.to_hmm()
    assert isinstance(hmm, HMM)
    assert hmm.symbols[-1] == UNK and hmm.states == tagger.tags
    # P(<unk> | NN) = (n_1 + 1) / (c + n_1 + 1): NN has 4 tokens and no word seen once (cat, dog: twice each)
    nn = tagger.tag_index["NN"]
    assert hmm.B[nn, -1] == pytest.approx((0 + 1) / (4 + 0 + 1))
    obs = hmm.encode("the zebra barks .".split(), unk=UNK)
    path, _ = hmm.viterbi(obs)
    assert [hmm.states[i] for i in path] == ["DT", "NN", "VBZ", "."]


def test_beats_most_frequent_tag_baseline(conll):
    train, test = conll
    baseline = MostFrequentTagger().fit(train).evaluate(test)
    for order in (1, 2):
        scores = HMMTagger(order=order).fit(train).evaluate(test)
        assert isinstance(scores, TaggingScores) and str(scores).startswith("accuracy ")
        assert scores.accuracy > baseline.accuracy + 0.05
        assert scores.unknown > baseline.unknown + 0.3
        assert scores.n_tokens == baseline.n_tokens == sum(len(s) for s in test)
        assert 0 < scores.n_unknown < scores.n_tokens
        assert scores.accuracy == pytest.approx(
            (scores.known * (scores.n_tokens - scores.n_unknown) + scores.unknown * scores.n_unknown)
            / scores.n_tokens
        )
    vocab = {w for s in train for w, *_ in s}
    assert scores.n_unknown == sum(w not in vocab for s in test for w, *_ in s)


def test_bad_input():
    with pytest.raises(ValueError, match="order must be 1"):
        HMMTagger(order=3)
    with pytest.raises(RuntimeError, match="call fit"):
        HMMTagger().tag(["a"])
    tagger = HMMTagger().fit(TOY)
    with pytest.raises(TypeError, match="list of words"):
        tagger.tag("the dog barks")
    with pytest.raises(ValueError, match=r"not a list of \(word, tag, ...\) tuples"):
        HMMTagger().fit([["the", "dog"]])
    with pytest.raises(ValueError, match="no tagged sentences"):
        MostFrequentTagger().fit([])


@pytest.mark.parametrize("name", ["rare_threshold", "max_suffix"])
@pytest.mark.parametrize(
    "value,error",
    [
        (0, ValueError),
        (-1, ValueError),
        (2.5, TypeError),
        (3.0, TypeError),
        (float("nan"), TypeError),
        (True, TypeError),
        (None, TypeError),
        ("3", TypeError),
    ],
)
def test_bad_tagger_hyperparameters(name, value, error):
    with pytest.raises(error, match=f"{name} must be an int >= 1"):
        HMMTagger(**{name: value})
    if name == "max_suffix":
        with pytest.raises(error, match="max_suffix must be an int >= 1"):
            SuffixModel(3, max_suffix=value)


def test_good_tagger_hyperparameters_still_work():
    tagger = HMMTagger(order=np.int64(1), rare_threshold=np.int64(1), max_suffix=1).fit(TOY)
    assert tagger.order == 1 and tagger.rare_threshold == 1 and tagger.max_suffix == 1
    assert tagger.tag("the cat barks .".split()) == ["DT", "NN", "VBZ", "."]
    for order in (True, 2.0, "2"):
        with pytest.raises(TypeError, match="order must be the int 1"):
            HMMTagger(order=order)
    with pytest.raises(ValueError, match=r"rare_threshold=1 times.*raise rare_threshold"):
        HMMTagger(rare_threshold=1).fit(TOY + TOY)  # every word seen twice: no rare words


def test_plain_strings_are_never_tagged_letter_by_letter():
    tagger = HMMTagger().fit(TOY)
    baseline = MostFrequentTagger().fit(TOY)
    for call in (tagger.tag, tagger.log_emissions, baseline.tag):
        with pytest.raises(TypeError, match=r"list of words.*\.split\(\)"):
            call("the dog barks")
        with pytest.raises(TypeError, match=r"words\[1\] is int"):
            call(["the", 3])
    with pytest.raises(ValueError, match="sentences must be a list of sentences, got the string"):
        tagger.predict("the dog barks .")
    with pytest.raises(ValueError, match=r"sentence 0 must be a list of words.*split\(\)"):
        tagger.predict(["the dog barks ."])
    with pytest.raises(ValueError, match="sentence 0: item 1 .*not a mix"):
        tagger.predict([[("the", "DT"), "dog"]])
    with pytest.raises(TypeError, match="word must be a str"):
        tagger.is_known(3)
    with pytest.raises(RuntimeError, match="call fit"):
        MostFrequentTagger().tag(["the"])
    # lists of words and (word, ...) tuples are both fine in predict; tuples of words in tag
    words = "the cat barks .".split()
    expected = ["DT", "NN", "VBZ", "."]
    assert tagger.predict([words, [(w, "?") for w in words]]) == [expected, expected]
    assert tagger.tag(tuple(words)) == expected and baseline.tag(tuple(words)) == expected


@pytest.mark.parametrize(
    "bad",
    [
        [["the", "dog", "barks"]],  # untagged sentence
        ["the dog barks"],  # sentence as one string
        "the dog barks",  # corpus as one string
        TOY[0],  # a single tagged sentence, not wrapped in a list
        [[("the", "DT"), "dog"]],  # a mix
        [[("the",)]],  # item without a tag
    ],
)
def test_fit_refuses_untagged_sentences(bad):
    for tagger in (HMMTagger(), MostFrequentTagger()):
        with pytest.raises(ValueError, match=r"not a list of \(word, tag, ...\) tuples|list of sentences"):
            tagger.fit(bad)


def test_fit_refuses_non_string_words_and_tags():
    with pytest.raises(TypeError, match="the tag of item 1 of sentence 0 is int"):
        HMMTagger().fit([[("the", "DT"), ("dog", 1)]])
    with pytest.raises(TypeError, match="the word of item 0 of sentence 0 is NoneType"):
        MostFrequentTagger().fit([[(None, "DT")]])
    with pytest.raises(TypeError, match="sentences must be a list of sentences"):
        HMMTagger().fit(None)


def test_suffix_model_refuses_bad_counts():
    with pytest.raises(ValueError, match=r"tag counts of 'dog' must be finite and >= 0"):
        SuffixModel(2).fit({"dog": [1.0, -1.0]})
    with pytest.raises(ValueError, match=r"tag counts of 'dog' must be finite and >= 0"):
        SuffixModel(2).fit({"dog": [np.nan, 1.0]})
    with pytest.raises(ValueError, match=r"tag counts of 'dog' must be finite and >= 0"):
        SuffixModel(2).fit({"dog": [np.inf, 1.0]})
    with pytest.raises(ValueError, match=r"tag counts of 'cat' are all zero"):
        SuffixModel(2).fit({"dog": [1, 0], "cat": [0, 0]})
    with pytest.raises(ValueError, match="lexicon is empty"):
        SuffixModel(2).fit({})
    with pytest.raises(TypeError, match="lexicon must be a mapping"):
        SuffixModel(2).fit([("dog", [1, 0])])
    with pytest.raises(TypeError, match="lexicon keys must be words"):
        SuffixModel(2).fit({3: [1, 0]})
    with pytest.raises(ValueError, match="empty word"):
        SuffixModel(2).fit({"": [1, 0]})
    with pytest.raises(TypeError, match="tag counts of 'dog' must be numbers"):
        SuffixModel(2).fit({"dog": ["1", "0"]})
    with pytest.raises(ValueError, match="n_tags must be an int >= 1"):
        SuffixModel(0)
    with pytest.raises(RuntimeError, match=r"call fit\(lexicon\)"):
        SuffixModel(2).predict("dog")
    model = SuffixModel(2, max_suffix=1).fit({"dog": np.array([1, 0]), "cat": np.array([2, 3])})
    with pytest.raises(TypeError, match="word must be a str"):
        model.predict(None)
    p = model.predict("fog")  # "g" seen once, with tag 0: between the prior (3/6, 3/6) and (1, 0)
    assert p.sum() == pytest.approx(1.0) and p[0] > 0.5 and np.all(np.isfinite(p))


@pytest.mark.parametrize(
    "counts,error,match",
    [
        ([np.array([2.0, -1.0]), np.ones((2, 2))], ValueError, r"counts\[0\] has a negative entry -1"),
        (
            [np.ones(2), np.array([[1.0, np.nan], [1.0, 1.0]])],
            ValueError,
            r"counts\[1\] has a NaN or infinite",
        ),
        ([np.ones(2), np.full((2, 2), np.inf)], ValueError, r"counts\[1\] has a NaN or infinite"),
        ([np.ones(2), np.full((2, 2), 0.5)], ValueError, r"counts\[1\] has a non-integer entry 0.5"),
        ([np.zeros(2), np.ones((2, 2))], ValueError, r"counts\[0\] \(1-gram counts\) are all zero"),
        ([np.ones(2), np.zeros((2, 2))], ValueError, r"counts\[1\] \(2-gram counts\) are all zero"),
        ([np.ones(2), np.ones((3, 3))], ValueError, r"counts\[1\] must have shape \[2, 2\]"),
        ([], ValueError, "counts is empty"),
        ([np.zeros(0)], ValueError, r"counts\[0\] must have shape"),
        ([np.array(["1", "2"])], TypeError, r"counts\[0\] must be an array of numbers"),
        (None, TypeError, "counts must be a list of count arrays"),
    ],
    ids=[
        "negative",
        "nan",
        "inf",
        "fractional",
        "zero-unigrams",
        "zero-bigrams",
        "shape",
        "empty",
        "no-tags",
        "strings",
        "none",
    ],
)
def test_deleted_interpolation_refuses_bad_counts(counts, error, match):
    with pytest.raises(error, match=match):
        deleted_interpolation(counts)


def test_deleted_interpolation_accepts_integer_counts():
    c2 = np.array([[3, 1], [2, 0]])  # ints, and lists, work like floats
    np.testing.assert_allclose(deleted_interpolation([c2.sum(axis=0).tolist(), c2]), [4 / 6, 2 / 6])


def test_second_order_viterbi_refuses_nan_and_inf():
    log_trans = random_trigram_model(2, 0)
    with pytest.raises(ValueError, match=r"log_emit contains NaN at index \(1, 0\)"):
        second_order_viterbi(log_trans, np.array([[0.0, 0.0], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match=r"log_emit contains \+inf"):
        second_order_viterbi(log_trans, np.array([[0.0, np.inf]]))
    bad = log_trans.copy()
    bad[2, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"log_trans contains NaN at index \(2, 2, 0\)"):
        second_order_viterbi(bad, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"log_emit must have shape \[T, N\]"):
        second_order_viterbi(log_trans, np.zeros((0, 2)))
