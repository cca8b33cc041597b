"""word2vec, GloVe and fastText: samplers and losses against brute force, hashing and evaluation against gensim."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from course_utils.embeddings import (
    CBOW,
    WORD2VEC,
    AnalogyResult,
    EncodedCorpus,
    FastText,
    GloVe,
    SkipGram,
    TrainStats,
    _window_sizes,
    analogy_accuracy,
    build_vocab,
    cbow_contexts,
    char_ngrams,
    cooccurrence,
    encode_corpus,
    evaluate_embeddings,
    fnv1a_32,
    glove_step,
    glove_weight,
    keep_probabilities,
    load_embedding_corpus,
    nearest_neighbours,
    noise_distribution,
    pca_2d,
    pretrained_embedding,
    sample_negatives,
    sgns_step,
    similarity_correlation,
    skipgram_pairs,
    spearman,
    subsample,
    tokenize_words,
    train_gensim,
    train_glove,
    train_word2vec,
)
from course_utils.text import Vocab

TINY = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["a", "dog", "sat"],
    ["the", "dog", "ran", "on", "a", "mat"],
]


def tiny_corpus():
    vocab = build_vocab(TINY, min_count=1)
    return vocab, encode_corpus(TINY, vocab)


def test_tokenize_words() -> None:
    assert tokenize_words("Lincoln's 16th term, (1861–1865) — café!") == [
        "lincoln", "s", "16th", "term", "1861", "1865", "café",
    ]  # fmt: skip
    with pytest.raises(TypeError, match="expects a str"):
        tokenize_words(["a"])  # type: ignore[arg-type]


def test_corpus_and_encoding() -> None:
    corpus = load_embedding_corpus(max_sentences=50)
    assert len(corpus) == 50 and all(s and all(isinstance(t, str) for t in s) for s in corpus)
    vocab, enc = tiny_corpus()
    assert vocab.itos[0] == "the" and len(enc) == 15 and enc.counts[vocab["the"]] == 3
    assert enc.sentence.tolist() == [0] * 6 + [1] * 3 + [2] * 6
    rare = build_vocab(TINY, min_count=2)
    assert "cat" not in rare and len(encode_corpus(TINY, rare)) == 13  # rare words leave the text
    with pytest.raises(TypeError, match="corpus\\[0\\] is a str"):
        encode_corpus(["the cat"], vocab)
    with pytest.raises(ValueError, match="no word of the corpus is in the vocabulary"):
        encode_corpus([["zebra"]], vocab)
    with pytest.raises(ValueError, match="min_count must be an int >= 1"):
        build_vocab(TINY, min_count=0)


def test_keep_probabilities_formula_and_gensim() -> None:
    gensim = pytest.importorskip("gensim")
    counts = torch.tensor([5000, 800, 100, 10, 1])
    keep = keep_probabilities(counts, 1e-3)
    total = counts.sum().item()
    for f, p in zip(counts.tolist(), keep.tolist(), strict=True):
        assert p == pytest.approx(min(1.0, (math.sqrt(f / (1e-3 * total)) + 1) * 1e-3 * total / f))
    sentences = [[f"w{i}"] * int(c) for i, c in enumerate(counts.tolist())]
    model = gensim.models.Word2Vec(min_count=1, sample=1e-3, vector_size=4)
    model.build_vocab(sentences)
    for i, p in enumerate(keep.tolist()):
        assert model.wv.get_vecattr(f"w{i}", "sample_int") / 2**32 == pytest.approx(p, abs=1e-6)
    assert keep_probabilities(counts, 0).eq(1).all()
    with pytest.raises(ValueError, match="sample must be in"):
        keep_probabilities(counts, 1.5)
    with pytest.raises(ValueError, match=">= 0"):
        keep_probabilities(torch.tensor([3, -1]))


def test_noise_distribution_and_sampler() -> None:
    counts = torch.tensor([1000, 100, 10, 0, 1])
    p = noise_distribution(counts)
    assert p.sum().item() == pytest.approx(1.0) and p[3] == 0
    assert p[0] / p[1] == pytest.approx(10**0.75)
    draws = sample_negatives(torch.cumsum(p, 0), (200_000,), torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=5).double() / draws.numel()
    torch.testing.assert_close(freq, p, atol=3e-3, rtol=0)
    with pytest.raises(ValueError, match="all zero"):
        noise_distribution(torch.zeros(3))
    with pytest.raises(ValueError, match="finite counts"):
        noise_distribution(torch.tensor([1.0, float("nan")]))


def test_subsample_keeps_rare_words_and_thins_frequent_ones() -> None:
    vocab, enc = tiny_corpus()
    keep = torch.ones(len(vocab), dtype=torch.float64)
    keep[vocab["the"]] = 0.0
    kept = subsample(enc, keep, torch.Generator().manual_seed(0))
    assert len(kept) == len(enc) - 3 and vocab["the"] not in kept.ids.tolist()


def brute_pairs(ids, sentence, b):
    n = len(ids)
    return sorted(
        (ids[i], ids[j]) for i in range(n) for j in range(max(0, i - b[i]), min(n, i + b[i] + 1))
        if j != i and sentence[j] == sentence[i]
    )  # fmt: skip


@pytest.mark.parametrize("window", [1, 2, 5])
def test_skipgram_pairs_equal_brute_force(window: int) -> None:
    _, enc = tiny_corpus()
    b = _window_sizes(len(enc), window, torch.Generator().manual_seed(3)).tolist()
    centres, contexts = skipgram_pairs(enc.ids, enc.sentence, window, torch.Generator().manual_seed(3))
    assert sorted(zip(centres.tolist(), contexts.tolist(), strict=True)) == brute_pairs(
        enc.ids.tolist(), enc.sentence.tolist(), b
    )
    # in text order of the centre word
    assert centres.tolist() == [enc.ids[i].item() for i in range(len(enc)) for _ in range(
        sum(1 for j in range(max(0, i - b[i]), min(len(enc), i + b[i] + 1))
            if j != i and enc.sentence[j] == enc.sentence[i]))]  # fmt: skip


def test_dynamic_window_weights_distance() -> None:
    ids = torch.arange(20_000) % 100
    centres, contexts = skipgram_pairs(ids, torch.zeros_like(ids), 4, torch.Generator().manual_seed(0))
    distance = ((contexts - centres) % 100).clamp(max=50)
    distance = torch.minimum(distance, 100 - distance)
    share = torch.bincount(distance, minlength=5)[1:5].double()
    torch.testing.assert_close(
        share / share[0], torch.tensor([1.0, 0.75, 0.5, 0.25], dtype=torch.float64), atol=0.02, rtol=0
    )


def test_cbow_contexts_equal_brute_force() -> None:
    _, enc = tiny_corpus()
    b = _window_sizes(len(enc), 3, torch.Generator().manual_seed(1)).tolist()
    centres, contexts = cbow_contexts(enc.ids, enc.sentence, 3, torch.Generator().manual_seed(1))
    assert contexts.shape == (len(enc), 6)  # every word here has a neighbour
    got = sorted(
        (c, x) for c, row in zip(centres.tolist(), contexts.tolist(), strict=True) for x in row if x >= 0
    )
    assert got == brute_pairs(enc.ids.tolist(), enc.sentence.tolist(), b)
    alone = encode_corpus([["the"], ["cat", "sat"]], build_vocab(TINY, min_count=1))
    assert cbow_contexts(alone.ids, alone.sentence, 2)[0].numel() == 2  # a one-word sentence has no example


def sgns_brute(v, u_pos, u_negs):
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    return -math.log(sig(dot(u_pos, v))) - sum(math.log(sig(-dot(u, v))) for u in u_negs)


def test_skipgram_loss_equals_brute_force() -> None:
    torch.manual_seed(0)
    model = SkipGram(7, 4)
    torch.nn.init.normal_(model.out.weight)
    c, o, negs = torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5, 6, 0], [1, 1, 3]])
    loss = model(c, o, negs)
    v, u = model.inp.weight.tolist(), model.out.weight.tolist()
    for b in range(2):
        expected = sgns_brute(v[c[b]], u[o[b]], [u[k] for k in negs[b].tolist()])
        assert loss[b].item() == pytest.approx(expected, rel=1e-5)
    assert model.out.weight.abs().sum() > 0 and SkipGram(7, 4).out.weight.abs().sum() == 0  # word2vec's init


def test_cbow_loss_equals_brute_force() -> None:
    torch.manual_seed(0)
    model = CBOW(7, 4)
    torch.nn.init.normal_(model.out.weight)
    contexts, c, negs = (
        torch.tensor([[1, 2, -1], [3, -1, -1]]),
        torch.tensor([0, 5]),
        torch.tensor([[6], [4]]),
    )
    loss = model(contexts, c, negs)
    v, u = model.inp.weight.tolist(), model.out.weight.tolist()
    h0 = [(a + b) / 2 for a, b in zip(v[1], v[2], strict=True)]
    assert loss[0].item() == pytest.approx(sgns_brute(h0, u[0], [u[6]]), rel=1e-5)
    assert loss[1].item() == pytest.approx(sgns_brute(v[3], u[5], [u[4]]), rel=1e-5)
    with pytest.raises(ValueError, match="at least one context word"):
        model(torch.tensor([[-1, -1]]), torch.tensor([0]), torch.tensor([[1]]))


def make_fasttext(dim: int = 4) -> FastText:
    vocab, _ = tiny_corpus()
    return FastText(vocab, dim, min_n=2, max_n=3, buckets=50)


@pytest.mark.parametrize("kind", ["skipgram", "cbow", "fasttext"])
def test_sgns_step_equals_a_loop_over_examples(kind: str) -> None:
    """Outputs move as autograd + SGD; every input row moves by the whole step of its example's h
    (word2vec's and fastText's rule; for skip-gram that is exactly autograd's step)."""
    torch.manual_seed(0)
    model = {"skipgram": lambda: SkipGram(10, 6), "cbow": lambda: CBOW(10, 6), "fasttext": make_fasttext}[
        kind
    ]()
    torch.nn.init.normal_(model.out.weight, std=0.3)
    with torch.no_grad():
        model.inp.weight.normal_(std=0.3)
    inputs = (
        torch.tensor([[1, 2, -1], [2, 2, 3], [4, -1, -1]]) if kind == "cbow" else torch.tensor([1, 2, 2, 4])
    )
    targets = torch.tensor([0, 5, 7]) if kind == "cbow" else torch.tensor([0, 5, 7, 5])
    negatives = torch.randint(0, model.vocab_size, (targets.numel(), 3))
    inp, out = model.inp.weight.detach().clone(), model.out.weight.detach().clone()
    h = model.input_vectors(inputs).detach().requires_grad_()
    out_leaf = out.clone().requires_grad_()
    pos = (out_leaf[targets] * h).sum(-1)
    neg = torch.bmm(out_leaf[negatives], h.unsqueeze(-1)).squeeze(-1)
    loss = -(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg).sum(-1)).sum()
    grad_h, grad_out = torch.autograd.grad(loss, [h, out_leaf])
    expected_inp = inp.clone()
    for b in range(len(targets)):  # the rows that make up example b's h
        if kind == "skipgram":
            rows = [int(inputs[b])]
        elif kind == "cbow":
            rows = [int(r) for r in inputs[b] if r >= 0]
        else:
            rows = model.subword_ids(model.vocab.itos[int(inputs[b])])
        for r in rows:
            expected_inp[r] -= 0.1 * grad_h[b]
    got = sgns_step(model, inputs, targets, negatives, lr=0.1)
    assert got == pytest.approx(loss.item(), rel=1e-5)
    torch.testing.assert_close(model.out.weight.detach(), out - 0.1 * grad_out)
    torch.testing.assert_close(model.inp.weight.detach(), expected_inp)
    if kind == "skipgram":  # and that is autograd's own step
        reference = SkipGram(10, 6)
        reference.inp.weight.data.copy_(inp)
        reference.out.weight.data.copy_(out)
        grads = torch.autograd.grad(reference(inputs, targets, negatives).sum(), [reference.inp.weight])
        torch.testing.assert_close(model.inp.weight.detach(), inp - 0.1 * grads[0])


