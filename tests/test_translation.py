"""The Multi30k translation pipeline: tokens, vocabularies, reversed source, batches, decoding."""

from __future__ import annotations

import pytest
import torch

from course_utils.seq2seq import make_model
from course_utils.translation import (
    SCHEDULES,
    SPLITS,
    Recipe,
    TranslationData,
    attention_map,
    bleu_on,
    detokenize,
    load_translation_data,
    make_loader,
    perplexity,
    train_translation,
    translate,
    translate_corpus,
)


@pytest.fixture(scope="module")
def data() -> TranslationData:
    return load_translation_data()


@pytest.fixture(scope="module")
def small() -> TranslationData:
    return load_translation_data(max_train=300)


def test_splits_sizes_and_tokens(data: TranslationData) -> None:
    assert SPLITS == ("train", "val", "test")
    assert [len(data.examples[s]) for s in SPLITS] == [29000, 1014, 1000]
    de, en = data.tokens["train"][0]
    assert de[:3] == ["zwei", "junge", "weiße"] and en[:3] == ["two", "young", ","]
    assert all(t == t.lower() for src, tgt in data.tokens["test"] for t in src + tgt)


def test_vocabularies_keep_words_seen_twice(data: TranslationData) -> None:
    freqs = data.src_vocab.freqs
    assert all(freqs[t] >= 2 for t in data.src_vocab.itos[4:])
    rare = next(t for t, c in freqs.items() if c == 1)
    assert rare not in data.src_vocab
    assert (len(data.src_vocab), len(data.tgt_vocab)) == (7851, 5892)  # with the four specials


def test_examples_layout(data: TranslationData) -> None:
    (src, tgt), (de, en) = data.examples["val"][0], data.tokens["val"][0]
    assert src == data.src_vocab.encode(de) + [data.src_vocab.eos_idx]
    assert tgt == [data.tgt_vocab.bos_idx] + data.tgt_vocab.encode(en) + [data.tgt_vocab.eos_idx]
    assert data.decode_target(tgt) == [t if t in data.tgt_vocab else "<unk>" for t in en]


def test_reversed_source() -> None:
    fwd, rev = load_translation_data(max_train=500), load_translation_data(max_train=500, reverse_source=True)
    (src_f, tgt_f), (src_r, tgt_r) = fwd.examples["test"][3], rev.examples["test"][3]
    assert src_r[:-1] == src_f[:-1][::-1] and src_r[-1] == src_f[-1] == fwd.src_vocab.eos_idx
    assert tgt_f == tgt_r
    assert rev.encode_source("ein hund läuft .")[:-1] == fwd.encode_source("ein hund läuft .")[:-1][::-1]


def test_unknown_counts(data: TranslationData) -> None:
    counts = data.unknown_counts("test")
    assert counts["src_tokens"] == sum(len(s) for s, _ in data.tokens["test"])
    assert counts["tgt_tokens"] == sum(len(t) for _, t in data.tokens["test"])
    by_hand = sum(t not in data.src_vocab for s, _ in data.tokens["test"] for t in s)
    assert counts["src_unk"] == by_hand > 0
    assert data.unknown_counts("train")["src_unk"] == sum(
        data.src_vocab.freqs[t] for t in data.src_vocab.freqs if t not in data.src_vocab
    )


def test_encode_source(data: TranslationData) -> None:
    ids = data.encode_source("Ein Mann fährt Fahrrad.")
    assert data.src_vocab.decode(ids) == ["ein", "mann", "fährt", "fahrrad", "."]
    assert data.encode_source(["ein", "mann"]) == data.src_vocab.encode(["ein", "mann"], add_eos=True)
    with pytest.raises(ValueError, match="empty"):
        data.encode_source("   ")


