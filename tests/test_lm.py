"""Language-model data on notebook 02's terms, and the perplexity every neural LM of the course reports."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils import ngram
from course_utils.decoding import beam_search, greedy_decode
from course_utils.lm import (
    FFNN_LM,
    LSTM_LM,
    RNNLM,
    CarryState,
    FeedForwardLM,
    LMData,
    RNNLMState,
    interpolate_logprobs,
    lm_perplexity,
    lm_token_logprobs,
    load_char_lm_data,
    load_lm_data,
    make_lm_loader,
    make_stream_batches,
    perplexity_of,
    stream_perplexity,
    train_lm,
    tune_interpolation,
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


def test_tied_weights_start_like_an_output_layer() -> None:
    """Tied, the embedding starts at the scale of an output layer (small first logits) and the input side is
    scaled back up, so the recurrent layer reads vectors of the untied model's scale."""
    torch.manual_seed(0)
    tied = RNNLM(500, emb_dim=64, hidden_size=64, tie_weights=True, dropout=0.0, pad_idx=0).eval()
    untied = RNNLM(500, emb_dim=64, hidden_size=64, tie_weights=False, dropout=0.0, pad_idx=0).eval()
    tokens = torch.randint(1, 500, (8, 12))
    with torch.no_grad():
        assert tied(tokens).std() < 1.0  # N(0, 1) output weights would give logits of std ~ sqrt(64) * |h|
        inputs = tied.embed(tokens) * tied.input_scale
        assert 0.8 < inputs.std() < 1.2 and 0.8 < untied.embed(tokens).std() < 1.2
    assert tied.embed.weight[0].abs().sum() == 0  # the <pad> row stays zero


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


# ----------------------------------------------------------------------------- running text, scores, mixtures
@pytest.fixture(scope="module")
def small() -> LMData:
    return load_lm_data(max_train=200)


def _small_lstm(small: LMData, seed: int = 0) -> RNNLM:
    torch.manual_seed(seed)
    return RNNLM(len(small.vocab), emb_dim=8, hidden_size=8, num_layers=2, dropout=0.0,
                 pad_idx=small.vocab.pad_idx, never_predict=small.never_predict).eval()  # fmt: skip


def test_stream_batches_lay_the_sentences_end_to_end(small: LMData) -> None:
    batches = make_stream_batches(small, "val", batch_size=3, bptt=7)
    pad, bos, eos = small.vocab.pad_idx, small.vocab.bos_idx, small.vocab.eos_idx
    rows_in = torch.cat([x for (x,), _ in batches], dim=1)  # (3, steps): batch k + 1 continues batch k
    rows_out = torch.cat([y for _, y in batches], dim=1)
    assert all(x.shape == (3, 7) and y.shape == (3, 7) for (x,), y in batches)
    stream_in = [t for t in rows_in.flatten().tolist() if t != pad]
    stream_out = [t for t in rows_out.flatten().tolist() if t != pad]
    assert stream_in == [t for s in small.ids["val"] for t in (bos, *s)]
    assert stream_out == [t for s in small.ids["val"] for t in (*s, eos)]
    assert len(stream_out) == small.predicted_tokens("val")
    with pytest.raises(ValueError, match="bptt"):
        make_stream_batches(small, "val", 3, 0)
    with pytest.raises(ValueError, match="split"):
        make_stream_batches(small, "dev", 3, 5)


def test_carry_state_continues_the_text_and_cuts_the_gradient(small: LMData) -> None:
    lm = _small_lstm(small)
    tokens = torch.tensor([small.ids["val"][0][:8], small.ids["val"][1][:8]])  # (2, 8)
    carry = CarryState(lm).train()
    first, second = carry(tokens[:, :5]), carry(tokens[:, 5:])
    whole = lm(tokens)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    assert carry.state.h.requires_grad is False  # the graph stops at the chunk boundary
    carry.eval()  # eval mode: no carried state, sentence by sentence
    torch.testing.assert_close(carry(tokens[:, 5:]), lm(tokens[:, 5:]))
    carry.train()
    carry(tokens[:, :5])
    torch.testing.assert_close(carry(tokens[:1, 5:]), lm(tokens[:1, 5:]))  # a new batch size starts afresh
    with pytest.raises(TypeError, match="RNNLM"):
        CarryState(torch.nn.Linear(2, 2))


def test_carried_state_gets_no_gradient_from_later_chunks(small: LMData) -> None:
    lm = _small_lstm(small)
    carry = CarryState(lm).train()
    x = torch.tensor([small.ids["val"][0][:6]])
    carry(x[:, :3])
    saved = carry.state
    out = carry(x[:, 3:])
    assert saved.h.grad_fn is None and saved.c.grad_fn is None
    out.sum().backward()  # reaches the weights through the second chunk only, without error
    assert lm.embed.weight.grad is not None


