"""Text utilities: vocabulary, tokenizers, padding and length bucketing.

This module replaces ``torchtext`` (retired, and unable to load with the course's torch 2.13).
Where you would have used torchtext, use instead:

* ``torchtext.vocab.vocab`` / ``build_vocab_from_iterator`` -> :class:`Vocab` / :meth:`Vocab.build`
  (``vocab[token]``, ``lookup_token(i)``; ``lookup_indices`` / ``lookup_tokens`` -> :meth:`Vocab.encode` /
  :meth:`Vocab.decode`);
* ``torchtext.data.utils.get_tokenizer`` -> :func:`get_tokenizer` (``"spacy_de"``, ``"spacy_en"``, ...);
* ``torch.nn.utils.rnn.pad_sequence`` in a collate function -> :func:`pad_batch` (also returns the lengths);
* ``torchtext.data.BucketIterator`` -> :class:`BucketBatchSampler` (``DataLoader(batch_sampler=...)``).

Shape legend: B batch, T time (sequence length).

Typical use::

    tokenize = get_tokenizer("spacy_de", lower=True)
    vocab = Vocab.build((tokenize(de) for de, _ in pairs), min_freq=2)
    ids = vocab.encode(tokenize("Zwei Männer."), add_bos=True, add_eos=True)
    padded, lengths = pad_batch([ids, ids[:3]], pad_idx=vocab.pad_idx)  # padded: [B, T], lengths: [B]
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SPECIALS",
    "UNK",
    "BucketBatchSampler",
    "TokenBatchSampler",
    "Tokenizer",
    "Vocab",
    "char_tokenize",
    "get_tokenizer",
    "pad_batch",
    "whitespace_tokenize",
]

PAD = "<pad>"
UNK = "<unk>"
BOS = "<bos>"
EOS = "<eos>"
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)

_FORMAT = "course_utils.text.Vocab"
_FORMAT_VERSION = 1
_REPR_TOKENS = 8


def _is_int(x: Any) -> bool:
    """True for Python/NumPy integers and 0-d integer tensors (bools excluded)."""
    if isinstance(x, torch.Tensor):
        return x.ndim == 0 and not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _check_token_list(tokens: Any, what: str) -> list[str]:
    """Validate one list of tokens and return it as a list of str."""
    if isinstance(tokens, str):
        raise TypeError(
            f"{what} is a str ({tokens[:30]!r}), but a list of tokens is expected; "
            f"tokenize it first, e.g. whitespace_tokenize(s) or list(s) for characters."
        )
    if not isinstance(tokens, Iterable):
        raise TypeError(f"{what} must be a list of str tokens, got {type(tokens).__name__}")
    tokens = list(tokens)
    for i, tok in enumerate(tokens):
        if not isinstance(tok, str):
            raise TypeError(f"{what}[{i}] is a {type(tok).__name__} ({tok!r}); tokens must be str")
    return tokens


def _check_freqs(freqs: Any) -> Counter[str]:
    """Validate token counts (str -> non-negative int) and return them as a Counter."""
    if not isinstance(freqs, Mapping):
        raise TypeError(
            f"freqs must be a mapping of token -> count (e.g. a Counter) or None, got {type(freqs).__name__}"
        )
    out: Counter[str] = Counter()
    for tok, count in freqs.items():
        if not isinstance(tok, str):
            raise TypeError(f"freqs has a {type(tok).__name__} key ({tok!r}); the keys must be str tokens")
        if not _is_int(count):
            raise TypeError(
                f"freqs[{tok!r}] is {count!r} ({type(count).__name__}); counts must be non-negative integers "
                f"(how often the token occurs), e.g. Counter(tokens)"
            )
        if count < 0:
            raise ValueError(
                f"freqs[{tok!r}] is {int(count)}; counts must be non-negative integers "
                f"(how often the token occurs), e.g. Counter(tokens)"
            )
        out[tok] = int(count)
    return out


class Vocab:
    """A bijection between tokens (str) and ids (int), ids ``0 .. len(vocab) - 1``.

    Build one from data with :meth:`Vocab.build`, or give the tokens in id order:
    ``Vocab(["neg", "pos"])`` (a label vocabulary without specials).

    ``vocab[token]`` falls back to ``<unk>`` for unknown tokens when the vocabulary has ``<unk>``
    and raises ``KeyError`` otherwise. The special-token ids :attr:`pad_idx`, :attr:`unk_idx`,
    :attr:`bos_idx`, :attr:`eos_idx` raise ``KeyError`` when that token is absent (never ``None``).

    Args:
        itos: the tokens in id order ("index to string"); no duplicates.
        specials: which of those tokens are special (dropped by ``decode(skip_specials=True)``);
            default: those of :data:`SPECIALS` that occur in ``itos``.
        freqs: optional token counts from the training data (kept by :meth:`build`): str tokens mapped
            to non-negative integers.
    """

    def __init__(
        self,
        itos: Sequence[str],
        *,
        specials: Iterable[str] | None = None,
        freqs: Mapping[str, int] | None = None,
    ) -> None:
        itos = _check_token_list(itos, "itos")
        if not itos:
            raise ValueError("itos is empty; a vocabulary needs at least one token")
        stoi: dict[str, int] = {}
        for i, tok in enumerate(itos):
            if tok in stoi:
                raise ValueError(
                    f"itos has the token {tok!r} twice (ids {stoi[tok]} and {i}); tokens must be unique, "
                    f"e.g. Vocab(list(dict.fromkeys(tokens)))"
                )
            stoi[tok] = i
        if specials is None:
            special_list = [tok for tok in SPECIALS if tok in stoi]
        else:
            special_list = _check_token_list(specials, "specials")
            missing = [tok for tok in special_list if tok not in stoi]
            if missing:
                raise ValueError(f"specials {missing} are not in itos; every special token needs an id")
        self._itos = itos
        self._stoi = stoi
        self._specials = tuple(dict.fromkeys(special_list))
        self._special_ids = frozenset(stoi[tok] for tok in self._specials)
        self._unk = stoi.get(UNK)
        self._freqs = None if freqs is None else _check_freqs(freqs)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        token_lists: Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIALS,
    ) -> Vocab:
        """Count tokens and build a vocabulary: ``specials`` first (``<pad>``=0, ``<unk>``=1, ``<bos>``=2,
        ``<eos>``=3 by default), then tokens seen at least ``min_freq`` times, most frequent first,
        ties in alphabetical order. ``max_size`` caps the number of non-special tokens.

        ``token_lists`` is an iterable of token lists (e.g. a generator of tokenized sentences),
        not a list of raw strings.
        """
        if isinstance(token_lists, str):
            raise TypeError(
                "token_lists is a single str; pass an iterable of token lists, "
                "e.g. Vocab.build([tokenize(s) for s in sentences])"
            )
        if not _is_int(min_freq) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1 (1 keeps every token), got {min_freq!r}")
        if max_size is not None and (not _is_int(max_size) or max_size < 0):
            raise ValueError(
                f"max_size must be None (no limit) or an int >= 0 (non-special tokens kept), got {max_size!r}"
            )
        specials = _check_token_list(specials, "specials")
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials has duplicates: {specials}")
        counts: Counter[str] = Counter()
        for i, tokens in enumerate(token_lists):
            counts.update(_check_token_list(tokens, f"token_lists[{i}]"))
        special_set = set(specials)
        ranked = sorted(
            (tok for tok, c in counts.items() if c >= min_freq and tok not in special_set),
            key=lambda tok: (-counts[tok], tok),
        )
        if max_size is not None:
            ranked = ranked[: int(max_size)]
        itos = list(specials) + ranked
        if not itos:
            raise ValueError("no tokens to build a vocabulary from (token_lists is empty and specials=())")
        return cls(itos, specials=specials, freqs=counts)

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self._itos)

    def __getitem__(self, token: str) -> int:
        """The id of ``token``; ``<unk>``'s id if it is unknown and the vocab has ``<unk>``."""
        if not isinstance(token, str):
            raise TypeError(
                f"vocab[...] takes a str token, got {type(token).__name__}; "
                f"for id -> token use vocab.lookup_token(i)"
            )
        idx = self._stoi.get(token)
        if idx is not None:
            return idx
        if self._unk is not None:
            return self._unk
        raise KeyError(
            f"token {token!r} is not in this vocabulary of {len(self)} tokens, which has no {UNK!r} fallback; "
            f"add the token to the vocabulary (or build it with {UNK!r} among its specials)"
        )

    def lookup_token(self, idx: int) -> str:
        """The token with id ``idx``."""
        if not _is_int(idx):
            raise TypeError(f"idx must be an int, got {type(idx).__name__}; for token -> id use vocab[token]")
        idx = int(idx)
        if not 0 <= idx < len(self):
            raise IndexError(
                f"id {idx} is out of range for a vocabulary of {len(self)} tokens (0..{len(self) - 1})"
            )
        return self._itos[idx]

    def encode(self, tokens: Iterable[str], add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token list -> id list, optionally wrapped in ``<bos>`` ... ``<eos>``."""
        tokens = _check_token_list(tokens, "tokens")
        ids = [self[tok] for tok in tokens]
        if add_bos:
            ids.insert(0, self.bos_idx)
        if add_eos:
            ids.append(self.eos_idx)
        return ids

    def decode(self, ids: Iterable[int] | torch.Tensor, skip_specials: bool = True) -> list[str]:
        """Id list (or 1-D tensor) -> token list; special tokens are dropped if ``skip_specials``."""
        if isinstance(ids, torch.Tensor):
            if ids.ndim != 1:
                raise ValueError(
                    f"decode takes a 1-D tensor of ids [T], got shape {tuple(ids.shape)}; decode one row at a time"
                )
            ids = ids.tolist()
        elif isinstance(ids, np.ndarray):
            if ids.ndim != 1:
                raise ValueError(f"decode takes a 1-D array of ids [T], got shape {ids.shape}")
            ids = ids.tolist()
        out = []
        for idx in ids:
            tok = self.lookup_token(idx)
            if not (skip_specials and int(idx) in self._special_ids):
                out.append(tok)
        return out

    # ------------------------------------------------------------------ special ids
    def _special_idx(self, token: str) -> int:
        idx = self._stoi.get(token)
        if idx is None:
            raise KeyError(
                f"this vocabulary has no {token!r} token; build it with {token!r} in specials, "
                f"e.g. Vocab.build(token_lists, specials=SPECIALS)"
            )
        return idx

    @property
    def pad_idx(self) -> int:
        """Id of ``<pad>`` (KeyError if absent)."""
        return self._special_idx(PAD)

    @property
    def unk_idx(self) -> int:
        """Id of ``<unk>`` (KeyError if absent)."""
        return self._special_idx(UNK)

    @property
    def bos_idx(self) -> int:
        """Id of ``<bos>`` (KeyError if absent)."""
        return self._special_idx(BOS)

    @property
    def eos_idx(self) -> int:
        """Id of ``<eos>`` (KeyError if absent)."""
        return self._special_idx(EOS)

    # ------------------------------------------------------------------ views
    @property
    def itos(self) -> list[str]:
        """The tokens in id order (a copy; use ``lookup_token`` in loops)."""
        return list(self._itos)

    @property
    def stoi(self) -> dict[str, int]:
        """Token -> id (a copy, without the ``<unk>`` fallback; use ``vocab[token]`` in loops)."""
        return dict(self._stoi)

    @property
    def specials(self) -> tuple[str, ...]:
        """The special tokens of this vocabulary."""
        return self._specials

    @property
    def freqs(self) -> Counter[str] | None:
        """Token counts seen by :meth:`build` (a copy; all tokens, also those cut), or None."""
        return None if self._freqs is None else Counter(self._freqs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._itos == other._itos and self._specials == other._specials and self._freqs == other._freqs

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: not hashable

    def __repr__(self) -> str:
        head = ", ".join(repr(tok) for tok in self._itos[:_REPR_TOKENS])
        more = ", ..." if len(self) > _REPR_TOKENS else ""
        return f"Vocab(size={len(self)}, tokens=[{head}{more}])"

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary to ``path`` as UTF-8 JSON (atomically: temp file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "itos": self._itos,
            "specials": list(self._specials),
            "freqs": None if self._freqs is None else dict(self._freqs),
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(payload, f, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no vocabulary file at {path}; create one with vocab.save({str(path)!r})"
            )
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(
                f"{path} is not a vocabulary file written by Vocab.save (not valid JSON: {err})"
            ) from err
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(
                f"{path} is not a vocabulary file written by Vocab.save (no {_FORMAT!r} format tag)"
            )
        if payload.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"{path} has vocabulary format version {payload.get('version')!r}; "
                f"this course_utils reads version {_FORMAT_VERSION}"
            )
        try:
            return cls(payload["itos"], specials=payload["specials"], freqs=payload["freqs"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"{path} is a damaged vocabulary file: {err}") from err


# ---------------------------------------------------------------------------- tokenizers
def char_tokenize(s: str) -> list[str]:
    """Split into characters: ``"Anna" -> ["A", "n", "n", "a"]``."""
    _check_str(s)
    return list(s)


def whitespace_tokenize(s: str) -> list[str]:
    """Split on runs of whitespace: ``"a  b\\n" -> ["a", "b"]``."""
    _check_str(s)
    return s.split()


def _check_str(s: Any) -> None:
    if not isinstance(s, str):
        raise TypeError(f"a tokenizer takes one str, got {type(s).__name__}; call it once per sentence")


_SPACY_LANGS = {"spacy_en": "en", "spacy_de": "de"}
TOKENIZER_NAMES: tuple[str, ...] = ("char", "whitespace", "spacy_en", "spacy_de")


@cache
def _spacy_tokenizer(lang: str) -> Callable[[str], Any]:
    """The rule-based tokenizer of spaCy's blank pipeline for ``lang`` (ships with spaCy, offline)."""
    try:
        import spacy
    except ImportError as err:  # pragma: no cover - spaCy is a course dependency
        raise ImportError("the spaCy tokenizers need spaCy: pip install spacy") from err
    return spacy.blank(lang).tokenizer


class Tokenizer:
    """A named tokenizer ``str -> list[str]``, made by :func:`get_tokenizer` (picklable, for DataLoader workers)."""

    def __init__(self, name: str, lower: bool = False) -> None:
        if name not in TOKENIZER_NAMES:
            raise ValueError(f"unknown tokenizer {name!r}; choose one of {list(TOKENIZER_NAMES)}")
        if not isinstance(lower, bool):
            raise TypeError(f"lower must be True or False, got {lower!r}")
        self.name = name
        self.lower = lower

    def __call__(self, s: str) -> list[str]:
        _check_str(s)
        if self.name == "char":
            tokens = list(s)
        elif self.name == "whitespace":
            tokens = s.split()
        else:
            doc = _spacy_tokenizer(_SPACY_LANGS[self.name])(s)
            tokens = [tok.text for tok in doc if not tok.text.isspace()]
        # Lower-case after tokenizing, so spaCy's case-sensitive rules see the original text.
        return [tok.lower() for tok in tokens] if self.lower else tokens

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r}, lower={self.lower})"