def test_make_loader_batches(small: TranslationData) -> None:
    loader = make_loader(small, "val", 64)
    seen = 0
    for (src, src_len, tgt_in), tgt_out in loader:
        B = src.shape[0]
        assert src.dtype == torch.long and src_len.shape == (B,) and tgt_in.shape == tgt_out.shape
        assert int(src_len.max()) == src.shape[1]
        assert (tgt_in[:, 0] == small.tgt_vocab.bos_idx).all()
        assert (tgt_in[:, 1:] == tgt_out[:, :-1]).all()  # shifted by one
        assert ((tgt_out == small.tgt_vocab.eos_idx).sum(1) == 1).all()
        seen += B
    assert seen == len(small.examples["val"])


def test_bad_arguments(small: TranslationData) -> None:
    with pytest.raises(ValueError, match="min_freq"):
        load_translation_data(min_freq=0)
    with pytest.raises(TypeError, match="reverse_source"):
        load_translation_data(reverse_source="yes")
    with pytest.raises(ValueError, match="max_train"):
        load_translation_data(max_train=0)
    with pytest.raises(ValueError, match="max_eval"):
        load_translation_data(max_eval=True)
    with pytest.raises(ValueError, match="unknown split"):
        make_loader(small, "dev", 8)
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(small, "train", 0)
    with pytest.raises(ValueError, match="unknown split"):
        small.unknown_counts("dev")
    with pytest.raises(TypeError, match="decoding interface"):
        translate_corpus(torch.nn.Linear(2, 2), [[4, 3]], small)
    with pytest.raises(TypeError, match="one German sentence"):
        translate(make_model("gru-context", small), ["ein", "hund"], small)
    with pytest.raises(TypeError, match="Recipe"):
        train_translation(make_model("gru-context", small), small, {"epochs": 1})


def test_token_batches_and_recipe_options(small: TranslationData) -> None:
    loader = make_loader(small, "train", max_tokens=400)
    seen = []
    for (src, _, tgt_in), tgt_out in loader:
        assert src.numel() <= 400 or src.shape[0] == 1
        assert tgt_in.shape == tgt_out.shape and tgt_in.numel() <= 400 or src.shape[0] == 1
        seen.append(src.shape[0])
    assert sum(seen) == 300 and max(seen) > min(seen)  # short sentences come in bigger batches
    with pytest.raises(ValueError, match="exactly one"):
        make_loader(small, "train", 8, max_tokens=100)
    with pytest.raises(ValueError, match="exactly one"):
        make_loader(small, "train")
    with pytest.raises(ValueError, match="max_tokens"):
        make_loader(small, "train", max_tokens=0)
    assert SCHEDULES == ("one-cycle", "inverse-sqrt")
    with pytest.raises(ValueError, match="schedule"):
        Recipe(schedule="cosine")
    with pytest.raises(ValueError, match="betas"):
        Recipe(betas=(0.9, 1.0))
    torch.manual_seed(0)
    model = make_model("transformer", small, d_model=16, num_heads=2, d_ff=32)
    recipe = Recipe(epochs=1, max_tokens=600, max_lr=1e-2, schedule="inverse-sqrt", warmup_steps=5,
                    betas=(0.9, 0.98))  # fmt: skip
    history = train_translation(model, small, recipe, progress=False)
    assert len(history["val_loss"]) == 1 and history["train_loss"][0] > 0
    with pytest.raises(ValueError, match="teacher_forcing"):
        train_translation(model, small, Recipe(epochs=1, batch_size=64, teacher_forcing=0.5), progress=False)


