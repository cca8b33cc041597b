import string
from collections import Counter

import pytest
import torch
from torch import nn

from course_utils import names as nm
from course_utils.text import PAD, UNK, Vocab

PAIRS = [
    ("Ślusàrski", "Polish"),
    ("Müller", "German"),
    ("Nguyen", "Vietnamese"),
    ("Li", "Chinese"),
    ("Abbott", "English"),
    ("O'Neal", "Irish"),
    ("Rossi", "Italian"),
    ("Schmidt", "German"),
    ("Tanaka", "Japanese"),
    ("Ivanov", "Russian"),
    ("Kim", "Korean"),
    ("Santos", "Portuguese"),
    ("Zhang", "Chinese"),
]
CLASSES = sorted({lang for _, lang in PAIRS})


# --- alphabet and unicode_to_ascii ---------------------------------------------------------------


def test_alphabet_is_the_lectures_57_letters():
    assert nm.ALL_LETTERS == string.ascii_letters + " .,;'"
    assert nm.N_LETTERS == 57 == len(nm.ALL_LETTERS) == len(set(nm.ALL_LETTERS))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ślusàrski", "Slusarski"),
        ("Müller", "Muller"),
        ("Nguyễn", "Nguyen"),
        ("Çelik", "Celik"),
        ("O'Neil", "O'Neil"),
        ("O’Neil", "ONeil"),  # the typographic apostrophe is not in the alphabet
        ("王", ""),
        ("Jean-Luc", "JeanLuc"),
        ("", ""),
    ],
)
def test_unicode_to_ascii(raw, expected):
    assert nm.unicode_to_ascii(raw) == expected


def test_unicode_to_ascii_output_stays_in_alphabet():
    out = nm.unicode_to_ascii("Żółć 1234 ßø Æ — ÅÉÎÕÜ ñ")
    assert set(out) <= set(nm.ALL_LETTERS)
    assert out == "Zoc     AEIOU n"  # ł, digits, ß, ø, Æ and the dash do not decompose to ASCII: dropped


def test_unicode_to_ascii_rejects_non_str():
    with pytest.raises(TypeError, match="str"):
        nm.unicode_to_ascii(b"Muller")


# --- letters and one-hot -------------------------------------------------------------------------


def test_letter_to_index():
    assert nm.letter_to_index("a") == 0
    assert nm.letter_to_index("z") == 25
    assert nm.letter_to_index("A") == 26
    assert nm.letter_to_index("'") == 56
    assert [nm.letter_to_index(c) for c in nm.ALL_LETTERS] == list(range(57))


@pytest.mark.parametrize("bad", ["ü", "王", "1", "-"])
def test_letter_to_index_outside_alphabet_says_how_to_fix(bad):
    with pytest.raises(ValueError, match="unicode_to_ascii"):
        nm.letter_to_index(bad)


@pytest.mark.parametrize("bad", ["", "ab", 3, None])
def test_letter_to_index_needs_one_character(bad):
    with pytest.raises(ValueError, match="single character"):
        nm.letter_to_index(bad)


def test_name_to_onehot_shape_and_positions():
    x = nm.name_to_onehot("Jones")
    assert x.shape == (5, 1, 57)
    assert x.dtype == torch.float32
    assert torch.equal(x.sum(dim=2), torch.ones(5, 1))
    assert x.argmax(dim=2).flatten().tolist() == [nm.letter_to_index(c) for c in "Jones"]
    assert x[0, 0, 26 + 9] == 1  # "J" is the 10th capital letter


def test_name_to_onehot_bad_inputs():
    with pytest.raises(ValueError, match="unicode_to_ascii"):
        nm.name_to_onehot("Müller")
    with pytest.raises(ValueError, match="empty"):
        nm.name_to_onehot("")
    with pytest.raises(TypeError, match="str"):
        nm.name_to_onehot(["J", "o"])


# --- character vocabulary ------------------------------------------------------------------------


