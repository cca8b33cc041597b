"""The RNN encoder-decoders: shapes, the decoding interface agrees with training, padding is ignored."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from course_utils.decoding import beam_search, greedy_decode, select_state
from course_utils.seq2seq import (
    MODELS,
    AttentionSeq2Seq,
    AttentionState,
    GRUContextSeq2Seq,
    GRUContextState,
    LSTMSeq2Seq,
    LSTMState,
    ModelSpec,
    SequenceCrossEntropy,
    make_model,
)

SRC_V, TGT_V, PAD, BOS, EOS = 13, 11, 0, 2, 3
KINDS = ["additive", "dot", "scaled_dot", "general", "concat"]


def _models() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    small = dict(emb_dim=8, hidden_size=12, dropout=0.1, pad_idx=PAD)
    return [
        LSTMSeq2Seq(SRC_V, TGT_V, num_layers=2, **small),
        GRUContextSeq2Seq(SRC_V, TGT_V, **small),
        *[AttentionSeq2Seq(SRC_V, TGT_V, attn_dim=10, attention=k, **small) for k in KINDS],
    ]


MODEL_IDS = ["lstm", "gru-context", *[f"attention-{k}" for k in KINDS]]


def _batch(lengths=(5, 3, 1, 4), tgt_len=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(4, SRC_V, (n,), generator=g) for n in lengths]
    src = pad_sequence(seqs, batch_first=True, padding_value=PAD)
    tgt_in = torch.randint(4, TGT_V, (len(lengths), tgt_len), generator=g)
    tgt_in[:, 0] = BOS
    return src, torch.tensor(lengths), tgt_in


@pytest.mark.parametrize("model", _models(), ids=MODEL_IDS)
def test_forward_equals_the_decoding_steps(model: torch.nn.Module) -> None:
    """Teacher-forced logits equal start + step fed the same tokens: training and decoding agree."""
    model.eval()
    src, src_len, tgt_in = _batch()
    logits = model(src, src_len, tgt_in)  # (B, T, V)
    assert logits.shape == (4, 6, TGT_V)
    state = model.start(src, src_len)
    for t in range(tgt_in.shape[1]):
        logp, state = model.step(tgt_in[:, t], state)
        torch.testing.assert_close(logp, torch.log_softmax(logits[:, t], -1), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(logp.exp().sum(-1), torch.ones(4))


@pytest.mark.parametrize("model", _models(), ids=MODEL_IDS)
def test_padding_does_not_change_the_output(model: torch.nn.Module) -> None:
    """Extra padding columns and batch neighbours do not change a sentence's translation scores."""
    model.eval()
    src, src_len, tgt_in = _batch()
    wide = torch.cat([src, torch.full((4, 3), PAD)], dim=1)
    torch.testing.assert_close(
        model(wide, src_len, tgt_in), model(src, src_len, tgt_in), atol=1e-5, rtol=1e-5
    )
    alone = model(src[2:3, :1], src_len[2:3], tgt_in[2:3])
    torch.testing.assert_close(alone, model(src, src_len, tgt_in)[2:3], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model", _models(), ids=MODEL_IDS)
def test_teacher_forcing_ratio(model: torch.nn.Module) -> None:
    model.eval()
    src, src_len, tgt_in = _batch()
    full = model(src, src_len, tgt_in, teacher_forcing=1.0)
    torch.testing.assert_close(model(src, src_len, tgt_in, teacher_forcing=1.0), full)
    # ratio 0: every step after the first is fed the model's own argmax, i.e. greedy decoding
    free = model(src, src_len, tgt_in, teacher_forcing=0.0)
    own = torch.cat([tgt_in[:, :1], free.argmax(-1)[:, :-1]], dim=1)
    torch.testing.assert_close(free, model(src, src_len, own, teacher_forcing=1.0), atol=1e-5, rtol=1e-5)
    greedy = greedy_decode(model, (src, src_len), bos=BOS, eos=EOS, max_len=6)
    for row, ids in enumerate(greedy):
        assert free.argmax(-1)[row, : len(ids)].tolist() == ids
    model.train()
    model.teacher_forcing = 0.5  # the model's own ratio is used in training when none is given
    assert model._ratio(None) == 0.5 and model.eval()._ratio(None) == 1.0
    model.teacher_forcing = 1.0


@pytest.mark.parametrize("model", _models(), ids=MODEL_IDS)
def test_states_are_batch_first_for_beam_search(model: torch.nn.Module) -> None:
    model.eval()
    src, src_len, _ = _batch()
    state = model.start(src, src_len)
    assert isinstance(state, (LSTMState, GRUContextState, AttentionState))
    picked = select_state(state, torch.tensor([2, 2, 0]))
    logp_all, _ = model.step(torch.full((4,), BOS), state)
    logp_picked, _ = model.step(torch.full((3,), BOS), picked)
    torch.testing.assert_close(logp_picked, logp_all[[2, 2, 0]])
    hyps = beam_search(model, (src, src_len), bos=BOS, eos=EOS, beam_size=1, max_len=7)
    assert [h[0].tokens for h in hyps] == greedy_decode(model, (src, src_len), bos=BOS, eos=EOS, max_len=7)


@pytest.mark.parametrize("model", _models(), ids=MODEL_IDS)
def test_gradients_reach_every_parameter(model: torch.nn.Module) -> None:
    model.train()
    src, src_len, tgt_in = _batch()
    loss = SequenceCrossEntropy(PAD)(model(src, src_len, tgt_in), torch.roll(tgt_in, -1, 1))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_attention_weights_ignore_padding() -> None:
    model = AttentionSeq2Seq(SRC_V, TGT_V, emb_dim=8, hidden_size=12, attn_dim=10).eval()
    src, src_len, _ = _batch()
    state = model.start(src, src_len)
    _, state = model.step(torch.full((4,), BOS), state)
    assert (state.weights[src_len[:, None] <= torch.arange(src.shape[1])] == 0).all()
    torch.testing.assert_close(state.weights.sum(-1), torch.ones(4))


def test_sequence_cross_entropy() -> None:
    torch.manual_seed(0)
    logits, targets = torch.randn(2, 3, 5), torch.tensor([[1, 2, PAD], [4, PAD, PAD]])
    loss = SequenceCrossEntropy(PAD)(logits, targets)
    by_hand = -torch.stack(
        [
            torch.log_softmax(logits[0, 0], -1)[1],
            torch.log_softmax(logits[0, 1], -1)[2],
            torch.log_softmax(logits[1, 0], -1)[4],
        ]
    ).mean()
    torch.testing.assert_close(loss, by_hand)
    smooth = SequenceCrossEntropy(PAD, label_smoothing=0.1)
    assert smooth.ignore_index == PAD and smooth(logits, targets) > 0
    with pytest.raises(ValueError, match=r"logits \(B, T, V\) and targets \(B, T\)"):
        SequenceCrossEntropy(PAD)(logits[0], targets)
    with pytest.raises(ValueError, match="label_smoothing"):
        SequenceCrossEntropy(PAD, label_smoothing=1.0)
    with pytest.raises(TypeError, match="pad_idx"):
        SequenceCrossEntropy(None)


def test_bad_inputs_name_the_problem() -> None:
    model = GRUContextSeq2Seq(SRC_V, TGT_V, emb_dim=8, hidden_size=12)
    src, src_len, tgt_in = _batch()
    with pytest.raises(ValueError, match=r"src must be a \(B, S\) LongTensor"):
        model(src.float(), src_len, tgt_in)
    with pytest.raises(ValueError, match=r"src_len must be a \(B,\) tensor"):
        model(src, src_len[:2], tgt_in)
    with pytest.raises(ValueError, match="src_len must be between 1 and S"):
        model(src, src_len * 0, tgt_in)
    with pytest.raises(ValueError, match=r"tgt_in must be \(B, T\)"):
        model(src, src_len, tgt_in[:2])
    with pytest.raises(ValueError, match="teacher_forcing must be a probability"):
        model(src, src_len, tgt_in, teacher_forcing=1.5)
    state = model.start(src, src_len)
    with pytest.raises(ValueError, match=r"previous tokens as a \(B,\) LongTensor with B = 4"):
        model.step(torch.zeros(3, dtype=torch.long), state)
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 11\)"):
        model.step(torch.full((4,), 99), state)
    with pytest.raises(ValueError, match="dropout"):
        LSTMSeq2Seq(SRC_V, TGT_V, dropout=1.0)
    with pytest.raises(ValueError, match="hidden_size"):
        AttentionSeq2Seq(SRC_V, TGT_V, hidden_size=0)
    with pytest.raises(ValueError, match="unknown attention|kind"):
        AttentionSeq2Seq(SRC_V, TGT_V, attention="cosine")