def test_train_translate_and_score_end_to_end(small: TranslationData) -> None:
    """A tiny model trained for one epoch: the pieces fit together and the scores are sane."""
    torch.manual_seed(0)
    model = make_model("attention", small, emb_dim=16, hidden_size=16, attn_dim=16)
    history = train_translation(model, small, Recipe(epochs=1, batch_size=64, max_lr=1e-2), progress=False)
    assert history["train_loss"][0] > 0 and len(history["val_loss"]) == 1
    ppl = perplexity(model, small, "val")
    assert 1 < ppl < len(small.tgt_vocab)
    text = translate(model, "Ein Hund läuft im Schnee.", small, max_len=12)
    assert isinstance(text, str) and len(text.split()) <= 12
    sources = [s for s, _ in small.examples["test"][:20]]
    greedy = translate_corpus(model, sources, small, max_len=12)
    one_by_one = [translate_corpus(model, [s], small, max_len=12)[0] for s in sources]
    assert greedy == one_by_one  # batching by length does not change the output or its order
    score, hyps = bleu_on(model, small, "test", beam_size=2)
    assert len(hyps) == 1000 and 0 <= score.score <= 100
    src_tokens, out, weights = attention_map(model, "Ein Hund läuft im Schnee.", small, max_len=12)
    assert src_tokens[-1] == "<eos>" and len(src_tokens) == 7 and weights.shape == (len(out), 7)
    torch.testing.assert_close(weights.sum(1), torch.ones(len(out)))
    assert out[:-1] == text.split() or len(out) == 12
    with pytest.raises(TypeError, match="no attention weights"):
        attention_map(make_model("gru-context", small, emb_dim=8, hidden_size=8), "ein hund", small)
    # forcing a given translation: one row per forced token and <eos>, equal to greedy's rows when forced to it
    forced_src, forced_out, forced_w = attention_map(
        model, "Ein Hund läuft im Schnee.", small, target=out[:-1]
    )
    if out[-1] == "<eos>":
        assert forced_out == out
        torch.testing.assert_close(forced_w, weights)
    _, other_out, other_w = attention_map(
        model, "Ein Hund läuft im Schnee.", small, target=["a", "dog", "zebra"]
    )
    assert other_out == ["a", "dog", "<unk>", "<eos>"] and other_w.shape == (4, 7)
    with pytest.raises(TypeError, match="list of English tokens"):
        attention_map(model, "Ein Hund", small, target="a dog")


def test_max_eval_slices_validation_and_test_only() -> None:
    full, sliced = load_translation_data(max_train=300), load_translation_data(max_train=300, max_eval=7)
    assert len(sliced.examples["train"]) == 300 and sliced.src_vocab.itos == full.src_vocab.itos
    for split in ("val", "test"):
        assert sliced.examples[split] == full.examples[split][:7]
        assert sliced.raw[split] == full.raw[split][:7] and sliced.tokens[split] == full.tokens[split][:7]
        assert len(sliced.references(split)) == 7


def test_detokenize() -> None:
    tokens = "a man 's dog ( brown ) is n't running , or is it ?".split()
    assert detokenize(tokens) == "A man's dog (brown) isn't running, or is it?"
    assert detokenize(["two", "dogs", "play", "."], capitalize=False) == "two dogs play."
    assert detokenize([]) == ""
    with pytest.raises(TypeError, match="list of str"):
        detokenize("a dog .")
    with pytest.raises(TypeError, match="list of str"):
        detokenize([1, 2])


def test_bleu_by_length_scores_each_group_on_its_own(small: TranslationData) -> None:
    from course_utils.bleu import corpus_bleu
    from course_utils.translation import LENGTH_BUCKETS, bleu_by_length

    refs = small.references("test")
    hyps = [
        r[: max(1, len(r) - i % 3)] for i, r in enumerate(refs)
    ]  # outputs a little shorter than the references
    scores = bleu_by_length(hyps, small)
    assert list(scores) == ["1-8", "9-11", "12-14", "15-18", "19+"] and len(LENGTH_BUCKETS) == 5
    idx = [i for i, (src, _) in enumerate(small.tokens["test"]) if 12 <= len(src) <= 14]
    assert scores["12-14"] == corpus_bleu([hyps[i] for i in idx], [[refs[i]] for i in idx]).score
    assert bleu_by_length(refs, small, buckets=[(1, 100)]) == {"1+": pytest.approx(100.0)}
    assert "0-0" not in bleu_by_length(refs, small, buckets=[(0, 0), (1, 100)])  # empty groups are left out
    with pytest.raises(ValueError, match="one per sentence"):
        bleu_by_length(hyps[:-1], small)
    with pytest.raises(ValueError, match="unknown split"):
        bleu_by_length(hyps, small, split="dev")
