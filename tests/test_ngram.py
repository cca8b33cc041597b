"""Tests of course_utils.ngram: normalisation, hand-computed Kneser-Ney, agreement with nltk.lm, bad inputs."""

from __future__ import annotations

import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from course_utils import ngram
from course_utils.text import BOS, EOS, PAD, UNK, Vocab

# The corpus of the hand-computed examples: padded, a trigram model sees
#   <bos> <bos> a b <eos>   (twice)
#   <bos> <bos> c b <eos>
#   <bos> <bos> a <eos>
TOY = [["a", "b"], ["a", "b"], ["c", "b"], ["a"]]


def random_corpus(
    seed: int, n_sent: int = 60, alphabet: str = "abcdefgh", rare: bool = True
) -> list[list[str]]:
    """Sentences of 0..7 words with Zipf-like word frequencies, and (``rare``) one with two words seen once."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(alphabet) + 1)
    p /= p.sum()
    sentences = [
        [str(w) for w in rng.choice(list(alphabet), size=rng.integers(0, 8), p=p)] for _ in range(n_sent)
    ]
    return [*sentences, [f"rare{seed}", "a", f"once{seed}"]] if rare else sentences


MODELS = {
    "uniform": lambda n: ngram.Uniform(),
    "mle": lambda n: ngram.MLE(n),
    "addk": lambda n: ngram.AddK(n, k=0.3),
    "laplace": lambda n: ngram.Laplace(n),
    "interpolated": lambda n: ngram.Interpolated(n, lambdas=np.arange(1, n + 1) / (n * (n + 1) / 2)),
    "kneser_ney": lambda n: ngram.KneserNey(n, discount=0.6),
}


def model_cases() -> list[tuple[str, int]]:
    return [(name, n) for name in MODELS for n in (1, 2, 3, 4) if not (name == "kneser_ney" and n == 1)]


# ---------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(("name", "n"), model_cases())
def test_every_conditional_distribution_sums_to_one(name: str, n: int) -> None:
    train = random_corpus(0)
    vocab = Vocab.build(train, min_freq=3)  # the rare words become <unk>
    model = MODELS[name](n).fit(train, vocab)
    m = model.n  # the Uniform model is order 1 whatever n is
    assert model.words[0] == UNK and EOS in model.words and BOS not in model.words
    tokens = [BOS, *model.words]
    rng = np.random.default_rng(1)
    contexts = [list(c) for c in itertools.islice(itertools.product(tokens, repeat=m - 1), 300)]
    contexts += [list(rng.choice(tokens, size=m - 1)) for _ in range(100)]  # mostly unseen
    contexts += [s[:i] for s in train[:20] for i in range(len(s) + 1)]  # seen, incl. short ones
    contexts += [[], ["never-seen-word"], ["a", "zzz", "b"], [EOS, EOS, EOS]]
    seen = set()
    for sent in train:
        padded = [BOS] * (m - 1) + [t if t in vocab else UNK for t in sent] + [EOS]
        seen.update(tuple(padded[i - m + 1 : i]) for i in range(m - 1, len(padded)))
    n_unseen = 0
    for ctx in contexts:
        p = model.distribution(ctx)
        assert p.shape == (model.V,)
        assert np.all(p >= 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12), f"{name}, n={n}, context {ctx}: sums to {p.sum()}"
        padded = [BOS] * (m - 1) + [t if t in tokens else UNK for t in ctx]
        n_unseen += tuple(padded[len(padded) - (m - 1) :]) not in seen
    assert n_unseen >= {1: 0, 2: 1, 3: 30, 4: 50}[m]  # unseen contexts were really tested
    i = int(rng.integers(model.V))
    assert model.distribution(["a"])[i] == pytest.approx(model.prob(model.words[i], ["a"]), rel=1e-12)


def test_uniform_model_perplexity_equals_vocabulary_size() -> None:
    train, test = random_corpus(0), random_corpus(1, n_sent=10)
    vocab = Vocab.build(train, min_freq=2)
    model = ngram.Uniform().fit(train, vocab)
    assert model.V == len(vocab) - 2  # <pad> and <bos> are never predicted
    assert model.perplexity(test) == pytest.approx(model.V, rel=1e-12)
    # Add-k with a huge k is uniform too; with k = 1 it is not.
    assert ngram.AddK(2, k=1e12).fit(train, vocab).perplexity(test) == pytest.approx(model.V, rel=1e-6)
    assert ngram.AddK(2, k=1).fit(train, vocab).perplexity(test) < 0.9 * model.V


@pytest.mark.parametrize("name", ["mle", "addk", "interpolated", "kneser_ney"])
def test_perplexity_is_the_chain_rule_product(name: str) -> None:
    """The vectorized perplexity equals the chain rule evaluated word by word with prob()."""
    train, test = random_corpus(2), random_corpus(3, n_sent=8)
    model = MODELS[name](3).fit(train, Vocab.build(train, min_freq=2))
    model_logp = 0.0
    n_tokens = 0
    for sent in test:
        for i, word in enumerate([*sent, EOS]):
            model_logp += model.logprob(word, sent[:i])
            n_tokens += 1
    assert model.perplexity(test) == pytest.approx(math.exp(-model_logp / n_tokens), rel=1e-10)
    assert len(model.token_logprobs(test)) == n_tokens == sum(len(s) + 1 for s in test)


def test_every_model_shares_the_ngram_lm_interface() -> None:
    for make in MODELS.values():
        model = make(2).fit(TOY)
        assert isinstance(model, ngram.NgramLM)
        for method in ("prob", "logprob", "distribution", "token_logprobs", "perplexity", "sample", "count"):
            assert getattr(type(model), method) is getattr(ngram.NgramLM, method)  # one shared implementation
    assert repr(ngram.KneserNey(3).fit(TOY)) == "KneserNey(n=3, V=4)"
    assert repr(ngram.MLE(2)) == "MLE(n=2, not fitted)"
    with pytest.raises(NotImplementedError):  # the base class has no model of its own
        ngram.NgramLM(2).fit(TOY).prob("a", [])


# ---------------------------------------------------------------------------- hand-computed examples
def test_mle_counts_zeros_and_infinite_perplexity() -> None:
    bigram = ngram.MLE(2).fit(TOY)
    # c(a b) = 2, c(a <eos>) = 1, c(a .) = 3;  c(<bos> a) = 3 of 4 sentence starts.
    assert bigram.prob("b", ["a"]) == pytest.approx(2 / 3)
    assert bigram.prob(EOS, ["a"]) == pytest.approx(1 / 3)
    assert bigram.prob("a", []) == bigram.prob("a", [BOS]) == pytest.approx(3 / 4)
    assert bigram.prob("c", ["a"]) == 0.0 and bigram.logprob("c", ["a"]) == -math.inf
    assert math.isfinite(bigram.perplexity(TOY))
    assert bigram.perplexity([["c", "a"]]) == math.inf  # the bigram "c a" was never seen
    unigram = ngram.MLE(1).fit(TOY)  # 11 tokens: a 3, b 3, c 1, <eos> 4
    assert unigram.prob("c") == pytest.approx(1 / 11)
    assert math.isfinite(unigram.perplexity([["c", "a"]]))
    # <eos> is never a context: no estimate, so the bigram MLE falls back on the unigram MLE.
    np.testing.assert_allclose(bigram.distribution([EOS]), unigram.distribution(), rtol=1e-12)


def test_add_k_by_hand() -> None:
    model = ngram.AddK(2, k=0.5).fit(TOY)  # V = 4: a, b, c, <eos>
    assert model.prob("b", ["a"]) == pytest.approx((2 + 0.5) / (3 + 0.5 * 4))
    assert model.prob("c", ["a"]) == pytest.approx((0 + 0.5) / (3 + 0.5 * 4))
    assert model.prob("a", [EOS]) == pytest.approx(1 / 4)  # unseen context: uniform
    assert ngram.Laplace(2).k == 1.0


def test_kneser_ney_bigram_by_hand() -> None:
    model = ngram.KneserNey(2, discount=0.5).fit(TOY)
    # Bigram types: (<bos> a) (a b) (b <eos>) (<bos> c) (c b) (a <eos>) -> N1+(. .) = 6.
    # Continuation unigram N1+(. w) / 6: a {<bos>} 1/6, b {a, c} 2/6, c {<bos>} 1/6, <eos> {a, b} 2/6.
    # Context a: c(a .) = 3 (a b twice, a <eos> once), N1+(a .) = 2, lambda(a) = 0.5 * 2 / 3 = 1/3.
    #   P(b | a)     = (2 - 0.5) / 3 + 1/3 * 2/6 = 1/2 + 1/9 = 11/18
    #   P(<eos> | a) = (1 - 0.5) / 3 + 1/3 * 2/6 = 1/6 + 1/9 = 5/18
    #   P(a | a)     = 0 + 1/3 * 1/6 = 1/18, likewise P(c | a): total 18/18.
    # Context b: c(b .) = 3 (b <eos> three times), N1+(b .) = 1, lambda(b) = 0.5 / 3 = 1/6.
    #   P(a | b) = 1/6 * 1/6 = 1/36
    expected = {
        ("b", "a"): Fraction(11, 18),
        (EOS, "a"): Fraction(5, 18),
        ("a", "a"): Fraction(1, 18),
        ("c", "a"): Fraction(1, 18),
        ("a", "b"): Fraction(1, 36),
    }
    for (word, prev), p in expected.items():
        assert model.prob(word, [prev]) == pytest.approx(float(p), rel=1e-12), (word, prev)
    assert model.continuation_count(["b"]) == 2
    # An unseen context (<eos> is never followed by anything) gets the continuation unigram.
    np.testing.assert_allclose(model.distribution([EOS]), [1 / 6, 2 / 6, 1 / 6, 2 / 6], rtol=1e-12)


def test_kneser_ney_trigram_by_hand() -> None:
    model = ngram.KneserNey(3, discount=0.5).fit(TOY)
    # Trigram counts: (<bos> a b) 2, (<bos> a <eos>) 1 -> context (<bos> a): c = 3, N1+ = 2.
    # Bigram level, continuation counts N1+(. h w) from the 7 trigram types:
    #   (a b) {<bos>} 1, (a <eos>) {<bos>} 1 -> context a: N1+(. a .) = 2, N1+(a .) = 2.
    # Unigram level: as in the bigram example, 1/6, 2/6, 1/6, 2/6 for a, b, c, <eos>.
    #   P2(b | a) = (1 - 0.5) / 2 + 0.5 * 2 / 2 * 2/6 = 1/4 + 1/6 = 5/12
    #   P3(b | <bos> a) = (2 - 0.5) / 3 + 0.5 * 2 / 3 * 5/12 = 1/2 + 5/36 = 23/36
    #   P2(<eos> | a) = 1/4 + 1/6 = 5/12;  P3(<eos> | <bos> a) = 1/6 + 1/3 * 5/12 = 11/36
    #   P2(a | a) = 0 + 1/2 * 1/6 = 1/12;  P3(a | <bos> a) = 1/3 * 1/12 = 1/36 (same for c)
    assert model.prob("b", ["a"]) == pytest.approx(23 / 36, rel=1e-12)
    assert model.prob(EOS, [BOS, "a"]) == pytest.approx(11 / 36, rel=1e-12)
    assert model.prob("a", ["a"]) == pytest.approx(1 / 36, rel=1e-12)
    assert model.prob("c", ["a"]) == pytest.approx(1 / 36, rel=1e-12)
    # Context (b a) was never seen: Kneser-Ney uses the bigram level P2(. | a).
    assert model.prob("b", ["b", "a"]) == pytest.approx(5 / 12, rel=1e-12)
    # Context (a <eos>): neither it nor (<eos>) was seen: the continuation unigram.
    assert model.prob("b", ["a", EOS]) == pytest.approx(2 / 6, rel=1e-12)
    assert model.count([BOS, "a", "b"]) == 2 and model.continuation_count(["a", "b"]) == 1


def test_interpolation_is_the_weighted_sum_of_mle_models() -> None:
    train = random_corpus(4)
    lambdas = [0.2, 0.3, 0.5]
    model = ngram.Interpolated(3, lambdas).fit(train)
    parts = [ngram.MLE(k).fit(train) for k in (1, 2, 3)]
    for ctx in ([], ["a"], ["a", "b"], ["h", "h"], [EOS, "a"]):
        for word in model.words:
            mix = sum(lam * part.prob(word, ctx) for lam, part in zip(lambdas, parts, strict=True))
            assert model.prob(word, ctx) == pytest.approx(mix, rel=1e-12)


def test_em_finds_the_best_lambdas_on_held_out_data() -> None:
    train, held_out = random_corpus(5, n_sent=80), random_corpus(6, n_sent=40)
    vocab = Vocab.build(train, min_freq=2)
    model = ngram.Interpolated(3).fit(train, vocab)
    lam = model.tune_lambdas(held_out)
    assert lam.sum() == pytest.approx(1.0) and np.all(lam >= 0)
    np.testing.assert_allclose(model.lambdas, lam)
    P = model.component_probs(held_out)  # [N, 3]
    best = np.log(P @ lam).mean()
    grid = [(a, b, 1 - a - b) for a in np.linspace(0, 1, 41) for b in np.linspace(0, 1, 41) if a + b <= 1]
    with np.errstate(divide="ignore"):  # lambda_1 = 0 gives some tokens probability 0
        assert all(np.log(P @ np.array(g)).mean() <= best + 1e-8 for g in grid)
    assert model.perplexity(held_out) == pytest.approx(math.exp(-best), rel=1e-9)


# ---------------------------------------------------------------------------- nltk.lm
def test_padded_ngrams() -> None:
    assert ngram.padded_ngrams([["a"]], 2) == [[("a",), (BOS, "a"), (EOS,), ("a", EOS)]]
    got = ngram.padded_ngrams([["a", "b"], []], 3)
    assert got[1] == [(EOS,), (BOS, EOS), (BOS, BOS, EOS)]  # an empty sentence still predicts <eos>
    assert len(got[0]) == 3 * 3 and got[0][-1] == ("a", "b", EOS)
    # exactly the n-grams a fitted model counts: every highest-order one, once per occurrence
    train = [["a", "b", "a"], ["b"]]
    top = [g for sent in ngram.padded_ngrams(train, 2) for g in sent if len(g) == 2]
    assert len(top) == sum(len(s) + 1 for s in train)
    with pytest.raises(TypeError, match="tokenized sentences"):
        ngram.padded_ngrams("a b", 2)
    with pytest.raises(ValueError, match="n must be >= 1"):
        ngram.padded_ngrams([["a"]], 0)


@pytest.mark.parametrize(("n", "discount"), [(2, 0.75), (3, 0.1), (3, 0.75), (4, 0.5)])
def test_kneser_ney_agrees_with_nltk_on_the_same_counts(n: int, discount: float) -> None:
    from nltk.lm import KneserNeyInterpolated, Vocabulary

    train = random_corpus(7, n_sent=25, alphabet="abcde"[: 7 - n], rare=False)
    ours = ngram.KneserNey(n, discount=discount).fit(train)
    theirs = KneserNeyInterpolated(n, discount=discount, vocabulary=Vocabulary([*ours.words, BOS]))
    theirs.fit(ngram.padded_ngrams(train, n))
    contexts = list(itertools.product([BOS, *ours.words], repeat=n - 1))
    seen = {g[:-1] for sent in ngram.padded_ngrams(train, n) for g in sent if len(g) == n}
    assert len(set(contexts) - seen) >= {2: 1, 3: 10, 4: 50}[n]  # unseen contexts are compared too
    for ctx in contexts:
        for word in ours.words:
            expected = theirs.score(word, ctx)
            assert ours.prob(word, ctx) == pytest.approx(expected, rel=1e-12, abs=1e-15), (word, ctx)


def test_where_nltk_kneser_ney_differs_with_its_own_pipeline() -> None:
    """nltk's padded_everygram_pipeline pads with n-1 </s> as well and counts n-grams made only of
    padding, so <s> becomes a continuation of <s>; its lower-order weight D * N1+(h .) / N1+(. h .)
    counts the raw types after h, one more than those with a continuation count, so the distribution
    after <s> sums to more than 1, and <s> and the padding n-gram (</s> </s>) get probability mass."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    text, vocab_text = padded_everygram_pipeline(3, TOY)
    theirs = KneserNeyInterpolated(3, discount=0.5)
    theirs.fit(text, vocab_text)
    words = ["a", "b", "c", "</s>", "<s>", "<UNK>"]  # nltk's vocabulary
    assert sum(theirs.score(w, ("<s>",)) for w in words) > 1.2
    assert sum(theirs.score(w, ("<s>", "<s>")) for w in words) > 1.05
    assert theirs.score("<s>", ("a", "b")) > 0
    assert theirs.score("<UNK>", ("a", "b")) == 0  # no continuation count: an OOV word gives inf perplexity
    ours = ngram.KneserNey(3, discount=0.5).fit(TOY)
    for ctx in ([], [BOS], [BOS, BOS], ["a", "b"]):
        assert ours.distribution(ctx).sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_laplace_agrees_with_nltk(n: int) -> None:
    """nltk's Laplace divides by len(vocab), which counts <s> (never predicted) and its unk label:
    two more types than our V. With two unused words added to our vocabulary the V's match and the
    probabilities are identical."""
    from nltk.lm import Laplace, Vocabulary

    train = random_corpus(8, n_sent=20, alphabet="abcde", rare=False)
    plain = ngram.Laplace(n).fit(train)
    nltk_vocab = Vocabulary([*plain.words, BOS])
    assert len(nltk_vocab) == plain.V + 2
    theirs = Laplace(n, vocabulary=nltk_vocab)
    theirs.fit(ngram.padded_ngrams(train, n))
    ours = ngram.Laplace(n).fit(train, vocab=[*plain.words, "<unused-1>", "<unused-2>"])
    for ctx in itertools.product([BOS, *plain.words], repeat=n - 1):
        for word in plain.words:
            assert ours.prob(word, ctx) == pytest.approx(theirs.score(word, ctx), rel=1e-12)
    # ... so nltk's distribution over the words it can predict sums to less than 1.
    if n > 1:
        assert sum(theirs.score(w, (BOS,) * (n - 1)) for w in plain.words) < 1 - 1e-3


