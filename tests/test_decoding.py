"""The decoding interface: greedy search, beam search (against exhaustive search), sampling, select_state."""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import pytest
import torch
from torch import Tensor

from course_utils.decoding import (
    LENGTH_PENALTIES,
    Decoder,
    Hypothesis,
    beam_search,
    filter_logits,
    greedy_decode,
    sample,
    select_state,
)

WORDS, BOS, EOS, V = 4, 4, 5, 6  # ids 0..3 are words, then <bos> and <eos>
NEG = float("-inf")
SOURCES = 5


# ----------------------------------------------------------------------------------------------------
# Toy models


class ToyState(NamedTuple):
    source: Tensor  # (B,) which table the sentence uses
    pos: Tensor  # (B,) position of the next token
    prev2: Tensor  # (B,) the token before the previous one (BOS at first): lives only in the state
    extra: dict  # {"memory": (B, S), "steps": int} a nested part, like an encoder's outputs


class ToyModel:
    """Next-token log-probabilities from a fixed random table indexed by (source, position, token before
    the previous one, previous token). The previous-but-one token is carried only in the state, so a
    beam search that reorders the state wrongly extends hypotheses with the wrong distribution."""

    def __init__(self, seed: int = 0, scale: float = 1.5, max_pos: int = 6) -> None:
        g = torch.Generator().manual_seed(seed)
        logits = torch.randn(SOURCES, max_pos, V, V, V, generator=g) * scale
        logits[..., BOS] = NEG  # <bos> is never emitted
        self.table = torch.log_softmax(logits, dim=-1)  # (sources, positions, prev2, prev, next)
        self.max_pos = max_pos
        self.rows: list[int] = []  # rows of every step call

    def start(self, src: Tensor, src_len: Tensor) -> ToyState:
        assert src.dim() == 2 and src_len.shape == (src.shape[0],)
        B = src.shape[0]
        zeros = torch.zeros(B, dtype=torch.long)
        return ToyState(src[:, 0].clone(), zeros, torch.full((B,), BOS), {"memory": src.clone(), "steps": 0})

    def step(self, tokens: Tensor, state: ToyState) -> tuple[Tensor, ToyState]:
        assert tokens.dtype == torch.long and tokens.shape == state.source.shape
        assert torch.equal(state.extra["memory"][:, 0], state.source)  # the nested part was reordered too
        self.rows.append(tokens.shape[0])
        pos = state.pos.clamp(max=self.max_pos - 1)
        logp = self.table[state.source, pos, state.prev2, tokens]  # (B, V)
        extra = {"memory": state.extra["memory"], "steps": state.extra["steps"] + 1}
        return logp, ToyState(state.source, state.pos + 1, tokens.clone(), extra)


def toy_inputs(sources: list[int]) -> tuple[Tensor, Tensor]:
    src = torch.tensor([[s, 7, 8] for s in sources])  # (B, S); only column 0 matters to the toy
    return src, torch.full((len(sources),), 3)


class Prefixes:
    """A state that is no tensor: the tokens fed so far, one list per row, with its own select()."""

    def __init__(self, rows: list[list[int]]) -> None:
        self.rows = rows

    def select(self, index: Tensor) -> Prefixes:
        return Prefixes([self.rows[i] for i in index.tolist()])


class PrefixModel:
    """P(next | tokens emitted so far) = probs_of(prefix), a hand-written function (bos excluded)."""

    def __init__(self, probs_of) -> None:
        self.probs_of = probs_of
        self.rows: list[int] = []

    def start(self, src: Tensor) -> Prefixes:
        return Prefixes([[] for _ in range(src.shape[0])])

    def step(self, tokens: Tensor, state: Prefixes) -> tuple[Tensor, Prefixes]:
        self.rows.append(tokens.shape[0])
        rows = [r + [t] for r, t in zip(state.rows, tokens.tolist(), strict=True)]
        probs = torch.tensor([self.probs_of(tuple(r[1:])) for r in rows], dtype=torch.float64)
        return probs.log().float(), Prefixes(rows)


def one_hot(token: int) -> list[float]:
    return [1.0 if i == token else 0.0 for i in range(V)]


ALWAYS_EOS = PrefixModel(lambda prefix: one_hot(EOS))
NEVER_EOS = PrefixModel(lambda prefix: [0.4, 0.3, 0.2, 0.1, 0.0, 0.0])
TIES = PrefixModel(lambda prefix: [0.2, 0.2, 0.2, 0.2, 0.0, 0.2] if len(prefix) < 3 else [0.1] * 4 + [0, 0.6])
ONE = (torch.zeros(1, 1, dtype=torch.long),)


# ----------------------------------------------------------------------------------------------------
# Exhaustive search: every sequence of at most max_len tokens ending in eos, and the unfinished ones of max_len


