"""course_utils.hmm against hmmlearn's CategoricalHMM on the POS tagger's bigram HMM.

Both libraries get the same parameters (44 tags, ~19k words + <unk>) and the CoNLL-2000 test
sentences; we compare the forward log-likelihood and the Viterbi paths, and time them. hmmlearn
runs each algorithm once over all sentences (``lengths=...``, its C++ loops over sentences); ours
advances all sentences together (``HMM.batch_log_likelihood``, ``HMM.batch_viterbi``: NumPy over the
sentences still running and the tags at each step). The per-sentence methods are checked to agree. Run from the repository root:
``python benchmarks/hmm_vs_hmmlearn.py``. The figures are printed last as ``name: value`` lines.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from hmmlearn.hmm import CategoricalHMM

from course_utils import by_profile, get_profile
from course_utils.data import load_conll2000
from course_utils.tagger import UNK, HMMTagger


def main() -> None:
    n_test = by_profile(quick=300, full=None)
    tagger = HMMTagger(order=1).fit(load_conll2000("train"))
    hmm = tagger.to_hmm()
    test = load_conll2000("test")[:n_test]
    seqs = [hmm.encode([w for w, *_ in sent], unk=UNK) for sent in test]
    X, lengths = np.concatenate(seqs)[:, None], [len(s) for s in seqs]

    ref = CategoricalHMM(n_components=hmm.n_states, n_features=hmm.n_symbols, init_params="")
    ref.startprob_, ref.transmat_, ref.emissionprob_ = hmm.pi.copy(), hmm.A.copy(), hmm.B.copy()

    timings = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hmmlearn warns about log(0) for impossible emissions
        start = time.perf_counter()
        ours_ll = hmm.batch_log_likelihood(seqs)
        timings["ours_forward"] = time.perf_counter() - start
        start = time.perf_counter()
        ref_total = ref.score(X, lengths)
        timings["hmmlearn_forward"] = time.perf_counter() - start
        start = time.perf_counter()
        ours = hmm.batch_viterbi(seqs)
        timings["ours_viterbi"] = time.perf_counter() - start
        start = time.perf_counter()
        ref_vit_total, ref_paths = ref.decode(X, lengths, algorithm="viterbi")
        timings["hmmlearn_viterbi"] = time.perf_counter() - start
        # per-sentence reference values (not timed): one call per sentence
        ref_ll = np.array([ref.score(s[:, None]) for s in seqs])
        single_ll = np.array([hmm.log_likelihood(s) for s in seqs[:300]])
        single_paths = [hmm.viterbi(s)[0] for s in seqs[:300]]

    ours_paths = np.concatenate([p for p, _ in ours])
    ours_vit_total = sum(lp for _, lp in ours)
    offsets = np.cumsum([0, *lengths])
    same_sentence = [
        np.array_equal(ours_paths[a:b], ref_paths[a:b])
        for a, b in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    gold = np.array([tagger.tag_index[t] for sent in test for _, t, _ in sent])

    print(f"profile: {get_profile()}")
    print(f"sentences: {len(seqs)}")
    print(f"tokens: {len(X)}")
    print(f"states: {hmm.n_states}")
    print(f"symbols: {hmm.n_symbols}")
    print(f"total_loglik_ours: {ours_ll.sum():.6f}")
    print(f"total_loglik_hmmlearn: {ref_total:.6f}")
    print(f"loglik_max_abs_diff: {np.max(np.abs(ours_ll - ref_ll)):.3e}")
    print(f"batch_vs_single_loglik_max_abs_diff: {np.max(np.abs(ours_ll[:300] - single_ll)):.3e}")
    print(
        "batch_vs_single_same_paths: "
        f"{all(np.array_equal(p, q) for (p, _), q in zip(ours[:300], single_paths, strict=True))}"
    )
    print(f"viterbi_logprob_rel_diff: {abs(ours_vit_total - ref_vit_total) / abs(ref_vit_total):.3e}")
    print(f"viterbi_token_agreement: {np.mean(ours_paths == ref_paths):.6f}")
    print(f"viterbi_sentence_agreement: {np.mean(same_sentence):.6f}")
    print(f"plain_bigram_hmm_accuracy: {np.mean(ours_paths == gold):.4f}")
    for name, seconds in timings.items():
        print(f"{name}_seconds: {seconds:.3f}")
    print(
        f"forward_time_ratio_ours_over_hmmlearn: {timings['ours_forward'] / timings['hmmlearn_forward']:.2f}"
    )
    print(
        f"viterbi_time_ratio_ours_over_hmmlearn: {timings['ours_viterbi'] / timings['hmmlearn_viterbi']:.2f}"
    )


if __name__ == "__main__":
    main()