# ---------------------------------------------------------------------------- sampling
def test_sampling_is_reproducible_and_greedy_at_temperature_zero() -> None:
    train = random_corpus(9)
    model = ngram.KneserNey(3).fit(train)
    a = model.sample(rng=3, max_len=20)
    assert a == model.sample(rng=np.random.default_rng(3), max_len=20)
    assert all(w in model.words and w != EOS for w in a) and len(a) <= 20
    assert len(model.sample(rng=0, max_len=2, temperature=5.0)) <= 2
    greedy, ctx = [], []
    while len(greedy) < 15:
        w = model.words[int(np.argmax(model.distribution(ctx)))]
        if w == EOS:
            break
        greedy.append(w)
        ctx.append(w)
    assert model.sample(rng=1, max_len=15, temperature=0) == greedy
    assert model.sample(rng=2, max_len=15, temperature=0, prefix=["a"]) == model.sample(
        rng=5, max_len=15, temperature=0, prefix=["a"]
    )


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_sampled_frequencies_follow_the_tempered_distribution(temperature: float) -> None:
    model = ngram.MLE(2).fit(random_corpus(10, n_sent=100))
    p = model.distribution([]) ** (1 / temperature)
    p /= p.sum()
    rng = np.random.default_rng(0)
    first = [tuple(model.sample(rng, max_len=1, temperature=temperature)) for _ in range(1500)]
    freq = np.array([first.count((w,)) if w != EOS else first.count(()) for w in model.words]) / len(first)
    np.testing.assert_allclose(freq, p, atol=0.04)  # about 3 standard errors