def test_build_char_vocab():
    v = nm.build_char_vocab(["Anna", "Bob", "Ślusàrski"])
    assert isinstance(v, Vocab)
    assert v.pad_idx == 0 and v[PAD] == 0
    assert v[UNK] == v.unk_idx
    assert set("AnaBobŚlusàrki") <= set(v.itos)  # raw characters, accents kept
    assert v["王"] == v.unk_idx
    assert len(v) == 2 + len(set("AnnaBobŚlusàrski"))


def test_build_char_vocab_min_freq():
    v = nm.build_char_vocab(["aab", "ac"], min_freq=2)
    assert "a" in v and "b" not in v and "c" not in v
    assert v["b"] == v.unk_idx


def test_build_char_vocab_bad_inputs():
    with pytest.raises(TypeError, match="single str"):
        nm.build_char_vocab("Anna")
    with pytest.raises(TypeError, match="str"):
        nm.build_char_vocab(["Anna", 3])
    with pytest.raises(ValueError, match="no names"):
        nm.build_char_vocab([])
    with pytest.raises(ValueError, match="min_freq"):
        nm.build_char_vocab(["Anna"], min_freq=0)


# --- loader --------------------------------------------------------------------------------------


def _decode(vocab, row, length):
    return "".join(vocab.itos[i] for i in row[:length].tolist())