def test_stream_perplexity_does_not_depend_on_how_the_text_is_cut(small: LMData) -> None:
    lm = _small_lstm(small)
    one_row = stream_perplexity(lm, small, "val", batch_size=1, bptt=50_000)
    with torch.no_grad():  # by hand: the whole stream in one call, the state carried all the way
        (((x,), y),) = make_stream_batches(small, "val", 1, 50_000)  # one chunk
        logp = torch.log_softmax(lm(x), -1)[0]
        real = y[0] != small.vocab.pad_idx
        expected = math.exp(-float(logp[real].gather(-1, y[0][real][:, None]).mean()))
    assert one_row == pytest.approx(expected, rel=1e-5)
    assert stream_perplexity(lm, small, "val", batch_size=1, bptt=7) == pytest.approx(one_row, rel=1e-5)
    # more rows: each row starts from zeros once, a different (but close) number
    assert stream_perplexity(lm, small, "val", batch_size=4, bptt=7) == pytest.approx(one_row, rel=0.05)
    with pytest.raises(TypeError, match="RNNLM"):
        stream_perplexity(FeedForwardLM(len(small.vocab), bos_idx=small.vocab.bos_idx), small, "val")


def test_token_logprobs_follow_the_ngram_order(small: LMData) -> None:
    lm = _small_lstm(small)
    logp = lm_token_logprobs(lm, small, "val", batch_size=7)
    kn = ngram.KneserNey(2).fit(small.tokens["train"], small.vocab)
    assert logp.shape == (len(kn.token_logprobs(small.tokens["val"])),)
    assert logp.dtype == torch.float64 and (logp <= 0).all()
    assert perplexity_of(logp) == pytest.approx(lm_perplexity(lm, small, "val"), rel=1e-4)
    with torch.no_grad():  # sentence 3's tokens, by hand
        s = small.ids["val"][3]
        start = sum(len(t) + 1 for t in small.ids["val"][:3])
        by_hand = torch.log_softmax(lm(torch.tensor([[small.vocab.bos_idx, *s]])).double(), -1)[0]
        by_hand = by_hand[torch.arange(len(s) + 1), torch.tensor([*s, small.vocab.eos_idx])]
    torch.testing.assert_close(logp[start : start + len(s) + 1], by_hand, rtol=1e-5, atol=1e-6)


def test_interpolation_mixes_probabilities() -> None:
    a = torch.log(torch.tensor([0.5, 0.1, 0.2], dtype=torch.float64))
    b = torch.log(torch.tensor([0.1, 0.3, 0.2], dtype=torch.float64))
    mixed = interpolate_logprobs(a, b, 0.25)
    torch.testing.assert_close(mixed.exp(), 0.25 * a.exp() + 0.75 * b.exp())
    torch.testing.assert_close(interpolate_logprobs(a, b, 1), a)
    torch.testing.assert_close(interpolate_logprobs(a, b, 0.0), b)
    assert perplexity_of(a) == pytest.approx((0.5 * 0.1 * 0.2) ** (-1 / 3))
    best, scores = tune_interpolation(a, b)
    assert scores[best] == min(scores.values()) and len(scores) == 21
    brute = min((perplexity_of(torch.log(w * a.exp() + (1 - w) * b.exp())), w) for w in scores)
    assert best == brute[1]
    with pytest.raises(ValueError, match="same tokens"):
        interpolate_logprobs(a, b[:2], 0.5)
    with pytest.raises(ValueError, match="weight"):
        interpolate_logprobs(a, b, 1.5)
    with pytest.raises(ValueError, match="log-probabilities"):
        perplexity_of([0.5, 0.2])  # probabilities, not their logs
    with pytest.raises(ValueError, match="log-probabilities"):
        perplexity_of([-1.0, float("nan")])
    with pytest.raises(ValueError, match="non-empty"):
        perplexity_of([])
    with pytest.raises(ValueError, match="at least one"):
        tune_interpolation(a, b, [])


def test_char_data_spells_the_same_sentences(data: LMData) -> None:
    chars = load_char_lm_data(max_train=300)
    assert chars.tokens["train"][0] == list(
        " ".join(load_lm_data(max_train=1, min_freq=1).tokens["train"][0])
    )
    assert " " in chars.vocab and len(chars.vocab) < 100
    assert len(chars.ids["test"]) == len(data.ids["test"])
    assert chars.predicted_tokens("test") == sum(len(s) + 1 for s in chars.tokens["test"])  # + one <eos> each
    words = data.tokens["test"][0]
    assert UNK not in words and chars.tokens["test"][0] == list(" ".join(words))
    with pytest.raises(ValueError, match="max_train"):
        load_char_lm_data(max_train=0)