def test_make_model_and_registry() -> None:
    from course_utils.translation import load_translation_data

    data = load_translation_data(max_train=200)
    assert set(MODELS) >= {"lstm", "gru-context", "attention"} and isinstance(MODELS["lstm"], ModelSpec)
    model = make_model("attention", data, hidden_size=8, emb_dim=8, attn_dim=8)
    assert isinstance(model, AttentionSeq2Seq) and model.tgt_vocab_size == len(data.tgt_vocab)
    with pytest.raises(ValueError, match="reverse_source=True"):
        make_model("lstm", data)
    with pytest.raises(ValueError, match="unknown model"):
        make_model("transformer-xl", data)
    from course_utils.transformer import TransformerSeq2Seq

    tf = make_model("transformer", data, d_model=16, num_heads=2, d_ff=32)
    assert isinstance(tf, TransformerSeq2Seq) and MODELS["transformer"].recipe.max_tokens


def test_deep_output_is_maxout_then_tied_projection() -> None:
    from course_utils.seq2seq import DeepOutput

    torch.manual_seed(0)
    emb = torch.nn.Embedding(TGT_V, 4, padding_idx=PAD)
    out = DeepOutput(6, 4, TGT_V, tie_to=emb).eval()
    assert out.proj.weight is emb.weight  # one matrix, two roles
    assert emb.weight[PAD].abs().sum() == 0 and 0.2 < emb.weight[1:].std() < 0.8  # N(0, 1/P) init
    x = torch.randn(3, 5, 6)
    pre = out.pre(x)  # (3, 5, 8): pairs (0, 1), (2, 3), ...
    t = torch.maximum(pre[..., 0::2], pre[..., 1::2])
    torch.testing.assert_close(out(x), t @ emb.weight.T + out.proj.bias)
    untied = DeepOutput(6, 4, TGT_V)
    assert untied.proj.weight is not emb.weight
    with pytest.raises(ValueError, match=r"tie_to must be an embedding of shape \(V, P\) = \(11, 5\)"):
        DeepOutput(6, 5, TGT_V, tie_to=emb)
    with pytest.raises(ValueError, match="dropout"):
        DeepOutput(6, 4, TGT_V, dropout=-0.1)


@pytest.mark.parametrize("model", _models(), ids=MODEL_IDS)
def test_every_model_trains_and_decodes_under_bfloat16_autocast(model: torch.nn.Module) -> None:
    """The course trains under CPU autocast where bfloat16 is fast; oneDNN's bfloat16 LSTM kernel rejects
    unpacked inputs, so the LSTM recurrence must stay in float32 there. Every model must run both ways."""
    src, src_len, tgt_in = _batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model.train()
        logits = model(src, src_len, tgt_in)
        logits.float().sum().backward()
        model.eval()
        ids = greedy_decode(model, (src, src_len), bos=BOS, eos=EOS, max_len=5)
    assert logits.shape == (4, 6, TGT_V) and torch.isfinite(logits.float()).all()
    assert len(ids) == 4
