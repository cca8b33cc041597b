"""Tests for course_utils.text: Vocab, tokenizers, pad_batch, BucketBatchSampler."""

from __future__ import annotations

import json
import pickle
import random
from collections import Counter

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader

from course_utils.text import (
    BOS,
    EOS,
    PAD,
    SPECIALS,
    UNK,
    BucketBatchSampler,
    TokenBatchSampler,
    Tokenizer,
    Vocab,
    _spacy_tokenizer,
    char_tokenize,
    get_tokenizer,
    pad_batch,
    whitespace_tokenize,
)

# the: 3, a: 2, cat: 2, dog: 1, sat: 1
SENTENCES = [["the", "cat", "sat"], ["a", "cat", "the"], ["the", "a", "dog"]]


@pytest.fixture
def vocab() -> Vocab:
    return Vocab.build(SENTENCES)


# ---------------------------------------------------------------------------- constants
def test_special_constants():
    assert (PAD, UNK, BOS, EOS) == ("<pad>", "<unk>", "<bos>", "<eos>")
    assert SPECIALS == (PAD, UNK, BOS, EOS)


# ---------------------------------------------------------------------------- Vocab.build
def test_build_orders_specials_then_frequency_then_alphabet(vocab):
    assert vocab.itos == ["<pad>", "<unk>", "<bos>", "<eos>", "the", "a", "cat", "dog", "sat"]
    assert (vocab.pad_idx, vocab.unk_idx, vocab.bos_idx, vocab.eos_idx) == (0, 1, 2, 3)
    assert len(vocab) == 9
    assert vocab.specials == SPECIALS


def test_build_is_independent_of_input_order():
    shuffled = [list(reversed(s)) for s in reversed(SENTENCES)]
    assert Vocab.build(shuffled).itos == Vocab.build(SENTENCES).itos


def test_build_accepts_a_generator_and_counts_freqs():
    vocab = Vocab.build(s for s in SENTENCES)
    assert vocab.freqs == Counter({"the": 3, "a": 2, "cat": 2, "dog": 1, "sat": 1})
    assert "dog" in vocab


def test_build_min_freq_drops_rare_tokens_but_keeps_their_counts():
    vocab = Vocab.build(SENTENCES, min_freq=2)
    assert vocab.itos[4:] == ["the", "a", "cat"]
    assert "dog" not in vocab
    assert vocab["dog"] == vocab.unk_idx
    assert vocab.freqs["dog"] == 1


def test_build_max_size_counts_non_special_tokens():
    vocab = Vocab.build(SENTENCES, max_size=2)
    assert vocab.itos == list(SPECIALS) + ["the", "a"]
    assert Vocab.build(SENTENCES, max_size=0).itos == list(SPECIALS)
    assert len(Vocab.build(SENTENCES, max_size=100)) == 9


def test_build_custom_and_no_specials():
    vocab = Vocab.build(SENTENCES, specials=(PAD, UNK))
    assert vocab.itos[:3] == [PAD, UNK, "the"]
    with pytest.raises(KeyError, match="no '<bos>' token"):
        _ = vocab.bos_idx
    labels = Vocab.build([["pos"], ["neg"], ["pos"]], specials=())
    assert labels.itos == ["pos", "neg"]
    assert labels.specials == ()


def test_build_does_not_duplicate_specials_seen_in_the_data():
    vocab = Vocab.build([[BOS, "x", EOS], [UNK, "x"]])
    assert vocab.itos == list(SPECIALS) + ["x"]


@pytest.mark.parametrize("min_freq", [0, -1, 1.5])
def test_build_rejects_bad_min_freq(min_freq):
    with pytest.raises(ValueError, match="min_freq must be an int >= 1"):
        Vocab.build(SENTENCES, min_freq=min_freq)


def test_build_rejects_negative_max_size():
    with pytest.raises(ValueError, match="max_size must be None"):
        Vocab.build(SENTENCES, max_size=-1)


def test_build_rejects_a_plain_string():
    with pytest.raises(TypeError, match="single str.*iterable of token lists"):
        Vocab.build("the cat sat")


def test_build_rejects_a_list_of_untokenized_strings():
    with pytest.raises(TypeError, match=r"token_lists\[0\] is a str .*tokenize it first"):
        Vocab.build(["the cat sat", "a dog"])


def test_build_rejects_non_str_tokens():
    with pytest.raises(TypeError, match=r"token_lists\[1\]\[0\] is a int .*tokens must be str"):
        Vocab.build([["a"], [3, "b"]])


