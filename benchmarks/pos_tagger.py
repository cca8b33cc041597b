"""Train the HMM part-of-speech tagger (notebook 01) and the BiLSTM tagger (notebook 06) on CoNLL-2000 and
report held-out accuracy.

Run from the repository root: ``python benchmarks/pos_tagger.py`` (full profile: train 8,936
sentences, test 2,012; ``COURSE_PROFILE=quick`` uses slices and a one-epoch BiLSTM). The figures are printed
last as ``name: value`` lines: the BiLSTM's ``bilstm_accuracy``, ``bilstm_known``, ``bilstm_unknown`` and
``bilstm_train_seconds``, then the HMM's, ending with ``accuracy``, ``known`` and ``unknown``.
"""

from __future__ import annotations

import time
from collections import Counter

import torch

from course_utils import by_profile, get_profile
from course_utils.data import load_conll2000
from course_utils.seqlabel import evaluate_tagger, train_bilstm_tagger
from course_utils.tagger import HMMTagger, MostFrequentTagger


def main() -> None:
    n_train, n_test = by_profile(quick=(1500, 300), full=(None, None))
    train = load_conll2000("train")[:n_train]
    test = load_conll2000("test")[:n_test]

    baseline = MostFrequentTagger().fit(train).evaluate(test)
    bigram = HMMTagger(order=1).fit(train).evaluate(test)

    start = time.perf_counter()
    tagger = HMMTagger(order=2).fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pred = tagger.predict(test)
    tag_s = time.perf_counter() - start
    scores = tagger.evaluate(test)

    confusions = Counter(
        (gold, guess)
        for sent, tags in zip(test, pred, strict=True)
        for (_, gold, _), guess in zip(sent, tags, strict=True)
        if gold != guess
    )
    print("most frequent confusions (gold -> predicted: count):")
    for (gold, guess), n in confusions.most_common(8):
        print(f"  {gold:>5} -> {guess:<5} {n}")
    torch.set_num_threads(2)
    start = time.perf_counter()
    bilstm, _ = train_bilstm_tagger(train, epochs=by_profile(quick=1, full=12), progress=False)
    bilstm_s = time.perf_counter() - start
    bilstm_scores = evaluate_tagger(bilstm, test)

    print(f"profile: {get_profile()}")
    print(f"train_sentences: {len(train)}")
    print(f"test_tokens: {scores.n_tokens}")
    print(f"unknown_tokens: {scores.n_unknown}")
    print(f"baseline_accuracy: {baseline.accuracy:.4f}")
    print(f"bigram_accuracy: {bigram.accuracy:.4f}")
    print(f"bilstm_accuracy: {bilstm_scores.accuracy:.4f}")
    print(f"bilstm_known: {bilstm_scores.known:.4f}")
    print(f"bilstm_unknown: {bilstm_scores.unknown:.4f}")
    print(f"bilstm_train_seconds: {bilstm_s:.0f}")
    print(f"fit_seconds: {fit_s:.2f}")
    print(f"tag_seconds: {tag_s:.2f}")
    print(f"accuracy: {scores.accuracy:.4f}")
    print(f"known: {scores.known:.4f}")
    print(f"unknown: {scores.unknown:.4f}")


if __name__ == "__main__":
    main()
