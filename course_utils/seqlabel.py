"""Sequence labelling (序列标注, the N-vs-N shape): a BiLSTM part-of-speech tagger with a character model of
each word (notebook 06), scored like notebook 01's HMM tagger.

* :class:`TaggerVocab`: lower-cased words, characters and tags of the training sentences; encodes sentences.
* :class:`CharCNN`: a word's characters -> one vector (Ma & Hovy 2016: character embeddings, a convolution of
  width 3, max over the word), so a word never seen in training still gets a representation from its
  spelling (suffixes such as *-ing*, *-ly*, capitals, digits and hyphens).
* :class:`BiLSTMTagger`: [word embedding; character vector] -> dropout -> BiLSTM over the packed sentence
  -> dropout -> a linear layer per word: logits (B, T, tags).
* :func:`tagger_loader` batches sentences as ``((words, lengths, chars, char_lengths, types), tags)`` for
  :func:`course_utils.train.fit`, with word dropout: in training, a word seen once becomes ``<unk>`` with
  probability ``unk_replace``, so the ``<unk>`` vector and the character model learn what unknown words are.
* :class:`TokenCrossEntropy`: cross-entropy over (B, T, C) logits, padding ignored.
* :func:`predict_tags` and :func:`evaluate_tagger`: tags and :class:`course_utils.tagger.TaggingScores`
  (overall, known-word and unknown-word accuracy, known meaning seen in training, as for the HMM).

Shape legend: B batch (sentences), T time (words), N distinct words in a batch, L characters, C tags.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_utils.rnn import _check_dropout, _check_positive_ints
from course_utils.runtime import autocast_dtype
from course_utils.tagger import TaggingScores, _score
from course_utils.text import pad_batch
from course_utils.textclass import _check_id_batch, _check_positive_number, _is_int_dtype
from course_utils.train import History, fit

_VOCAB_HINT = "encode them with the TaggerVocab the model was built from"

__all__ = [
    "BiLSTMTagger",
    "CharCNN",
    "TaggerVocab",
    "TokenCrossEntropy",
    "evaluate_tagger",
    "predict_tags",
    "tagger_loader",
    "train_bilstm_tagger",
]

PAD, UNK, BOW, EOW = "<pad>", "<unk>", "<w>", "</w>"
MAX_WORD_CHARS = 30  # longer words keep their first 30 characters (a handful of URLs and number strings)


def _check_sentences(
    sentences: Sequence, tagged: bool, name: str = "sentences", empty_ok: bool = True
) -> None:
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise TypeError(f"{name} must be a list of sentences, got {type(sentences).__name__}")
    if not empty_ok and not sentences:
        raise ValueError(f"{name} is empty: pass at least one sentence")
    for i, sent in enumerate(sentences):
        if isinstance(sent, str) or not isinstance(sent, Sequence) or not sent:
            raise ValueError(f"{name}[{i}] must be a non-empty list of tokens, got {sent!r:.60}")
        for token in sent:
            if tagged and not (
                isinstance(token, (tuple, list))
                and len(token) >= 2
                and isinstance(token[0], str)
                and isinstance(token[1], str)
            ):
                raise ValueError(
                    f"{name}[{i}] holds {token!r:.40}; tagged sentences are lists of (word, tag, ...) "
                    f"tuples of str, as load_conll2000 returns"
                )
            if not tagged and not isinstance(token, str):
                raise ValueError(f"{name}[{i}] holds {token!r:.40}; pass lists of words (str)")


def _check_tokens(tokens: Sequence[str], name: str, who: str) -> None:
    """A list of str (one sentence's words or tags), not one str and not a list of something else."""
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise TypeError(
            f"{who} expects a list of {name} (str), got {type(tokens).__name__}"
            + ("; split the sentence first, e.g. text.split()" if isinstance(tokens, str) else "")
        )
    for t, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(f"{who}: {name}[{t}] is {token!r:.40}, not a str")


class TaggerVocab:
    """The words (lower-cased), characters and tags of the training sentences ``[(word, tag, ...), ...]``."""

    def __init__(self, train: Sequence[Sequence[tuple[str, ...]]]) -> None:
        _check_sentences(train, tagged=True, name="train", empty_ok=False)
        counts = Counter(tok[0] for sent in train for tok in sent)
        lower = Counter(w.lower() for w in counts.elements())
        self.known = set(counts)  # words seen in training, as written (the HMM's definition of "known")
        self.words = [PAD, UNK] + sorted(lower)
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.singletons = torch.tensor([lower.get(w, 0) == 1 for w in self.words])  # (V,) seen once
        self.chars = [PAD, UNK, BOW, EOW] + sorted({c for w in counts for c in w})
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self.tags = sorted({tok[1] for sent in train for tok in sent})
        self.tag_index = {t: i for i, t in enumerate(self.tags)}

    def word_ids(self, words: Sequence[str]) -> Tensor:
        """(T,) ids of the lower-cased words; unseen ones are ``<unk>`` (1)."""
        _check_tokens(words, "words", "word_ids")
        return torch.tensor([self.word_index.get(w.lower(), 1) for w in words], dtype=torch.long)

    def char_ids(self, word: str) -> Tensor:
        """(L,) ids of ``<w>``, the word's characters (unseen ones ``<unk>``) and ``</w>``."""
        if not isinstance(word, str):
            raise TypeError(f"char_ids expects one word (a str), got {type(word).__name__}")
        inner = [self.char_index.get(c, 1) for c in word[:MAX_WORD_CHARS]]
        return torch.tensor([2, *inner, 3], dtype=torch.long)

    def tag_ids(self, tags: Sequence[str]) -> Tensor:
        """(T,) tag ids; a tag never seen in training is an error."""
        _check_tokens(tags, "tags", "tag_ids")
        unknown = [t for t in tags if t not in self.tag_index]
        if unknown:
            raise ValueError(
                f"tags {unknown[:3]} were not in the training data (tag set: {len(self.tags)} tags)"
            )
        return torch.tensor([self.tag_index[t] for t in tags], dtype=torch.long)

    def __repr__(self) -> str:
        return f"TaggerVocab({len(self.words):,} words, {len(self.chars)} characters, {len(self.tags)} tags)"


def _batch(vocab: TaggerVocab, sentences: Sequence[Sequence[str]]) -> tuple[Tensor, ...]:
    """words (B, T), lengths (B,), chars (N, L), char_lengths (N,), types (B, T): the row of each word in
    ``chars`` (each distinct word's characters are encoded once per batch)."""
    distinct = sorted({w for sent in sentences for w in sent})
    row = {w: i for i, w in enumerate(distinct)}
    chars, char_lengths = pad_batch([vocab.char_ids(w) for w in distinct], 0)
    words, lengths = pad_batch([vocab.word_ids(sent) for sent in sentences], 0)
    types, _ = pad_batch([torch.tensor([row[w] for w in sent]) for sent in sentences], 0)
    return words, lengths, chars, char_lengths, types


class _TaggerLoader:
    def __init__(self, vocab, sentences, batch_size, shuffle, unk_replace, seed) -> None:
        self.vocab, self.batch_size, self.shuffle, self.unk_replace = vocab, batch_size, shuffle, unk_replace
        self.words = [[tok[0] for tok in sent] for sent in sentences]
        self.tags = [vocab.tag_ids([tok[1] for tok in sent]) for sent in sentences]
        self.gen = torch.Generator().manual_seed(seed)
        # batches of similar length (less padding); shuffled as whole batches
        order = sorted(range(len(sentences)), key=lambda i: len(self.words[i]))
        self.chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def __len__(self) -> int:
        return len(self.chunks)

    def __iter__(self) -> Iterator[tuple[tuple[Tensor, ...], Tensor]]:
        n = len(self.chunks)
        for k in torch.randperm(n, generator=self.gen).tolist() if self.shuffle else range(n):
            idx = self.chunks[k]
            words, lengths, chars, char_lengths, types = _batch(self.vocab, [self.words[i] for i in idx])
            if self.unk_replace > 0:
                drop = self.vocab.singletons[words] & (
                    torch.rand(words.shape, generator=self.gen) < self.unk_replace
                )
                words = words.masked_fill(drop, 1)
            tags, _ = pad_batch([self.tags[i] for i in idx], -100)
            yield (words, lengths, chars, char_lengths, types), tags


def tagger_loader(
    vocab: TaggerVocab,
    sentences: Sequence[Sequence[tuple[str, ...]]],
    batch_size: int = 64,
    *,
    shuffle: bool = False,
    unk_replace: float = 0.0,
    seed: int = 0,
) -> _TaggerLoader:
    """Batches ``((words, lengths, chars, char_lengths, types), tags)`` of tagged sentences, sentences of
    similar length together; tags (B, T) are padded with -100 (ignored by the loss). ``shuffle`` reorders the
    batches each pass; ``unk_replace`` is the word-dropout probability for words seen once in training."""
    if not isinstance(vocab, TaggerVocab):
        raise TypeError(
            f"vocab must be a TaggerVocab (built from the training sentences), got {type(vocab).__name__}"
        )
    _check_sentences(sentences, tagged=True, empty_ok=False)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if (
        isinstance(unk_replace, bool)
        or not isinstance(unk_replace, (int, float))
        or not 0 <= unk_replace <= 1
    ):
        raise ValueError(f"unk_replace is a probability in [0, 1], got {unk_replace!r}")
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return _TaggerLoader(vocab, sentences, batch_size, shuffle, unk_replace, seed)


class TokenCrossEntropy(nn.CrossEntropyLoss):
    """Cross-entropy of (B, T, C) logits against (B, T) tags, averaged over the real tokens (tags of -100,
    the padding, are ignored)."""

    def __init__(self) -> None:
        super().__init__(ignore_index=-100)

    def forward(self, logits: Tensor, tags: Tensor) -> Tensor:
        if not isinstance(logits, Tensor) or not isinstance(tags, Tensor):
            raise TypeError(
                f"TokenCrossEntropy expects tensors logits (B, T, C) and tags (B, T), got "
                f"{type(logits).__name__} and {type(tags).__name__}"
            )
        if logits.dim() != 3 or tags.shape != logits.shape[:2]:
            raise ValueError(
                f"TokenCrossEntropy expects logits (B, T, C) and tags (B, T), got {tuple(logits.shape)} and "
                f"{tuple(tags.shape)}"
            )
        if not logits.is_floating_point():
            raise TypeError(
                f"TokenCrossEntropy: logits must be floating-point scores, got dtype {logits.dtype}"
            )
        if not _is_int_dtype(tags):
            raise TypeError(
                f"TokenCrossEntropy: tags must be integer tag ids (torch.long), got dtype {tags.dtype}"
            )
        C, real = logits.shape[-1], tags != self.ignore_index
        if not real.any():
            raise ValueError(
                "TokenCrossEntropy: every tag is -100 (padding), so there is no token to score; "
                "pass a batch with at least one real tag"
            )
        if (real & ((tags < 0) | (tags >= C))).any():
            bad = tags[real & ((tags < 0) | (tags >= C))]
            raise ValueError(
                f"TokenCrossEntropy: tags must be in [0, C) = [0, {C}) or -100 for padding, got "
                f"{bad.unique().tolist()[:5]}; was the model built with the TaggerVocab that encoded the tags?"
            )
        return super().forward(logits.float().reshape(-1, logits.shape[-1]), tags.reshape(-1))


class CharCNN(nn.Module):
    """(N, L) character ids -> (N, filters): embedding -> dropout -> convolution of ``width`` -> max over the
    word's real characters (padding is left out)."""

    def __init__(
        self, n_chars: int, char_dim: int = 30, filters: int = 50, width: int = 3, dropout: float = 0.33
    ):
        super().__init__()
        _check_positive_ints(n_chars=n_chars, char_dim=char_dim, filters=filters, width=width)
        _check_dropout(dropout)
        self.embedding = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, width, padding=width // 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        _check_id_batch(chars, lengths, self.embedding.num_embeddings, "CharCNN", ("chars", "lengths"),
                        "each row is one word's character ids, lengths its real characters", _VOCAB_HINT)  # fmt: skip
        e = self.dropout(self.embedding(chars)).transpose(1, 2)  # (N, char_dim, L)
        h = self.conv(e)[..., : chars.shape[1]]  # (N, filters, L)
        real = torch.arange(chars.shape[1], device=chars.device)[None, :] < lengths.to(chars.device)[:, None]
        return h.masked_fill(~real[:, None, :], float("-inf")).amax(-1)