def test_build_rejects_duplicate_specials_and_empty_result():
    with pytest.raises(ValueError, match="specials has duplicates"):
        Vocab.build(SENTENCES, specials=(PAD, PAD))
    with pytest.raises(ValueError, match="no tokens"):
        Vocab.build([], specials=())


# ---------------------------------------------------------------------------- Vocab(itos)
def test_plain_constructor_label_vocab():
    classes = ["Arabic", "Chinese", "English"]
    labels = Vocab(classes)
    assert [labels[c] for c in classes] == [0, 1, 2]
    assert labels.specials == ()
    assert labels.freqs is None
    with pytest.raises(KeyError, match=r"'Klingon' is not in this vocabulary of 3 tokens.*add the token"):
        labels["Klingon"]
    with pytest.raises(KeyError, match="has no '<pad>' token"):
        _ = labels.pad_idx


def test_plain_constructor_detects_specials_from_itos():
    vocab = Vocab([PAD, UNK, "a"])
    assert vocab.specials == (PAD, UNK)
    assert vocab["zzz"] == 1
    with pytest.raises(ValueError, match=r"specials \['<mask>'\] are not in itos"):
        Vocab(["a"], specials=["<mask>"])


def test_plain_constructor_rejects_bad_itos():
    with pytest.raises(ValueError, match="token 'a' twice .*ids 0 and 2"):
        Vocab(["a", "b", "a"])
    with pytest.raises(ValueError, match="itos is empty"):
        Vocab([])
    with pytest.raises(TypeError, match="itos is a str"):
        Vocab("abc")
    with pytest.raises(TypeError, match=r"itos\[1\] is a int"):
        Vocab(["a", 1])


# ---------------------------------------------------------------------------- lookups
def test_contains_len_iter(vocab):
    assert "cat" in vocab and "zebra" not in vocab and 4 not in vocab
    assert list(vocab) == vocab.itos
    assert len(vocab) == len(vocab.itos)


def test_getitem_known_and_unk_fallback(vocab):
    assert vocab["the"] == 4
    assert vocab["zebra"] == vocab.unk_idx == 1
    with pytest.raises(TypeError, match="takes a str token.*lookup_token"):
        vocab[4]


def test_lookup_token_and_errors(vocab):
    assert [vocab.lookup_token(i) for i in range(len(vocab))] == vocab.itos
    assert vocab.lookup_token(np.int64(4)) == "the"
    assert vocab.lookup_token(torch.tensor(5)) == "a"
    with pytest.raises(IndexError, match=r"id 9 is out of range for a vocabulary of 9 tokens \(0..8\)"):
        vocab.lookup_token(9)
    with pytest.raises(IndexError, match="id -1 is out of range"):
        vocab.lookup_token(-1)
    with pytest.raises(TypeError, match="idx must be an int"):
        vocab.lookup_token("the")


def test_encode_decode_round_trip(vocab):
    tokens = ["the", "cat", "sat"]
    ids = vocab.encode(tokens)
    assert ids == [4, 6, 8]
    assert vocab.decode(ids) == tokens
    wrapped = vocab.encode(tokens, add_bos=True, add_eos=True)
    assert wrapped == [2, 4, 6, 8, 3]
    assert vocab.decode(wrapped) == tokens
    assert vocab.decode(wrapped, skip_specials=False) == [BOS, *tokens, EOS]
    assert vocab.encode([], add_bos=True) == [2]


def test_encode_unknown_tokens_map_to_unk(vocab):
    ids = vocab.encode(["the", "zebra"])
    assert ids == [4, 1]
    assert vocab.decode(ids) == ["the"]
    assert vocab.decode(ids, skip_specials=False) == ["the", UNK]


def test_encode_errors(vocab):
    with pytest.raises(TypeError, match="tokens is a str"):
        vocab.encode("the cat")
    no_bos = Vocab([PAD, UNK, "a"])
    with pytest.raises(KeyError, match="no '<bos>' token"):
        no_bos.encode(["a"], add_bos=True)
    with pytest.raises(KeyError, match="no '<eos>' token"):
        no_bos.encode(["a"], add_eos=True)


