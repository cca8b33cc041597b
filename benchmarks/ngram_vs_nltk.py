"""Trigram Kneser-Ney on Multi30k English: course_utils.ngram against nltk.lm, side by side.

Both models get the same tokens (spaCy blank English tokenizer, lower-cased; words seen fewer than
twice in train -> <unk>) and the same n-grams: the 1..3-grams ending at each predicted token of the
sentences padded as ``<bos> <bos> w_1 .. w_m <eos>`` (nltk's own ``padded_everygram_pipeline`` would
also count the n-grams made only of padding, see tests/test_ngram.py for that difference). Both use
interpolated Kneser-Ney with discount 0.75, so the perplexities must agree to rounding.

nltk's Kneser-Ney finds a continuation count by scanning every stored context of the order above,
so it needs tens of milliseconds per token; the whole test set (14,058 tokens) would take many
minutes. nltk is therefore scored on the first ``--subset`` test sentences, and ours on the same
subset for the time ratio (and on the whole test set as well). Both fit on the whole train split.
Timed: fit (building the n-grams and counting) and perplexity; not the tokenization, done once.

Run: ``python benchmarks/ngram_vs_nltk.py [--subset 10]``; the figures come last as ``name: value``.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from nltk.lm import KneserNeyInterpolated, Vocabulary

from course_utils import ngram
from course_utils.data import load_multi30k
from course_utils.text import BOS, UNK, Vocab, get_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=10, help="test sentences scored by both (default 10)")
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--discount", type=float, default=0.75)
    args = parser.parse_args()
    n, discount = args.order, args.discount

    tokenize = get_tokenizer("spacy_en", lower=True)
    train = [tokenize(en) for _, en in load_multi30k("train")]
    test = [tokenize(en) for _, en in load_multi30k("test")]
    vocab = Vocab.build(train, min_freq=2)
    train = [[w if w in vocab else UNK for w in s] for s in train]  # the same <unk>s for both
    test = [[w if w in vocab else UNK for w in s] for s in test]
    subset = test[: args.subset]

    # ---- ours
    t0 = time.perf_counter()
    ours = ngram.KneserNey(n, discount=discount).fit(train, vocab)
    t1 = time.perf_counter()
    ppl_ours_subset = ours.perplexity(subset)
    t2 = time.perf_counter()
    ppl_ours_test = ours.perplexity(test)
    t3 = time.perf_counter()
    fit_ours, score_ours, score_ours_test = t1 - t0, t2 - t1, t3 - t2

    # ---- nltk, same n-grams
    t0 = time.perf_counter()
    theirs = KneserNeyInterpolated(n, discount=discount, vocabulary=Vocabulary([*ours.words, BOS]))
    theirs.fit(ngram.padded_ngrams(train, n))
    t1 = time.perf_counter()
    grams = [g for sent in ngram.padded_ngrams(subset, n) for g in sent if len(g) == n]
    ppl_nltk_subset = theirs.perplexity(grams)
    t2 = time.perf_counter()
    fit_nltk, score_nltk = t1 - t0, t2 - t1

    # Token by token too, on the first sentence (untimed): the largest relative difference.
    check = subset[:1]
    probs = np.exp(ours.token_logprobs(check))
    check_grams = [g for sent in ngram.padded_ngrams(check, n) for g in sent if len(g) == n]
    worst = max(abs(theirs.score(g[-1], g[:-1]) / p - 1) for g, p in zip(check_grams, probs, strict=True))

    n_subset = sum(len(s) + 1 for s in subset)
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"Kneser-Ney n={n}, D={discount}: train {ours.n_train_tokens:,} predicted tokens, V={ours.V:,}")
    print(f"nltk and ours scored on the first {len(subset)} test sentences ({n_subset} predicted tokens)")
    print(f"ours on the whole test set: {sum(len(s) + 1 for s in test):,} tokens in {score_ours_test:.3f} s")
    print()
    print(f"order: {n}")
    print(f"discount: {discount}")
    print(f"subset_sentences: {len(subset)}")
    print(f"subset_tokens: {n_subset}")
    print(f"perplexity_nltk_subset: {ppl_nltk_subset:.10f}")
    print(f"perplexity_ours_subset: {ppl_ours_subset:.10f}")
    print(f"perplexity_relative_difference: {abs(ppl_ours_subset / ppl_nltk_subset - 1):.2e}")
    print(f"max_token_prob_relative_difference: {worst:.2e}")
    print(f"perplexity_ours_test: {ppl_ours_test:.4f}")
    print(f"fit_seconds_nltk: {fit_nltk:.3f}")
    print(f"fit_seconds_ours: {fit_ours:.3f}")
    print(f"score_seconds_nltk: {score_nltk:.3f}")
    print(f"score_seconds_ours: {score_ours:.4f}")
    print(f"speed_ratio_fit: {fit_nltk / fit_ours:.1f}")
    print(f"speed_ratio_score: {score_nltk / score_ours:.1f}")
    print(f"speed_ratio_nltk_over_ours: {(fit_nltk + score_nltk) / (fit_ours + score_ours):.1f}")


if __name__ == "__main__":
    main()