class BiLSTMTagger(nn.Module):
    """[word embedding; :class:`CharCNN` vector] -> dropout -> BiLSTM (packed) -> dropout -> linear: one tag
    distribution per word. Built from a :class:`TaggerVocab`; ``word_vectors`` may replace the word table
    (e.g. :func:`course_utils.embeddings.pretrained_embedding`)."""

    def __init__(
        self,
        vocab: TaggerVocab,
        *,
        word_dim: int = 100,
        char_filters: int = 50,
        hidden: int = 200,
        dropout: float = 0.33,
        word_vectors: nn.Embedding | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(vocab, TaggerVocab):
            raise TypeError(
                f"vocab must be a TaggerVocab (built from the training sentences), got {type(vocab).__name__}"
            )
        _check_positive_ints(word_dim=word_dim, char_filters=char_filters, hidden=hidden)
        _check_dropout(dropout)
        self.vocab = vocab
        if word_vectors is not None:
            if not isinstance(word_vectors, nn.Embedding):
                raise TypeError(
                    f"word_vectors must be an nn.Embedding (e.g. from pretrained_embedding), got "
                    f"{type(word_vectors).__name__}; wrap a (V, d) tensor with nn.Embedding.from_pretrained"
                )
            if word_vectors.num_embeddings != len(vocab.words):
                raise ValueError(
                    f"word_vectors has {word_vectors.num_embeddings} rows but the vocabulary "
                    f"{len(vocab.words)} words; build it for TaggerVocab.words"
                )
            word_dim = word_vectors.embedding_dim
        self.words = word_vectors or nn.Embedding(len(vocab.words), word_dim, padding_idx=0)
        self.chars = CharCNN(len(vocab.chars), filters=char_filters, dropout=dropout)
        self.lstm = nn.LSTM(word_dim + char_filters, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, len(vocab.tags))

    def forward(
        self, words: Tensor, lengths: Tensor, chars: Tensor, char_lengths: Tensor, types: Tensor
    ) -> Tensor:
        """words (B, T), lengths (B,), chars (N, L), char_lengths (N,), types (B, T) -> logits (B, T, C)."""
        hint = "use tagger_loader"
        _check_id_batch(
            words, lengths, self.words.num_embeddings, "BiLSTMTagger", ("words", "lengths"), hint, _VOCAB_HINT
        )
        if not isinstance(types, Tensor) or types.shape != words.shape:
            got = tuple(types.shape) if isinstance(types, Tensor) else type(types).__name__
            raise ValueError(
                f"BiLSTMTagger expects types of the shape of words {tuple(words.shape)}, got {got}; {hint}"
            )
        if not _is_int_dtype(types):
            raise TypeError(
                f"BiLSTMTagger: types must be integer row indices into chars, got dtype {types.dtype}"
            )
        _check_id_batch(chars, char_lengths, self.chars.embedding.num_embeddings, "BiLSTMTagger",
                        ("chars", "char_lengths"), hint, _VOCAB_HINT)  # fmt: skip
        if int(types.min()) < 0 or int(types.max()) >= len(chars):
            raise ValueError(
                f"BiLSTMTagger expects types indexing the N = {len(chars)} rows of chars, got min "
                f"{int(types.min())}, max {int(types.max())}; {hint}"
            )
        spelled = self.chars(chars, char_lengths)[types]  # (B, T, char_filters)
        x = self.dropout(torch.cat([self.words(words), spelled], -1))  # (B, T, word_dim + char_filters)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=words.shape[1])
        return self.out(self.dropout(h))  # (B, T, C)


def _check_tagger(model: object, who: str) -> None:
    if not (isinstance(model, nn.Module) and isinstance(getattr(model, "vocab", None), TaggerVocab)):
        raise TypeError(f"{who} expects a BiLSTMTagger as model, got {type(model).__name__}")


@torch.no_grad()
def predict_tags(
    model: BiLSTMTagger, sentences: Sequence[Sequence[str]], batch_size: int = 256
) -> list[list[str]]:
    """The most likely tag of each word of each sentence (lists of words, str)."""
    _check_tagger(model, "predict_tags")
    _check_sentences(sentences, tagged=False)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[list[str]] = []
    try:
        for i in range(0, len(sentences), batch_size):
            chunk = sentences[i : i + batch_size]
            batch = [t.to(device) for t in _batch(model.vocab, chunk)]
            best = model(*batch).argmax(-1).cpu()  # (B, T)
            out += [[model.vocab.tags[j] for j in best[b, : len(s)].tolist()] for b, s in enumerate(chunk)]
    finally:
        model.train(was_training)
    return out


def evaluate_tagger(model: BiLSTMTagger, sentences: Sequence[Sequence[tuple[str, ...]]]) -> TaggingScores:
    """Accuracy over all tokens, over words seen in training and over unseen ones (as ``HMMTagger.evaluate``)."""
    _check_tagger(model, "evaluate_tagger")
    _check_sentences(sentences, tagged=True, empty_ok=False)
    words = [[tok[0] for tok in sent] for sent in sentences]
    gold = [[tok[1] for tok in sent] for sent in sentences]
    known = [[w in model.vocab.known for w in sent] for sent in words]
    return _score(gold, predict_tags(model, words), known)


def train_bilstm_tagger(
    train: Sequence[Sequence[tuple[str, ...]]],
    *,
    epochs: int = 12,
    batch_size: int = 64,
    lr: float = 3e-3,
    unk_replace: float = 0.5,
    seed: int = 0,
    progress: bool = True,
    **model_kwargs: object,
) -> tuple[BiLSTMTagger, History]:
    """Notebook 06's recipe: a :class:`BiLSTMTagger` (``model_kwargs`` go to it) trained with
    :func:`course_utils.train.fit`: Adam with a one-cycle learning rate peaking at ``lr``, gradients clipped at
    norm 5, word dropout ``unk_replace`` for words seen once, bfloat16 autocast where the CPU supports it.
    No validation split: the recipe is fixed in advance, the test set is only scored."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    _check_positive_number(lr, "lr", "3e-3 as the peak learning rate")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    torch.manual_seed(seed)
    vocab = TaggerVocab(train)
    model = BiLSTMTagger(vocab, **model_kwargs)  # type: ignore[arg-type]
    loader = tagger_loader(vocab, train, batch_size, shuffle=True, unk_replace=unk_replace, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(loader), pct_start=0.2
    )
    device = next(model.parameters()).device
    history = fit(model, optimizer, TokenCrossEntropy(), loader, epochs=epochs, clip_grad_norm=5.0,
                  scheduler=schedule, scheduler_interval="batch", autocast_dtype=autocast_dtype(device),
                  progress=progress)  # fmt: skip
    return model, history