def test_decode_tensor_and_array(vocab):
    ids = torch.tensor([2, 4, 6, 3, 0, 0])
    assert vocab.decode(ids) == ["the", "cat"]
    assert vocab.decode(np.array([5, 7])) == ["a", "dog"]
    with pytest.raises(ValueError, match=r"1-D tensor of ids \[T\], got shape \(1, 6\)"):
        vocab.decode(ids[None])
    with pytest.raises(IndexError, match="id 99 is out of range"):
        vocab.decode([4, 99])


def test_special_ids_follow_the_itos():
    vocab = Vocab(["x", EOS, BOS, UNK, PAD])
    assert (vocab.pad_idx, vocab.unk_idx, vocab.bos_idx, vocab.eos_idx) == (4, 3, 2, 1)


def test_itos_stoi_freqs_are_copies(vocab):
    vocab.itos.append("zebra")
    vocab.stoi["zebra"] = 0
    vocab.freqs["zebra"] = 5
    assert "zebra" not in vocab and len(vocab) == 9
    assert vocab.freqs["zebra"] == 0
    assert vocab.stoi == {tok: i for i, tok in enumerate(vocab.itos)}


def test_repr_shows_size_and_first_tokens(vocab):
    text = repr(vocab)
    assert text == "Vocab(size=9, tokens=['<pad>', '<unk>', '<bos>', '<eos>', 'the', 'a', 'cat', 'dog', ...])"
    assert repr(Vocab(["neg", "pos"])) == "Vocab(size=2, tokens=['neg', 'pos'])"


def test_equality():
    assert Vocab.build(SENTENCES) == Vocab.build(SENTENCES)
    assert Vocab.build(SENTENCES) != Vocab.build(SENTENCES, min_freq=2)
    assert Vocab(["a", "b"]) != Vocab(["b", "a"])


# ---------------------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path):
    vocab = Vocab.build([["Männer", "weiße", "Männer"], ["名字", "."]], min_freq=1)
    path = tmp_path / "sub" / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded == vocab
    assert loaded.itos == vocab.itos and loaded.freqs == vocab.freqs and loaded.specials == vocab.specials
    assert loaded.encode(["Männer", "名字"]) == vocab.encode(["Männer", "名字"])
    assert "Männer" in path.read_text(encoding="utf-8")  # readable UTF-8, not \u escapes
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temp file left behind


def test_save_load_label_vocab_without_freqs(tmp_path):
    labels = Vocab(["neg", "pos"])
    labels.save(str(tmp_path / "labels.json"))
    loaded = Vocab.load(str(tmp_path / "labels.json"))
    assert loaded == labels and loaded.freqs is None and loaded.specials == ()


def test_save_overwrites(tmp_path):
    path = tmp_path / "v.json"
    Vocab(["a"]).save(path)
    Vocab(["b", "c"]).save(path)
    assert Vocab.load(path).itos == ["b", "c"]


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no vocabulary file at .*nope.json"):
        Vocab.load(tmp_path / "nope.json")