def score(log_prob: float, length: int, penalty: str, alpha: float) -> float:
    if penalty == "none":
        return log_prob
    if penalty == "average":
        return log_prob / length
    return log_prob / ((5 + length) / 6) ** alpha


def exhaustive(model: ToyModel, source: int, max_len: int, penalty: str, alpha: float) -> list[tuple]:
    """(tokens, log_prob, score, finished) of every possible output, best first."""
    out = []

    def walk(state, token: int, prefix: list[int], lp: float) -> None:
        logp, new = model.step(torch.tensor([token]), state)
        for w, x in enumerate(logp[0].tolist()):
            if x == NEG:
                continue
            if w == EOS:
                out.append((prefix, lp + x, score(lp + x, len(prefix) + 1, penalty, alpha), True))
            elif len(prefix) + 1 == max_len:
                out.append((prefix + [w], lp + x, score(lp + x, max_len, penalty, alpha), False))
            else:
                walk(new, w, prefix + [w], lp + x)

    walk(model.start(*toy_inputs([source])), BOS, [], 0.0)
    return sorted(out, key=lambda h: -h[2])


def log_prob_of(model: ToyModel, source: int, tokens: list[int], finished: bool) -> float:
    """log P(tokens [+ eos]) by feeding them one at a time."""
    state, prev, total = model.start(*toy_inputs([source])), BOS, 0.0
    for w in tokens + ([EOS] if finished else []):
        logp, state = model.step(torch.tensor([prev]), state)
        total, prev = total + float(logp[0, w]), w
    return total


# ----------------------------------------------------------------------------------------------------
# Beam search


@pytest.mark.parametrize("penalty", LENGTH_PENALTIES)
def test_beam_search_with_a_wide_beam_is_exhaustive_search(penalty: str) -> None:
    model, max_len, alpha = ToyModel(), 4, 1.5
    sources = list(range(SOURCES))
    every = [exhaustive(model, s, max_len, penalty, alpha) for s in sources]
    n_sequences = len(every[0])
    assert n_sequences == 1 + 4 + 16 + 64 + 256  # ends in eos after 0..3 words, or 4 words
    model.rows.clear()
    got = beam_search(
        model, toy_inputs(sources), bos=BOS, eos=EOS, beam_size=n_sequences, max_len=max_len,
        length_penalty=penalty, alpha=alpha, n_best=12,
    )  # fmt: skip
    assert model.rows[0] == len(sources)  # one live beam per sentence at the first step
    assert len(model.rows) == max_len and max(model.rows) <= len(sources) * n_sequences
    for hyps, best in zip(got, every, strict=True):
        assert [(h.tokens, h.finished) for h in hyps] == [(b[0], b[3]) for b in best[:12]]
        assert [h.log_prob for h in hyps] == pytest.approx([b[1] for b in best[:12]], abs=1e-9)
        assert [h.score for h in hyps] == pytest.approx([b[2] for b in best[:12]], abs=1e-9)


def test_the_exhaustive_check_can_tell_the_length_penalties_apart() -> None:
    """The three modes have different optima on the toy model (alpha = 1.5), so the test above checks
    each one, and unfinished hypotheses are among the best."""
    model = ToyModel()
    optima = [
        [tuple(exhaustive(model, s, 4, p, 1.5)[0][0]) for s in range(SOURCES)] for p in LENGTH_PENALTIES
    ]
    assert optima[0] != optima[1] and optima[0] != optima[2] and optima[1] != optima[2]
    assert any(not h[3] for p in LENGTH_PENALTIES for h in exhaustive(model, 1, 4, p, 1.5)[:12])


@pytest.mark.parametrize("penalty", LENGTH_PENALTIES)
@pytest.mark.parametrize("beam_size", [2, 3, 5])
def test_pruned_beams_are_scored_with_their_own_history(penalty: str, beam_size: int) -> None:
    """With pruning, every hypothesis's log_prob is that of its own tokens (the state was reordered
    along with the beams), its score follows the penalty, and the n best are distinct and sorted."""
    model = ToyModel(seed=3)
    got = beam_search(
        model, toy_inputs([0, 1, 2, 3, 4, 2]), bos=BOS, eos=EOS, beam_size=beam_size, max_len=6,
        length_penalty=penalty, alpha=0.6, n_best=beam_size,
    )  # fmt: skip
    for source, hyps in zip([0, 1, 2, 3, 4, 2], got, strict=True):
        assert 1 <= len(hyps) <= beam_size
        assert len({tuple(h.tokens) for h in hyps}) == len(hyps)
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        for h in hyps:
            assert isinstance(h, Hypothesis) and all(0 <= w < WORDS for w in h.tokens)
            assert len(h.tokens) <= 6 and (h.finished or len(h.tokens) == 6)
            assert h.log_prob == pytest.approx(log_prob_of(model, source, h.tokens, h.finished), abs=1e-6)
            length = len(h.tokens) + h.finished
            assert h.score == pytest.approx(score(h.log_prob, length, penalty, 0.6), abs=1e-9)


