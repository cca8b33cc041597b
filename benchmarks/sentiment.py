"""Sentence sentiment on rt-polarity (MR): the count baselines and the neural models of notebook 06, on the course's
test split and by stratified 10-fold cross-validation (the way the literature scores MR).

    .venv/bin/python benchmarks/sentiment.py               # test split, then 10-fold CV (about 70 minutes here)
    .venv/bin/python benchmarks/sentiment.py --folds 0     # test split only
    COURSE_PROFILE=quick .venv/bin/python benchmarks/sentiment.py   # slices and one epoch, seconds

Models: majority class; logistic regression and NBSVM (Wang & Manning 2012) on binary uni+bigrams; Kim's CNN
and the BiLSTM classifier (max pooling) with random word vectors and with skip-gram vectors by notebook 03's
recipe trained on notebook 03's corpus plus the training reviews (``review_vectors``; no external vectors);
the ensemble of the last two (mean of their probabilities); and that ensemble mixed half and half with NBSVM
(``nbsvm_mixture``: count and neural models together, not a neural model), NBSVM fitted like the networks on
90 % of the training data and its scores made probabilities by Platt scaling on the other 10 %, which the
networks use for early stopping. In cross-validation the vectors are retrained for each fold on that fold's
training reviews, so no held-out review is ever seen. Prints ``name: value`` lines, last ``accuracy_test``,
``accuracy_cv_mean``, ``accuracy_cv_std`` and ``train_seconds``: the ensemble's (the best neural model).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils.data import load_rt_polarity
from course_utils.embeddings import pretrained_embedding
from course_utils.text import Vocab
from course_utils.textclass import (
    NBSVM,
    BiLSTMClassifier,
    KimCNN,
    LinearBagClassifier,
    encode_reviews,
    kfold_indices,
    ngram_matrix,
    platt_scaling,
    review_loader,
    review_vectors,
    tokenize_review,
    train_classifier,
)

Items = Sequence[tuple[str, str]]
CLASSES = ["neg", "pos"]


def count_models(train: Items, test: Items) -> dict[str, float]:
    """Test accuracy of the majority class, logistic regression and NBSVM on binary uni+bigrams."""
    X, index = ngram_matrix([tokenize_review(s) for s, _ in train], 2)
    Xt, _ = ngram_matrix([tokenize_review(s) for s, _ in test], 2, index)
    y = torch.tensor([CLASSES.index(label) for _, label in train])
    yt = torch.tensor([CLASSES.index(label) for _, label in test])
    majority = int(y.float().mean() > 0.5)
    return {
        "majority": float((yt == majority).float().mean()),
        "logreg_bigram": float((LinearBagClassifier(C=1.0).fit(X, y).predict(Xt) == yt).float().mean()),
        "nbsvm_bigram": float((NBSVM(C=1.0).fit(X, y).predict(Xt) == yt).float().mean()),
    }


def neural_models(train: Items, test: Items, *, seed: int, epochs: int, quick: bool) -> dict[str, float]:
    """Test accuracy of the CNN and BiLSTM (random and skip-gram vectors) and the ensemble, plus its seconds."""
    rng = random.Random(seed)
    shuffled = list(train)
    rng.shuffle(shuffled)
    n_val = len(shuffled) // 10
    fit_items, val_items = shuffled[n_val:], shuffled[:n_val]
    vocab = Vocab.build([tokenize_review(s) for s, _ in fit_items], specials=["<pad>", "<unk>"])
    fit_data, val_data, test_data = (encode_reviews(x, vocab, CLASSES) for x in (fit_items, val_items, test))
    V = len(vocab)
    start = time.perf_counter()
    vectors, vectors_vocab = review_vectors([s for s, _ in fit_items], seed=seed, progress=False,
                                            max_sentences=2000 if quick else None)  # fmt: skip
    vector_seconds = time.perf_counter() - start

    def with_vectors(model: torch.nn.Module) -> torch.nn.Module:
        model.embedding, _ = pretrained_embedding(vectors, vectors_vocab, vocab, freeze=False, seed=seed)
        return model

    makers: dict[str, Callable[[], torch.nn.Module]] = {
        "cnn_rand": lambda: KimCNN(V, 2, 100),
        "bilstm_rand": lambda: BiLSTMClassifier(V, 2, 100, 100),
        "cnn_vectors": lambda: with_vectors(KimCNN(V, 2, 100)),
        "bilstm_vectors": lambda: with_vectors(BiLSTMClassifier(V, 2, 100, 100)),
    }
    out: dict[str, float] = {}
    probs: dict[str, torch.Tensor] = {}
    seconds: dict[str, float] = {}
    y = torch.tensor([label for _, label in test_data])
    for name, make in makers.items():
        torch.manual_seed(seed)
        model = make()
        start = time.perf_counter()
        train_classifier(model, fit_data, val_data, epochs=epochs, patience=2, seed=seed, progress=False)
        seconds[name] = time.perf_counter() - start
        with torch.no_grad():
            probs[name] = torch.cat(
                [F.softmax(model(x, lengths), -1) for (x, lengths), _ in review_loader(test_data, 500)]
            )
        out[name] = float((probs[name].argmax(1) == y).float().mean())
    ensemble = (probs["cnn_vectors"] + probs["bilstm_vectors"]) / 2
    out["ensemble"] = float((ensemble.argmax(1) == y).float().mean())
    X, index = ngram_matrix([tokenize_review(s) for s, _ in fit_items], 2)
    Xv, _ = ngram_matrix([tokenize_review(s) for s, _ in val_items], 2, index)
    Xt, _ = ngram_matrix([tokenize_review(s) for s, _ in test], 2, index)
    nbsvm = NBSVM(C=1.0).fit(X, torch.tensor([label for _, label in fit_data]))
    a, b = platt_scaling(nbsvm.decision_function(Xv), torch.tensor([label for _, label in val_data]))
    mixture = (ensemble[:, 1] + torch.sigmoid(a * nbsvm.decision_function(Xt) + b)) / 2
    out["nbsvm_mixture"] = float(((mixture > 0.5).long() == y).float().mean())
    out["ensemble_seconds"] = vector_seconds + seconds["cnn_vectors"] + seconds["bilstm_vectors"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds (0: test split only)")
    args = parser.parse_args()
    cu.setup(seed=0)
    torch.set_num_threads(2)
    quick = cu.get_profile() == "quick"
    epochs = 1 if quick else 6  # notebook 06's setting
    splits = load_rt_polarity()
    train, test = splits.train, splits.test
    if quick:
        train, test = train[:600], test[:200]

    results = count_models(train, test) | neural_models(train, test, seed=0, epochs=epochs, quick=quick)
    for name, value in results.items():
        print(f"test_{name}: {value:.4f}" if "seconds" not in name else f"{name}: {value:.0f}", flush=True)

    cv: dict[str, list[float]] = {}
    if args.folds:
        items = train + splits.val + test if not quick else train + test
        for k, (train_idx, test_idx) in enumerate(kfold_indices([label for _, label in items], args.folds)):
            fold_train, fold_test = [items[i] for i in train_idx], [items[i] for i in test_idx]
            fold = count_models(fold_train, fold_test) | neural_models(
                fold_train, fold_test, seed=k, epochs=epochs, quick=quick
            )
            for name, value in fold.items():
                cv.setdefault(name, []).append(value)
            print(f"fold {k + 1}: " + ", ".join(f"{n} {v:.4f}" for n, v in fold.items() if "seconds" not in n),
                  flush=True)  # fmt: skip
        for name, values in cv.items():
            if "seconds" not in name:
                print(f"cv_{name}: {statistics.fmean(values):.4f} (std {statistics.stdev(values):.4f})")

    print(f"accuracy_test: {results['ensemble']:.4f}")
    if cv:
        print(f"accuracy_cv_mean: {statistics.fmean(cv['ensemble']):.4f}")
        print(f"accuracy_cv_std: {statistics.stdev(cv['ensemble']):.4f}")
    print(f"train_seconds: {results['ensemble_seconds']:.0f}")


if __name__ == "__main__":
    main()
