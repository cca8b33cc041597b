"""Tests for course_utils.charmodels: n-gram hashing (against a brute-force reference), shapes,
padding invariance, bad inputs, a tiny overfit, the ensemble and the training entry point."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from course_utils.charmodels import (
    _HASH_BASE,
    _HASH_MULT,
    _HASH_PRIME,
    BEST_MEMBERS,
    MEMBER_CONFIGS,
    CharCNNBiGRU,
    NgramBagClassifier,
    ProbabilityEnsemble,
    char_ngram_ids,
    train_best_names_classifier,
)
from course_utils.data import Splits
from course_utils.names import build_char_vocab
from course_utils.text import pad_batch

torch.set_num_threads(1)

NAMES = ["Li", "Nguyen", "Ślusàrski", "O'Brien", "Abe", "Schmidt", "Rossi", "Kowalski", "Tanaka", "Müller"]
VOCAB = build_char_vocab(NAMES)
V, C = len(VOCAB), 5


def encode(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_batch([[VOCAB[c] for c in n] for n in names], pad_idx=VOCAB.pad_idx)  # x [B, T], lengths [B]


def reference_ngram_ids(ids: list[int], max_n: int, num_buckets: int) -> list[int]:
    """Brute force: every window of "^" + name + "$" (0 = boundary, characters as id + 1), hashed."""
    digits = [0] + [i + 1 for i in ids] + [0]
    out = []
    for n in range(1, max_n + 1):
        for s in range(len(digits) - n + 1):
            code = 0
            for d in digits[s : s + n]:
                code = (code * _HASH_BASE + d) % _HASH_PRIME
            out.append((code * _HASH_MULT + n) % (num_buckets - 1) + 1)
    return out


def make_bag(**kwargs) -> NgramBagClassifier:
    bag = NgramBagClassifier(C, **{"emb_dim": 8, "num_buckets": 4093, "min_freq": 1, **kwargs})
    bag.build_ngram_vocab([encode(NAMES)])
    return bag


def make_models() -> list[nn.Module]:
    torch.manual_seed(0)
    return [
        CharCNNBiGRU(V, C, emb_dim=8, conv_channels=6, hidden_size=10),
        CharCNNBiGRU(V, C, emb_dim=8, kernel_sizes=(), hidden_size=10, num_layers=2),
        make_bag(),
    ]


# ------------------------------------------------------------------------------------ char_ngram_ids
@pytest.mark.parametrize("max_n", [1, 2, 4, 6])
def test_char_ngram_ids_match_brute_force(max_n: int) -> None:
    x, lengths = encode(NAMES)
    got = char_ngram_ids(x, lengths, max_n=max_n, num_buckets=1000)
    for b, name in enumerate(NAMES):
        expected = reference_ngram_ids([VOCAB[c] for c in name], max_n, 1000)
        row = got[b][got[b] != 0].tolist()
        assert sorted(row) == sorted(expected), name


def test_char_ngram_ids_count_and_sharing() -> None:
    x, lengths = encode(["Li", "Kowalski", "Ślusàrski"])
    ids = char_ngram_ids(x, lengths, max_n=4, num_buckets=2**16)
    assert ids.shape == (3, sum(x.shape[1] + 3 - n for n in range(1, 5)))
    assert int((ids[0] != 0).sum()) == 10  # ^ L i $, ^L Li i$, ^Li Li$, ^Li$
    assert ids.min() >= 0 and ids.max() < 2**16
    # "ski$" is an n-gram of both -ski names, not of "Li"
    ski = reference_ngram_ids([VOCAB[c] for c in "ski"], 4, 2**16)[-1]  # the 4-gram "ski$"
    assert ski in ids[1].tolist() and ski in ids[2].tolist() and ski not in ids[0].tolist()


def test_char_ngram_ids_ignore_padding() -> None:
    x, lengths = encode(["Rossi"])
    wide = torch.cat([x, torch.full((1, 7), 3)], dim=1)  # junk (not just <pad>) after the name
    a = char_ngram_ids(x, lengths)
    b = char_ngram_ids(wide, lengths)
    assert sorted(a[a != 0].tolist()) == sorted(b[b != 0].tolist())


def test_char_ngram_ids_bad_inputs() -> None:
    x, lengths = encode(["Abe"])
    with pytest.raises(ValueError, match="num_buckets"):
        char_ngram_ids(x, lengths, num_buckets=1)
    with pytest.raises(ValueError, match="max_n"):
        char_ngram_ids(x, lengths, max_n=0)
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        char_ngram_ids(x[0], lengths)
    with pytest.raises(ValueError, match=">= 0"):
        char_ngram_ids(-x, lengths)


# ------------------------------------------------------------------------------------------ models
@pytest.mark.parametrize("model", make_models(), ids=["cnn_bigru", "bigru_2layers", "ngram_bag"])
def test_output_shape(model: nn.Module) -> None:
    x, lengths = encode(NAMES)
    logits = model.eval()(x, lengths)
    assert logits.shape == (len(NAMES), C)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("model", make_models(), ids=["cnn_bigru", "bigru_2layers", "ngram_bag"])
def test_padding_invariance(model: nn.Module) -> None:
    """A name's logits do not depend on the other names in the batch, nor on extra padding."""
    model.eval()
    x, lengths = encode(NAMES)
    x = torch.cat([x, torch.zeros(len(NAMES), 4, dtype=torch.long)], dim=1)  # extra padding columns
    with torch.no_grad():
        batch = model(x, lengths)
        for b, name in enumerate(NAMES):
            alone = model(*encode([name]))
            torch.testing.assert_close(batch[b : b + 1], alone, rtol=1e-5, atol=1e-5)
        order = torch.randperm(len(NAMES), generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(model(x[order], lengths[order]), batch[order], rtol=1e-5, atol=1e-5)


def test_cnn_bigru_ngram_features_shape() -> None:
    model = CharCNNBiGRU(V, C, emb_dim=8, kernel_sizes=(2, 3, 4, 5), conv_channels=6, hidden_size=10)
    feats = model.ngram_features(torch.randn(3, 7, 8))
    assert feats.shape == (3, 7, 4 * 6)


def test_bad_inputs() -> None:
    model = CharCNNBiGRU(V, C, emb_dim=8, conv_channels=4, hidden_size=6)
    x, lengths = encode(["Abe", "Li"])
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        model(x[0], lengths)
    with pytest.raises(ValueError, match="integer"):
        model(x.float(), lengths)
    with pytest.raises(ValueError, match=r"vocab_size"):
        model(x + V, lengths)
    with pytest.raises(ValueError, match=r"shape \[B\]"):
        model(x, lengths[:1])
    with pytest.raises(ValueError, match=r"\[1, T\]"):
        model(x, torch.tensor([3, 0]))
    with pytest.raises(ValueError, match=r"\[1, T\]"):
        model(x, torch.tensor([4, 2]))
    with pytest.raises(ValueError, match="integers"):
        model(x, lengths.float())
    with pytest.raises(ValueError, match="hidden_size"):
        CharCNNBiGRU(V, C, hidden_size=0)
    with pytest.raises(ValueError, match="kernel size"):
        CharCNNBiGRU(V, C, kernel_sizes=(3, 0))
    with pytest.raises(ValueError, match="dropout"):
        CharCNNBiGRU(V, C, dropout=1.0)
    with pytest.raises(ValueError, match="pad_idx"):
        CharCNNBiGRU(V, C, pad_idx=V)
    with pytest.raises(ValueError, match="num_buckets"):
        NgramBagClassifier(C, num_buckets=1)
    with pytest.raises(ValueError, match="num_classes"):
        NgramBagClassifier(0)
    with pytest.raises(ValueError, match="min_freq"):
        NgramBagClassifier(C, min_freq=0)
    with pytest.raises(RuntimeError, match="build_ngram_vocab"):
        NgramBagClassifier(C, num_buckets=97)(x, lengths)  # vocabulary not built yet
    with pytest.raises(ValueError, match="min_freq=50"):
        NgramBagClassifier(C, num_buckets=97, min_freq=50).build_ngram_vocab([(x, lengths)])


def test_ngram_vocab_keeps_frequent_ngrams() -> None:
    """Brute force: count every n-gram of the names; those seen >= min_freq times get rows, by frequency."""
    counts: dict[int, int] = {}
    for name in NAMES:
        for h in reference_ngram_ids([VOCAB[c] for c in name], 3, 4093):
            counts[h] = counts.get(h, 0) + 1
    bag = NgramBagClassifier(C, emb_dim=4, max_n=3, num_buckets=4093, min_freq=2)
    kept = bag.build_ngram_vocab([encode(NAMES[:5]), encode(NAMES[5:])])  # in two batches
    frequent = {h for h, c in counts.items() if c >= 2}
    assert kept == len(frequent) > 0
    assert set((bag.bucket_to_row >= 2).nonzero().squeeze(1).tolist()) == frequent  # rows 2, 3, ...
    rare = next(h for h, c in counts.items() if c == 1)
    assert bag.bucket_to_row[rare] == 1 and bag.bucket_to_row[0] == 0  # <unk> n-gram, no n-gram
    most = max(frequent, key=lambda h: counts[h])  # e.g. the boundary "^"
    assert bag.bucket_to_row[most] == 2
    small = NgramBagClassifier(C, emb_dim=4, max_n=3, num_buckets=4093, min_freq=2, max_ngrams=3)
    assert small.build_ngram_vocab([encode(NAMES)]) == 3 and int(small.bucket_to_row.max()) == 4
    # a name made only of unseen characters (only its boundaries "^", "$" are known) gets finite logits
    x, lengths = pad_batch([[VOCAB.unk_idx] * 3])
    assert torch.isfinite(bag.eval()(x, lengths)).all()


@pytest.mark.parametrize("which", ["cnn_bigru", "ngram_bag"])
def test_tiny_overfit(which: str) -> None:
    """Ten names, five made-up classes: both models can memorise them."""
    torch.manual_seed(0)
    x, lengths = encode(NAMES)
    y = torch.arange(len(NAMES)) % C
    if which == "cnn_bigru":
        model: nn.Module = CharCNNBiGRU(V, C, emb_dim=16, conv_channels=16, hidden_size=16, dropout=0.0)
    else:
        model = make_bag(emb_dim=16, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(80):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x, lengths), y)
        loss.backward()
        optimizer.step()
    model.eval()
    assert loss.item() < 0.05
    assert (model(x, lengths).argmax(-1) == y).all()