@pytest.mark.parametrize("penalty", LENGTH_PENALTIES)
def test_beam_size_one_is_greedy_search(penalty: str) -> None:
    model, inputs = ToyModel(seed=1), toy_inputs([0, 1, 2, 3, 4, 0, 1])
    greedy, logps = greedy_decode(model, inputs, bos=BOS, eos=EOS, max_len=6, return_log_probs=True)
    beams = beam_search(model, inputs, bos=BOS, eos=EOS, beam_size=1, max_len=6, length_penalty=penalty)
    assert [h[0].tokens for h in beams] == greedy
    assert len({len(g) for g in greedy}) > 1  # sentences of different lengths, some cut at max_len
    for (h,), ids, lps in zip(beams, greedy, logps, strict=True):
        assert h.finished == (len(lps) == len(ids) + 1)
        assert h.log_prob == pytest.approx(sum(lps), abs=1e-9)
    # ties: greedy takes the lowest id, and so must beam search with one beam
    assert greedy_decode(TIES, ONE, bos=BOS, eos=EOS, max_len=5) == [[0, 0, 0]]
    (tied,) = beam_search(TIES, ONE, bos=BOS, eos=EOS, beam_size=1, max_len=5, length_penalty=penalty)[0]
    assert tied.tokens == [0, 0, 0]


def test_batched_beam_search_equals_one_sentence_at_a_time() -> None:
    model, sources = ToyModel(seed=2), [3, 0, 4, 1, 1]
    for penalty in LENGTH_PENALTIES:
        kw = dict(bos=BOS, eos=EOS, beam_size=3, max_len=6, length_penalty=penalty, n_best=3)
        batched = beam_search(model, toy_inputs(sources), **kw)
        alone = [beam_search(model, toy_inputs([s]), **kw)[0] for s in sources]
        assert [[(h.tokens, h.finished) for h in hs] for hs in batched] == [
            [(h.tokens, h.finished) for h in hs] for hs in alone
        ]
        for b, a in zip(batched, alone, strict=True):
            assert [h.score for h in b] == pytest.approx([h.score for h in a], abs=1e-9)


def _stopping_model() -> PrefixModel:
    table = {
        (): [0.06, 0.03, 0.01, 0.0, 0.0, 0.90],  # eos at once is the best start
        (0,): [0.95, 0.02, 0.0, 0.0, 0.0, 0.03],  # "0 0" ...
        (1,): [0.01, 0.0, 0.0, 0.0, 0.0, 0.99],  # "1 eos" finishes second
        (0, 0): [0.01, 0.0, 0.0, 0.0, 0.0, 0.99],  # ... "0 0 eos" beats "1 eos" one step later
    }
    return PrefixModel(lambda prefix: table.get(prefix, [0.2, 0.2, 0.2, 0.2, 0.0, 0.2]))


def test_the_stopping_rule() -> None:
    """After step 2 there are K = 2 finished hypotheses ([], [1]) but the live "0 0" (log P -2.86) can
    still beat "1 eos" (-3.52): "none" goes on and finds "0 0 eos" at step 3, then stops since no live
    beam can beat it. The length-normalised modes stop as soon as K hypotheses have finished."""
    model = _stopping_model()
    none = beam_search(model, ONE, bos=BOS, eos=EOS, beam_size=2, max_len=10, n_best=2)[0]
    assert [h.tokens for h in none] == [[], [0, 0]] and len(model.rows) == 3
    assert none[1].log_prob == pytest.approx(math.log(0.06 * 0.95 * 0.99))
    for penalty in ("average", "gnmt"):
        model.rows.clear()
        hyps = beam_search(
            model, ONE, bos=BOS, eos=EOS, beam_size=2, max_len=10, length_penalty=penalty, n_best=2
        )
        assert [h.tokens for h in hyps[0]] == [[], [1]] and model.rows == [1, 2]


def test_a_model_that_always_emits_eos_gives_empty_outputs() -> None:
    inputs = (torch.zeros(3, 2, dtype=torch.long),)
    assert greedy_decode(ALWAYS_EOS, inputs, bos=BOS, eos=EOS, max_len=5) == [[], [], []]
    assert sample(ALWAYS_EOS, inputs, bos=BOS, eos=EOS, max_len=5) == [[], [], []]
    ALWAYS_EOS.rows.clear()
    hyps = beam_search(ALWAYS_EOS, inputs, bos=BOS, eos=EOS, beam_size=3, max_len=5, n_best=3)
    assert hyps == [[Hypothesis([], 0.0, 0.0, True)]] * 3  # the only possible output
    assert ALWAYS_EOS.rows == [3]