def test_fnv1a_and_ngrams_match_gensim() -> None:
    pytest.importorskip("gensim")
    from gensim.models.fasttext import compute_ngrams, ft_hash_bytes, ft_ngram_hashes

    for word in ("where", "café", "naïve", "x", "东京"):
        assert char_ngrams(word, 3, 6) == compute_ngrams(word, 3, 6)
        ours = sorted(fnv1a_32(g.encode()) % 2_000_000 for g in char_ngrams(word, 3, 6))
        assert ours == sorted(ft_ngram_hashes(word, 3, 6, 2_000_000))  # gensim lists them in another order
        assert fnv1a_32(word.encode()) == ft_hash_bytes(word.encode())
    assert char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]
    with pytest.raises(ValueError, match="min_n \\(4\\) must be <= max_n \\(3\\)"):
        char_ngrams("where", 4, 3)
    with pytest.raises(TypeError, match="hashes bytes"):
        fnv1a_32("where")  # type: ignore[arg-type]


def test_fasttext_vectors_in_and_out_of_vocabulary() -> None:
    model = make_fasttext()
    w = model.inp.weight.detach()
    rows = model.subword_ids("cat")
    assert rows[0] == model.vocab["cat"] and len(rows) == 1 + len(char_ngrams("cat", 2, 3))
    torch.testing.assert_close(model.vector("cat"), w[rows].mean(0))
    torch.testing.assert_close(model.word_vectors()[model.vocab["cat"]], w[rows].mean(0))
    unseen = model.subword_ids("cats")
    assert all(r >= len(model.vocab) for r in unseen)  # only n-gram rows
    torch.testing.assert_close(model.vector("cats"), w[unseen].mean(0))
    # in training h divides the summed rows by the n-gram count, as gensim's fasttext_inner does
    ids = torch.tensor([2, 0, 2])
    expected = torch.stack([w[model.subword_ids(model.vocab.itos[int(i)])].sum(0) for i in ids])
    expected /= torch.tensor([len(model.subword_ids(model.vocab.itos[int(i)])) - 1 for i in ids]).unsqueeze(1)
    torch.testing.assert_close(model.centre_vectors(ids), expected)
    assert w.abs().max() <= 1 / w.shape[1]  # gensim's initialisation, +-1/d