# ----------------------------------------------------------------------------------------- ensemble
def test_ensemble_averages_probabilities() -> None:
    members = make_models()
    ensemble = ProbabilityEnsemble(members).eval()
    x, lengths = encode(NAMES)
    with torch.no_grad():
        log_p = ensemble(x, lengths)
        expected = torch.stack([m(x, lengths).softmax(-1) for m in members]).mean(0)
    torch.testing.assert_close(log_p.exp(), expected)
    torch.testing.assert_close(log_p.exp().sum(-1), torch.ones(len(NAMES)))


def test_ensemble_bad_members() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ProbabilityEnsemble([])
    with pytest.raises(TypeError, match="nn.Module"):
        ProbabilityEnsemble([lambda x, lengths: x])


# ------------------------------------------------------------------------------------------ training
def tiny_splits() -> SimpleNamespace:
    langs = ["Polish", "Vietnamese", "Italian"]
    train = [(n, langs[0]) for n in ["Kowalski", "Nowakowski", "Lewandowski", "Wisniewski"]]
    train += [(n, langs[1]) for n in ["Nguyen", "Tran", "Pham", "Hoang"]]
    train += [(n, langs[2]) for n in ["Rossi", "Russo", "Ferrari", "Esposito"]]
    val = [("Zielinski", langs[0]), ("Vu", langs[1]), ("Bianchi", langs[2])]
    return SimpleNamespace(train=train, val=val, test=[], classes=sorted(langs))