def test_load_wrong_format(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("not json at all")
    with pytest.raises(ValueError, match="not valid JSON"):
        Vocab.load(bad)
    bad.write_text(json.dumps({"itos": ["a"]}))
    with pytest.raises(ValueError, match="not a vocabulary file written by Vocab.save"):
        Vocab.load(bad)
    good = tmp_path / "good.json"
    Vocab(["a", "b"]).save(good)
    payload = json.loads(good.read_text())
    bad.write_text(json.dumps({**payload, "version": 99}))
    with pytest.raises(ValueError, match="format version 99"):
        Vocab.load(bad)
    bad.write_text(json.dumps({**payload, "itos": ["a", "a"]}))
    with pytest.raises(ValueError, match="damaged vocabulary file.*twice"):
        Vocab.load(bad)
    bad.write_text(json.dumps({k: v for k, v in payload.items() if k != "itos"}))
    with pytest.raises(ValueError, match="damaged vocabulary file"):
        Vocab.load(bad)


# ---------------------------------------------------------------------------- tokenizers
def test_char_tokenize():
    assert char_tokenize("Anna") == ["A", "n", "n", "a"]
    assert char_tokenize("Zoë ") == ["Z", "o", "ë", " "]
    assert char_tokenize("") == []


def test_whitespace_tokenize():
    assert whitespace_tokenize("  two   dogs\trun.\n") == ["two", "dogs", "run."]
    assert whitespace_tokenize("") == []


@pytest.mark.parametrize("fn", [char_tokenize, whitespace_tokenize, get_tokenizer("spacy_en")])
def test_tokenizers_reject_non_str(fn):
    with pytest.raises(TypeError, match="takes one str, got list"):
        fn(["a", "b"])


def test_get_tokenizer_simple_and_lower():
    assert get_tokenizer("char")("Ab") == ["A", "b"]
    assert get_tokenizer("char", lower=True)("Ab") == ["a", "b"]
    assert get_tokenizer("whitespace")("Two Dogs") == ["Two", "Dogs"]
    assert get_tokenizer("whitespace", lower=True)("Two Dogs") == ["two", "dogs"]


def test_get_tokenizer_spacy_de():
    tokenize = get_tokenizer("spacy_de")
    tokens = tokenize("Zwei junge weiße Männer sind im Freien.")
    assert tokens == ["Zwei", "junge", "weiße", "Männer", "sind", "im", "Freien", "."]
    assert get_tokenizer("spacy_de", lower=True)("Zwei Männer.") == ["zwei", "männer", "."]


def test_get_tokenizer_spacy_en_splits_clitics_and_punctuation():
    tokenize = get_tokenizer("spacy_en")
    assert tokenize("Don't stop.") == ["Do", "n't", "stop", "."]
    expected = ["A", "man", "'s", "hat", ",", "e.g.", "this", "one", "."]
    assert tokenize("A man's hat, e.g. this one.") == expected
    # lower-casing happens after tokenizing: same split as the cased text
    assert get_tokenizer("spacy_en", lower=True)("Don't STOP.") == ["do", "n't", "stop", "."]


def test_spacy_tokenizer_drops_whitespace_tokens():
    text = "Two  dogs run.\n"
    raw = [t.text for t in _spacy_tokenizer("en")(text)]
    assert any(t.isspace() for t in raw)  # spaCy itself keeps them ...
    assert get_tokenizer("spacy_en")(text) == ["Two", "dogs", "run", "."]  # ... we drop them


def test_spacy_pipeline_is_loaded_once():
    assert _spacy_tokenizer("de") is _spacy_tokenizer("de")
    assert _spacy_tokenizer("de") is not _spacy_tokenizer("en")


def test_get_tokenizer_errors():
    with pytest.raises(
        ValueError, match=r"unknown tokenizer 'spacy'.*\['char', 'whitespace', 'spacy_en', 'spacy_de'\]"
    ):
        get_tokenizer("spacy")
    with pytest.raises(TypeError, match="lower must be True or False"):
        get_tokenizer("char", lower="yes")


def test_tokenizer_is_picklable_and_has_a_clean_repr():
    tokenize = get_tokenizer("spacy_de", lower=True)
    assert isinstance(tokenize, Tokenizer)
    assert repr(tokenize) == "Tokenizer('spacy_de', lower=True)"
    clone = pickle.loads(pickle.dumps(tokenize))
    assert clone("Hallo Welt!") == ["hallo", "welt", "!"]


def test_tokenizer_vocab_round_trip():
    tokenize = get_tokenizer("spacy_en", lower=True)
    sentences = ["A dog runs.", "Two dogs don't run."]
    vocab = Vocab.build(tokenize(s) for s in sentences)
    for s in sentences:
        assert vocab.decode(vocab.encode(tokenize(s), add_bos=True, add_eos=True)) == tokenize(s)


# ---------------------------------------------------------------------------- pad_batch
def test_pad_batch_values_and_shapes():
    padded, lengths = pad_batch([[5, 6, 7], [8], [9, 10]], pad_idx=0)
    assert padded.dtype == torch.long and lengths.dtype == torch.long
    assert padded.shape == (3, 3) and lengths.shape == (3,)
    assert padded.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
    assert lengths.tolist() == [3, 1, 2]


def test_pad_batch_matches_torch_pad_sequence():
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(4, 50, (n,), generator=g) for n in (4, 9, 1, 6)]
    padded, lengths = pad_batch(seqs, pad_idx=3)
    torch.testing.assert_close(padded, pad_sequence(seqs, batch_first=True, padding_value=3))
    assert lengths.tolist() == [4, 9, 1, 6]
    # every position at or beyond its length is padding, every position before it is not
    mask = torch.arange(padded.shape[1])[None, :] < lengths[:, None]  # [B, T]
    assert bool((padded[~mask] == 3).all()) and bool((padded[mask] != 3).all())