def test_fasttext_training_input_matches_gensim() -> None:
    """gensim's training input vector for a word: (own row + n-gram rows) / n-gram count."""
    gensim = pytest.importorskip("gensim")
    sentences = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "sat", "on", "a", "log"]] * 3
    peer = gensim.models.FastText(
        sentences, vector_size=4, min_count=1, min_n=2, max_n=3, bucket=50, epochs=1
    )
    vocab = Vocab.build(sentences, min_freq=1, specials=())
    ours = FastText(vocab, 4, min_n=2, max_n=3, buckets=50)
    with torch.no_grad():  # copy gensim's rows into our table
        for word in vocab.itos:
            ours.inp.weight[vocab[word]] = torch.from_numpy(peer.wv.vectors_vocab[peer.wv.key_to_index[word]])
        ours.inp.weight[len(vocab) :] = torch.from_numpy(peer.wv.vectors_ngrams)
    for word in ("cat", "on", "a"):
        buckets = peer.wv.buckets_word[peer.wv.key_to_index[word]]
        rows = peer.wv.vectors_vocab[peer.wv.key_to_index[word]] + peer.wv.vectors_ngrams[buckets].sum(0)
        h = torch.from_numpy(rows / max(len(buckets), 1))
        torch.testing.assert_close(ours.centre_vectors(torch.tensor([vocab[word]])).squeeze(0), h)
        torch.testing.assert_close(ours.vector(word), torch.tensor(peer.wv[word]))  # handed-out vector