def test_train_best_names_classifier_runs() -> None:
    splits = tiny_splits()
    model, history, info = train_best_names_classifier(
        splits, "cpu", epochs=2, seeds_per_member=2, progress=False
    )
    assert isinstance(model, ProbabilityEnsemble) and not model.training
    assert list(history) == ["ngram_bag#0", "bigru#0", "ngram_bag#1", "bigru#1"] == info["members"]
    assert [type(m) for m in model.members] == [NgramBagClassifier, CharCNNBiGRU] * 2
    assert all(len(h.epochs) == 2 and "val_accuracy" in h.keys() for h in history.values())
    assert info["classes"] == ["Italian", "Polish", "Vietnamese"]
    assert info["config"] == {m: MEMBER_CONFIGS[m] for m in BEST_MEMBERS}
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["train_seconds"] > 0 and 0.0 <= info["val_accuracy"] <= 1.0
    x, lengths = pad_batch([[info["char_vocab"][c] for c in "Müller"]])  # unseen characters -> <unk>
    assert model(x, lengths).shape == (1, 3)
    # the same seed gives the same model
    again, _, _ = train_best_names_classifier(splits, "cpu", epochs=2, seeds_per_member=2, progress=False)
    torch.testing.assert_close(again(x, lengths), model(x, lengths))


def test_train_best_names_classifier_refit_without_val() -> None:
    """The final refit trains on train + val with no validation split: no val metrics, same members."""
    splits = tiny_splits()
    refit = Splits(splits.train + splits.val, [], splits.test, classes=splits.classes)
    model, history, info = train_best_names_classifier(
        refit, "cpu", epochs=1, seeds_per_member=1, progress=False
    )
    assert "val_accuracy" not in info and list(history) == ["ngram_bag#0", "bigru#0"]
    assert all("val_accuracy" not in h.keys() and len(h.epochs) == 1 for h in history.values())
    # the refit's character vocabulary includes characters seen only in the validation names
    assert set("".join(name for name, _ in splits.val)) <= set(info["char_vocab"].itos)


def test_train_best_names_classifier_overrides() -> None:
    config = {"cnn_bigru": {**MEMBER_CONFIGS["cnn_bigru"], "lr": 1e-3}}
    _, history, info = train_best_names_classifier(
        tiny_splits(), epochs=1, members=("cnn_bigru",), seeds_per_member=1, config=config, progress=False
    )
    assert list(history) == ["cnn_bigru#0"] and info["config"]["cnn_bigru"]["lr"] == 1e-3