def test_pad_batch_mixed_inputs_and_ignore_index():
    padded, lengths = pad_batch(
        [torch.tensor([1, 2], dtype=torch.int32), np.array([3]), [4, 5, 6]], pad_idx=-100
    )
    assert padded.dtype == torch.long
    assert padded.tolist() == [[1, 2, -100], [3, -100, -100], [4, 5, 6]]
    assert lengths.tolist() == [2, 1, 3]


def test_pad_batch_feeds_pack_padded_sequence():
    padded, lengths = pad_batch([[1, 2, 3], [4, 5], [6]])
    emb = torch.nn.Embedding(7, 2, padding_idx=0)(padded)  # [B, T, 2]
    packed = pack_padded_sequence(emb, lengths, batch_first=True)
    assert packed.batch_sizes.tolist() == [3, 2, 1]


def test_pad_batch_errors():
    with pytest.raises(ValueError, match="empty batch"):
        pad_batch([])
    with pytest.raises(ValueError, match=r"seqs\[1\] is empty .*pack_padded_sequence rejects zero lengths"):
        pad_batch([[1], []])
    with pytest.raises(ValueError, match=r"seqs\[0\] must be 1-D \[T\], got shape \(2, 2\)"):
        pad_batch([torch.ones(2, 2, dtype=torch.long)])
    with pytest.raises(ValueError, match=r"got shape \(\).*pad_batch\(\[ids\]\)"):
        pad_batch([1, 2, 3])
    with pytest.raises(ValueError, match="for one sequence use pad_batch"):
        pad_batch(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="dtype torch.float32; ids must be integers"):
        pad_batch([torch.tensor([1.0, 2.0])])
    with pytest.raises(TypeError, match="encode tokens to ids first"):
        pad_batch(["the cat"])
    with pytest.raises(TypeError, match="pad_idx must be an int"):
        pad_batch([[1]], pad_idx=0.5)


# ---------------------------------------------------------------------------- BucketBatchSampler
def _random_lengths(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 100) for _ in range(n)]


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("n, batch_size", [(1000, 32), (10, 3), (9, 3), (5, 8)])
def test_sampler_covers_every_index_once(shuffle, n, batch_size):
    sampler = BucketBatchSampler(_random_lengths(n), batch_size, shuffle=shuffle, pool_batches=4)
    for _ in range(3):  # several epochs
        batches = list(sampler)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(n))
        assert len(batches) == len(sampler)
        assert all(1 <= len(b) <= batch_size for b in batches)
        assert sum(len(b) < batch_size for b in batches) <= 1
        assert all(isinstance(i, int) for i in flat)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("n, batch_size, expected", [(10, 3, 3), (9, 3, 3), (5, 8, 0), (8, 8, 1)])
def test_sampler_drop_last(shuffle, n, batch_size, expected):
    sampler = BucketBatchSampler(_random_lengths(n), batch_size, shuffle=shuffle, drop_last=True)
    batches = list(sampler)
    assert len(sampler) == expected == len(batches)
    assert all(len(b) == batch_size for b in batches)
    assert len({i for b in batches for i in b}) == expected * batch_size


def test_sampler_len_without_drop_last():
    assert len(BucketBatchSampler([1] * 10, 3)) == 4
    assert len(BucketBatchSampler([1] * 9, 3)) == 3
    assert len(BucketBatchSampler([1] * 5, 8)) == 1


def test_sampler_batches_have_similar_lengths():
    lengths = np.array(_random_lengths(2000))
    sampler = BucketBatchSampler(lengths, 32, seed=1)
    bucket_spread = np.mean([np.ptp(lengths[b]) for b in sampler])
    rng = np.random.default_rng(0)
    random_spread = np.mean([np.ptp(lengths[b]) for b in np.array_split(rng.permutation(2000), 63)])
    assert random_spread > 80  # random batches span almost the whole 1..100 range
    assert bucket_spread < 5  # bucketed ones only a few tokens


def test_sampler_orders_longest_first_within_a_batch():
    lengths = _random_lengths(300)
    for b in BucketBatchSampler(lengths, 16):
        assert [lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True)


def test_sampler_no_shuffle_is_sorted_and_repeatable():
    lengths = [5, 3, 8, 1, 2, 9, 4]
    sampler = BucketBatchSampler(lengths, 3, shuffle=False)
    # by length: 3 4 1 | 6 0 2 | 5 (lengths 1 2 3 | 4 5 8 | 9); inside a batch, longest first
    assert list(sampler) == [[1, 4, 3], [2, 0, 6], [5]]
    assert list(sampler) == [[1, 4, 3], [2, 0, 6], [5]]