def test_cooccurrence_equals_brute_force() -> None:
    vocab, enc = tiny_corpus()
    rows, cols, values = cooccurrence(enc, window=2)
    brute: dict[tuple[int, int], float] = {}
    for s in TINY:
        ids = [vocab[t] for t in s]
        for i in range(len(ids)):
            for j in range(len(ids)):
                if 0 < abs(i - j) <= 2:
                    brute[ids[i], ids[j]] = brute.get((ids[i], ids[j]), 0) + 1 / abs(i - j)
    got = {(r, c): v for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True)}
    assert got.keys() == brute.keys()
    for key, v in brute.items():
        assert got[key] == pytest.approx(v)


def test_glove_weight_and_loss_equal_brute_force() -> None:
    torch.testing.assert_close(glove_weight(torch.tensor([1.0, 50.0, 100.0, 500.0])),
                               torch.tensor([0.01**0.75, 0.5**0.75, 1.0, 1.0]))  # fmt: skip
    torch.manual_seed(0)
    model = GloVe(5, 3)
    rows, cols, x = torch.tensor([0, 1, 4]), torch.tensor([1, 0, 2]), torch.tensor([2.0, 2.0, 150.0])
    loss = model(rows, cols, x)
    w, wc, b, bc = (e.weight.detach().tolist() for e in (model.w, model.w_ctx, model.b, model.b_ctx))
    for p in range(3):
        i, j, xv = rows[p].item(), cols[p].item(), x[p].item()
        pred = sum(a * c for a, c in zip(w[i], wc[j], strict=True)) + b[i][0] + bc[j][0]
        assert loss[p].item() == pytest.approx(
            min(1, xv / 100) ** 0.75 * (pred - math.log(xv)) ** 2, rel=1e-5
        )
    with pytest.raises(ValueError, match="co-occurrence values > 0"):
        model(rows, cols, torch.tensor([1.0, 0.0, 2.0]))


