"""Tests for course_utils.textclass: data helpers, masked pooling, the classifiers and the n-gram baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.text import Vocab
from course_utils.textclass import (
    NBSVM,
    BagOfEmbeddings,
    BiLSTMClassifier,
    KimCNN,
    LinearBagClassifier,
    MaskedPooling,
    accuracy_interval,
    encode_reviews,
    kfold_indices,
    masked_max,
    masked_mean,
    nb_log_ratios,
    ngram_matrix,
    platt_scaling,
    review_loader,
    review_vectors,
    tokenize_review,
    train_classifier,
)

VOCAB = Vocab.build([["a", "good", "film", "bad", "dull", "fun", "."]], specials=["<pad>", "<unk>"])
ITEMS = [("a good film .", "pos"), ("a dull film", "neg"), ("fun", "pos"), ("bad bad film .", "neg")]


def _batch(items=ITEMS):
    loader = review_loader(encode_reviews(items, VOCAB, ["neg", "pos"]), batch_size=len(items))
    return next(iter(loader))


# --------------------------------------------------------------------------------------------- data


def test_tokenize_review_splits_on_whitespace():
    assert tokenize_review("it's a  charming film .") == ["it's", "a", "charming", "film", "."]
    with pytest.raises(TypeError, match="str"):
        tokenize_review(["a"])


def test_encode_reviews_maps_words_and_labels():
    out = encode_reviews([("a great film", "pos"), ("dull", "neg")], VOCAB, ["neg", "pos"])
    assert out[0][0].tolist() == [VOCAB["a"], VOCAB.unk_idx, VOCAB["film"]]
    assert [y for _, y in out] == [1, 0]


def test_encode_reviews_bad_input():
    with pytest.raises(ValueError, match="not one of the classes"):
        encode_reviews([("a film", "neutral")], VOCAB, ["neg", "pos"])
    with pytest.raises(ValueError, match="empty sentence"):
        encode_reviews([("   ", "pos")], VOCAB, ["neg", "pos"])
    with pytest.raises(TypeError, match="pair"):
        encode_reviews(["a film"], VOCAB, ["neg", "pos"])
    with pytest.raises(ValueError, match="no <unk>"):
        encode_reviews(ITEMS, Vocab.build([["a"]], specials=["<pad>"]), ["neg", "pos"])


def test_review_loader_pads_and_keeps_labels():
    (x, lengths), y = _batch()
    assert x.shape == (4, 4) and lengths.tolist() == [4, 3, 1, 4] and y.tolist() == [1, 0, 1, 0]
    assert (x[2, 1:] == VOCAB.pad_idx).all()


def test_review_loader_shuffles_reproducibly():
    data = encode_reviews(ITEMS * 5, VOCAB, ["neg", "pos"])
    first = [y.tolist() for _, y in review_loader(data, 3, shuffle=True, seed=1)]
    again = [y.tolist() for _, y in review_loader(data, 3, shuffle=True, seed=1)]
    assert first == again and len(first) == 7
    assert sorted(sum(first, [])) == sorted(y for _, y in data)
    with pytest.raises(ValueError, match="batch_size"):
        review_loader(data, 0)
    with pytest.raises(ValueError, match="no examples"):
        review_loader([], 2)
    with pytest.raises(TypeError, match="bucket must be True or False"):
        review_loader(data, 2, shuffle=True, bucket="yes")
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        review_loader(data, 2, shuffle=1)
    with pytest.raises(TypeError, match="seed"):
        review_loader(data, 2, seed=1.5)
    for bad in [
        ("a good film", 1),
        (torch.tensor([1.0, 2.0]), 1),
        (torch.tensor([], dtype=torch.long), 0),
        (torch.tensor([[1, 2]]), 0),
        (torch.tensor([1, 2]), "pos"),
        (torch.tensor([1, 2]),),
    ]:
        with pytest.raises(TypeError, match=r"examples\[1\] must be \(ids, label\)"):
            review_loader([data[0], bad], 2)


def test_review_loader_buckets_by_length():
    torch.manual_seed(0)
    data = [(torch.randint(2, 9, (int(n),)), int(n) % 2) for n in torch.randint(1, 40, (1000,))]
    plain = list(review_loader(data, 10, shuffle=True, seed=0))
    bucketed = list(review_loader(data, 10, shuffle=True, bucket=True, seed=0))
    assert len(bucketed) == len(plain) == 100
    seen = sorted(tuple(x[i, :n].tolist()) for (x, lengths), _ in bucketed for i, n in enumerate(lengths))
    assert seen == sorted(tuple(ids.tolist()) for ids, _ in data)  # every review once, intact
    padding = [float((x.shape[1] - lengths).sum()) for (x, lengths), _ in plain]
    padding_bucketed = [float((x.shape[1] - lengths).sum()) for (x, lengths), _ in bucketed]
    assert sum(padding_bucketed) < 0.1 * sum(padding)
    order = [y.tolist() for _, y in bucketed]
    assert order == [y.tolist() for _, y in review_loader(data, 10, shuffle=True, bucket=True, seed=0)]
    assert order != [y.tolist() for _, y in review_loader(data, 10, shuffle=True, bucket=True, seed=1)]
    with pytest.raises(ValueError, match="shuffle=True"):
        review_loader(data, 10, bucket=True)


def test_kfold_indices_partition_and_stratify():
    labels = ["pos"] * 53 + ["neg"] * 47
    folds = kfold_indices(labels, k=10, seed=3)
    tests = [t for _, t in folds]
    assert sorted(i for t in tests for i in t) == list(range(100))
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 100
        pos = sum(labels[i] == "pos" for i in test)
        assert 5 <= pos <= 6 and 9 <= len(test) <= 11
    assert kfold_indices(labels, 10, seed=3) == folds
    with pytest.raises(ValueError, match="k must be"):
        kfold_indices(labels, k=1)
    with pytest.raises(ValueError, match="at least"):
        kfold_indices(["a"], k=2)


# --------------------------------------------------------------------------------------------- pooling


def test_masked_pooling_ignores_padding():
    torch.manual_seed(0)
    h = torch.randn(3, 5, 4)
    lengths = torch.tensor([5, 2, 1])
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(masked_mean(h, lengths)[b], h[b, :n].mean(0))
        torch.testing.assert_close(masked_max(h, lengths)[b], h[b, :n].amax(0))
    spiked = h.clone()
    spiked[1, 2:] = 100.0  # padding positions
    torch.testing.assert_close(masked_max(spiked, lengths), masked_max(h, lengths))
    both = MaskedPooling("meanmax")(h, lengths)
    torch.testing.assert_close(both, torch.cat([masked_mean(h, lengths), masked_max(h, lengths)], -1))


def test_masked_pooling_bad_input():
    h = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"\(B, T, H\)"):
        masked_mean(h[0], torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="lengths of shape"):
        masked_max(h, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"\[1, T\]"):
        masked_mean(h, torch.tensor([0, 2]))
    with pytest.raises(TypeError, match="integers"):
        masked_mean(h, torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="mode"):
        MaskedPooling("sum")


# --------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "meanmax"])
def test_bilstm_classifier_is_padding_invariant(pooling):
    torch.manual_seed(0)
    model = BiLSTMClassifier(len(VOCAB), 2, emb_dim=8, hidden=6, pooling=pooling).eval()
    (x, lengths), _ = _batch()
    together = model(x, lengths)
    assert together.shape == (4, 2)
    for b in range(4):
        alone = model(x[b : b + 1, : lengths[b]], lengths[b : b + 1])
        torch.testing.assert_close(together[b : b + 1], alone)


def test_bilstm_last_state_matches_nn_lstm_on_each_sentence():
    torch.manual_seed(0)
    model = BiLSTMClassifier(len(VOCAB), 2, emb_dim=8, hidden=6, pooling="last").eval()
    (x, lengths), _ = _batch()
    feats = model.encode(x, lengths)
    for b in range(4):
        e = model.embedding(x[b : b + 1, : lengths[b]])
        out, _ = model.lstm(e)
        # forward direction's last output at the last real word, backward direction's at the first word
        torch.testing.assert_close(feats[b, :6], out[0, -1, :6])
        torch.testing.assert_close(feats[b, 6:], out[0, 0, 6:])


def test_bilstm_without_packing_reads_padding():
    torch.manual_seed(0)
    packed = BiLSTMClassifier(len(VOCAB), 2, emb_dim=8, hidden=6, pooling="last").eval()
    padded = BiLSTMClassifier(len(VOCAB), 2, emb_dim=8, hidden=6, pooling="last", pack=False).eval()
    padded.load_state_dict(packed.state_dict())
    (x, lengths), _ = _batch()
    a, b = packed(x, lengths), padded(x, lengths)
    full = lengths == x.shape[1]
    torch.testing.assert_close(a[full], b[full])  # the longest sentences agree
    assert not torch.allclose(a[~full], b[~full])  # the short ones do not


def test_kim_cnn_matches_a_loop_and_ignores_padding():
    torch.manual_seed(0)
    model = KimCNN(len(VOCAB), 2, emb_dim=8, widths=(2, 3), filters=5).eval()
    (x, lengths), _ = _batch()
    feats = model.encode(x, lengths)
    for b in range(4):
        # (d, n + 4): pad = max width - 1 on each side
        e = nn.functional.pad(model.embedding(x[b, : lengths[b]]).T, (2, 2))
        expected = []
        for width, conv in zip((2, 3), model.convs, strict=True):
            windows = [
                torch.relu(conv.bias + (conv.weight * e[:, s : s + width]).sum((1, 2)))
                for s in range(3 - width, lengths[b] + 2)  # every window that overlaps a real word
            ]
            expected.append(torch.stack(windows).amax(0))
        torch.testing.assert_close(feats[b], torch.cat(expected))
    for b in range(4):
        torch.testing.assert_close(
            model(x[b : b + 1, : lengths[b]], lengths[b : b + 1]), model(x, lengths)[b : b + 1]
        )


def test_bag_of_embeddings_is_the_mean_of_word_vectors():
    torch.manual_seed(0)
    model = BagOfEmbeddings(len(VOCAB), 2, emb_dim=6).eval()
    (x, lengths), _ = _batch()
    out = model(x, lengths)
    for b in range(4):
        mean = model.embedding.weight[x[b, : lengths[b]]].mean(0)
        torch.testing.assert_close(out[b], model.fc(mean))


@pytest.mark.parametrize("cls", [BagOfEmbeddings, BiLSTMClassifier, KimCNN])
def test_classifiers_learn_a_tiny_task(cls):
    torch.manual_seed(0)
    model = cls(len(VOCAB), 2, emb_dim=16, dropout=0.0)
    (x, lengths), y = _batch()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x, lengths), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert (model(x, lengths).argmax(1) == y).all()


@pytest.mark.parametrize("cls", [BagOfEmbeddings, BiLSTMClassifier, KimCNN])
def test_classifiers_bad_input(cls):
    model = cls(len(VOCAB), 2, emb_dim=8)
    x, lengths = torch.tensor([[2, 3]]), torch.tensor([2])
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(x[0], lengths)
    with pytest.raises(TypeError, match="integer"):
        model(x.float(), lengths)
    with pytest.raises(ValueError, match="vocabulary"):
        model(torch.tensor([[2, 99]]), lengths)
    with pytest.raises(ValueError, match="lengths"):
        model(x, torch.tensor([2, 2]))
    with pytest.raises(ValueError, match=r"\[1, T\]"):
        model(x, torch.tensor([5]))
    with pytest.raises(TypeError, match="integers"):
        model(x, torch.tensor([2.0]))
    with pytest.raises(ValueError, match="dropout"):
        cls(10, 2, dropout=1.0)
    with pytest.raises(ValueError, match="emb_dim"):
        cls(10, 2, emb_dim=0)
    with pytest.raises(ValueError, match="pad_idx"):
        cls(10, 2, pad_idx=10)


def test_bilstm_and_cnn_options_are_checked():
    with pytest.raises(ValueError, match="pooling"):
        BiLSTMClassifier(10, pooling="first")
    with pytest.raises(ValueError, match="at least one"):
        KimCNN(10, widths=())
    with pytest.raises(ValueError, match="widths"):
        KimCNN(10, widths=(3, 0))


# --------------------------------------------------------------------------------------------- n-gram baselines


def test_ngram_matrix_binary_and_vocabulary():
    X, index = ngram_matrix([["a", "b", "a"], ["b", "c"]], n=2)
    dense = X.to_dense()
    assert set(index) == {("a",), ("b",), ("c",), ("a", "b"), ("b", "a"), ("b", "c")}
    assert dense[0, index["a",]] == 1 and dense.sum().item() == 4 + 3  # binary: "a" counted once
    Y, same = ngram_matrix([["a", "z"], ["c", "b"]], n=2, vocab=index)
    assert same is index and Y.shape == (2, 6)
    assert Y.to_dense()[0].sum() == 1 and Y.to_dense()[1].sum() == 2  # unseen n-grams dropped
    with pytest.raises(TypeError, match="token lists"):
        ngram_matrix(["a b"])
    with pytest.raises(ValueError, match="n must"):
        ngram_matrix([["a"]], n=0)


def test_nb_log_ratios_by_hand():
    X, index = ngram_matrix([["good"], ["good", "fun"], ["bad"]], n=1)
    r = nb_log_ratios(X, torch.tensor([1, 1, 0]), alpha=1.0)
    # p = 1 + counts in positive docs = [3, 2, 1] (good, fun, bad); q = [1, 1, 2]
    p, q = np.array([3, 2, 1.0]), np.array([1, 1, 2.0])
    expected = np.log(p / p.sum()) - np.log(q / q.sum())
    order = [index["good",], index["fun",], index["bad",]]
    np.testing.assert_allclose(r[order].numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="0/1"):
        nb_log_ratios(X, torch.tensor([1, 2, 0]))
    with pytest.raises(ValueError, match="rows"):
        nb_log_ratios(X, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="alpha"):
        nb_log_ratios(X, torch.tensor([1, 1, 0]), alpha=0)


def _toy_problem(seed=0, n=120, f=15):
    g = torch.Generator().manual_seed(seed)
    X = (torch.rand(n, f, generator=g) < 0.3).float()
    w = torch.randn(f, generator=g)
    y = ((X @ w + 0.3 * torch.randn(n, generator=g)) > 0).long()
    return X.to_sparse(), y


def test_logistic_regression_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.linear_model")
    X, y = _toy_problem()
    ours = LinearBagClassifier(C=0.5, loss="log").fit(X, y)
    ref = sklearn.LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X.to_dense().numpy(), y.numpy())
    np.testing.assert_allclose(ours.coef_.numpy(), ref.coef_.ravel(), atol=2e-4)
    assert ours.intercept_ == pytest.approx(ref.intercept_[0], abs=2e-4)
    assert (ours.predict(X).numpy() == ref.predict(X.to_dense().numpy())).all()


def test_squared_hinge_svm_is_optimal():
    # The objective is convex: at the optimum its gradient vanishes, and nudging w never lowers it.
    X, y = _toy_problem(1)
    model = LinearBagClassifier(C=1.0, loss="squared_hinge").fit(X, y)
    s = y.double() * 2 - 1
    w = model.coef_.double().requires_grad_()
    b = torch.tensor(model.intercept_, dtype=torch.float64, requires_grad=True)
    value = model._objective(X.double(), s, w, b)
    gw, gb = torch.autograd.grad(value, (w, b))
    assert gw.abs().max() < 1e-4 and abs(gb) < 1e-4
    svm = pytest.importorskip("sklearn.svm")
    ref = svm.LinearSVC(C=1.0, loss="squared_hinge", tol=1e-10, max_iter=100_000, intercept_scaling=100.0)
    ref.fit(X.to_dense().numpy(), y.numpy())
    theirs = model._objective(X.double(), s, torch.tensor(ref.coef_.ravel()), torch.tensor(ref.intercept_[0]))
    assert value.item() <= theirs.item() + 1e-3


def test_nbsvm_interpolates_and_separates():
    X, y = _toy_problem(2)
    model = NBSVM(C=1.0, beta=0.25).fit(X, y)
    plain = LinearBagClassifier(C=1.0, loss="squared_hinge").fit((X * model.r[None, :]).coalesce(), y)
    w = plain.coef_
    torch.testing.assert_close(model.coef_, 0.75 * w.abs().mean() + 0.25 * w)
    assert (model.predict(X) == y).float().mean() > 0.85
    with pytest.raises(ValueError, match="beta"):
        NBSVM(beta=1.5)


def test_platt_scaling_matches_scikit_learn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (400,), generator=g)
    scores = 1.5 * (y.float() * 2 - 1) + torch.randn(400, generator=g) * 2 + 0.3
    a, b = platt_scaling(scores, y)
    ref = LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000).fit(
        scores[:, None].double().numpy(), y.numpy()
    )
    assert a == pytest.approx(ref.coef_[0, 0], rel=1e-4)
    assert b == pytest.approx(ref.intercept_[0], abs=1e-4)
    assert a > 0  # higher score, more likely class 1
    # the fitted probabilities are calibrated in the mean: they sum to the number of positives
    p = torch.sigmoid(a * scores.double() + b)
    assert p.sum().item() == pytest.approx(y.sum().item(), rel=1e-5)


def test_platt_scaling_bad_input():
    y = torch.tensor([0, 1, 0, 1])
    with pytest.raises(ValueError, match="1-D"):
        platt_scaling(torch.zeros(4, 1), y)
    with pytest.raises(ValueError, match="1-D"):
        platt_scaling(torch.zeros(0), y[:0])
    with pytest.raises(ValueError, match="NaN"):
        platt_scaling(torch.tensor([0.1, float("nan"), 0.3, 0.2]), y)
    with pytest.raises(ValueError, match="one 0/1 label per row"):
        platt_scaling(torch.tensor([0.1, 0.5, 0.3]), y)
    with pytest.raises(ValueError, match="0/1"):
        platt_scaling(torch.tensor([0.1, 0.5, 0.3, 0.2]), torch.tensor([0, 2, 0, 1]))
    with pytest.raises(ValueError, match="one class"):
        platt_scaling(torch.tensor([0.1, 0.5, 0.3, 0.2]), torch.ones(4, dtype=torch.long))
    with pytest.raises(ValueError, match="separate"):
        platt_scaling(torch.tensor([-1.0, 1.0, -2.0, 2.0]), y)


def test_dense_and_sparse_matrices_give_the_same_models():
    X, y = _toy_problem(3)
    torch.testing.assert_close(nb_log_ratios(X, y), nb_log_ratios(X.to_dense(), y))
    sparse, dense = NBSVM().fit(X, y), NBSVM().fit(X.to_dense(), y)
    torch.testing.assert_close(sparse.coef_, dense.coef_, rtol=1e-4, atol=1e-5)
    assert (sparse.predict(X.to_dense()) == dense.predict(X)).all()


def test_linear_bag_bad_input():
    X, y = _toy_problem()
    with pytest.raises(ValueError, match="C must"):
        LinearBagClassifier(C=0)
    with pytest.raises(ValueError, match="loss"):
        LinearBagClassifier(loss="hinge")
    with pytest.raises(RuntimeError, match="fit"):
        LinearBagClassifier().predict(X)
    with pytest.raises(RuntimeError, match="fit"):
        NBSVM().predict(X)
    with pytest.raises(ValueError, match="label"):
        LinearBagClassifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="0/1"):
        LinearBagClassifier().fit(X, y + 1)
    with pytest.raises(ValueError, match="matrix"):
        LinearBagClassifier().fit(X.to_dense()[0], y)
    model = LinearBagClassifier().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X.to_dense()[:, :3].to_sparse())


# --------------------------------------------------------------------------------------------- evaluation


def test_accuracy_interval_wilson():
    lo, hi = accuracy_interval(80, 100)
    # Wilson's formula, worked out: centre (0.8 + 1.96^2/200) / (1 + 1.96^2/100)
    z = 1.96
    centre = (0.8 + z * z / 200) / (1 + z * z / 100)
    half = z * math.sqrt(0.8 * 0.2 / 100 + z * z / 40_000) / (1 + z * z / 100)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    assert 0 < accuracy_interval(0, 10)[1] < 0.35 and accuracy_interval(10, 10)[0] > 0.65
    with pytest.raises(ValueError, match="correct"):
        accuracy_interval(11, 10)
    with pytest.raises(ValueError, match="n must"):
        accuracy_interval(0, 0)
    with pytest.raises(ValueError, match="z must"):
        accuracy_interval(5, 10, z=0)


def test_train_classifier_learns_and_restores_the_best_epoch():
    data = encode_reviews(ITEMS * 10, VOCAB, ["neg", "pos"])
    model = KimCNN(len(VOCAB), 2, emb_dim=16, filters=8, dropout=0.0)
    history = train_classifier(model, data, data[:4], epochs=8, lr=0.01, batch_size=8, progress=False)
    assert max(history["val_accuracy"]) == 1.0 and history.best_value == 1.0
    (x, lengths), y = _batch()
    assert (model(x, lengths).argmax(1) == y).all() and not model.training


def test_train_classifier_leaves_frozen_embeddings_alone():
    data = encode_reviews(ITEMS * 5, VOCAB, ["neg", "pos"])
    model = BiLSTMClassifier(len(VOCAB), 2, emb_dim=8, hidden=4)
    model.embedding.weight.requires_grad_(False)
    before = model.embedding.weight.clone()
    train_classifier(model, data, data[:4], epochs=2, batch_size=4, progress=False)
    torch.testing.assert_close(model.embedding.weight, before)


def test_review_vectors_cover_review_words():
    texts = ["an unfunny , overlong mess ."] * 6
    vectors, vocab = review_vectors(texts, max_sentences=200, progress=False)
    assert vectors.shape == (len(vocab), 100) and torch.isfinite(vectors).all()
    assert "unfunny" in vocab and "," in vocab  # review tokens kept as tokenize_review splits them
    with pytest.raises(TypeError, match="list of review"):
        review_vectors("an unfunny mess")


# --------------------------------------------------------------------------------------------- bad input, by family


def test_encode_reviews_refuses_wrong_vocab_classes_and_texts():
    with pytest.raises(TypeError, match="vocab must be a course_utils.text.Vocab"):
        encode_reviews(ITEMS, {"<unk>": 1}, ["neg", "pos"])
    with pytest.raises(TypeError, match="classes must be a list of class labels"):
        encode_reviews(ITEMS, VOCAB, "negpos")
    with pytest.raises(ValueError, match="each label once"):
        encode_reviews(ITEMS, VOCAB, ["neg", "pos", "neg"])  # "neg" would silently become class 2
    with pytest.raises(ValueError, match="no items"):
        encode_reviews([], VOCAB, ["neg", "pos"])
    with pytest.raises(TypeError, match=r"items\[0\] has sentence 5, not a str"):
        encode_reviews([(5, "pos")], VOCAB, ["neg", "pos"])
    with pytest.raises(TypeError, match=r"items\[0\] has sentence \['a', 'film'\], not a str"):
        encode_reviews([(["a", "film"], "pos")], VOCAB, ["neg", "pos"])
    with pytest.raises(ValueError, match="not one of the classes"):
        encode_reviews([("a film", ["pos"])], VOCAB, ["neg", "pos"])


def test_review_loader_pad_idx_and_negative_labels():
    data = encode_reviews(ITEMS, VOCAB, ["neg", "pos"])
    for bad in ("0", 0.0, True):
        with pytest.raises(TypeError, match="pad_idx must be an int"):
            review_loader(data, pad_idx=bad)
    with pytest.raises(ValueError, match="pad_idx must be >= 0"):
        review_loader(data, pad_idx=-1)
    with pytest.raises(ValueError, match="class indices are >= 0"):
        review_loader([(data[0][0], -100)])  # cross-entropy would ignore it silently


def test_kfold_indices_bad_labels_and_seed():
    labels = [0, 1] * 10
    # a tensor's elements hash by identity: each would be its own class and the seed would be ignored
    torch.testing.assert_close(
        torch.tensor([te for _, te in kfold_indices(torch.tensor(labels), k=5, seed=3)]),
        torch.tensor([te for _, te in kfold_indices(labels, k=5, seed=3)]),
    )
    assert kfold_indices(np.array(labels), k=5, seed=3) == kfold_indices(labels, k=5, seed=3)
    with pytest.raises(ValueError, match="labels must be 1-D"):
        kfold_indices(torch.zeros(10, 2), k=5)
    with pytest.raises(TypeError, match="labels must be a list"):
        kfold_indices("ababababab", k=5)
    with pytest.raises(TypeError, match="labels must be a list"):
        kfold_indices(iter(labels), k=5)
    with pytest.raises(TypeError, match="hashable"):
        kfold_indices([[0]] * 10, k=5)
    for bad in (1.5, "a", True):
        with pytest.raises(TypeError, match="seed must be an int"):
            kfold_indices(labels, k=5, seed=bad)


def test_masked_pooling_dtypes():
    h = torch.randn(2, 3, 4)
    with pytest.raises(TypeError, match="floating-point h"):
        masked_max(torch.ones(2, 3, 4, dtype=torch.long), torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="integers"):
        masked_mean(h, torch.tensor([1, 2], dtype=torch.cfloat))
    with pytest.raises(TypeError, match="integers"):
        MaskedPooling("max")(h, torch.tensor([True, True]))


@pytest.mark.parametrize("cls", [BagOfEmbeddings, BiLSTMClassifier, KimCNN])
def test_classifiers_refuse_empty_and_complex_batches(cls):
    model = cls(len(VOCAB), 2, emb_dim=8)
    x, lengths = torch.tensor([[2, 3]]), torch.tensor([2])
    with pytest.raises(ValueError, match="empty batch"):
        model(x[:0], lengths[:0])
    with pytest.raises(TypeError, match="integer word ids"):
        model(x.to(torch.cfloat), lengths)
    with pytest.raises(TypeError, match="integers"):
        model(x, lengths.to(torch.cfloat))
    with pytest.raises(ValueError, match="vocabulary"):
        model(torch.tensor([[-1, 3]]), lengths)


def test_bilstm_flags_and_kim_widths_are_checked():
    for name in ("bidirectional", "pack"):
        with pytest.raises(TypeError, match=f"{name} must be True or False"):
            BiLSTMClassifier(10, **{name: "no"})  # "no" is truthy
    with pytest.raises(TypeError, match="widths must be a sequence"):
        KimCNN(10, widths=3)
    with pytest.raises(TypeError, match="widths must be a sequence"):
        KimCNN(10, widths="345")
    # a generator used to be consumed by the checks, leaving a model without convolutions
    assert KimCNN(10, widths=(w for w in (3, 4))).widths == (3, 4)


def test_ngram_matrix_bad_input():
    with pytest.raises(TypeError, match="docs must be a list of token lists"):
        ngram_matrix("a b")
    with pytest.raises(ValueError, match="docs is empty"):
        ngram_matrix([])
    with pytest.raises(TypeError, match=r"docs\[0\] must be a list of tokens"):
        ngram_matrix([[1, 2]])
    with pytest.raises(TypeError, match=r"docs\[1\] must be a list of tokens"):
        ngram_matrix([["a"], torch.tensor([1, 2])])  # tensor elements hash by identity
    with pytest.raises(TypeError, match=r"docs\[0\] must be a list of tokens"):
        ngram_matrix([5])
    with pytest.raises(TypeError, match="vocab must be None or the n-gram index"):
        ngram_matrix([["a"]], vocab=[("a",)])


def test_count_models_refuse_non_finite_empty_and_one_class_data():
    X, index = ngram_matrix([["good"], ["good", "fun"], ["bad"]], n=1)
    y = torch.tensor([1, 1, 0])
    for fit in (nb_log_ratios, lambda X, y: LinearBagClassifier().fit(X, y), lambda X, y: NBSVM().fit(X, y)):
        with pytest.raises(ValueError, match="NaN or inf"):
            fit(X.to_dense() * float("nan"), y)
        with pytest.raises(ValueError, match="NaN or inf"):
            fit(X.to_dense() * float("inf"), y)
        with pytest.raises(ValueError, match="one class only"):
            fit(X, torch.ones(3, dtype=torch.long))
        with pytest.raises(ValueError, match="at least one document and one feature"):
            fit(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
        with pytest.raises(ValueError, match="at least one document and one feature"):
            fit(torch.zeros(3, 0), y)
        with pytest.raises(TypeError, match="0/1 labels"):
            fit(X, "abc")
    with pytest.raises(ValueError, match="counts >= 0"):
        nb_log_ratios(-X.to_dense(), y)
    for bad in (float("inf"), True, "1", -1.0):
        with pytest.raises(ValueError, match="alpha"):
            nb_log_ratios(X, y, alpha=bad)
    model = LinearBagClassifier().fit(X, y)
    with pytest.raises(ValueError, match="NaN or inf"):
        model.predict(X.to_dense() * float("nan"))  # NaN scores would all predict 0


def test_count_model_hyperparameters():
    for bad in (float("inf"), True, "1", float("nan"), 0):
        with pytest.raises(ValueError, match="C must be a finite number > 0"):
            LinearBagClassifier(C=bad)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_iter must be a positive int"):
            LinearBagClassifier(max_iter=bad)
        with pytest.raises(ValueError, match="max_iter must be a positive int"):
            NBSVM(max_iter=bad)
        with pytest.raises(ValueError, match="max_iter must be a positive int"):
            platt_scaling(
                torch.tensor([0.1, 0.5, 0.3, 0.2, 0.4]), torch.tensor([0, 1, 1, 0, 0]), max_iter=bad
            )
    for bad in (True, "0.5", float("nan"), -0.1):
        with pytest.raises(ValueError, match="beta must be a number in"):
            NBSVM(beta=bad)
    for bad in (0, float("inf"), True):
        with pytest.raises(ValueError, match="alpha"):
            NBSVM(alpha=bad)
    X, y = _toy_problem()
    model = NBSVM().fit(X, y)
    with pytest.raises(ValueError, match="features, the model was fitted on"):
        model.predict(X.to_dense()[:, :3])


def test_review_vectors_bad_input_is_refused_before_training():
    with pytest.raises(TypeError, match=r"train_texts\[1\] is 5"):
        review_vectors(["a film", 5], max_sentences=10, progress=False)
    with pytest.raises(TypeError, match="list of review sentences"):
        review_vectors(iter(["a film"]), max_sentences=10, progress=False)
    with pytest.raises(TypeError, match="seed must be an int"):
        review_vectors(["a film"], seed=1.5, max_sentences=10, progress=False)


def test_train_classifier_bad_arguments():
    data = encode_reviews(ITEMS, VOCAB, ["neg", "pos"])

    def model():
        return KimCNN(len(VOCAB), 2, emb_dim=4, filters=2)

    with pytest.raises(TypeError, match="model must be an nn.Module"):
        train_classifier(None, data, data, epochs=1, progress=False)
    for bad in (0, -1e-3, float("nan"), float("inf"), True):  # lr = 0 trained nothing, silently
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            train_classifier(model(), data, data, epochs=1, lr=bad, progress=False)
    for bad in (-0.1, float("nan"), True):
        with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
            train_classifier(model(), data, data, epochs=1, weight_decay=bad, progress=False)
    with pytest.raises(ValueError, match="train must be a non-empty list"):
        train_classifier(model(), [], data, epochs=1, progress=False)
    with pytest.raises(ValueError, match="val must be a non-empty list"):
        train_classifier(model(), data, [], epochs=1, progress=False)
    with pytest.raises(ValueError, match="train has label 5 but the model predicts 2 classes"):
        train_classifier(model(), [(ids, 5) for ids, _ in data], data, epochs=1, progress=False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train_classifier(model().requires_grad_(False), data, data, epochs=1, progress=False)
