"""Tests for course_utils.attention: masked_softmax (exact zeros, (B, T, S) inputs, the all-masked error),
every scoring rule against a brute-force loop over its equation, the identities between the rules
(concat = additive, general with W = I = dot, scaled dot = dot / √d), padding invariance, precomputed
keys, gradients, make_attention, and every shape / type error."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from course_utils.attention import (
    ATTENTION_KINDS,
    AdditiveAttention,
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    make_attention,
    masked_softmax,
)

B, S, HQ, HK, HV, A = 3, 5, 4, 6, 3, 7
LENGTHS = torch.tensor([5, 3, 1])  # different source lengths: rows 1 and 2 are padded
CLASSES = {
    "additive": AdditiveAttention,
    "dot": DotAttention,
    "scaled_dot": DotAttention,
    "general": GeneralAttention,
    "concat": ConcatAttention,
}


def _mask(lengths: torch.Tensor = LENGTHS, S: int = S) -> torch.Tensor:
    return torch.arange(S)[None, :] < lengths[:, None]  # (B, S)


def _key_dim(kind: str) -> int:
    return HQ if kind in ("dot", "scaled_dot") else HK


def _setup(kind: str, seed: int = 0):
    """A rule with random parameters and inputs: query (B, HQ), keys (B, S, Hk), values (B, S, HV)."""
    torch.manual_seed(seed)
    attn = make_attention(kind, HQ, _key_dim(kind), A)
    with torch.no_grad():  # nonzero biases too, so a lost bias would show
        for p in attn.parameters():
            p.uniform_(-0.8, 0.8)
    query, keys, values = torch.randn(B, HQ), torch.randn(B, S, _key_dim(kind)), torch.randn(B, S, HV)
    return attn, query, keys, values


def _reference_score(attn, kind: str, s: torch.Tensor, h: torch.Tensor) -> float:
    """score(s, h) for one query vector and one key vector, written straight from the equation."""
    if kind == "additive":
        u = attn.W_q.weight @ s + attn.W_k.weight @ h + attn.W_k.bias
        return float(attn.v.weight[0] @ torch.tanh(u))
    if kind in ("dot", "scaled_dot"):
        return float(s @ h) / (math.sqrt(h.numel()) if kind == "scaled_dot" else 1.0)
    if kind == "general":
        return float(s @ attn.W.weight @ h)
    u = attn.W.weight @ torch.cat([s, h]) + attn.W.bias  # concat
    return float(attn.v.weight[0] @ torch.tanh(u))


@torch.no_grad()
def _reference(attn, kind, query, keys, values, lengths):
    """Scores, weights and context by loops: softmax over the first lengths[b] positions only."""
    scores = torch.tensor(
        [[_reference_score(attn, kind, query[b], keys[b, i]) for i in range(S)] for b in range(B)]
    )
    weights = torch.zeros(B, S)
    context = torch.zeros(B, values.shape[-1])
    for b in range(B):
        n = int(lengths[b])
        e = torch.exp(scores[b, :n] - scores[b, :n].max())
        weights[b, :n] = e / e.sum()
        context[b] = sum(weights[b, i] * values[b, i] for i in range(n))
    return scores, weights, context


def _copy_concat_to_additive(concat: ConcatAttention, additive: AdditiveAttention) -> None:
    with torch.no_grad():
        additive.W_q.weight.copy_(concat.W.weight[:, :HQ])
        additive.W_k.weight.copy_(concat.W.weight[:, HQ:])
        additive.W_k.bias.copy_(concat.W.bias)
        additive.v.weight.copy_(concat.v.weight)


# ----------------------------------------------------------------------------------------------------
# masked_softmax
# ----------------------------------------------------------------------------------------------------


def test_masked_softmax_gives_padding_exactly_zero_and_rows_sum_to_one():
    torch.manual_seed(0)
    scores, mask = torch.randn(B, S) * 3, _mask()
    weights = masked_softmax(scores, mask)
    assert (weights[~mask] == 0.0).all()
    assert (weights[mask] > 0).all()
    assert_close(weights.sum(-1), torch.ones(B))
    for b, n in enumerate(LENGTHS.tolist()):  # equals a plain softmax over the real positions
        assert_close(weights[b, :n], torch.softmax(scores[b, :n], dim=-1))


def test_masked_softmax_is_stable_for_large_scores():
    scores = torch.tensor([[1e4, -1e4, 3e4, 0.0], [-5e4, -5e4, 1e5, 1e5]])
    mask = torch.tensor([[True, True, False, True], [True, True, True, False]])
    weights = masked_softmax(scores, mask)
    assert torch.isfinite(weights).all()
    assert_close(weights, torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]))


def test_masked_softmax_ignores_whatever_the_padded_scores_are():
    """Padding gets 0 even when real scores are hugely negative (a finite fill such as -1e9 would win)
    and when padded scores are inf or NaN."""
    scores = torch.tensor([[-1e30, -2e30, float("nan"), float("inf")], [-1e30, float("-inf"), 5.0, 5.0]])
    mask = torch.tensor([[True, True, False, False], [True, True, False, False]])
    weights = masked_softmax(scores, mask)
    assert_close(weights, torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]))
    assert (weights[~mask] == 0.0).all()


def test_masked_softmax_without_mask_is_softmax():
    scores = torch.randn(B, S)
    assert_close(masked_softmax(scores, None), torch.softmax(scores, dim=-1))


def test_masked_softmax_on_target_by_source_scores():
    """(B, T, S) scores for the Transformer: padding (B, 1, S), causal (1, T, S), and both combined."""
    torch.manual_seed(0)
    T = 5
    scores = torch.randn(B, T, S)
    padding = _mask()[:, None, :]  # (B, 1, S)
    weights = masked_softmax(scores, padding)
    assert weights.shape == (B, T, S)
    assert (weights.masked_select(~padding.expand(B, T, S)) == 0.0).all()
    assert_close(weights.sum(-1), torch.ones(B, T))
    for t in range(T):  # every target position is a (B, S) problem of its own
        assert_close(weights[:, t], masked_softmax(scores[:, t], _mask()))

    causal = torch.ones(T, S, dtype=torch.bool).tril()[None]  # (1, T, S)
    weights = masked_softmax(scores, causal)
    assert (weights[:, ~causal[0]] == 0.0).all()
    assert_close(weights[:, 0, 0], torch.ones(B))
    assert_close(weights.sum(-1), torch.ones(B, T))

    both = padding & causal  # (B, T, S); every row keeps position 0
    weights = masked_softmax(scores, both)
    assert (weights[~both] == 0.0).all()
    assert_close(weights.sum(-1), torch.ones(B, T))


def test_masked_softmax_on_multi_head_scores():
    scores, mask = torch.randn(B, 2, 4, S), _mask()[:, None, None, :]  # (B, heads, T, S), (B, 1, 1, S)
    weights = masked_softmax(scores, mask)
    assert (weights.masked_select(~mask.expand_as(scores)) == 0.0).all()
    assert_close(weights.sum(-1), torch.ones(B, 2, 4))


def test_masked_softmax_gradient():
    scores = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True, True], [False, True, False, False]])
    assert torch.autograd.gradcheck(lambda x: masked_softmax(x, mask), (scores,))
    masked_softmax(scores, mask).pow(2).sum().backward()
    assert (scores.grad[~mask] == 0.0).all()


@pytest.mark.parametrize("shape", [(B, S), (B, 4, S)])
def test_masked_softmax_all_masked_row_raises(shape):
    mask = torch.ones(shape, dtype=torch.bool)
    mask[1, ...] = False  # sentence 1 has no real token
    with pytest.raises(ValueError, match=r"no real source token") as err:
        masked_softmax(torch.randn(shape), mask)
    assert "mask[1" in str(err.value)


def test_masked_softmax_all_masked_row_of_a_causal_mask_raises():
    mask = torch.ones(1, 3, 3, dtype=torch.bool).tril()
    mask[0, 0, 0] = False  # target position 0 may attend nothing
    with pytest.raises(ValueError, match=r"mask\[0, 0\] is all False"):
        masked_softmax(torch.randn(2, 3, 3), mask)


@pytest.mark.parametrize(
    "scores, mask, error, message",
    [
        ([[0.0, 1.0]], None, TypeError, "scores must be a tensor, got list"),
        (torch.ones(2, 3, dtype=torch.long), None, TypeError, "floating-point tensor, got torch.int64"),
        (torch.randn(S), None, ValueError, r"\(B, S\).*got \(5,\).*scores\[None\]"),
        (torch.randn(B, S), [[True] * S] * B, TypeError, "mask must be a bool tensor or None, got list"),
        (torch.randn(B, S), torch.ones(B, S, dtype=torch.long), TypeError, "bool tensor.*got torch.int64"),
        (torch.randn(B, S), torch.ones(B, S + 1, dtype=torch.bool), ValueError, r"\(3, 6\).*\(3, 5\)"),
        (torch.randn(B, S), torch.ones(B, 1, S, dtype=torch.bool), ValueError, "as many dimensions"),
        (torch.randn(B, 4, S), torch.ones(B, S, dtype=torch.bool), ValueError, r"mask\[:, None, :\]"),
        (torch.randn(B, 4, S), torch.ones(B, 2, S, dtype=torch.bool), ValueError, r"\(3, 2, 5\)"),
    ],
)
def test_masked_softmax_rejects_bad_inputs(scores, mask, error, message):
    with pytest.raises(error, match=message):
        masked_softmax(scores, mask)


# ----------------------------------------------------------------------------------------------------
# Every scoring rule
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_rule_matches_its_equation_on_a_padded_batch(kind):
    attn, query, keys, values = _setup(kind)
    mask = _mask()
    ref_scores, ref_weights, ref_context = _reference(attn, kind, query, keys, values, LENGTHS)
    assert_close(attn.score(query, keys), ref_scores)

    context, weights = attn(query, keys, mask, values=values)
    assert context.shape == (B, HV) and weights.shape == (B, S)
    assert (weights[~mask] == 0.0).all()  # exactly zero, not 1e-9
    assert_close(weights.sum(-1), torch.ones(B))
    assert_close(weights, ref_weights)
    assert_close(context, ref_context)
    assert_close(context, (weights[:, :, None] * values).sum(1))  # the weighted sum of the values


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_values_default_to_keys_and_no_mask_means_no_padding(kind):
    attn, query, keys, _ = _setup(kind)
    context, weights = attn(query, keys, _mask())
    assert_close(context, torch.einsum("bs,bsk->bk", weights, keys))
    full = torch.ones(B, S, dtype=torch.bool)
    for a, b in zip(attn(query, keys, None), attn(query, keys, full), strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_padding_invariance(kind):
    """Extra padded positions (with garbage keys and values) change nothing on the real ones."""
    attn, query, keys, values = _setup(kind)
    extra = 4
    keys_long = torch.cat([keys, 100 * torch.randn(B, extra, keys.shape[-1])], dim=1)
    values_long = torch.cat([values, 100 * torch.randn(B, extra, HV)], dim=1)
    context, weights = attn(query, keys, _mask(), values=values)
    context_long, weights_long = attn(query, keys_long, _mask(S=S + extra), values=values_long)
    assert_close(context_long, context)
    assert_close(weights_long[:, :S], weights)
    assert (weights_long[:, S:] == 0.0).all()


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_precomputed_keys_give_the_same_result(kind):
    attn, query, keys, values = _setup(kind)
    projected = attn.project_keys(keys)
    if kind in ("additive", "general"):
        assert projected.shape == (B, S, A if kind == "additive" else HQ)
    else:
        assert projected is None  # nothing to precompute
    for a, b in zip(
        attn(query, keys, _mask(), values=values, projected_keys=projected),
        attn(query, keys, _mask(), values=values),
        strict=True,
    ):
        assert_close(a, b)
    assert_close(attn.score(query, keys, projected_keys=projected), attn.score(query, keys))


@pytest.mark.parametrize("kind", ["additive", "general"])
def test_precomputed_keys_are_used_not_recomputed(kind):
    """The score comes from projected_keys (computed once per sentence), not from the keys again."""
    attn, query, keys, _ = _setup(kind)
    other = torch.randn_like(keys)
    assert_close(attn.score(query, keys, projected_keys=attn.project_keys(other)), attn.score(query, other))
    assert not torch.allclose(attn.score(query, other), attn.score(query, keys))


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
@pytest.mark.parametrize("precompute", [False, True])
def test_gradients_flow_and_skip_padded_positions(kind, precompute):
    attn, query, keys, values = _setup(kind)
    query.requires_grad_()
    keys.requires_grad_()
    values.requires_grad_()
    projected = attn.project_keys(keys) if precompute else None
    context, weights = attn(query, keys, _mask(), values=values, projected_keys=projected)
    g = torch.Generator().manual_seed(1)
    (context * torch.randn(context.shape, generator=g)).sum().backward()
    params = dict(attn.named_parameters())
    assert len(params) == {"additive": 4, "dot": 0, "scaled_dot": 0, "general": 1, "concat": 3}[kind]
    for name, p in params.items():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    for x in (query, keys, values):
        assert torch.isfinite(x.grad).all()
    assert query.grad.abs().sum() > 0
    pad = ~_mask()
    assert (keys.grad[pad] == 0.0).all()  # padded keys get no gradient at all
    assert (values.grad[pad] == 0.0).all()
    # real keys of sentences with more than one token do (a single token's weight is 1 whatever its score)
    assert (keys.grad[:2][~pad[:2]].abs().sum(-1) > 0).all()


# ----------------------------------------------------------------------------------------------------
# Identities between the rules
# ----------------------------------------------------------------------------------------------------


def test_concat_equals_additive_with_split_weights():
    concat, query, keys, values = _setup("concat")
    additive = AdditiveAttention(HQ, HK, A)
    _copy_concat_to_additive(concat, additive)
    mask = _mask()
    assert_close(additive.score(query, keys), concat.score(query, keys))
    for a, b in zip(
        additive(query, keys, mask, values=values), concat(query, keys, mask, values=values), strict=True
    ):
        assert_close(a, b)


def test_additive_equals_concat_with_joined_weights():
    additive, query, keys, values = _setup("additive", seed=1)
    concat = ConcatAttention(HQ, HK, A)
    with torch.no_grad():
        concat.W.weight.copy_(torch.cat([additive.W_q.weight, additive.W_k.weight], dim=1))
        concat.W.bias.copy_(additive.W_k.bias)
        concat.v.weight.copy_(additive.v.weight)
    mask = _mask()
    projected = additive.project_keys(keys)
    assert_close(concat.score(query, keys), additive.score(query, keys, projected_keys=projected))
    for a, b in zip(
        concat(query, keys, mask), additive(query, keys, mask, projected_keys=projected), strict=True
    ):
        assert_close(a, b)


def test_concat_is_not_additive_with_fresh_weights():
    """Guard for the two tests above: without copying, the rules disagree."""
    concat, query, keys, _ = _setup("concat")
    torch.manual_seed(5)
    additive = AdditiveAttention(HQ, HK, A)
    assert not torch.allclose(additive.score(query, keys), concat.score(query, keys))


def test_general_with_identity_equals_dot():
    dot, query, keys, values = _setup("dot")
    general = GeneralAttention(HQ, HQ)
    with torch.no_grad():
        general.W.weight.copy_(torch.eye(HQ))
    mask = _mask()
    assert_close(general.score(query, keys), dot.score(query, keys))
    for a, b in zip(
        general(query, keys, mask, values=values), dot(query, keys, mask, values=values), strict=True
    ):
        assert_close(a, b)


def test_scaled_dot_scores_are_dot_scores_over_sqrt_d():
    dot, query, keys, _ = _setup("dot")
    scaled = DotAttention(HQ, HQ, scaled=True)
    assert scaled.scaled and not dot.scaled
    assert torch.equal(scaled.score(query, keys), dot.score(query, keys) / math.sqrt(HQ))
    assert_close(dot.score(query, keys), torch.einsum("bh,bsh->bs", query, keys))
    w_dot, w_scaled = dot(query, keys, _mask())[1], scaled(query, keys, _mask())[1]
    assert not torch.allclose(w_dot, w_scaled)  # a softmax of scaled scores is flatter
    entropy = lambda w: -(w * w.clamp_min(1e-30).log()).sum(-1)  # noqa: E731
    assert (entropy(w_scaled)[:2] > entropy(w_dot)[:2]).all()  # rows with more than one real token


# ----------------------------------------------------------------------------------------------------
# make_attention and constructors
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_make_attention_builds_each_kind(kind):
    attn = make_attention(kind, HQ, _key_dim(kind), A)
    assert type(attn) is CLASSES[kind]
    assert (attn.query_dim, attn.key_dim) == (HQ, _key_dim(kind))
    if kind in ("dot", "scaled_dot"):
        assert attn.scaled == (kind == "scaled_dot")
    if kind in ("additive", "concat"):
        assert attn.attn_dim == A and attn.v.weight.shape == (1, A)
    assert repr(attn).startswith(f"{CLASSES[kind].__name__}(") and "dim=" in repr(attn)


def test_make_attention_defaults_and_ignored_attn_dim():
    assert make_attention("additive", HQ, HK).attn_dim == HQ  # Bahdanau's n' = n
    assert make_attention("concat", HQ, HK).attn_dim == HQ
    assert make_attention("general", HQ, HK, attn_dim=99).W.weight.shape == (HQ, HK)  # no attn layer
    assert make_attention("dot", HQ, HQ, attn_dim=99).key_dim == HQ


def test_parameter_shapes_follow_the_papers():
    additive = AdditiveAttention(HQ, HK, A)
    assert additive.W_q.weight.shape == (A, HQ) and additive.W_q.bias is None  # the query side has no bias
    assert additive.W_k.weight.shape == (A, HK) and additive.W_k.bias.shape == (A,)
    concat = ConcatAttention(HQ, HK, A)
    assert concat.W.weight.shape == (A, HQ + HK) and concat.W.bias.shape == (A,)  # ONE layer on [s; h]
    assert sum(p.numel() for p in additive.parameters()) == sum(p.numel() for p in concat.parameters())
    assert list(DotAttention(HQ, HQ).parameters()) == []


@pytest.mark.parametrize("kind", ["Additive", "attention", "", None, "scaled-dot"])
def test_make_attention_rejects_unknown_kind(kind):
    with pytest.raises(ValueError, match=r"unknown attention kind.*'additive', 'dot', 'scaled_dot'"):
        make_attention(kind, HQ, HK)


@pytest.mark.parametrize("kind", ["dot", "scaled_dot"])
def test_dot_requires_equal_sizes(kind):
    with pytest.raises(ValueError, match=r"query_dim and key_dim must be equal.*query_dim=4, key_dim=6"):
        make_attention(kind, HQ, HK)
    with pytest.raises(ValueError, match="must be equal"):
        DotAttention(HQ, HK)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: AdditiveAttention(0, HK, A), "query_dim must be a positive int, got 0"),
        (lambda: AdditiveAttention(HQ, 2.5, A), "key_dim must be a positive int, got 2.5"),
        (lambda: AdditiveAttention(HQ, HK, -1), "attn_dim must be a positive int, got -1"),
        (lambda: ConcatAttention(HQ, HK, True), "attn_dim must be a positive int, got True"),
        (lambda: GeneralAttention(HQ, 0), "key_dim must be a positive int"),
        (lambda: DotAttention(0, 0), "query_dim must be a positive int"),
        (lambda: make_attention("concat", HQ, HK, 0), "attn_dim must be a positive int"),
    ],
)
def test_constructors_reject_bad_sizes(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_dot_rejects_non_bool_scaled():
    with pytest.raises(TypeError, match="scaled must be a bool, got str"):
        DotAttention(HQ, HQ, scaled="yes")


# ----------------------------------------------------------------------------------------------------
# Shape and type errors of forward / score / project_keys
# ----------------------------------------------------------------------------------------------------

GOOD = {
    "query": torch.randn(B, HQ),
    "keys": torch.randn(B, S, HK),
    "mask": _mask(),
    "values": torch.randn(B, S, HV),
}
BAD_INPUTS = [
    ("query", torch.randn(HQ), ValueError, r"query must have shape \(B, query_dim=4\), got \(4,\)"),
    ("query", torch.randn(B, 2, HQ), ValueError, r"got \(3, 2, 4\); attend one decoder step at a time"),
    ("query", torch.randn(B, HQ + 1), ValueError, r"query must have shape \(B, query_dim=4\), got \(3, 5\)"),
    ("query", [[0.0] * HQ], TypeError, r"query must be a tensor of shape \(B, query_dim=4\), got list"),
    ("keys", torch.randn(S, HK), ValueError, r"keys must have shape \(B=3, S, key_dim=6\), got \(5, 6\)"),
    (
        "keys",
        torch.randn(B, S, HK - 1),
        ValueError,
        r"keys must have shape \(B=3, S, key_dim=6\), got \(3, 5, 5\)",
    ),
    (
        "keys",
        torch.randn(B + 1, S, HK),
        ValueError,
        r"keys must have shape \(B=3, S, key_dim=6\), got \(4, 5, 6\)",
    ),
    ("mask", _mask()[:, :-1], ValueError, r"mask must have shape \(B=3, S=5\), got \(3, 4\)"),
    ("mask", _mask()[:2], ValueError, r"mask must have shape \(B=3, S=5\), got \(2, 5\)"),
    ("mask", _mask()[:, None, :], ValueError, r"mask must have shape \(B=3, S=5\), got \(3, 1, 5\)"),
    ("mask", _mask().float(), TypeError, "mask must be a bool tensor.*got torch.float32"),
    ("mask", _mask().tolist(), TypeError, r"mask must be a tensor of shape \(B=3, S=5\), got list"),
    (
        "values",
        torch.randn(B, S - 1, HV),
        ValueError,
        r"values must have shape \(B=3, S=5, Hv\), got \(3, 4, 3\)",
    ),
    (
        "values",
        torch.randn(B - 1, S, HV),
        ValueError,
        r"values must have shape \(B=3, S=5, Hv\), got \(2, 5, 3\)",
    ),
    ("values", torch.randn(B, HV), ValueError, r"values must have shape \(B=3, S=5, Hv\), got \(3, 3\)"),
]


@pytest.mark.parametrize("kind", ["additive", "general", "concat"])
@pytest.mark.parametrize("name, bad, error, message", BAD_INPUTS)
def test_forward_rejects_bad_inputs(kind, name, bad, error, message):
    attn = make_attention(kind, HQ, HK, A)
    inputs = {**GOOD, name: bad}
    with pytest.raises(error, match=message) as err:
        attn(inputs["query"], inputs["keys"], inputs["mask"], values=inputs["values"])
    assert str(err.value).startswith(type(attn).__name__)  # the message names the module


def test_dot_rejects_keys_of_another_size():
    with pytest.raises(
        ValueError, match=r"DotAttention: keys must have shape \(B=3, S, key_dim=4\), got \(3, 5, 6\)"
    ):
        DotAttention(HQ, HQ)(GOOD["query"], GOOD["keys"], GOOD["mask"])


def test_all_masked_sentence_raises_in_forward():
    attn = AdditiveAttention(HQ, HK, A)
    with pytest.raises(ValueError, match="no real source token"):
        attn(GOOD["query"], GOOD["keys"], _mask(torch.tensor([2, 0, 1])))


@pytest.mark.parametrize(
    "kind, bad, message",
    [
        (
            "additive",
            torch.randn(B, S, A + 1),
            r"projected_keys must have shape \(B=3, S=5, projected_dim=7\), got",
        ),
        (
            "additive",
            torch.randn(B, S - 1, A),
            r"projected_keys must have shape \(B=3, S=5, projected_dim=7\), got",
        ),
        (
            "general",
            torch.randn(B, S, A),
            r"projected_keys must have shape \(B=3, S=5, projected_dim=4\), got",
        ),
        ("concat", torch.randn(B, S, A), "projected_keys must be None, this rule has nothing to precompute"),
        ("dot", torch.randn(B, S, HQ), "projected_keys must be None"),
    ],
)
def test_forward_rejects_bad_projected_keys(kind, bad, message):
    attn = make_attention(kind, HQ, _key_dim(kind), A)
    keys = torch.randn(B, S, _key_dim(kind))
    with pytest.raises(ValueError, match=message):
        attn(GOOD["query"], keys, GOOD["mask"], projected_keys=bad)
    with pytest.raises(ValueError, match=message):
        attn.score(GOOD["query"], keys, projected_keys=bad)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_project_keys_checks_its_input(kind):
    attn = make_attention(kind, HQ, _key_dim(kind), A)
    with pytest.raises(ValueError, match=r"keys must have shape \(B, S, key_dim="):
        attn.project_keys(torch.randn(S, _key_dim(kind)))