def test_train_lm_learns_and_starts_afresh(small: LMData) -> None:
    lm = _small_lstm(small)
    before = lm_perplexity(lm, small, "val")
    history = train_lm(lm, small, epochs=2, batch_size=32, lr=1e-2, progress=False)
    assert len(history) == 2 and history["train_loss"][1] < history["train_loss"][0]
    assert lm_perplexity(lm, small, "val") < before
    carry = CarryState(_small_lstm(small))
    history = train_lm(carry, small, epochs=1, lr=1e-2, progress=False,
                       train_batches=make_stream_batches(small, "train", 8, 20))  # fmt: skip
    assert len(history) == 1 and math.isfinite(history["val_loss"][0])
    with pytest.raises(ValueError, match="epochs"):
        train_lm(lm, small, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        train_lm(lm, small, epochs=1, lr=0)
    with pytest.raises(ValueError, match="empty"):
        train_lm(lm, small, epochs=1, train_batches=[])


def test_the_notebook_recipes_build_models() -> None:
    sizes = {k: v for k, v in FFNN_LM.items() if k not in ("epochs", "batch_size")}
    assert FeedForwardLM(50, bos_idx=2, **sizes).context == FFNN_LM["context"]
    sizes = {k: v for k, v in LSTM_LM.items() if k not in ("epochs", "batch_size", "lr")}
    assert RNNLM(50, **sizes).rnn.hidden_size == LSTM_LM["hidden_size"]
    assert FFNN_LM["epochs"] >= 1 and LSTM_LM["epochs"] >= 1


# ----------------------------------------------------------------------------- AWD-LSTM regularisers
def _regularised(**kwargs) -> RNNLM:
    torch.manual_seed(0)
    return RNNLM(V, emb_dim=6, hidden_size=6, num_layers=2, never_predict=(PAD, BOS), **kwargs)


def test_regularisers_are_off_in_eval_mode() -> None:
    plain = _regularised(dropout=0.3).eval()
    awd = _regularised(dropout=0.3, embed_dropout=0.4, weight_drop=0.5, variational=True).eval()
    awd.load_state_dict(plain.state_dict())
    tokens = torch.tensor([[BOS, 3, 4, 5, 6], [BOS, 6, 5, 4, 3]])
    torch.testing.assert_close(awd(tokens), plain(tokens))  # same weights, no dropout of any kind


def test_embed_dropout_drops_whole_words() -> None:
    lm = _regularised(dropout=0.0, embed_dropout=0.5).train()
    tokens = torch.tensor([[3, 4, 3, 5, 3, 4, 6, 6]])
    for seed in range(5):
        torch.manual_seed(seed)
        x = lm._embed(tokens)[0]  # (T, E)
        zero = (x == 0).all(dim=-1)
        for word in (3, 4, 5, 6):  # a word is dropped everywhere in the batch or nowhere
            assert zero[tokens[0] == word].unique().numel() == 1
        kept = ~zero
        torch.testing.assert_close(x[kept], lm.embed(tokens)[0][kept] * 2)  # survivors scaled by 1 / (1 - p)


def test_variational_dropout_keeps_one_mask_per_sequence() -> None:
    lm = _regularised(dropout=0.5, variational=True).train()
    x = torch.ones(3, 7, 6)
    y = lm._drop(x)
    assert torch.equal(y, y[:, :1].expand_as(y))  # the same units dropped at every time step
    assert set(y.unique().tolist()) <= {0.0, 2.0} and not torch.equal(y[0], y[1])  # a mask per sequence
    per_step = _regularised(dropout=0.5).train()._drop(x)
    assert not torch.equal(per_step, per_step[:, :1].expand_as(per_step))


def test_weight_drop_drops_recurrent_weights_only() -> None:
    tokens = torch.tensor([[BOS, 3, 4, 5], [BOS, 5, 4, 3]])
    # p -> 1 drops every hidden-to-hidden entry: the same as a model whose W_hh are zero
    dropped = _regularised(dropout=0.0, weight_drop=0.999999).train()
    reference = _regularised(dropout=0.0).train()
    reference.load_state_dict(dropped.state_dict())
    with torch.no_grad():
        for k in range(2):
            getattr(reference.rnn, f"weight_hh_l{k}").zero_()
    torch.testing.assert_close(dropped(tokens), reference(tokens))
    # with p = 0.5 the output changes, gradients reach W_hh through the mask, and the stored weights stay whole
    lm = _regularised(dropout=0.0, weight_drop=0.5).train()
    before = lm.rnn.weight_hh_l0.detach().clone()
    out = lm(tokens)
    assert not torch.allclose(out, lm.eval()(tokens))
    out[..., 3:].sum().backward()
    grad = lm.rnn.weight_hh_l0.grad
    assert grad is not None and 0 < int((grad != 0).sum()) < grad.numel()
    assert torch.equal(lm.rnn.weight_hh_l0, before)


def test_regularisers_bad_input() -> None:
    for name in ("embed_dropout", "weight_drop"):
        for bad in (1.0, -0.1, "0.5"):
            with pytest.raises(ValueError, match=name):
                RNNLM(V, **{name: bad})
    with pytest.raises(TypeError, match="variational"):
        RNNLM(V, variational=1)