def test_a_model_that_never_emits_eos_stops_at_max_len() -> None:
    inputs = (torch.zeros(2, 1, dtype=torch.long),)
    assert greedy_decode(NEVER_EOS, inputs, bos=BOS, eos=EOS, max_len=4) == [[0, 0, 0, 0]] * 2
    drawn = sample(NEVER_EOS, inputs, bos=BOS, eos=EOS, max_len=4, generator=torch.Generator().manual_seed(0))
    assert [len(d) for d in drawn] == [4, 4]
    NEVER_EOS.rows.clear()
    hyps = beam_search(NEVER_EOS, inputs, bos=BOS, eos=EOS, beam_size=3, max_len=4, n_best=3)
    assert NEVER_EOS.rows == [2, 6, 6, 6]
    for hs in hyps:
        assert [h.tokens for h in hs] == [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
        assert not any(h.finished for h in hs)
        assert hs[0].log_prob == pytest.approx(4 * math.log(0.4))


def test_bos_may_be_a_tensor_of_first_tokens() -> None:
    """A language model continues each prompt from its last token."""
    model, sources, first = ToyModel(seed=4), [0, 1, 2], torch.tensor([2, 0, 3])
    batched = greedy_decode(model, toy_inputs(sources), bos=first, eos=EOS, max_len=6)
    alone = [
        greedy_decode(model, toy_inputs([s]), bos=int(f), eos=EOS, max_len=6)[0]
        for s, f in zip(sources, first, strict=True)
    ]
    assert batched == alone
    assert batched != greedy_decode(model, toy_inputs(sources), bos=BOS, eos=EOS, max_len=6)
    beams = beam_search(model, toy_inputs(sources), bos=first, eos=EOS, beam_size=2, max_len=6)
    for s, f, (h,) in zip(sources, first.tolist(), beams, strict=True):
        assert (
            h.tokens
            == beam_search(model, toy_inputs([s]), bos=f, eos=EOS, beam_size=2, max_len=6)[0][0].tokens
        )


def test_the_decoder_protocol() -> None:
    assert isinstance(ToyModel(), Decoder) and isinstance(ALWAYS_EOS, Decoder)
    assert not isinstance(object(), Decoder)


# ----------------------------------------------------------------------------------------------------
# Greedy decoding


def test_greedy_decode_follows_the_argmax_and_stops_early() -> None:
    model, sources = ToyModel(seed=5), [0, 1, 2, 3, 4]
    got, logps = greedy_decode(model, toy_inputs(sources), bos=BOS, eos=EOS, max_len=6, return_log_probs=True)
    for s, ids, lps in zip(sources, got, logps, strict=True):
        state, prev, expected = model.start(*toy_inputs([s])), BOS, []
        for _ in range(6):
            logp, state = model.step(torch.tensor([prev]), state)
            prev = int(logp[0].argmax())
            expected.append(float(logp[0, prev]))
            if prev == EOS:
                break
        assert lps == expected and len(ids) == len(expected) - (prev == EOS)
    assert got == [greedy_decode(model, toy_inputs([s]), bos=BOS, eos=EOS, max_len=6)[0] for s in sources]
    ALWAYS_EOS.rows.clear()
    greedy_decode(ALWAYS_EOS, ONE, bos=BOS, eos=EOS, max_len=9)
    assert ALWAYS_EOS.rows == [1]  # stops as soon as every sequence has finished
    ending = [(s, ids) for s, ids, lps in zip(sources, got, logps, strict=True) if len(lps) == len(ids) + 1]
    assert len(ending) >= 2 and len({len(ids) for _, ids in ending}) >= 2
    model.rows.clear()
    assert greedy_decode(model, toy_inputs([s for s, _ in ending]), bos=BOS, eos=EOS, max_len=30) == [
        ids for _, ids in ending
    ]
    assert len(model.rows) == max(len(ids) for _, ids in ending) + 1
    short = greedy_decode(model, toy_inputs(sources), bos=BOS, eos=EOS, max_len=2)
    assert all(len(ids) <= 2 for ids in short) and short == [ids[:2] for ids in got]


# ----------------------------------------------------------------------------------------------------
# Sampling


def reference_probs(
    logp: list[float], temperature: float, top_k: int | None, top_p: float | None
) -> list[float]:
    """The sampling distribution, written out plainly."""
    top = max(logp)
    p = [math.exp((x - top) / temperature) if x > NEG else 0.0 for x in logp]
    order = sorted(range(len(p)), key=lambda i: (-p[i], i))
    keep = order[: top_k or len(p)]
    total = sum(p[i] for i in keep)
    if top_p is not None:
        mass, nucleus = 0.0, []
        for i in keep:
            nucleus.append(i)
            mass += p[i] / total
            if mass >= top_p:
                break
        keep = nucleus
    total = sum(p[i] for i in keep)
    return [p[i] / total if i in keep else 0.0 for i in range(len(p))]


def expected_outputs(model: ToyModel, source: int, **kw) -> dict[tuple[int, ...], float]:
    """P(output) of every output of at most 2 tokens under the sampling distribution."""
    t = model.table[source]
    out = {}
    for w, p1 in enumerate(reference_probs(t[0, BOS, BOS].tolist(), **kw)):
        if w == EOS:
            out[()] = p1
        elif p1 > 0:
            for w2, p2 in enumerate(reference_probs(t[1, BOS, w].tolist(), **kw)):
                out[(w,) if w2 == EOS else (w, w2)] = p1 * p2
    return out


def chi_square(counts: Counter, expected: dict, n: int) -> tuple[float, int]:
    assert all(expected.get(k, 0.0) > 0 for k in counts), "sampled a token outside the allowed set"
    cells = [p for p in expected.values() if p > 0]
    stat = sum((counts.get(k, 0) - n * p) ** 2 / (n * p) for k, p in expected.items() if p > 0)
    return stat, len(cells) - 1


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"), [(1.0, None, None), (0.6, 3, None), (1.4, None, 0.9), (0.8, 4, 0.9)]
)
def test_sample_frequencies_follow_the_filtered_distribution(temperature, top_k, top_p) -> None:
    model, n, source = ToyModel(seed=6), 20_000, 0
    g = torch.Generator().manual_seed(123)
    drawn = sample(
        model, toy_inputs([source] * n), bos=BOS, eos=EOS, max_len=2, temperature=temperature,
        top_k=top_k, top_p=top_p, generator=g,
    )  # fmt: skip
    counts = Counter(tuple(d) for d in drawn)
    expected = expected_outputs(model, source, temperature=temperature, top_k=top_k, top_p=top_p)
    assert sum(expected.values()) == pytest.approx(1.0)
    stat, df = chi_square(counts, expected, n)
    assert df >= 5  # enough outputs for the test to mean something
    assert stat < df + 5 * math.sqrt(2 * df), (stat, df)
    # the check has teeth: the unfiltered distribution at temperature 1 is rejected
    if (temperature, top_k, top_p) != (1.0, None, None):
        plain = expected_outputs(model, source, temperature=1.0, top_k=None, top_p=None)
        wrong = sum((counts.get(k, 0) - n * p) ** 2 / (n * p) for k, p in plain.items() if p > 0)
        assert wrong > 10 * (df + 5 * math.sqrt(2 * df))