def get_tokenizer(name: str, lower: bool = False) -> Tokenizer:
    """A tokenizer by name: ``"char"``, ``"whitespace"``, ``"spacy_en"`` or ``"spacy_de"``.

    The spaCy ones use the rule-based tokenizer of ``spacy.blank("en")`` / ``spacy.blank("de")``
    (no model download), loaded once on first use. ``lower=True`` lower-cases the tokens.
    """
    return Tokenizer(name, lower=lower)


# ---------------------------------------------------------------------------- batching
def pad_batch(
    seqs: Sequence[Sequence[int] | torch.Tensor], pad_idx: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad id sequences to the longest one, batch first.

    Args:
        seqs: B sequences of ids (lists of ints or 1-D integer tensors), each non-empty.
        pad_idx: the fill value, e.g. ``vocab.pad_idx`` (or -100 for targets ignored by the loss).

    Returns:
        ``(padded, lengths)``: padded LongTensor [B, T] with T = max length, lengths LongTensor [B]
        (on the CPU, as ``pack_padded_sequence`` wants).
    """
    if isinstance(seqs, torch.Tensor) and seqs.ndim < 2:
        raise ValueError(
            f"seqs must be a batch of sequences, got a tensor of shape {tuple(seqs.shape)}; "
            f"for one sequence use pad_batch([ids])"
        )
    if not _is_int(pad_idx):
        raise TypeError(f"pad_idx must be an int, got {type(pad_idx).__name__}")
    seqs = list(seqs)
    if not seqs:
        raise ValueError("pad_batch got an empty batch (no sequences); a batch needs at least one sequence")
    tensors = []
    for i, seq in enumerate(seqs):
        if isinstance(seq, str):
            raise TypeError(f"seqs[{i}] is a str; encode tokens to ids first, e.g. vocab.encode(tokenize(s))")
        if isinstance(seq, torch.Tensor):
            t = seq
        else:
            try:
                t = torch.as_tensor(seq)
            except (TypeError, ValueError, RuntimeError) as err:
                raise TypeError(f"seqs[{i}] is not a sequence of int ids: {err}") from err
        if t.ndim != 1:
            hint = "; pass a list of sequences, e.g. pad_batch([ids])" if t.ndim == 0 else ""
            raise ValueError(f"seqs[{i}] must be 1-D [T], got shape {tuple(t.shape)}{hint}")
        if t.numel() == 0:
            raise ValueError(
                f"seqs[{i}] is empty (length 0); pack_padded_sequence rejects zero lengths, "
                f"so drop empty examples before batching (or add <eos> so none is empty)"
            )
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"seqs[{i}] has dtype {t.dtype}; ids must be integers")
        tensors.append(t.long())
    lengths = torch.tensor([len(t) for t in tensors], dtype=torch.long)  # [B]
    padded = torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True, padding_value=int(pad_idx))  # [B, T]
    return padded, lengths


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths, so little padding is wasted.

    Each epoch (``shuffle=True``): shuffle all indices, split them into pools of ``pool_batches *
    batch_size``, sort each pool by length, cut consecutive batches, then shuffle the batch order.
    Every index appears exactly once per epoch. The order depends only on ``seed`` and the epoch:
    epoch 0 on the first ``iter()``, then 1, 2, ...; :meth:`set_epoch` chooses the next one.
    With ``shuffle=False`` the batches come in order of length, shortest first, every epoch.

    ``drop_last=True`` keeps only full batches: with ``shuffle=True`` the ``n % batch_size`` left-over
    indices are a random draw of the epoch's shuffle (a different set every epoch, unbiased by length);
    with ``shuffle=False`` nothing is random, so the longest ``n % batch_size`` are left out every epoch.
    Inside a batch, indices are ordered longest first (ready for ``pack_padded_sequence``).

    Use it as ``DataLoader(dataset, batch_sampler=sampler, collate_fn=...)``.
    """

    def __init__(
        self,
        lengths: Sequence[int] | torch.Tensor | np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        *,
        pool_batches: int = 50,
    ) -> None:
        super().__init__()
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if not _is_int(pool_batches) or pool_batches < 1:
            raise ValueError(f"pool_batches must be an int >= 1, got {pool_batches!r}")
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {type(flag).__name__} ({flag!r})")
        if isinstance(lengths, torch.Tensor):
            lengths = lengths.tolist()
        try:
            lens = np.asarray(lengths)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"lengths must be a 1-D list of int sequence lengths, e.g. [len(ids) for ids in data] ({err})"
            ) from err
        if lens.ndim != 1 or lens.size == 0:
            raise ValueError(
                f"lengths must be a non-empty 1-D list of sequence lengths (one per example), "
                f"got shape {lens.shape}"
            )
        if not np.issubdtype(lens.dtype, np.integer):
            raise TypeError(f"lengths must be ints, got dtype {lens.dtype}; e.g. [len(ids) for ids in data]")
        if (lens < 0).any():
            bad = int(np.flatnonzero(lens < 0)[0])
            raise ValueError(f"lengths must be >= 0, but lengths[{bad}] = {int(lens[bad])}")
        self.lengths = lens.astype(np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.pool_batches = int(pool_batches)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` produce the batches of ``epoch``."""
        if not _is_int(epoch) or epoch < 0:
            raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _cut(self, order: np.ndarray) -> list[list[int]]:
        """Cut an ordering of all indices into batches (the short last one dropped if ``drop_last``)."""
        batches = []
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            if len(chunk) < self.batch_size and self.drop_last:
                break
            # longest first inside the batch; stable, so equal lengths keep their order
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches.append(chunk.tolist())
        return batches

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of ``epoch`` (no side effects)."""
        if not _is_int(epoch) or epoch < 0:
            raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
        if not self.shuffle:
            return self._cut(np.argsort(self.lengths, kind="stable"))
        rng = np.random.default_rng([self.seed, int(epoch)])
        perm = rng.permutation(len(self.lengths))
        if self.drop_last:  # leave out a random remainder, a new one every epoch (not the longest ones)
            perm = perm[: len(perm) - len(perm) % self.batch_size]
        pool = self.batch_size * self.pool_batches
        order = np.concatenate(
            [
                p[np.argsort(self.lengths[p], kind="stable")]
                for p in np.split(perm, range(pool, len(perm), pool))
            ]
        )
        batches = self._cut(order)
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches(self.epoch)
        self.epoch += 1
        return iter(batches)

    def __repr__(self) -> str:
        return (
            f"BucketBatchSampler(n={len(self.lengths)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"seed={self.seed}, drop_last={self.drop_last}, epoch={self.epoch})"
        )


class TokenBatchSampler(BucketBatchSampler):
    """Like :class:`BucketBatchSampler`, but batches hold up to ``max_tokens`` padded tokens instead of a
    fixed number of sequences: a batch of n sequences whose longest has length L costs n * L, so short
    sentences come in large batches and long ones in small batches (as in Vaswani et al. 2017, who
    batched by about 25,000 tokens). Every index appears exactly once per epoch; a sequence longer than
    ``max_tokens`` gets a batch of its own. ``len()`` is the number of batches of the next epoch.
    """

    def __init__(
        self,
        lengths: Sequence[int] | torch.Tensor | np.ndarray,
        max_tokens: int,
        shuffle: bool = True,
        seed: int = 0,
        *,
        pool_batches: int = 50,
    ) -> None:
        if not _is_int(max_tokens) or max_tokens < 1:
            raise ValueError(f"max_tokens must be an int >= 1, got {max_tokens!r}")
        super().__init__(lengths, 1, shuffle, seed, pool_batches=pool_batches)
        self.max_tokens = int(max_tokens)
        # pools of about pool_batches batches, as in the parent class
        self.batch_size = max(1, self.max_tokens // max(1, int(np.ceil(self.lengths.mean()))))

    def _cut(self, order: np.ndarray) -> list[list[int]]:
        batches, start = [], 0
        longest = 0
        for i in range(len(order)):
            longest = max(longest, int(self.lengths[order[i]]))
            if i > start and (i - start + 1) * longest > self.max_tokens:
                batches.append(order[start:i])
                start, longest = i, int(self.lengths[order[i]])
        batches.append(order[start:])
        return [b[np.argsort(-self.lengths[b], kind="stable")].tolist() for b in batches]

    def __len__(self) -> int:
        return len(self.batches(self.epoch))

    def __repr__(self) -> str:
        return (
            f"TokenBatchSampler(n={len(self.lengths)}, max_tokens={self.max_tokens}, shuffle={self.shuffle}, "
            f"seed={self.seed}, epoch={self.epoch})"
        )