@pytest.mark.parametrize("bucket", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
def test_loader_covers_every_pair_once_per_epoch(bucket, shuffle):
    vocab = nm.build_char_vocab(n for n, _ in PAIRS)
    loader = nm.names_loader(PAIRS, vocab, CLASSES, batch_size=4, shuffle=shuffle, bucket=bucket)
    for _epoch in range(2):
        seen = []
        for (x, lengths), y in loader:
            assert x.dtype == lengths.dtype == y.dtype == torch.long
            assert x.dim() == 2 and x.shape[0] == lengths.shape[0] == y.shape[0] <= 4
            assert x.shape[1] == int(lengths.max())
            for row, length, label in zip(x, lengths, y, strict=True):
                assert (row[length:] == vocab.pad_idx).all()
                assert (row[:length] != vocab.pad_idx).all()
                seen.append((_decode(vocab, row, length), CLASSES[label]))
        assert Counter(seen) == Counter(PAIRS)


def test_loader_lengths_and_labels():
    vocab = nm.build_char_vocab(n for n, _ in PAIRS)
    loader = nm.names_loader(PAIRS, vocab, CLASSES, batch_size=len(PAIRS), shuffle=False, bucket=False)
    (x, lengths), y = next(iter(loader))
    assert lengths.tolist() == [len(n) for n, _ in PAIRS]
    assert y.tolist() == [CLASSES.index(lang) for _, lang in PAIRS]
    assert x.shape == (len(PAIRS), max(len(n) for n, _ in PAIRS))


def test_loader_unknown_characters_become_unk_and_empty_names_do_not_crash():
    vocab = nm.build_char_vocab(["abc"])
    pairs = [("a王c", "Chinese"), ("O’Neil", "Irish"), ("", "Irish")]
    loader = nm.names_loader(pairs, vocab, ["Chinese", "Irish"], batch_size=3, shuffle=False, bucket=False)
    (x, lengths), y = next(iter(loader))
    assert lengths.tolist() == [3, 6, 1]
    assert x[0].tolist() == [vocab["a"], vocab.unk_idx, vocab["c"], 0, 0, 0]
    assert x[1].tolist() == [vocab.unk_idx] * 6
    assert x[2].tolist()[:1] == [vocab.unk_idx]
    assert y.tolist() == [0, 1, 1]


def test_loader_shuffles_reproducibly_and_differently_each_epoch():
    pairs = [(f"n{'a' * (i % 5)}{i}", "A" if i % 2 else "B") for i in range(60)]
    vocab = nm.build_char_vocab(n for n, _ in pairs)

    def order(loader):
        return [tuple(y.tolist()) + tuple(lengths.tolist()) for (_, lengths), y in loader]

    for bucket in (True, False):
        a = nm.names_loader(pairs, vocab, ["A", "B"], batch_size=8, seed=1, bucket=bucket)
        b = nm.names_loader(pairs, vocab, ["A", "B"], batch_size=8, seed=1, bucket=bucket)
        first = order(a)
        assert first == order(b)  # same seed, same order
        flat = [[(_decode(vocab, r, n)) for r, n in zip(x, ln, strict=True)] for (x, ln), _ in a]
        flat2 = [[(_decode(vocab, r, n)) for r, n in zip(x, ln, strict=True)] for (x, ln), _ in a]
        assert flat != flat2  # the next epochs come in another order


def test_loader_bucketing_reduces_padding():
    pairs = [("a" * (1 + i % 15), "A") for i in range(300)]
    vocab = nm.build_char_vocab(n for n, _ in pairs)

    def padding(bucket):
        loader = nm.names_loader(pairs, vocab, ["A"], batch_size=16, bucket=bucket)
        return sum(int((x == vocab.pad_idx).sum()) for (x, _), _ in loader)

    assert padding(bucket=True) < padding(bucket=False) / 2


def test_loader_bad_inputs():
    vocab = nm.build_char_vocab(n for n, _ in PAIRS)
    with pytest.raises(ValueError, match="not in classes"):
        nm.names_loader([("Anna", "Klingon")], vocab, CLASSES)
    with pytest.raises(ValueError, match="pair"):
        nm.names_loader([("Anna",)], vocab, CLASSES)
    with pytest.raises(ValueError, match="pair"):
        nm.names_loader(["Anna"], vocab, CLASSES)
    with pytest.raises(ValueError, match="no pairs"):
        nm.names_loader([], vocab, CLASSES)
    with pytest.raises(ValueError, match="batch_size"):
        nm.names_loader(PAIRS, vocab, CLASSES, batch_size=0)
    with pytest.raises(ValueError, match="distinct"):
        nm.names_loader(PAIRS, vocab, CLASSES + CLASSES[:1])
    with pytest.raises(TypeError, match="Vocab"):
        nm.names_loader(PAIRS, {"a": 0}, CLASSES)
    no_unk = Vocab.build([list("abc")], specials=(PAD,))
    with pytest.raises(ValueError, match="<unk>"):
        nm.names_loader(PAIRS, no_unk, CLASSES)


class _TinyClassifier(nn.Module):
    def __init__(self, vocab_size, num_classes):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, 8, padding_idx=0)
        self.rnn = nn.RNN(8, 16, batch_first=True)
        self.out = nn.Linear(16, num_classes)

    def forward(self, x, lengths):  # x: [B, T], lengths: [B]
        packed = nn.utils.rnn.pack_padded_sequence(
            self.emb(x), lengths, batch_first=True, enforce_sorted=False
        )
        _, h_n = self.rnn(packed)  # h_n: [1, B, H]
        return self.out(h_n[-1])  # [B, C]


def test_loader_batches_train_with_fit():
    from course_utils.train import fit, predict

    torch.manual_seed(0)
    vocab = nm.build_char_vocab(n for n, _ in PAIRS)
    loader = nm.names_loader(PAIRS, vocab, CLASSES, batch_size=5)
    model = _TinyClassifier(len(vocab), len(CLASSES))
    loss_fn = nn.CrossEntropyLoss()
    history = fit(
        model,
        torch.optim.Adam(model.parameters(), lr=0.05),
        loss_fn,
        loader,
        loader,
        epochs=12,
        progress=False,
    )
    losses = history["val_loss"]
    assert len(losses) == 12
    assert min(losses) < losses[0] / 2  # it learns from these batches
    outputs, targets = predict(model, loader)
    assert outputs.shape == (len(PAIRS), len(CLASSES)) and targets.shape == (len(PAIRS),)