def test_sample_is_reproducible_and_its_greedy_limits_are_greedy() -> None:
    model, sources = ToyModel(seed=7), [0, 1, 2, 3, 4, 0]
    inputs = toy_inputs(sources)

    def draw(seed: int, **kw) -> list[list[int]]:
        return sample(
            model, inputs, bos=BOS, eos=EOS, max_len=6, generator=torch.Generator().manual_seed(seed), **kw
        )

    assert draw(0) == draw(0) and draw(0) != draw(1)
    greedy = greedy_decode(model, inputs, bos=BOS, eos=EOS, max_len=6)
    assert draw(0, temperature=0.0) == greedy == draw(5, top_k=1) == draw(5, top_p=1e-9)
    assert draw(0, temperature=0, top_k=3, top_p=0.5) == greedy
    # one sentence at a time: same outputs in the greedy limits; with a seed, alone == alone
    for s, ids in zip(sources, greedy, strict=True):
        one = toy_inputs([s])
        assert sample(model, one, bos=BOS, eos=EOS, max_len=6, top_k=1) == [ids]
        g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
        assert sample(model, one, bos=BOS, eos=EOS, max_len=6, generator=g1) == sample(
            model, one, bos=BOS, eos=EOS, max_len=6, generator=g2
        )
    # rows of a batch are independent draws: the same sentence twice need not agree
    twins = sample(
        model, toy_inputs([1] * 50), bos=BOS, eos=EOS, max_len=6, generator=torch.Generator().manual_seed(0)
    )
    assert len({tuple(t) for t in twins}) > 1


# ----------------------------------------------------------------------------------------------------
# filter_logits


def kept(logits: Tensor) -> list[list[int]]:
    return [torch.nonzero(row > NEG).flatten().tolist() for row in logits]


