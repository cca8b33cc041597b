"""The Transformer: equal to PyTorch's modules with copied weights, and the properties a Transformer must have."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.decoding import beam_search, greedy_decode
from course_utils.transformer import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    KVCache,
    LearnedPositionalEncoding,
    LMState,
    MultiHeadAttention,
    PositionwiseFeedForward,
    SinusoidalPositionalEncoding,
    TokenEmbedding,
    TransformerLM,
    TransformerSeq2Seq,
    TransformerState,
    attention_weights,
    causal_mask,
    copy_from_torch,
    inverse_sqrt_schedule,
    padding_mask,
    scaled_dot_product_attention,
)

B, S, T, D, H, FF = 3, 7, 5, 32, 4, 64
LENGTHS = torch.tensor([7, 4, 2])


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    warnings.filterwarnings("ignore", message="enable_nested_tensor")


def small_model(**kw) -> TransformerSeq2Seq:
    args = dict(pad_idx=1, d_model=D, num_heads=H, d_ff=FF, num_encoder_layers=2, num_decoder_layers=2)
    return TransformerSeq2Seq(50, 40, **{**args, **kw}).eval()


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.randint(4, 50, (B, S))
    for b, n in enumerate(LENGTHS.tolist()):
        src[b, n:] = 1
    return src, LENGTHS.clone()


# --------------------------------------------------------------------------- attention


def test_scaled_dot_product_attention_matches_pytorch_and_masks() -> None:
    q, k, v = torch.randn(B, H, T, 8), torch.randn(B, H, S, 8), torch.randn(B, H, S, 6)
    mask = padding_mask(LENGTHS, S)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    torch.testing.assert_close(w.sum(-1), torch.ones(B, H, T))
    assert (w[2, :, :, 2:] == 0).all() and (w[2, :, :, :2] > 0).all()


def test_scaled_dot_product_attention_bad_input() -> None:
    q = torch.randn(B, T, 8)
    with pytest.raises(ValueError, match="need q"):
        scaled_dot_product_attention(q, torch.randn(B, S, 6), torch.randn(B, S, 8))
    with pytest.raises(TypeError, match="floating point"):
        scaled_dot_product_attention(q.long(), q.long(), q.long())


def test_masks() -> None:
    m = padding_mask(torch.tensor([3, 1]), 4)
    assert m.shape == (2, 1, 1, 4) and m[0, 0, 0].tolist() == [True, True, True, False]
    c = causal_mask(3)
    assert c.shape == (1, 1, 3, 3) and c[0, 0].tolist() == [
        [True, False, False],
        [True, True, False],
        [True] * 3,
    ]
    with pytest.raises(ValueError, match="every length"):
        padding_mask(torch.tensor([0, 2]), 4)
    with pytest.raises(ValueError, match="every length"):
        padding_mask(torch.tensor([5]), 4)
    with pytest.raises(ValueError, match="lengths"):
        padding_mask(torch.tensor([1.0]), 4)
    with pytest.raises(ValueError):
        causal_mask(0)


@pytest.mark.parametrize("mask_kind", ["padding", "attn_mask", "both"])
def test_multi_head_attention_equals_pytorch(mask_kind: str) -> None:
    ours, ref = MultiHeadAttention(D, H), nn.MultiheadAttention(D, H, batch_first=True)
    copy_from_torch(ours, ref)
    q, kv = torch.randn(B, T, D, requires_grad=True), torch.randn(B, S, D)
    pad = padding_mask(LENGTHS, S)  # (B, 1, 1, S) True = may attend
    allowed = torch.rand(T, S) > 0.3
    allowed[:, 0] = True  # every query keeps one position
    mask = {"padding": pad, "attn_mask": allowed[None, None], "both": pad & allowed[None, None]}[mask_kind]
    kwargs = {
        "padding": dict(key_padding_mask=~pad[:, 0, 0]),
        "attn_mask": dict(attn_mask=~allowed),  # PyTorch's bool masks are True where attention is blocked
        "both": dict(key_padding_mask=~pad[:, 0, 0], attn_mask=~allowed),
    }[mask_kind]
    out, w = ours(q, kv, kv, mask, need_weights=True)
    out_ref, w_ref = ref(q, kv, kv, **kwargs)  # averaged over heads
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(w.mean(dim=1), w_ref)
    fast, none = ours(q, kv, kv, mask)  # the fused path gives the same output
    assert none is None
    torch.testing.assert_close(fast, out)
    (g,) = torch.autograd.grad(out.sum(), q)
    (g_ref,) = torch.autograd.grad(out_ref.sum(), q)
    torch.testing.assert_close(g, g_ref)


def test_multi_head_attention_under_bfloat16_autocast() -> None:
    """On the CPU the fused kernel runs in float32 (it is slow in bfloat16); the output stays bfloat16 and close to
    the weights path, and gradients flow."""
    attn = MultiHeadAttention(D, H)
    q, kv = torch.randn(B, T, D, requires_grad=True), torch.randn(B, S, D)
    mask = padding_mask(LENGTHS, S)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast, _ = attn(q, kv, kv, mask)
        slow, _ = attn(q, kv, kv, mask, need_weights=True)
    assert fast.dtype == slow.dtype == torch.bfloat16
    torch.testing.assert_close(fast.float(), slow.float(), atol=0.03, rtol=0.03)
    (g,) = torch.autograd.grad(fast.float().sum(), q)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_multi_head_attention_bad_input() -> None:
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        MultiHeadAttention(30, 4)
    attn = MultiHeadAttention(D, H)
    x = torch.randn(B, T, D)
    with pytest.raises(TypeError, match="bool tensor"):
        attn(x, x, x, torch.ones(B, 1, 1, T))
    with pytest.raises(ValueError, match="does not fit"):
        attn(x, x, x, torch.ones(B, T, dtype=torch.bool))
    with pytest.raises(ValueError, match="does not fit"):
        attn(x, x, x, torch.ones(B + 1, 1, 1, T, dtype=torch.bool))
    with pytest.raises(ValueError, match="d = 32 features"):
        attn(torch.randn(B, T, D + 1), x, x)
    with pytest.raises(TypeError, match="floating point"):
        attn(torch.zeros(B, T, dtype=torch.long), x, x)
    for need_weights in (True, False):  # NaN nowhere: an empty mask row is an error on both paths
        with pytest.raises(ValueError, match="all False"):
            attn(x, x, x, torch.zeros(1, 1, 1, T, dtype=torch.bool), need_weights=need_weights)


# --------------------------------------------------------------------------- positions and embeddings


def test_sinusoidal_encoding_formula_and_relative_positions() -> None:
    pe = SinusoidalPositionalEncoding(16, max_len=64).pe
    pos, i = 5, 3
    assert pe[pos, 2 * i].item() == pytest.approx(
        torch.sin(torch.tensor(pos / 10000 ** (2 * i / 16))).item(), abs=1e-6
    )
    assert pe[pos, 2 * i + 1].item() == pytest.approx(
        torch.cos(torch.tensor(pos / 10000 ** (2 * i / 16))).item(), abs=1e-6
    )
    k = 7  # PE(pos + k) = PE(pos) M_k for one matrix M_k, whatever pos is (a rotation per frequency)
    M = torch.linalg.lstsq(pe[:40].double(), pe[k : 40 + k].double()).solution
    torch.testing.assert_close(pe[40:50].double() @ M, pe[40 + k : 50 + k].double(), atol=1e-4, rtol=0)


def test_positional_encodings_add_and_refuse_long_sequences() -> None:
    for module in (SinusoidalPositionalEncoding(D, max_len=10), LearnedPositionalEncoding(D, max_len=10)):
        x = torch.zeros(2, 4, D)
        out = module(x, offset=3)
        torch.testing.assert_close(out[0], module(torch.zeros(1, 7, D))[0, 3:])
        with pytest.raises(ValueError, match="max_len = 10"):
            module(torch.zeros(1, 11, D))
        with pytest.raises(ValueError, match="max_len = 10"):
            module(x, offset=7)
        with pytest.raises(ValueError, match="offset"):
            module(x, offset=-1)
    with pytest.raises(ValueError, match="even"):
        SinusoidalPositionalEncoding(7)


def test_token_embedding_scales_and_checks_ids() -> None:
    emb = TokenEmbedding(10, 16, pad_idx=0)
    x = torch.tensor([[0, 3]])
    torch.testing.assert_close(emb(x), emb.lookup.weight[x] * 4.0)
    assert (emb(x)[0, 0] == 0).all()
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        emb(torch.tensor([[10]]))
    with pytest.raises(ValueError, match="token ids"):
        emb(torch.tensor([1, 2]))


def test_feed_forward_is_positionwise() -> None:
    ffn = PositionwiseFeedForward(D, FF)
    x = torch.randn(B, T, D)
    torch.testing.assert_close(ffn(x)[:, 2], ffn(x[:, 2:3])[:, 0])
    torch.testing.assert_close(ffn(x), ffn.w_2(torch.relu(ffn.w_1(x))))


# --------------------------------------------------------------------------- layers against nn.Transformer


@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_equal_pytorch(norm_first: bool) -> None:
    enc_ref = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True, norm_first=norm_first)
    dec_ref = nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, batch_first=True, norm_first=norm_first)
    enc, dec = EncoderLayer(D, H, FF, 0.0, norm_first), DecoderLayer(D, H, FF, 0.0, norm_first)
    copy_from_torch(enc, enc_ref)
    copy_from_torch(dec, dec_ref)
    x, y = torch.randn(B, S, D), torch.randn(B, T, D)
    pad = padding_mask(LENGTHS, S)
    torch.testing.assert_close(enc(x, pad), enc_ref(x, src_key_padding_mask=~pad[:, 0, 0]))
    out_ref = dec_ref(y, x, tgt_mask=~causal_mask(T)[0, 0], memory_key_padding_mask=~pad[:, 0, 0])
    torch.testing.assert_close(dec(y, x, causal_mask(T), pad), out_ref)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_decoder_equal_nn_transformer(norm_first: bool) -> None:
    ref = nn.Transformer(D, H, 2, 2, FF, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    if not norm_first:  # the paper's post-LN stacks end with a sublayer's own LayerNorm, no extra one
        ref.encoder.norm, ref.decoder.norm = None, None
    enc, dec = Encoder(2, D, H, FF, 0.0, norm_first), Decoder(2, D, H, FF, 0.0, norm_first)
    copy_from_torch(enc, ref.encoder)
    copy_from_torch(dec, ref.decoder)
    src, tgt = torch.randn(B, S, D, requires_grad=True), torch.randn(B, T, D)
    pad = padding_mask(LENGTHS, S)
    out_ref = ref(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
                  src_key_padding_mask=~pad[:, 0, 0], memory_key_padding_mask=~pad[:, 0, 0])  # fmt: skip
    out = dec(tgt, enc(src, pad), causal_mask(T), pad)
    torch.testing.assert_close(out, out_ref)
    (g,) = torch.autograd.grad(out.square().sum(), src)
    (g_ref,) = torch.autograd.grad(out_ref.square().sum(), src)
    torch.testing.assert_close(g, g_ref)


def test_copy_from_torch_refuses_mismatches() -> None:
    with pytest.raises(TypeError, match="cannot copy"):
        copy_from_torch(EncoderLayer(D, H, FF), nn.TransformerDecoderLayer(D, H, FF, batch_first=True))
    with pytest.raises(ValueError, match="norm_first differs"):
        copy_from_torch(
            EncoderLayer(D, H, FF, norm_first=True), nn.TransformerEncoderLayer(D, H, FF, batch_first=True)
        )
    ref = nn.Transformer(D, H, 2, 2, FF, batch_first=True)
    with pytest.raises(ValueError, match="final LayerNorm"):
        copy_from_torch(Encoder(2, D, H, FF), ref.encoder)
    with pytest.raises(ValueError, match="layers"):
        copy_from_torch(Encoder(1, D, H, FF, norm_first=True), ref.encoder)
    with pytest.raises(ValueError, match="batch_first"):
        copy_from_torch(MultiHeadAttention(D, H), nn.MultiheadAttention(D, H))


# --------------------------------------------------------------------------- properties


def test_causality_later_targets_never_change_earlier_outputs() -> None:
    model = small_model()
    src, src_len = batch()
    tgt = torch.randint(4, 40, (B, T))
    changed = tgt.clone()
    changed[:, 3:] = torch.randint(4, 40, (B, T - 3))
    a, b = model(src, src_len, tgt), model(src, src_len, changed)
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_padding_invariance() -> None:
    model = small_model()
    src, src_len = batch()
    tgt = torch.randint(4, 40, (B, T))
    out = model(src, src_len, tgt)
    longer = torch.cat([src, torch.ones(B, 4, dtype=torch.long)], dim=1)  # four more pad columns
    torch.testing.assert_close(model(longer, src_len, tgt), out)
    padded_tgt = torch.cat([tgt, torch.ones(B, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(longer, src_len, padded_tgt)[:, :T], out)
    # a sentence's output does not depend on the others in its batch or on their padding
    torch.testing.assert_close(model(src[2:, :2], src_len[2:], tgt[2:]), out[2:])


def test_encoder_without_positions_is_permutation_equivariant_and_a_causal_mask_breaks_it() -> None:
    enc = Encoder(2, D, H, FF, 0.0, norm_first=True).eval()
    x, perm = torch.randn(1, S, D), torch.randperm(S)
    torch.testing.assert_close(enc(x)[:, perm], enc(x[:, perm]))
    # the seed's bug: a causal mask on the encoder; permuting the source now changes what each word sees
    seed_mask = causal_mask(S)
    assert not torch.allclose(enc(x, seed_mask)[:, perm], enc(x[:, perm], seed_mask), atol=1e-4)
    # and the first source word no longer sees the rest of the sentence
    changed = x.clone()
    changed[:, 1:] = torch.randn(1, S - 1, D)
    torch.testing.assert_close(enc(x, seed_mask)[:, 0], enc(changed, seed_mask)[:, 0])
    assert not torch.allclose(enc(x)[:, 0], enc(changed)[:, 0])


def test_masked_positions_get_no_gradient() -> None:
    enc = Encoder(2, D, H, FF, 0.0).eval()
    x = torch.randn(1, S, D, requires_grad=True)
    w = torch.randn(D)  # a LayerNorm output sums to a constant, so weight it before summing
    out = enc(x, causal_mask(S))
    (g,) = torch.autograd.grad((out[0, 2] * w).sum(), x)
    assert (g[0, 3:] == 0).all() and (g[0, :3] != 0).any()
    out = enc(x, padding_mask(torch.tensor([4]), S))
    (g,) = torch.autograd.grad((out[0, :4] * w).sum(), x)
    assert (g[0, 4:] == 0).all()


# --------------------------------------------------------------------------- the model and decoding


@pytest.mark.parametrize("use_cache", [True, False])
def test_step_equals_forward(use_cache: bool) -> None:
    model = small_model()
    model.use_cache = use_cache
    src, src_len = batch()
    tgt = torch.randint(4, 40, (B, T))
    expected = torch.log_softmax(model(src, src_len, tgt), dim=-1)
    state = model.start(src, src_len)
    assert isinstance(state, TransformerState) and len(state.caches) == (2 if use_cache else 0)
    for t in range(T):
        logp, state = model.step(tgt[:, t], state)
        torch.testing.assert_close(logp, expected[:, t])
        assert state.weights.shape == (B, S) and (state.weights[2, 2:] == 0).all()
        torch.testing.assert_close(state.weights.sum(-1), torch.ones(B))
    if use_cache:
        assert isinstance(state.caches[0], KVCache) and state.caches[0].self_k.shape == (B, H, T, D // H)


def test_cache_gives_the_same_greedy_and_beam_outputs() -> None:
    model = small_model()
    src, src_len = batch()
    outs = {}
    for use_cache in (True, False):
        model.use_cache = use_cache
        outs[use_cache] = (
            greedy_decode(model, (src, src_len), bos=2, eos=3, max_len=12),
            beam_search(model, (src, src_len), bos=2, eos=3, beam_size=4, max_len=12),
        )
    assert outs[True][0] == outs[False][0]
    for a, b in zip(outs[True][1], outs[False][1], strict=True):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4)


def test_tied_embeddings_and_model_bad_input() -> None:
    model = small_model()
    assert model.generator.weight is model.tgt_embed.lookup.weight
    assert small_model(tie_embeddings=False).generator.weight is not small_model().tgt_embed.lookup.weight
    src, src_len = batch()
    with pytest.raises(ValueError, match="src_len"):
        model(src, src_len[:2], torch.zeros(B, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="token ids"):
        model(src.float(), src_len, torch.zeros(B, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len = 8"):
        small_model(max_len=8)(
            torch.ones(1, 9, dtype=torch.long), torch.tensor([9]), torch.zeros(1, 2, dtype=torch.long)
        )
    state = model.start(src, src_len)
    with pytest.raises(ValueError, match="tokens"):
        model.step(torch.zeros(B + 1, dtype=torch.long), state)
    assert small_model(learned_positions=True)(src, src_len, torch.zeros(B, 2, dtype=torch.long)).shape == (
        B,
        2,
        40,
    )


def test_language_model_steps_equal_forward_and_are_causal() -> None:
    lm = TransformerLM(40, d_model=D, num_heads=H, num_layers=2, d_ff=FF).eval()
    x = torch.randint(0, 40, (2, 6))
    logits = lm(x)
    changed = x.clone()
    changed[:, 4:] = (x[:, 4:] + 1) % 40
    torch.testing.assert_close(lm(changed)[:, :4], logits[:, :4])
    for prefix in (0, 2):
        state = lm.start(x[:, :prefix])
        assert isinstance(state, LMState)
        for t in range(prefix, 6):
            logp, state = lm.step(x[:, t], state)
            torch.testing.assert_close(logp, torch.log_softmax(logits[:, t], dim=-1))
            torch.testing.assert_close(logp.exp().sum(-1), torch.ones(2))
    out = greedy_decode(lm, (x[:, :1],), bos=x[:, 1], eos=3, max_len=5)
    assert len(out) == 2
    with pytest.raises(ValueError, match="tokens"):
        lm.step(torch.zeros(3, dtype=torch.long), state)


def test_attention_weights_of_every_head() -> None:
    model = small_model()
    src, src_len = batch()
    tgt = torch.randint(4, 40, (B, T))
    logits = model(src, src_len, tgt)
    weights = attention_weights(model, src, src_len, tgt)
    assert weights["encoder.layers.0.self_attn"].shape == (B, H, S, S)
    assert weights["decoder.layers.1.self_attn"].shape == (B, H, T, T)
    assert weights["decoder.layers.1.cross_attn"].shape == (B, H, T, S)
    assert (weights["decoder.layers.0.self_attn"].triu(1) == 0).all()  # causal
    assert (weights["decoder.layers.0.cross_attn"][2, :, :, 2:] == 0).all()  # padding
    torch.testing.assert_close(model(src, src_len, tgt), logits)  # nothing left switched on
    assert all(not m.keep_weights for m in model.modules() if isinstance(m, MultiHeadAttention))
    with pytest.raises(ValueError, match="no MultiHeadAttention"):
        attention_weights(nn.Linear(2, 2), torch.zeros(1, 2))


def test_language_model_never_predicts_blocked_tokens() -> None:
    lm = TransformerLM(40, d_model=D, num_heads=H, num_layers=1, d_ff=FF, never_predict=(0, 2)).eval()
    logp = torch.log_softmax(lm(torch.randint(3, 40, (2, 4))), dim=-1)
    assert torch.isneginf(logp[..., [0, 2]]).all() and torch.isfinite(logp[..., 3:]).all()
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(2, 4))
    with pytest.raises(ValueError, match="never_predict"):
        TransformerLM(40, never_predict=(40,))


def test_inverse_sqrt_schedule() -> None:
    lr = [inverse_sqrt_schedule(s, d_model=256, warmup_steps=100) for s in (1, 50, 100, 400)]
    assert lr[0] < lr[1] < lr[2] and lr[3] == pytest.approx(lr[2] / 2)
    assert lr[2] == pytest.approx(256**-0.5 * 100**-0.5)
    with pytest.raises(ValueError):
        inverse_sqrt_schedule(0, d_model=256, warmup_steps=100)