def test_glove_step_equals_adagrad_loop() -> None:
    """With distinct rows and columns a batched step is the per-entry AdaGrad loop."""
    torch.manual_seed(0)
    model = GloVe(6, 3)
    rows, cols, x = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([2.0, 30.0, 250.0])
    w, wc, b, bc = (e.weight.detach().clone().double() for e in (model.w, model.w_ctx, model.b, model.b_ctx))
    G = [torch.zeros_like(t) for t in (w, wc, b, bc)]
    G[0][1] = 4.0  # a row that has been updated before
    squares = [g.float().clone() for g in G]
    expected_loss = 0.0
    for i, j, xv in zip(rows.tolist(), cols.tolist(), x.tolist(), strict=True):
        diff = float(w[i] @ wc[j] + b[i, 0] + bc[j, 0]) - math.log(xv)
        e = min(1.0, xv / 100) ** 0.75 * diff
        expected_loss += 0.5 * e * diff
        gw, gwc = e * wc[j].clone(), e * w[i].clone()
        for t, g_sq, r, g in ((w, G[0], i, gw), (wc, G[1], j, gwc), (b, G[2], i, e), (bc, G[3], j, e)):
            g_sq[r] += g * g
            t[r] -= 0.05 * g / g_sq[r].sqrt()
    loss = glove_step(model, rows, cols, x, squares, lr=0.05)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    for got, want in zip((model.w, model.w_ctx, model.b, model.b_ctx), (w, wc, b, bc), strict=True):
        torch.testing.assert_close(got.weight.detach().double(), want, atol=1e-6, rtol=1e-5)
    for got, want in zip(squares, G, strict=True):
        torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=1e-5)


