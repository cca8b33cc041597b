"""Character-level helpers for the names data set (18 languages): the lecture's 57-letter alphabet,
``unicode_to_ascii``, one-hot letters, and a batched ``DataLoader`` for ``course_utils.train.fit``.

Two ways to feed a name to a recurrent network (循环神经网络):

* the lecture's way: normalise to the 57-letter alphabet with :func:`unicode_to_ascii`, then
  :func:`name_to_onehot` gives a ``[T, 1, 57]`` tensor that is read one letter at a time;
* the batched way: a character :class:`~course_utils.text.Vocab` (:func:`build_char_vocab`) turns names
  into ids and :func:`names_loader` pads them into ``((x [B, T], lengths [B]), y [B])`` batches.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable, Sequence

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from course_utils.text import PAD, UNK, BucketBatchSampler, Vocab, pad_batch

__all__ = [
    "ALL_LETTERS",
    "N_LETTERS",
    "build_char_vocab",
    "letter_to_index",
    "name_to_onehot",
    "names_loader",
    "unicode_to_ascii",
]

ALL_LETTERS: str = string.ascii_letters + " .,;'"
"""The lecture's alphabet: 52 ASCII letters and `` .,;'`` (57 symbols)."""
N_LETTERS: int = len(ALL_LETTERS)  # 57

_LETTER_INDEX = {c: i for i, c in enumerate(ALL_LETTERS)}


def unicode_to_ascii(s: str) -> str:
    """Reduce a Unicode name to the 57-letter alphabet, as the lecture does: decompose (NFD), drop the
    combining marks (category ``Mn``, i.e. accents) and every character outside :data:`ALL_LETTERS`.

    >>> unicode_to_ascii("Ślusàrski")
    'Slusarski'
    """
    if not isinstance(s, str):
        raise TypeError(f"unicode_to_ascii expects a str, got {type(s).__name__}")
    return "".join(
        c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn" and c in _LETTER_INDEX
    )


def letter_to_index(c: str) -> int:
    """Position of one letter in :data:`ALL_LETTERS` (``"a"`` -> 0, ``"A"`` -> 26)."""
    if not isinstance(c, str) or len(c) != 1:
        raise ValueError(f"letter_to_index expects a single character, got {c!r}")
    try:
        return _LETTER_INDEX[c]
    except KeyError:
        raise ValueError(
            f"character {c!r} is not in the 57-letter alphabet ALL_LETTERS; "
            "normalise the name first with unicode_to_ascii(name)"
        ) from None


def name_to_onehot(name: str) -> torch.Tensor:
    """The lecture's ``lineToTensor``: one one-hot row per letter, shape ``[T, 1, 57]`` (batch of 1).

    Raises ``ValueError`` for an empty name or a character outside :data:`ALL_LETTERS`.
    """
    if not isinstance(name, str):
        raise TypeError(f"name_to_onehot expects a str, got {type(name).__name__}")
    if not name:
        raise ValueError(
            "name_to_onehot got an empty name: there is nothing to read. If it came from unicode_to_ascii, "
            "the original name had no letter of the 57-letter alphabet."
        )
    onehot = torch.zeros(len(name), 1, N_LETTERS)  # [T, 1, 57]
    for t, c in enumerate(name):
        onehot[t, 0, letter_to_index(c)] = 1.0
    return onehot


def build_char_vocab(names: Iterable[str], min_freq: int = 1) -> Vocab:
    """A character vocabulary over ``names`` with ``<pad>`` = 0 and ``<unk>`` = 1 (then characters by
    frequency). Characters seen fewer than ``min_freq`` times map to ``<unk>``."""
    if isinstance(names, str):
        raise TypeError("build_char_vocab expects an iterable of names, not a single str; wrap it in a list")
    char_lists = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"build_char_vocab expects names as str, got {type(name).__name__}: {name!r}")
        char_lists.append(list(name))
    if not char_lists:
        raise ValueError("build_char_vocab got no names; pass the training names, e.g. [n for n, _ in train]")
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
    return Vocab.build(char_lists, min_freq=min_freq, specials=(PAD, UNK))


class _NamesDataset(Dataset):
    """(name, language) pairs encoded once: character ids and the class index."""

    def __init__(self, pairs: Sequence[tuple[str, str]], char_vocab: Vocab, classes: Sequence[str]):
        class_index = {c: i for i, c in enumerate(classes)}
        unk = char_vocab.unk_idx
        self.ids: list[list[int]] = []
        self.labels: list[int] = []
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError(f"pairs[{i}] = {pair!r} is not a (name: str, language: str) pair")
            name, language = pair
            if language not in class_index:
                raise ValueError(
                    f"pairs[{i}] has language {language!r}, which is not in classes; "
                    f"pass the data set's classes (e.g. splits.classes): {list(classes)}"
                )
            # Characters outside the vocabulary become <unk>; an empty name becomes one <unk>,
            # because every sequence needs at least one step (pack_padded_sequence requires length >= 1).
            self.ids.append([char_vocab[c] if c in char_vocab else unk for c in name] or [unk])
            self.labels.append(class_index[language])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.ids[i], self.labels[i]


def names_loader(
    pairs: Sequence[tuple[str, str]],
    char_vocab: Vocab,
    classes: Sequence[str],
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    bucket: bool = True,
) -> DataLoader:
    """Batches of names for :func:`course_utils.train.fit`: ``((x [B, T], lengths [B]), y [B])``.

    ``x`` holds character ids padded with ``<pad>``; characters missing from ``char_vocab`` map to
    ``<unk>``. ``y`` is the index of the language in ``classes``. With ``bucket=True`` a batch holds
    names of similar length (less padding); with ``shuffle=True`` the order changes every epoch
    (reproducibly, from ``seed``). Every pair appears exactly once per epoch. Callers normalise the
    names themselves (e.g. with :func:`unicode_to_ascii`, or not at all).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not isinstance(char_vocab, Vocab):
        raise TypeError(
            f"char_vocab must be a course_utils.text.Vocab (see build_char_vocab), got "
            f"{type(char_vocab).__name__}"
        )
    if UNK not in char_vocab or PAD not in char_vocab:
        raise ValueError("char_vocab needs <pad> and <unk> entries; build it with build_char_vocab(names)")
    if len(pairs) == 0:
        raise ValueError("names_loader got no pairs; pass a non-empty list of (name, language)")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct, got {list(classes)}")
    dataset = _NamesDataset(pairs, char_vocab, classes)
    pad_idx = char_vocab.pad_idx

    def collate(batch: list[tuple[list[int], int]]) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        x, lengths = pad_batch([ids for ids, _ in batch], pad_idx=pad_idx)  # x: [B, T], lengths: [B]
        y = torch.tensor([label for _, label in batch], dtype=torch.long)  # y: [B]
        return (x, lengths), y

    if bucket:
        lengths = [len(ids) for ids in dataset.ids]
        batch_sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, seed=seed)
    else:
        if shuffle:
            generator = torch.Generator().manual_seed(seed)
            sampler = RandomSampler(dataset, generator=generator)
        else:
            sampler = SequentialSampler(dataset)
        batch_sampler = BatchSampler(sampler, batch_size, drop_last=False)
    return DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=collate)