def test_sampler_shuffle_is_deterministic_per_seed_and_epoch():
    lengths = _random_lengths(500)
    a, b = BucketBatchSampler(lengths, 16, seed=3), BucketBatchSampler(lengths, 16, seed=3)
    epochs_a = [list(a) for _ in range(3)]
    epochs_b = [list(b) for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]  # a new order every epoch
    assert list(BucketBatchSampler(lengths, 16, seed=4)) != epochs_a[0]
    a.set_epoch(1)
    assert list(a) == epochs_a[1]
    assert a.batches(0) == epochs_a[0] and a.epoch == 2  # batches() has no side effects


def test_sampler_shuffles_batch_order():
    lengths = list(range(1, 321))  # distinct lengths: sorted order would be 1, 2, 3, ...
    batches = list(BucketBatchSampler(lengths, 8, pool_batches=100))
    first = [lengths[b[-1]] for b in batches]  # shortest element of each batch
    assert first != sorted(first)


def test_sampler_with_dataloader():
    data = [list(range(1, n + 1)) for n in _random_lengths(100)]
    sampler = BucketBatchSampler([len(x) for x in data], 10)
    loader = DataLoader(data, batch_sampler=sampler, collate_fn=pad_batch)
    seen = 0
    for padded, lengths in loader:
        assert padded.shape == (len(lengths), int(lengths.max()))
        pack_padded_sequence(padded[..., None].float(), lengths, batch_first=True)  # sorted, no zeros
        seen += len(lengths)
    assert seen == 100 and len(loader) == 10


def test_sampler_accepts_tensor_and_array_lengths_and_has_repr():
    s1 = BucketBatchSampler(torch.tensor([3, 1, 2]), 2, shuffle=False)
    s2 = BucketBatchSampler(np.array([3, 1, 2]), 2, shuffle=False)
    assert list(s1) == list(s2) == [[2, 1], [0]]
    assert (
        repr(s1) == "BucketBatchSampler(n=3, batch_size=2, shuffle=False, seed=0, drop_last=False, epoch=1)"
    )


def test_sampler_errors():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        BucketBatchSampler([1, 2], 0)
    with pytest.raises(ValueError, match="non-empty 1-D list"):
        BucketBatchSampler([], 4)
    with pytest.raises(ValueError, match=r"lengths\[1\] = -2"):
        BucketBatchSampler([1, -2], 4)
    with pytest.raises(TypeError, match="lengths must be ints"):
        BucketBatchSampler([1.5, 2.0], 4)
    with pytest.raises(ValueError, match="pool_batches must be an int >= 1"):
        BucketBatchSampler([1, 2], 1, pool_batches=0)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        BucketBatchSampler([1, 2], 1, seed=-1)
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        BucketBatchSampler([1, 2], 1).set_epoch(-1)


def test_token_batch_sampler_respects_the_budget() -> None:
    lengths = np.random.default_rng(0).integers(1, 40, 500)
    sampler = TokenBatchSampler(lengths, 120, seed=3)
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(500))
    assert all(len(b) * max(lengths[b]) <= 120 for b in first)
    assert all(list(lengths[b]) == sorted(lengths[b], reverse=True) for b in first)
    assert len(sampler) == len(sampler.batches(1)) and list(sampler) == sampler.batches(1)
    assert first == TokenBatchSampler(lengths, 120, seed=3).batches(0)  # reproducible
    assert TokenBatchSampler([50, 3], 10, shuffle=False).batches(0) == [[1], [0]]  # too long: alone
    with pytest.raises(ValueError, match="max_tokens"):
        TokenBatchSampler(lengths, 0)
    with pytest.raises(ValueError, match="lengths"):
        TokenBatchSampler([], 10)
    assert "max_tokens=120" in repr(sampler)


# ---------------------------------------------------------------------------- review fixes
def _dropped(batches: list[list[int]], n: int) -> set[int]:
    return set(range(n)) - {i for b in batches for i in b}


