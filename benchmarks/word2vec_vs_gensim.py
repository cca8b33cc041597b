"""Our skip-gram and fastText against gensim's, on notebook 03's corpus and hyperparameters, 2 threads each.

    .venv/bin/python benchmarks/word2vec_vs_gensim.py              # notebook 03's recipe, 3 seeds
    .venv/bin/python benchmarks/word2vec_vs_gensim.py --seeds 1
    COURSE_PROFILE=quick .venv/bin/python benchmarks/word2vec_vs_gensim.py   # a tiny run, seconds

The corpus is the Wikipedia sample plus Multi30k's English training captions (``load_embedding_corpus``);
the hyperparameters are ``course_utils.embeddings.WORD2VEC`` for both (ours in batches of 1,024 pairs; skip-gram
with blocks of 16 pairs sharing their noise words, ``train_word2vec``'s default, fastText with every pair's own
noise words; gensim one pair at a time). Scores: Spearman's rho on WordSim-353
and SimLex-999 over the pairs whose words are in the vocabulary, and 3CosAdd accuracy on the analogy questions
whose four words are (the same evaluation code scores both). Figures are means over the seeds; the spread
(min-max) is printed above them. Prints ``name: value`` lines, last: ``spearman_wordsim_ours``,
``spearman_wordsim_gensim``, the same for SimLex, ``analogy_ours``, ``analogy_gensim``,
``words_per_second_ours``, ``words_per_second_gensim`` (skip-gram).
"""

from __future__ import annotations

import argparse
import statistics

import torch

import course_utils as cu
from course_utils.embeddings import (
    WORD2VEC,
    FastText,
    SkipGram,
    build_vocab,
    encode_corpus,
    evaluate_embeddings,
    load_embedding_corpus,
    train_gensim,
    train_word2vec,
)


def scores(vectors: torch.Tensor, vocab) -> dict[str, float]:
    e = evaluate_embeddings(vectors, vocab)
    return {"wordsim": e["wordsim353"], "simlex": e["simlex999"], "analogy": e["analogy_add"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    cu.setup(seed=0)
    torch.set_num_threads(2)
    hp = dict(WORD2VEC)
    corpus = load_embedding_corpus(**cu.by_profile(quick=dict(max_sentences=2000), full={}))
    if cu.get_profile() == "quick":
        hp.update(dim=16, epochs=1, min_count=3, buckets=5000)
    vocab = build_vocab(corpus, hp["min_count"])
    text = encode_corpus(corpus, vocab)
    print(f"corpus: {len(text):,} tokens, vocabulary {len(vocab):,}; hyperparameters {hp}", flush=True)
    train_hp = {k: hp[k] for k in ("epochs", "window", "negative", "sample", "alpha", "min_alpha")}

    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for seed in range(args.seeds):
        for kind in ("skipgram", "fasttext"):
            torch.manual_seed(seed)
            if kind == "skipgram":
                model = SkipGram(len(vocab), hp["dim"])
            else:
                model = FastText(
                    vocab, hp["dim"], min_n=hp["min_n"], max_n=hp["max_n"], buckets=hp["buckets"]
                )
            # fastText: every pair its own noise words (as gensim); skip-gram: blocks of 16 pairs share them
            share = 1 if kind == "fasttext" else 16
            stats = train_word2vec(model, text, **train_hp, share_negatives=share, seed=seed, progress=False)
            ours = scores(model.word_vectors(), vocab) | {
                "wps": stats.words_per_second,
                "seconds": stats.seconds,
            }
            vectors, gstats = train_gensim(kind, corpus, vocab, **hp, seed=seed, workers=2)
            peer = scores(vectors, vocab) | {"wps": gstats.words_per_second, "seconds": gstats.seconds}
            results.setdefault((kind, "ours"), []).append(ours)
            results.setdefault((kind, "gensim"), []).append(peer)
            print(f"seed {seed} {kind}: ours {ours}\n             gensim {peer}", flush=True)

    mean: dict[tuple[str, str, str], float] = {}
    for (kind, who), runs in results.items():
        for key in runs[0]:
            values = [r[key] for r in runs]
            mean[kind, who, key] = statistics.fmean(values)
            print(f"{kind}_{key}_{who}_range: {min(values):.4g} .. {max(values):.4g}")
    for who in ("ours", "gensim"):
        print(f"spearman_wordsim_fasttext_{who}: {mean['fasttext', who, 'wordsim']:.4f}")
        print(f"spearman_simlex_fasttext_{who}: {mean['fasttext', who, 'simlex']:.4f}")
        print(f"words_per_second_fasttext_{who}: {mean['fasttext', who, 'wps']:.0f}")
    for key, name in (("wordsim", "spearman_wordsim"), ("simlex", "spearman_simlex"), ("analogy", "analogy")):
        for who in ("ours", "gensim"):
            print(f"{name}_{who}: {mean['skipgram', who, key]:.4f}")
    for who in ("ours", "gensim"):
        print(f"words_per_second_{who}: {mean['skipgram', who, 'wps']:.0f}")


if __name__ == "__main__":
    main()