def test_train_glove_lowers_the_loss() -> None:
    vocab, enc = tiny_corpus()
    model = GloVe(len(vocab), 8)
    stats = train_glove(
        model, cooccurrence(enc, 3), epochs=50, lr=0.2, batch_size=8, x_max=2.0, progress=False
    )
    with pytest.raises(TypeError, match="trains a GloVe model"):
        train_glove(SkipGram(3, 2), cooccurrence(enc, 3))  # type: ignore[arg-type]
    assert stats.epoch_loss[-1] < 0.2 * stats.epoch_loss[0]
    assert model.word_vectors().shape == (len(vocab), 8)


def two_topic_corpus(n: int = 600) -> list[list[str]]:
    rng = random.Random(0)
    animals, metals = ["cat", "dog", "cow", "pig", "hen"], ["iron", "gold", "zinc", "lead", "tin"]
    return [rng.choices(animals if i % 2 else metals, k=8) for i in range(n)]


@pytest.mark.parametrize("kind", [SkipGram, CBOW, "fasttext"])
def test_train_word2vec_separates_topics(kind) -> None:
    corpus = two_topic_corpus()
    vocab = build_vocab(corpus, min_count=1)
    enc = encode_corpus(corpus, vocab)
    torch.manual_seed(0)
    model = FastText(vocab, 16, buckets=100) if kind == "fasttext" else kind(len(vocab), 16)
    stats = train_word2vec(
        model, enc, epochs=3, window=3, negative=3, sample=0, alpha=0.05, batch_size=64, progress=False
    )
    assert stats.epoch_loss[-1] < stats.epoch_loss[0] and stats.words_per_second > 0
    unit = torch.nn.functional.normalize(model.word_vectors(), dim=1)
    cos = unit @ unit.T
    animals = torch.tensor([vocab[w] for w in ["cat", "dog", "cow", "pig", "hen"]])
    metals = torch.tensor([vocab[w] for w in ["iron", "gold", "zinc", "lead", "tin"]])
    within = cos[animals][:, animals].mean() + cos[metals][:, metals].mean()
    across = 2 * cos[animals][:, metals].mean()
    assert within - across > 0.5


def test_train_word2vec_bad_input() -> None:
    vocab, enc = tiny_corpus()
    with pytest.raises(ValueError, match="the model has 3 words but the corpus vocabulary 8"):
        train_word2vec(SkipGram(3, 4), enc)
    with pytest.raises(TypeError, match="trains a SkipGram"):
        train_word2vec(GloVe(8, 4), enc)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative must be an int >= 1"):
        train_word2vec(SkipGram(len(vocab), 4), enc, negative=0)
    with pytest.raises(ValueError, match="ids outside 0..6"):
        SkipGram(7, 4)(torch.tensor([7]), torch.tensor([0]), torch.tensor([[1]]))
    with pytest.raises(TypeError, match="torch.long"):
        SkipGram(7, 4)(torch.tensor([1.0]), torch.tensor([0]), torch.tensor([[1]]))


def test_spearman_matches_scipy_with_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="constant"):
        spearman([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        spearman([1, float("nan")], [1, 2])
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2], [1, 2, 3])


def planted_vectors():
    """Random vectors in which king - man + woman = queen and paris - france + italy = rome hold."""
    rng = np.random.default_rng(1)
    words = ["king", "man", "woman", "queen", "paris", "france", "italy", "rome"] + [
        f"w{i}" for i in range(40)
    ]
    vectors = rng.normal(size=(len(words), 20)).astype(np.float32)
    vectors[3] = vectors[0] - vectors[1] + vectors[2] + 0.05 * rng.normal(size=20)
    vectors[7] = vectors[4] - vectors[5] + vectors[6] + 0.05 * rng.normal(size=20)
    return Vocab(words, specials=()), torch.from_numpy(vectors)