# ---------------------------------------------------------------------------- vocabulary and bad inputs
def test_vocabulary_unknown_words_and_markers() -> None:
    train = random_corpus(11)
    model = ngram.KneserNey(2).fit(train, Vocab.build(train, min_freq=2))
    assert model.prob("never-seen", ["a"]) == model.prob(UNK, ["a"]) > 0
    assert model.prob("a", ["never-seen"]) == model.prob("a", [UNK])
    assert model.prob("a", ["x", "y", "b"]) == model.prob("a", ["b"])  # only the last n-1 words count
    closed = ngram.MLE(2).fit(TOY)  # vocabulary from the data: no <unk>
    with pytest.raises(KeyError, match="no '<unk>'"):
        closed.prob("zebra", ["a"])
    with pytest.raises(KeyError, match="not in the model's vocabulary"):
        closed.perplexity([["a", "zebra"]])
    with pytest.raises(ValueError, match="never predicted"):
        closed.prob(BOS, ["a"])
    with pytest.raises(ValueError, match="boundary markers"):
        ngram.MLE(2).fit([["a", EOS]])
    with pytest.raises(TypeError, match="tokenize it first"):
        ngram.MLE(2).fit(["a man walks"])
    with pytest.raises(TypeError, match="list of tokenized sentences"):
        ngram.MLE(2).fit("a man walks")
    with pytest.raises(TypeError, match="tokens must be str"):
        ngram.MLE(2).fit([["a", 3]])
    with pytest.raises(TypeError, match="tokens must be str"):
        ngram.MLE(2).fit([["a", ["b"]]])  # unhashable
    with pytest.raises(TypeError, match="context must be a sequence"):
        closed.prob("a", "b")
    with pytest.raises(ValueError, match="at least one"):
        ngram.MLE(2).fit([])
    with pytest.raises(RuntimeError, match="not fitted"):
        ngram.KneserNey(3).prob("a", [])
    # Words of the vocabulary that never occur in training get probability 0 under MLE: a warning.
    with pytest.warns(UserWarning, match="never occur in the training"):
        ngram.MLE(2).fit(TOY, vocab=["a", "b", "c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ngram.AddK(2).fit(TOY, vocab=["a", "b", "c", "d"])  # add-k gives them k: no warning


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ngram.MLE(0), ValueError, "n must be >= 1"),
        (lambda: ngram.MLE(2.0), TypeError, "n must be an int"),
        (lambda: ngram.MLE(True), TypeError, "n must be an int"),
        (lambda: ngram.AddK(2, k=0), ValueError, "k must be a finite number > 0"),
        (lambda: ngram.AddK(2, k=-1), ValueError, "k must be"),
        (lambda: ngram.AddK(2, k=math.inf), ValueError, "k must be"),
        (lambda: ngram.AddK(2, k="1"), TypeError, "k must be a number"),
        (lambda: ngram.Interpolated(3, [0.5, 0.5]), ValueError, "3 weights"),
        (lambda: ngram.Interpolated(2, [0.5, 0.6]), ValueError, "sum to 1"),
        (lambda: ngram.Interpolated(2, [1.5, -0.5]), ValueError, ">= 0"),
        (lambda: ngram.KneserNey(1), ValueError, "n >= 2"),
        (lambda: ngram.KneserNey(3, discount=0), ValueError, r"\(0, 1\]"),
        (lambda: ngram.KneserNey(3, discount=1.5), ValueError, r"\(0, 1\]"),
        (lambda: ngram.MLE(2).fit(TOY).sample(temperature=-1), ValueError, "temperature"),
        (lambda: ngram.MLE(2).fit(TOY).sample(max_len=0), ValueError, "max_len must be >= 1"),
        (lambda: ngram.MLE(2).fit(TOY).count(["a", "b", "c"]), ValueError, "1 to n=2 tokens"),
        (lambda: ngram.MLE(2).fit(TOY, vocab="abc"), TypeError, "vocab must be"),
    ],
)
def test_bad_inputs_raise_clear_errors(make, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_setters_validate_too() -> None:
    model = ngram.KneserNey(2).fit(TOY)
    model.discount = 0.3
    assert model.discount == 0.3
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        model.discount = 2
    interp = ngram.Interpolated(2).fit(TOY)
    with pytest.raises(ValueError, match="sum to 1"):
        interp.lambdas = [0.1, 0.1]
    addk = ngram.AddK(2).fit(TOY)
    with pytest.raises(ValueError, match="k must be"):
        addk.k = 0


# ------------------------------------------------------------------------------------ reserved tokens
@pytest.mark.parametrize("token", [PAD, BOS, EOS])
@pytest.mark.parametrize("cls", [ngram.MLE, ngram.Laplace, ngram.KneserNey, ngram.Interpolated])
def test_reserved_tokens_inside_sentences_are_refused(cls, token: str) -> None:
    """<pad> is no word and <bos>/<eos> are added by the model: inside a sentence they are an error,
    in training (with or without an <unk> vocabulary) and in evaluation alike."""
    bad = [["a", "b"], ["c", token, "b"]]
    match = r"sentences\[1\] contains (the padding token )?'" + token
    with pytest.raises(ValueError, match=match):
        cls(2).fit(bad)
    with pytest.raises(ValueError, match=match):
        cls(2).fit(bad, vocab=Vocab.build(TOY))  # has <unk>: must not silently become <unk>
    with pytest.raises(ValueError, match=match):
        cls(2).fit(bad, vocab=["a", "b", "c", PAD])
    model = cls(2).fit(TOY, Vocab.build(TOY, min_freq=2))
    with pytest.raises(ValueError, match=match):
        model.perplexity(bad)
    with pytest.raises(ValueError, match=match):
        model.token_logprobs(bad)
    with pytest.raises(ValueError, match=match):
        ngram.padded_ngrams(bad, 2)


def test_pad_error_says_how_to_fix() -> None:
    with pytest.raises(ValueError, match="padding token '<pad>', which is not a word; give the unpadded"):
        ngram.KneserNey(2).fit([["a", PAD, PAD]])


def test_pad_is_no_word_nor_context_in_queries() -> None:
    model = ngram.KneserNey(3).fit(TOY, Vocab.build(TOY, min_freq=2))
    assert PAD not in model.words
    for call in (
        lambda: model.prob(PAD, ["a"]),
        lambda: model.prob("a", [PAD]),
        lambda: model.logprob("a", ["b", PAD]),
        lambda: model.distribution([PAD]),
        lambda: model.sample(0, prefix=[PAD]),
        lambda: model.count((PAD,)),
        lambda: model.count(("a", PAD)),
        lambda: model.continuation_count((PAD,)),
    ):
        with pytest.raises(ValueError, match="'<pad>' is padding, not a word"):
            call()


def test_unk_in_training_text_is_an_ordinary_word() -> None:
    model = ngram.MLE(2).fit([["a", UNK], ["a", "zebra"]], Vocab.build([["a"]]))
    assert model.count(("a", UNK)) == 2  # the literal <unk> and the unknown "zebra"