def test_filter_logits_top_k_keeps_exactly_k() -> None:
    logits = torch.tensor([[1.0, 3.0, 2.0, 2.0, 2.0, 0.0], [0.5, 0.1, 0.9, -1.0, 4.0, 0.2]])
    assert kept(filter_logits(logits, top_k=1)) == [[1], [4]]
    assert kept(filter_logits(logits, top_k=2)) == [[1, 2], [2, 4]]  # ties: the lowest ids
    assert kept(filter_logits(logits, top_k=3)) == [[1, 2, 3], [0, 2, 4]]
    assert kept(filter_logits(logits, top_k=6)) == [list(range(6))] * 2
    out = filter_logits(logits, top_k=3)
    assert torch.equal(out[out > NEG], logits[out > NEG])  # kept logits are unchanged
    assert out is not logits and logits.isfinite().all()  # the input is not modified
    for k in range(1, 7):
        assert (filter_logits(torch.randn(20, 6), top_k=k) > NEG).sum(-1).tolist() == [k] * 20
        assert (filter_logits(torch.zeros(3, 6), top_k=k) > NEG).sum(-1).tolist() == [k] * 3


def test_filter_logits_top_p_keeps_the_minimal_nucleus() -> None:
    probs = torch.tensor([[0.1, 0.4, 0.2, 0.3]])
    logits = probs.log()
    assert kept(filter_logits(logits, top_p=0.05)) == [[1]]  # at least one token
    assert kept(filter_logits(logits, top_p=0.4)) == [[1]]
    assert kept(filter_logits(logits, top_p=0.41)) == [[1, 3]]
    assert kept(filter_logits(logits, top_p=0.7)) == [[1, 3]]  # 0.4 + 0.3 reaches 0.7
    rounded = torch.tensor(
        [[0.01, 0.11, 0.88], [0.01, 0.71, 0.28]]
    ).log()  # softmax gives 0.87999.. and 0.70999..
    assert kept(filter_logits(rounded, top_p=0.88)) == [[2], [1, 2]]
    assert kept(filter_logits(rounded, top_p=0.71)) == [[2], [1]]
    assert kept(filter_logits(logits, top_p=0.71)) == [[1, 2, 3]]
    assert kept(filter_logits(logits, top_p=0.9)) == [[1, 2, 3]]
    assert kept(filter_logits(logits, top_p=0.95)) == [[0, 1, 2, 3]]
    assert kept(filter_logits(logits, top_p=1.0)) == [[0, 1, 2, 3]]
    assert kept(filter_logits(logits + 7.0, top_p=0.7)) == [[1, 3]]  # logits, not log-probabilities
    ties = torch.zeros(2, 4)
    assert kept(filter_logits(ties, top_p=0.5)) == [[0, 1], [0, 1]]
    assert kept(filter_logits(ties, top_p=0.51)) == [[0, 1, 2]] * 2
    assert kept(filter_logits(ties, top_p=1)) == [[0, 1, 2, 3]] * 2
    tiny = torch.tensor([[0.0, -30.0, -40.0, -50.0]])  # p = 1 keeps even negligible tokens
    assert kept(filter_logits(tiny, top_p=1.0)) == [[0, 1, 2, 3]]
    both = filter_logits(logits, top_k=2, top_p=0.6)  # top-p over the renormalised top-2: 0.57, 0.43
    assert kept(both) == [[1, 3]] and kept(filter_logits(logits, top_k=2, top_p=0.5)) == [[1]]
    rows = torch.tensor([[0.1, 0.4, 0.2, 0.3], [0.7, 0.1, 0.1, 0.1]]).log()
    assert kept(filter_logits(rows, top_p=0.6)) == [[1, 3], [0]]  # each row its own nucleus


# ----------------------------------------------------------------------------------------------------
# select_state


class Cache:
    def __init__(self, rows: list[str]) -> None:
        self.rows = rows

    def select(self, index: Tensor) -> Cache:
        return Cache([self.rows[i] for i in index.tolist()])


class Pair(NamedTuple):
    h: Tensor
    c: Tensor | None


@dataclass(frozen=True)
class KV:
    keys: Tensor
    length: int