@pytest.mark.filterwarnings(
    "ignore:Call to deprecated:DeprecationWarning"
)  # gensim's own most_similar_cosmul
def test_analogies_and_similarity_match_gensim(tmp_path) -> None:
    gensim = pytest.importorskip("gensim")
    vocab, vectors = planted_vectors()
    questions = [
        ("royal", "man", "king", "woman", "queen"),
        ("royal", "king", "man", "queen", "woman"),
        ("capitals", "france", "paris", "italy", "rome"),
        ("capitals", "paris", "france", "w3", "w4"),
        ("capitals", "paris", "france", "berlin", "germany"),  # not covered
    ]
    kv = gensim.models.KeyedVectors(20)
    kv.add_vectors(vocab.itos, vectors.numpy())
    path = tmp_path / "questions.txt"
    sections: dict[str, list[str]] = {}
    for s, *words in questions:
        sections.setdefault(s, []).append(" ".join(words))
    path.write_text("".join(f": {s}\n" + "\n".join(lines) + "\n" for s, lines in sections.items()))
    score, _ = kv.evaluate_word_analogies(str(path), case_insensitive=False)
    result = analogy_accuracy(vectors, vocab, questions)
    assert result.covered == 4 and result.total == 5 and result.coverage == 0.8
    assert result.accuracy == pytest.approx(score)
    assert result.by_section["capitals"][1] == 2
    mul = analogy_accuracy(vectors, vocab, questions, method="mul")
    top = kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=1)[0][0]
    assert mul.correct >= 2 and top == "queen"
    pairs = [("king", "queen", 8.0), ("man", "woman", 7.5), ("paris", "rome", 6.0), ("w1", "w2", 1.0),
             ("king", "w5", 0.5), ("zzz", "king", 3.0)]  # fmt: skip
    rho, coverage = similarity_correlation(vectors, vocab, pairs)
    pairs_file = tmp_path / "pairs.tsv"
    pairs_file.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs))
    _, (gensim_rho, _), oov = kv.evaluate_word_pairs(str(pairs_file), case_insensitive=False)
    assert (
        rho == pytest.approx(gensim_rho)
        and coverage == pytest.approx(5 / 6)
        and oov == pytest.approx(100 / 6)
    )
    ours = nearest_neighbours(vectors, vocab, "queen", k=3)
    assert [w for w, _ in ours] == [w for w, _ in kv.most_similar("queen", topn=3)]
    with pytest.raises(ValueError, match="'add' \\(3CosAdd\\) or 'mul'"):
        analogy_accuracy(vectors, vocab, questions, method="cos")
    with pytest.raises(KeyError, match="'zzz' is not in the vocabulary"):
        nearest_neighbours(vectors, vocab, "zzz")
    with pytest.raises(ValueError, match="vectors have 3 rows but the vocabulary 48 words"):
        similarity_correlation(vectors[:3], vocab, pairs)
    with pytest.raises(ValueError, match="NaN or inf"):
        nearest_neighbours(torch.full_like(vectors, float("nan")), vocab, "king")


def test_pca_2d_matches_svd() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
    got = pca_2d(torch.from_numpy(x)).numpy()
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    np.testing.assert_allclose(np.abs(got), np.abs(expected), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="N >= 2"):
        pca_2d(torch.zeros(1, 3))


def test_notebook_hyperparameters() -> None:
    assert WORD2VEC["dim"] == 100 and WORD2VEC["negative"] == 5 and WORD2VEC["min_n"] == 3


