"""Language-model data on notebook 02's terms, and the perplexity every neural LM of the course reports."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils import ngram
from course_utils.decoding import beam_search, greedy_decode
from course_utils.lm import (
    RNNLM,
    FeedForwardLM,
    LMData,
    RNNLMState,
    lm_perplexity,
    load_lm_data,
    make_lm_loader,
)
from course_utils.text import UNK
from course_utils.transformer import TransformerLM


@pytest.fixture(scope="module")
def data() -> LMData:
    return load_lm_data()


def test_same_vocabulary_and_tokens_as_notebook_02(data: LMData) -> None:
    assert len(data.ids["train"]) == 29000 and len(data.ids["test"]) == 1000
    assert data.tokens["train"][0][:3] == ["two", "young", ","]
    assert data.predicted_tokens("test") == sum(len(s) + 1 for s in data.tokens["test"])
    kn = ngram.KneserNey(2).fit(data.tokens["train"], data.vocab)
    # the n-gram models predict every vocabulary token except <pad> and <bos>: the tokens a neural LM may predict
    assert kn.V == len(data.vocab) - len(data.never_predict)
    assert sum(t == UNK for s in data.tokens["test"] for t in s) > 0
    with pytest.raises(ValueError, match="split"):
        data.predicted_tokens("dev")


def test_loader_shifts_targets_by_one(data: LMData) -> None:
    (inputs,), targets = next(iter(make_lm_loader(data, "val", 8)))
    assert inputs.shape == targets.shape
    assert (inputs[:, 0] == data.vocab.bos_idx).all()
    real = targets != data.vocab.pad_idx
    assert (inputs[:, 1:][real[:, 1:]] == targets[:, :-1][real[:, 1:]]).all()
    assert ((targets == data.vocab.eos_idx).sum(1) == 1).all()
    with pytest.raises(ValueError, match="batch_size"):
        make_lm_loader(data, "val", 0)
    with pytest.raises(ValueError, match="split"):
        make_lm_loader(data, "dev", 8)


def _brute_force_perplexity(lm: torch.nn.Module, data: LMData, split: str) -> tuple[float, int]:
    """exp(mean NLL) sentence by sentence, and the number of predicted tokens."""
    total, count = 0.0, 0
    with torch.no_grad():
        for s in data.ids[split]:
            logp = torch.log_softmax(lm(torch.tensor([[data.vocab.bos_idx, *s]])), dim=-1)[0]
            target = [*s, data.vocab.eos_idx]
            total += float(logp[torch.arange(len(target)), torch.tensor(target)].sum())
            count += len(target)
    return math.exp(-total / count), count


def test_perplexity_equals_a_brute_force_computation() -> None:
    small = load_lm_data(max_train=200)
    torch.manual_seed(0)
    lm = TransformerLM(len(small.vocab), d_model=16, num_heads=2, num_layers=1, d_ff=32,
                       never_predict=small.never_predict).eval()  # fmt: skip
    ppl, count = _brute_force_perplexity(lm, small, "val")
    assert lm_perplexity(lm, small, "val") == pytest.approx(ppl, rel=1e-4)
    assert count == small.predicted_tokens("val")
    with pytest.raises(ValueError, match="never_predict"):
        lm_perplexity(TransformerLM(len(small.vocab), d_model=16, num_heads=2, num_layers=1), small, "val")
    with pytest.raises(ValueError, match="vocabulary"):
        lm_perplexity(TransformerLM(10, d_model=16, num_heads=2, num_layers=1), small, "val")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="min_freq"):
        load_lm_data(min_freq=0)
    with pytest.raises(ValueError, match="max_train"):
        load_lm_data(max_train=0)


# ----------------------------------------------------------------------------- FeedForwardLM and RNNLM
V, BOS, PAD = 12, 1, 0


def _models() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        FeedForwardLM(V, bos_idx=BOS, context=3, emb_dim=4, hidden_size=8, never_predict=(PAD, BOS)),
        FeedForwardLM(V, bos_idx=BOS, context=1, emb_dim=4, hidden_size=None, never_predict=(PAD, BOS)),
        RNNLM(V, emb_dim=6, hidden_size=6, num_layers=2, cell="lstm", never_predict=(PAD, BOS)),
        RNNLM(V, emb_dim=6, hidden_size=10, num_layers=1, cell="gru", never_predict=(PAD, BOS)),
        RNNLM(V, emb_dim=6, hidden_size=6, num_layers=2, cell="rnn", tie_weights=False),
    ]


@pytest.mark.parametrize("index", range(5))
def test_neural_lms_forward_equals_step_by_step_decoding(index: int) -> None:
    model = _models()[index].eval()
    tokens = torch.tensor([[BOS, 3, 4, 5, 6, 7], [BOS, 8, 2, 9, 10, 11]])
    with torch.no_grad():
        logits = model(tokens)  # (B, T, V)
        assert logits.shape == (2, 6, V)
        logp = torch.log_softmax(logits, -1)
        torch.testing.assert_close(logp.exp().sum(-1), torch.ones(2, 6))  # a distribution at every position
        state = model.start(tokens[:, :0])
        for t in range(tokens.shape[1]):
            step_logp, state = model.step(tokens[:, t], state)
            torch.testing.assert_close(step_logp, logp[:, t])
        # start() with a context gives the same as feeding it step by step
        state = model.start(tokens[:, :3])
        torch.testing.assert_close(model.step(tokens[:, 3], state)[0], logp[:, 3])


def test_never_predicted_ids_get_probability_zero() -> None:
    for model in _models()[:4]:
        logits = model(torch.tensor([[BOS, 3, 4]]))
        assert torch.isneginf(logits[..., [PAD, BOS]]).all() and torch.isfinite(logits[..., 2:]).all()


def test_feed_forward_lm_reads_exactly_its_context() -> None:
    model = _models()[0].eval()  # context = 3: position t reads tokens t-2 .. t
    a = torch.tensor([[BOS, 3, 4, 5, 6, 7, 8]])
    b = a.clone()
    b[0, 2] = 9  # changes the inputs of positions 2, 3 and 4 only
    with torch.no_grad():
        changed = (model(a) - model(b))[..., 2:].abs().amax(-1)[0] > 0  # columns 0, 1 are -inf
    assert changed.tolist() == [False, False, True, True, True, False, False]
    # before the sentence the window is filled with <bos>, as the n-gram models pad it
    assert model._windows(a)[0, 0].tolist() == [BOS, BOS, BOS]


def test_rnn_lm_carries_its_state_across_chunks() -> None:
    """Truncated BPTT reads running text in chunks: chunk by chunk with the state carried over equals one pass."""
    model = _models()[2].eval()
    text = torch.randint(2, V, (3, 10))
    with torch.no_grad():
        whole, _ = model.run(text)
        first, state = model.run(text[:, :4])
        second, _ = model.run(text[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)


def test_tied_weights_share_one_matrix() -> None:
    tied = RNNLM(V, emb_dim=6, hidden_size=6, tie_weights=True)
    untied = RNNLM(V, emb_dim=6, hidden_size=6, tie_weights=False)
    assert tied.out.weight is tied.embed.weight
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(tied) == V * 6
    projected = RNNLM(V, emb_dim=4, hidden_size=6, tie_weights=True)  # H != E: a projection H -> E first
    assert projected.out.weight is projected.embed.weight and projected.proj is not None


def test_neural_lms_serve_the_course_searches_and_perplexity() -> None:
    for model in _models()[:4]:
        model.eval()
        context = torch.tensor([[BOS, 3], [BOS, 4]])
        out = greedy_decode(model, (context[:, :-1],), bos=context[:, -1], eos=2, max_len=5)
        assert len(out) == 2
        hyps = beam_search(model, (context[:, :-1],), bos=context[:, -1], eos=2, beam_size=3, max_len=5)
        assert len(hyps) == 2 and all(h[0].finished or len(h[0].tokens) == 5 for h in hyps)
    small = load_lm_data(max_train=200)
    torch.manual_seed(0)
    for model in (
        FeedForwardLM(len(small.vocab), bos_idx=small.vocab.bos_idx, emb_dim=8, hidden_size=16,
                      never_predict=small.never_predict),
        RNNLM(len(small.vocab), emb_dim=8, hidden_size=8, never_predict=small.never_predict),
    ):  # fmt: skip
        model.eval()
        ppl, count = _brute_force_perplexity(model, small, "val")
        assert lm_perplexity(model, small, "val") == pytest.approx(ppl, rel=1e-4)
        assert count == small.predicted_tokens("val")


def test_neural_lm_bad_input() -> None:
    ffn, lstm = _models()[0], _models()[2]
    for model in (ffn, lstm):
        with pytest.raises(ValueError, match=r"\(B, T\) long tensor"):
            model(torch.tensor([1.0, 2.0]))
        with pytest.raises(ValueError, match="outside the vocabulary"):
            model(torch.tensor([[BOS, V]]))
        with pytest.raises(ValueError, match="one id per row"):
            model.step(torch.tensor([3]), model.start(torch.tensor([[BOS], [BOS]])))
    with pytest.raises(ValueError, match="one row per sequence"):
        lstm.run(torch.tensor([[3, 4]]), lstm.start(torch.tensor([[BOS], [BOS]])))
    with pytest.raises(ValueError, match="has h and c"):
        lstm.run(torch.tensor([[3]]), RNNLMState(torch.zeros(1, 2, 6)))
    with pytest.raises(ValueError, match="unknown cell"):
        RNNLM(V, cell="transformer")
    with pytest.raises(ValueError, match="dropout"):
        RNNLM(V, dropout=1.0)
    with pytest.raises(ValueError, match="hidden_size"):
        RNNLM(V, hidden_size=0)
    with pytest.raises(ValueError, match="never_predict"):
        RNNLM(V, never_predict=(V,))
    with pytest.raises(ValueError, match="bos_idx"):
        FeedForwardLM(V, bos_idx=V)
    with pytest.raises(ValueError, match="context"):
        FeedForwardLM(V, bos_idx=BOS, context=0)