def test_select_state_on_nested_structures() -> None:
    h = torch.arange(12.0).view(3, 4)
    index = torch.tensor([2, 2, 0])
    assert select_state(None, index) is None
    assert torch.equal(select_state(h, index), h[[2, 2, 0]])
    state = {
        "pair": Pair(h, None),
        "layers": [h[:, :2], (h[:, 0], 7)],
        "cache": Cache(["a", "b", "c"]),
        "kv": KV(h.view(3, 2, 2), length=5),
        "name": "attention",
    }
    picked = select_state(state, index)
    assert type(picked["pair"]) is Pair and picked["pair"].c is None
    assert torch.equal(picked["pair"].h, h[[2, 2, 0]])
    assert isinstance(picked["layers"], list) and isinstance(picked["layers"][1], tuple)
    assert torch.equal(picked["layers"][0], h[[2, 2, 0], :2]) and picked["layers"][1][1] == 7
    assert torch.equal(picked["layers"][1][0], torch.tensor([8.0, 8.0, 0.0]))
    assert picked["cache"].rows == ["c", "c", "a"]
    assert type(picked["kv"]) is KV and picked["kv"].length == 5
    assert torch.equal(picked["kv"].keys, h.view(3, 2, 2)[[2, 2, 0]])
    assert picked["name"] == "attention"
    assert torch.equal(state["pair"].h, torch.arange(12.0).view(3, 4))  # the input is untouched
    ordered = select_state(OrderedDict(a=h), torch.tensor([1]))
    assert type(ordered) is OrderedDict and torch.equal(ordered["a"], h[[1]])
    dd = select_state(defaultdict(list, a=h), torch.tensor([0]))
    assert type(dd) is defaultdict and dd["missing"] == []
    assert select_state((), index) == () and select_state([], index) == []
    assert torch.equal(select_state((h,), torch.tensor([], dtype=torch.long))[0], h[:0])


def test_select_state_errors() -> None:
    with pytest.raises(ValueError, match="batch first"):
        select_state({"step": torch.tensor(3)}, torch.tensor([0]))
    with pytest.raises(TypeError, match=r"state\['f'\].*select\(index\)"):
        select_state({"f": object()}, torch.tensor([0]))
    with pytest.raises(ValueError, match="1-D tensor"):
        select_state(torch.zeros(3), torch.tensor([0.0]))
    with pytest.raises(ValueError, match="1-D tensor"):
        select_state(torch.zeros(3), [0, 1])

    class Transposed(ToyModel):
        """An RNN-style state (L, B, H) that is not batch first."""

        def start(self, src, src_len):
            return (super().start(src, src_len), torch.zeros(2, src.shape[0], 3))

        def step(self, tokens, state):
            logp, inner = super().step(tokens, state[0])
            return logp, (inner, state[1])

    with pytest.raises(ValueError, match=r"state\[1\] has shape \(2, 3, 3\) but the batch has 3 rows"):
        beam_search(Transposed(), toy_inputs([0, 1, 2]), bos=BOS, eos=EOS, beam_size=2, max_len=3)


# ----------------------------------------------------------------------------------------------------
# Errors


class Broken(ToyModel):
    """A toy model whose step output is passed through ``corrupt``."""

    def __init__(self, corrupt) -> None:
        super().__init__()
        self.corrupt = corrupt

    def step(self, tokens, state):
        logp, state = super().step(tokens, state)
        return self.corrupt(logp, state, len(self.rows))