def test_pretrained_embedding_maps_words_and_freezes() -> None:
    vocab, vectors = planted_vectors()
    target = Vocab(["<pad>", "<unk>", "queen", "zebra", "king"])
    layer, found = pretrained_embedding(vectors, vocab, target)
    assert found == pytest.approx(2 / 3) and layer.padding_idx == 0 and not layer.weight.requires_grad
    torch.testing.assert_close(layer.weight[2], vectors[vocab["queen"]])
    torch.testing.assert_close(layer.weight[4], vectors[vocab["king"]])
    assert layer.weight[0].abs().sum() == 0 and layer.weight[3].abs().sum() > 0
    tuned, _ = pretrained_embedding(vectors, vocab, target, freeze=False)
    tuned(torch.tensor([0, 2])).sum().backward()
    assert (
        tuned.weight.requires_grad
        and tuned.weight.grad[0].abs().sum() == 0
        and tuned.weight.grad[2].abs().sum() > 0
    )
    with pytest.raises(ValueError, match="vectors have 3 rows"):
        pretrained_embedding(vectors[:3], vocab, target)


@pytest.mark.parametrize("batch", [8, 7])  # 7: the last block is only partly filled
def test_shared_negatives_equal_per_example_negatives(batch: int) -> None:
    torch.manual_seed(0)
    shared, expanded = SkipGram(12, 5), SkipGram(12, 5)
    torch.nn.init.normal_(shared.out.weight, std=0.3)
    expanded.load_state_dict(shared.state_dict())
    inputs, targets = torch.randint(0, 12, (batch,)), torch.randint(0, 12, (batch,))
    negatives = torch.randint(0, 12, (2, 3))  # blocks of 4 examples share 3 noise words
    a = sgns_step(shared, inputs, targets, negatives, lr=0.1)
    b = sgns_step(expanded, inputs, targets, negatives.repeat_interleave(4, dim=0)[:batch], lr=0.1)
    assert a == pytest.approx(b, rel=1e-6)
    for p, q in zip(shared.parameters(), expanded.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    with pytest.raises(ValueError, match="negatives \\(G, K\\) with 1 <= G <= 8"):
        sgns_step(shared, torch.arange(8), torch.arange(8), torch.zeros(9, 3, dtype=torch.long), lr=0.1)


def test_train_gensim_aligns_its_vectors_with_our_vocabulary() -> None:
    pytest.importorskip("gensim")
    corpus = two_topic_corpus(200)
    vocab = build_vocab(corpus, min_count=1)
    vectors, stats = train_gensim("skipgram", corpus, vocab, dim=8, min_count=1, epochs=2, workers=1)
    assert vectors.shape == (len(vocab), 8) and isinstance(stats, TrainStats) and stats.words_per_second > 0
    _, ft_stats = train_gensim(
        "fasttext", corpus, vocab, dim=8, min_count=1, epochs=1, buckets=100, workers=1
    )
    assert ft_stats.seconds > 0
    with pytest.raises(ValueError, match="gensim's vocabulary differs from ours"):
        train_gensim("cbow", corpus, Vocab(["cat"], specials=()), min_count=1)
    with pytest.raises(ValueError, match="kind must be 'skipgram', 'cbow' or 'fasttext'"):
        train_gensim("glove", corpus, vocab)


def test_evaluate_embeddings_reports_every_score_with_coverage() -> None:
    corpus = load_embedding_corpus(max_sentences=3000)
    vocab = build_vocab(corpus, min_count=3)
    enc = encode_corpus(corpus, vocab)
    assert isinstance(enc, EncodedCorpus)
    vectors = torch.randn(len(vocab), 8, generator=torch.Generator().manual_seed(0))
    scores = evaluate_embeddings(vectors, vocab)
    assert set(scores) == {"wordsim353", "wordsim353_coverage", "simlex999", "simlex999_coverage",
                           "analogy_add", "analogy_mul", "analogy_coverage"}  # fmt: skip
    assert all(math.isfinite(v) for v in scores.values())
    assert 0 < scores["wordsim353_coverage"] < 1 and 0 < scores["analogy_coverage"] < 1
    assert abs(scores["wordsim353"]) < 0.3  # random vectors: no correlation to speak of
    result = analogy_accuracy(vectors, vocab, [("s", "a", "b", "c", "zzz")])
    assert isinstance(result, AnalogyResult) and result.covered == 0 and result.accuracy == 0.0