def test_sampler_drop_last_drops_a_different_random_remainder_each_epoch():
    n, batch_size = 103, 10
    lengths = list(range(1, n + 1))  # index i has length i + 1: the longest are the last indices
    sampler = BucketBatchSampler(lengths, batch_size, seed=5, drop_last=True, pool_batches=2)
    dropped = []
    for _ in range(20):
        batches = list(sampler)
        assert len(batches) == len(sampler) == 10
        assert all(len(b) == batch_size for b in batches)
        flat = [i for b in batches for i in b]
        assert len(flat) == len(set(flat)) == 100
        dropped.append(frozenset(_dropped(batches, n)))
    assert all(len(d) == 3 for d in dropped)
    assert len(set(dropped)) > 15  # a new remainder (almost) every epoch
    assert not all(d == {100, 101, 102} for d in dropped)  # not the longest ones
    assert len(frozenset().union(*dropped)) > 30  # spread over the data set
    # reproducible for a seed and epoch
    again = BucketBatchSampler(lengths, batch_size, seed=5, drop_last=True, pool_batches=2)
    assert [frozenset(_dropped(again.batches(e), n)) for e in range(20)] == dropped
    assert BucketBatchSampler(lengths, batch_size, seed=6, drop_last=True).batches(0) != again.batches(0)


def test_sampler_drop_last_is_unbiased_by_length():
    lengths = [1] * 50 + [100] * 55  # 105 examples, batch 10: 5 dropped per epoch
    sampler = BucketBatchSampler(lengths, 10, drop_last=True)
    counts = Counter(i for e in range(200) for i in _dropped(sampler.batches(e), len(lengths)))
    long_share = sum(c for i, c in counts.items() if lengths[i] == 100) / sum(counts.values())
    assert 0.35 < long_share < 0.7  # about 55 / 105; the old behaviour dropped only long ones


def test_sampler_drop_last_without_shuffle_is_fixed():
    lengths = [5, 3, 8, 1, 2, 9, 4]
    sampler = BucketBatchSampler(lengths, 3, shuffle=False, drop_last=True)
    assert list(sampler) == list(sampler) == [[1, 4, 3], [2, 0, 6]]  # the longest (5) left out


def test_sampler_rejects_non_bool_flags_bad_epoch_and_ragged_lengths():
    with pytest.raises(TypeError, match="drop_last must be True or False"):
        BucketBatchSampler([1, 2], 1, drop_last="yes")
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        BucketBatchSampler([1, 2], 1, shuffle=None)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        TokenBatchSampler([1, 2], 10, shuffle=1)
    assert len(BucketBatchSampler([1, 2], 1, drop_last=np.bool_(True))) == 2
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        BucketBatchSampler([1, 2], 1).batches(-1)
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        BucketBatchSampler([1, 2], 1).batches(1.5)
    with pytest.raises(TypeError, match="lengths must be"):
        BucketBatchSampler([[1, 2], [3]], 1)


def test_token_batch_sampler_never_drops():
    lengths = np.random.default_rng(1).integers(1, 30, 333)
    sampler = TokenBatchSampler(lengths, 64, seed=2)
    assert not sampler.drop_last
    for _ in range(3):
        assert sorted(i for b in sampler for i in b) == list(range(333))


@pytest.mark.parametrize(
    ("freqs", "error", "match"),
    [
        ({"a": -1}, ValueError, r"freqs\['a'\] is -1; counts must be non-negative integers"),
        ({"a": 1.5}, TypeError, r"freqs\['a'\] is 1.5 .*non-negative integers"),
        ({"a": 2.0}, TypeError, "non-negative integers"),
        ({"a": True}, TypeError, "non-negative integers"),
        ({"a": "3"}, TypeError, "non-negative integers"),
        ({"a": None}, TypeError, "non-negative integers"),
        ({1: 2}, TypeError, "keys must be str"),
        ([("a", 1)], TypeError, "freqs must be a mapping"),
        ("a", TypeError, "freqs must be a mapping"),
    ],
)
def test_vocab_refuses_bad_counts(freqs, error, match):
    with pytest.raises(error, match=match):
        Vocab(["a", "b"], freqs=freqs)


def test_vocab_accepts_zero_and_numpy_counts():
    vocab = Vocab(["a", "b"], freqs={"a": 0, "b": np.int64(4), "c": torch.tensor(2)})
    assert vocab.freqs == Counter({"b": 4, "c": 2, "a": 0}) and all(
        type(c) is int for c in vocab.freqs.values()
    )


def test_load_refuses_negative_counts(tmp_path):
    path = tmp_path / "v.json"
    Vocab.build([["a", "b"]]).save(path)
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["freqs"]["a"] = -2
    path.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ValueError, match="damaged vocabulary file.*non-negative integers"):
        Vocab.load(path)