BROKEN = {
    "not a pair": (lambda lp, s, n: lp, TypeError, "must return a pair"),
    "too many rows": (lambda lp, s, n: (torch.cat([lp, lp]), s), ValueError, r"shape \(B, V\) = \(2, V\)"),
    "1-D": (lambda lp, s, n: (lp[:, 0], s), ValueError, r"= \(2, V\), got a float32 tensor of shape \(2,\)"),
    "V changes": (
        lambda lp, s, n: (lp if n == 1 else lp[:, :5], s),
        ValueError,
        r"= \(\d, 6\), got .* \(\d, 5\)",
    ),
    "not a tensor": (lambda lp, s, n: (lp.tolist(), s), ValueError, "got a list"),
    "integers": (lambda lp, s, n: (lp.long(), s), ValueError, "float log-probabilities"),
    "logits": (lambda lp, s, n: (lp + 1.0, s), ValueError, "log_softmax"),
    "probabilities": (lambda lp, s, n: (lp.exp(), s), ValueError, "sum to between"),
    "NaN": (
        lambda lp, s, n: (lp.masked_fill(torch.tensor([[True] + [False] * 5, [False] * 6]), math.nan), s),
        ValueError,
        "NaN log-probabilities in 1 of 2 rows",
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", list(BROKEN))
@pytest.mark.parametrize("search", ["greedy", "beam", "sample"])
def test_a_broken_step_is_reported(case: str, search: str) -> None:
    corrupt, error, message = BROKEN[case]
    kw = dict(bos=BOS, eos=EOS, max_len=4)
    run = {
        "greedy": lambda m: greedy_decode(m, toy_inputs([0, 1]), **kw),
        "beam": lambda m: beam_search(m, toy_inputs([0, 1]), beam_size=1, **kw),
        # top_k=1: a deterministic draw, so no sequence can end at <eos> before the broken step comes
        "sample": lambda m: sample(m, toy_inputs([0, 1]), top_k=1, **kw),
    }[search]
    with pytest.raises(error, match=message):
        run(Broken(corrupt))


@pytest.mark.parametrize("search", ["greedy", "beam", "sample"])
def test_bad_arguments_are_reported(search: str) -> None:
    def run(model=None, inputs=None, **kw):
        model = ToyModel() if model is None else model
        inputs = toy_inputs([0, 1]) if inputs is None else inputs
        args = dict(bos=BOS, eos=EOS, max_len=3) | kw
        if search == "beam":
            return beam_search(model, inputs, **(dict(beam_size=2) | args))
        if search == "sample":
            return sample(model, inputs, **args)
        return greedy_decode(model, inputs, **args)

    with pytest.raises(TypeError, match=r"has no start\(\) and no step\(\)"):
        run(model=object())
    with pytest.raises(TypeError, match=r"has no step\(\).*decoding interface"):
        run(model=type("OnlyStart", (), {"start": lambda self, x: None})())
    with pytest.raises(TypeError, match=r"wrap a single tensor as \(src,\)"):
        run(inputs=torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="must contain a tensor"):
        run(inputs=(3, "x"))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_len must be a positive int"):
            run(max_len=bad)
    with pytest.raises(ValueError, match="eos must be a token id"):
        run(eos=-1)
    with pytest.raises(ValueError, match=r"eos = 9 is not a token of the model.*V = 6"):
        run(eos=9)
    with pytest.raises(ValueError, match=r"bos must be a token id"):
        run(bos=1.0)
    with pytest.raises(ValueError, match=r"bos must be an int or a \(B,\) = \(2,\) tensor"):
        run(bos=torch.tensor([BOS, BOS, BOS]))
    with pytest.raises(ValueError, match=r"bos must be an int or a \(B,\) = \(2,\) tensor"):
        run(bos=torch.tensor([1.0, 2.0]))


def test_bad_beam_search_arguments_are_reported() -> None:
    def run(**kw):
        args = dict(bos=BOS, eos=EOS, beam_size=2, max_len=3) | kw
        return beam_search(ToyModel(), toy_inputs([0]), **args)

    for bad in (0, -2, 1.5, True, None):
        with pytest.raises(ValueError, match="beam_size must be a positive int"):
            run(beam_size=bad)
    for bad in (0, 2.0):
        with pytest.raises(ValueError, match="n_best must be a positive int"):
            run(n_best=bad)
    with pytest.raises(ValueError, match="n_best = 3 exceeds beam_size = 2"):
        run(n_best=3)
    with pytest.raises(ValueError, match=r"unknown length_penalty 'wu'.*'none', 'average', 'gnmt'"):
        run(length_penalty="wu")
    for bad in (-0.1, math.inf, math.nan, "0.6"):
        with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
            run(length_penalty="gnmt", alpha=bad)
    assert [len(h) for h in run(n_best=2, length_penalty="gnmt", alpha=0)] == [2]


def test_bad_sampling_arguments_are_reported() -> None:
    def run(**kw):
        return sample(ToyModel(), toy_inputs([0, 1]), bos=BOS, eos=EOS, max_len=3, **kw)

    for bad in (-0.5, math.nan, math.inf, True):
        with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
            run(temperature=bad)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=r"top_k must be None or an int in \[1, V\]"):
            run(top_k=bad)
    with pytest.raises(ValueError, match=r"top_k must be None or an int in \[1, V\] = \[1, 6\], got 7"):
        run(top_k=7)
    for bad in (0, -0.1, 1.01, math.nan, "0.9"):
        with pytest.raises(ValueError, match=r"top_p must be None or a probability in \(0, 1\]"):
            run(top_p=bad)
    with pytest.raises(TypeError, match="generator must be None or a torch.Generator"):
        run(generator=0)
    assert len(run(top_k=6, top_p=1)) == 2


def test_bad_filter_logits_arguments_are_reported() -> None:
    for bad in (torch.zeros(4), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 0), [[0.0, 1.0]]):
        with pytest.raises(ValueError, match=r"filter_logits expects float logits of shape \(B, V\)"):
            filter_logits(bad, top_k=1)
    with pytest.raises(ValueError, match=r"top_k must be None or an int in \[1, V\] = \[1, 3\], got 4"):
        filter_logits(torch.zeros(2, 3), top_k=4)
    with pytest.raises(ValueError, match=r"top_p must be None or a probability in \(0, 1\]"):
        filter_logits(torch.zeros(2, 3), top_p=0)


def test_an_empty_batch_decodes_to_nothing() -> None:
    empty = (torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    model = ToyModel()
    assert greedy_decode(model, empty, bos=BOS, eos=EOS, max_len=3) == []
    assert beam_search(model, empty, bos=BOS, eos=EOS, beam_size=2, max_len=3) == []
    assert sample(model, empty, bos=BOS, eos=EOS, max_len=3) == []
    assert model.rows == []