def test_train_best_names_classifier_bad_inputs() -> None:
    with pytest.raises(TypeError, match="load_names"):
        train_best_names_classifier([("Abe", "Japanese")], epochs=1)
    with pytest.raises(ValueError, match="members"):
        train_best_names_classifier(tiny_splits(), epochs=1, members=("transformer",))
    with pytest.raises(ValueError, match="members"):
        train_best_names_classifier(tiny_splits(), epochs=1, members="bigru")
    with pytest.raises(ValueError, match="epochs"):
        train_best_names_classifier(tiny_splits(), epochs=0)
    with pytest.raises(ValueError, match="seeds_per_member"):
        train_best_names_classifier(tiny_splits(), epochs=1, seeds_per_member=0)
    empty = SimpleNamespace(train=[], val=[], classes=["A"])
    with pytest.raises(ValueError, match="empty"):
        train_best_names_classifier(empty, epochs=1)


# ------------------------------------------------------------------------------------ integer dtypes
INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("lengths_dtype", [torch.int32, torch.int64])
def test_char_ngram_ids_independent_of_integer_dtype(dtype: torch.dtype, lengths_dtype: torch.dtype) -> None:
    x, lengths = encode(NAMES)
    assert int(x.max()) < 127  # fits every dtype tested
    expected = char_ngram_ids(x, lengths, max_n=4, num_buckets=2**20)
    got = char_ngram_ids(x.to(dtype), lengths.to(lengths_dtype), max_n=4, num_buckets=2**20)
    assert got.dtype == torch.long
    assert torch.equal(got, expected)


def test_char_ngram_ids_wide_ids_match_reference_across_dtypes() -> None:
    """Ids large enough to overflow a 16/32-bit hash give the same buckets in every wide-enough dtype."""
    ids = [30_000, 12, 29_999, 7]
    x, lengths = torch.tensor([ids]), torch.tensor([4])
    expected = reference_ngram_ids(ids, 4, 2**20)
    for dtype in (torch.int16, torch.int32, torch.int64):
        got = char_ngram_ids(x.to(dtype), lengths, max_n=4, num_buckets=2**20)
        assert sorted(got[got != 0].tolist()) == sorted(expected), dtype
    huge = [2**62, 2**40, 5]  # no int64 overflow either: still the exact reference hash
    got = char_ngram_ids(torch.tensor([huge]), torch.tensor([3]), max_n=3, num_buckets=2**20)
    assert sorted(got[got != 0].tolist()) == sorted(reference_ngram_ids(huge, 3, 2**20))


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_models_give_the_same_logits_for_every_integer_dtype(dtype: torch.dtype) -> None:
    x, lengths = encode(NAMES)
    for model in make_models():
        model.eval()
        with torch.no_grad():
            torch.testing.assert_close(model(x.to(dtype), lengths.to(torch.int32)), model(x, lengths))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bool, torch.complex64])
def test_non_integer_ids_are_refused(dtype: torch.dtype) -> None:
    x, lengths = encode(["Abe", "Li"])
    with pytest.raises(ValueError, match=r"char_ngram_ids expects integer character ids x.*x.long\(\)"):
        char_ngram_ids(x.to(dtype), lengths)
    with pytest.raises(ValueError, match="lengths must be integers"):
        char_ngram_ids(x, lengths.to(dtype))
    for model in make_models():
        with pytest.raises(ValueError, match="integer character ids"):
            model(x.to(dtype), lengths)


def test_more_bad_inputs() -> None:
    x, lengths = encode(["Abe", "Li"])
    with pytest.raises(ValueError, match="num_buckets must be an int in"):
        char_ngram_ids(x, lengths, num_buckets=2**70)
    with pytest.raises(ValueError, match="num_buckets must be an int in"):
        char_ngram_ids(x, lengths, num_buckets=1000.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lengths of shape \[B\]"):
        char_ngram_ids(x, [3, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty batch"):
        CharCNNBiGRU(V, C, emb_dim=4, hidden_size=4)(x[:0], lengths[:0])
    bag = NgramBagClassifier(C, num_buckets=97, min_freq=1)
    with pytest.raises(TypeError, match=r"wrap it in a list"):
        bag.build_ngram_vocab((x, lengths))
    with pytest.raises(TypeError, match=r"batches\[0\] must be an \(x \[B, T\], lengths \[B\]\) pair"):
        bag.build_ngram_vocab([x])
    with pytest.raises(TypeError, match="batches must be an iterable"):
        bag.build_ngram_vocab(3)  # type: ignore[arg-type]
    assert bag.build_ngram_vocab([(x.to(torch.int16), lengths.to(torch.int32))]) > 0
