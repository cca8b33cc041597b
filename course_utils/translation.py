"""The Multi30k German -> English translation pipeline shared by notebooks 08, 09 and 10.

From raw sentence pairs to padded batches and back to an English string:

* :func:`load_translation_data` - tokenise with spaCy's rule-based German and English tokenizers
  (``spacy.blank``), lower-case, build the two vocabularies on the training split with
  ``min_freq=2`` (the lecture's setting; rarer words become ``<unk>``), optionally reverse the
  source (Sutskever et al. 2014, as in the lecture), and encode every split to ids;
* :class:`TranslationData` - the result: vocabularies, tokenised and encoded splits,
  :meth:`TranslationData.unknown_counts` (how many tokens of a split are ``<unk>``) and
  :meth:`TranslationData.encode_source` for new sentences;
* :func:`make_loader` - length-bucketed padded batches ``((src, src_len, tgt_in), tgt_out)``, the
  ``(inputs, targets)`` pairs that :func:`course_utils.train.fit` expects;
* :func:`translate` and :func:`translate_corpus` - decode with any model that has the course's decoding
  interface (``start`` / ``step``, see :mod:`course_utils.decoding`), greedily or with beam search;
* :class:`Recipe`, :func:`train_translation`, :func:`perplexity` and :func:`bleu_on` - the training
  recipe and the two scores every translation model of the course reports;
* :func:`attention_map` - where an attention model looks while it writes each word (for heatmaps).

An example is ``(src_ids, tgt_ids)``: ``src_ids`` = source tokens (reversed if asked) + ``<eos>``,
``tgt_ids`` = ``<bos>`` + target tokens + ``<eos>``. A batch is padded with ``<pad>``; the decoder
reads ``tgt_in = tgt[:, :-1]`` and is trained to predict ``tgt_out = tgt[:, 1:]`` (teacher forcing).

Shape legend: B batch, S source length, T target length, V vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from course_utils.data import load_multi30k
from course_utils.text import (
    BucketBatchSampler,
    TokenBatchSampler,
    Tokenizer,
    Vocab,
    get_tokenizer,
    pad_batch,
)

__all__ = [
    "SCHEDULES",
    "SPLITS",
    "Recipe",
    "TranslationData",
    "attention_map",
    "LENGTH_BUCKETS",
    "bleu_by_length",
    "bleu_on",
    "detokenize",
    "load_translation_data",
    "make_loader",
    "perplexity",
    "train_translation",
    "translate",
    "translate_corpus",
]

SPLITS = ("train", "val", "test")
Example = tuple[list[int], list[int]]


@cache
def _tokenized(split: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Lower-cased spaCy tokens of one Multi30k split, computed once per process (about 2 s for train)."""
    de, en = get_tokenizer("spacy_de", lower=True), get_tokenizer("spacy_en", lower=True)
    return tuple((tuple(de(src)), tuple(en(tgt))) for src, tgt in load_multi30k(split))


@dataclass
class TranslationData:
    """Vocabularies and splits of the translation task; made by :func:`load_translation_data`."""

    src_vocab: Vocab
    tgt_vocab: Vocab
    reverse_source: bool
    raw: dict[str, list[tuple[str, str]]]  # split -> (german, english) as in the data files
    tokens: dict[str, list[tuple[list[str], list[str]]]]  # split -> (german tokens, english tokens)
    examples: dict[str, list[Example]]  # split -> (src_ids, tgt_ids)
    src_tokenizer: Tokenizer = field(default_factory=lambda: get_tokenizer("spacy_de", lower=True))
    tgt_tokenizer: Tokenizer = field(default_factory=lambda: get_tokenizer("spacy_en", lower=True))

    def encode_source(self, sentence: str | Sequence[str]) -> list[int]:
        """Ids of a German sentence (a raw string, or its tokens) as the models read it."""
        tokens = self.src_tokenizer(sentence) if isinstance(sentence, str) else list(sentence)
        if not tokens:
            raise ValueError("the source sentence is empty; give at least one German word")
        if self.reverse_source:
            tokens = tokens[::-1]
        return self.src_vocab.encode(tokens, add_eos=True)

    def decode_target(self, ids: Sequence[int] | Tensor) -> list[str]:
        """English tokens of target ids, without ``<bos>``/``<eos>``/``<pad>`` (``<unk>`` is kept)."""
        return [t for t in self.tgt_vocab.decode(ids, skip_specials=False) if t not in self._specials]

    @property
    def _specials(self) -> set[str]:
        v = self.tgt_vocab
        return {v.itos[v.pad_idx], v.itos[v.bos_idx], v.itos[v.eos_idx]}

    def references(self, split: str) -> list[list[str]]:
        """The English tokens of ``split``, as BLEU references (one per sentence)."""
        _check_split(split)
        return [list(tgt) for _, tgt in self.tokens[split]]

    def unknown_counts(self, split: str) -> dict[str, int]:
        """How many tokens of ``split`` the vocabularies map to ``<unk>``, per side, with the totals."""
        _check_split(split)
        src_unk = self.src_vocab.unk_idx
        tgt_unk = self.tgt_vocab.unk_idx
        counts = {"src_unk": 0, "src_tokens": 0, "tgt_unk": 0, "tgt_tokens": 0}
        for src, tgt in self.examples[split]:
            counts["src_unk"] += sum(i == src_unk for i in src[:-1])
            counts["src_tokens"] += len(src) - 1
            counts["tgt_unk"] += sum(i == tgt_unk for i in tgt[1:-1])
            counts["tgt_tokens"] += len(tgt) - 2
        return counts


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")


def load_translation_data(
    *,
    min_freq: int = 2,
    reverse_source: bool = False,
    max_train: int | None = None,
    max_eval: int | None = None,
) -> TranslationData:
    """Multi30k German -> English, tokenised, lower-cased and encoded (see the module docstring).

    ``min_freq``: a word needs this many occurrences in the training split to get its own id.
    ``reverse_source``: feed the German sentence backwards, as in Sutskever et al. and the lecture.
    ``max_train``: keep only the first ``max_train`` training pairs (for quick runs); the
    vocabularies are then built on those pairs only.
    ``max_eval``: keep only the first ``max_eval`` validation and test pairs (for quick runs; scores
    on a slice are not comparable with scores on the whole split).
    """
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
    if not isinstance(reverse_source, bool):
        raise TypeError(f"reverse_source must be True or False, got {reverse_source!r}")
    if max_train is not None and (
        isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1
    ):
        raise ValueError(f"max_train must be None or an int >= 1, got {max_train!r}")
    if max_eval is not None and (isinstance(max_eval, bool) or not isinstance(max_eval, int) or max_eval < 1):
        raise ValueError(f"max_eval must be None or an int >= 1, got {max_eval!r}")
    raw = {s: load_multi30k(s) for s in SPLITS}
    tokens = {s: [(list(src), list(tgt)) for src, tgt in _tokenized(s)] for s in SPLITS}
    if max_train is not None:
        raw["train"], tokens["train"] = raw["train"][:max_train], tokens["train"][:max_train]
    if max_eval is not None:
        for split in ("val", "test"):
            raw[split], tokens[split] = raw[split][:max_eval], tokens[split][:max_eval]
    src_vocab = Vocab.build((src for src, _ in tokens["train"]), min_freq=min_freq)
    tgt_vocab = Vocab.build((tgt for _, tgt in tokens["train"]), min_freq=min_freq)
    examples = {
        s: [
            (
                src_vocab.encode(src[::-1] if reverse_source else src, add_eos=True),
                tgt_vocab.encode(tgt, add_bos=True, add_eos=True),
            )
            for src, tgt in tokens[s]
        ]
        for s in SPLITS
    }
    return TranslationData(src_vocab, tgt_vocab, reverse_source, raw, tokens, examples)


def _collate(
    batch: list[Example], src_pad: int, tgt_pad: int
) -> tuple[tuple[Tensor, Tensor, Tensor], Tensor]:
    src, src_len = pad_batch([s for s, _ in batch], src_pad)  # (B, S), (B,)
    tgt, _ = pad_batch([t for _, t in batch], tgt_pad)  # (B, T + 1)
    return (src, src_len, tgt[:, :-1]), tgt[:, 1:]


class _Collate:
    """Picklable collate function (DataLoader workers need one)."""

    def __init__(self, src_pad: int, tgt_pad: int) -> None:
        self.src_pad, self.tgt_pad = src_pad, tgt_pad

    def __call__(self, batch: list[Example]) -> tuple[tuple[Tensor, Tensor, Tensor], Tensor]:
        return _collate(batch, self.src_pad, self.tgt_pad)


def make_loader(
    data: TranslationData,
    split: str,
    batch_size: int | None = None,
    *,
    max_tokens: int | None = None,
    shuffle: bool | None = None,
    seed: int = 0,
) -> DataLoader:
    """Batches of ``split`` as ``((src, src_len, tgt_in), tgt_out)``: src (B, S) sorted longest first,
    src_len (B,), tgt_in and tgt_out (B, T). Sentences of similar source length share a batch
    (:class:`course_utils.text.BucketBatchSampler`); ``shuffle`` defaults to True for "train" only.
    Give ``batch_size`` (sentences per batch) or ``max_tokens`` (padded tokens per batch, counting the
    longer side of each pair; :class:`course_utils.text.TokenBatchSampler`), not both."""
    _check_split(split)
    if (batch_size is None) == (max_tokens is None):
        raise ValueError(
            "make_loader: give batch_size (sentences per batch) or max_tokens, exactly one of them"
        )
    examples = data.examples[split]
    shuffle = split == "train" if shuffle is None else shuffle
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be an int >= 1, got {max_tokens!r}")
        lengths = [max(len(s), len(t) - 1) for s, t in examples]  # tgt_in / tgt_out are one shorter
        sampler = TokenBatchSampler(lengths, max_tokens, shuffle=shuffle, seed=seed)
    else:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        sampler = BucketBatchSampler([len(s) for s, _ in examples], batch_size, shuffle=shuffle, seed=seed)
    collate = _Collate(data.src_vocab.pad_idx, data.tgt_vocab.pad_idx)
    return DataLoader(examples, batch_sampler=sampler, collate_fn=collate)


def _check_decoder(model: object) -> None:
    if not (callable(getattr(model, "start", None)) and callable(getattr(model, "step", None))):
        raise TypeError(
            f"{type(model).__name__} cannot translate: it needs the decoding interface start(src, src_len) "
            "and step(tokens, state) (see course_utils.decoding)"
        )


@torch.no_grad()
def translate_corpus(
    model: torch.nn.Module,
    sources: Sequence[Sequence[int]],
    data: TranslationData,
    *,
    beam_size: int = 1,
    max_len: int = 60,
    batch_size: int = 128,
    length_penalty: str = "none",
    alpha: float = 0.6,
    autocast_dtype: torch.dtype | None = None,
) -> list[list[str]]:
    """English tokens for each encoded source sentence (e.g. ``[s for s, _ in data.examples["test"]]``).

    ``beam_size=1`` decodes greedily, otherwise with :func:`course_utils.decoding.beam_search`.
    Sentences are batched by length and returned in the order given. ``autocast_dtype`` (e.g.
    ``torch.bfloat16``) runs the model under ``torch.autocast``.
    """
    from course_utils.decoding import beam_search, greedy_decode

    _check_decoder(model)
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be an int >= 1, got {beam_size!r}")
    sources = [list(s) for s in sources]
    if not sources:
        return []
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = sorted(range(len(sources)), key=lambda i: -len(sources[i]))
    out: list[list[str]] = [[] for _ in sources]
    bos, eos = data.tgt_vocab.bos_idx, data.tgt_vocab.eos_idx
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            src, src_len = pad_batch([sources[i] for i in idx], data.src_vocab.pad_idx)
            inputs = (src.to(device), src_len)
            with torch.autocast(
                device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
            ):
                if beam_size == 1:
                    ids = greedy_decode(model, inputs, bos=bos, eos=eos, max_len=max_len)
                else:
                    hyps = beam_search(
                        model, inputs, bos=bos, eos=eos, beam_size=beam_size, max_len=max_len,
                        length_penalty=length_penalty, alpha=alpha,
                    )  # fmt: skip
                    ids = [h[0].tokens for h in hyps]
            for i, seq in zip(idx, ids, strict=True):
                out[i] = data.decode_target(seq)
    finally:
        model.train(was_training)
    return out


def translate(
    model: torch.nn.Module,
    sentence: str,
    data: TranslationData,
    *,
    beam_size: int = 1,
    max_len: int = 60,
    length_penalty: str = "none",
) -> str:
    """Translate one raw German sentence into an English string (lower-cased, tokens joined by spaces)."""
    if not isinstance(sentence, str):
        raise TypeError(f"translate takes one German sentence as a str, got {type(sentence).__name__}")
    src = data.encode_source(sentence)
    tokens = translate_corpus(
        model, [src], data, beam_size=beam_size, max_len=max_len, length_penalty=length_penalty
    )[0]
    return " ".join(tokens)


#: Groups of source length (tokens, inclusive) for BLEU by length in notebooks 08-10.
LENGTH_BUCKETS: tuple[tuple[int, int], ...] = ((1, 8), (9, 11), (12, 14), (15, 18), (19, 100))


def bleu_by_length(
    hyps: Sequence[Sequence[str]],
    data: TranslationData,
    split: str = "test",
    buckets: Sequence[tuple[int, int]] = LENGTH_BUCKETS,
) -> dict[str, float]:
    """Corpus BLEU of the sentences of ``split`` whose source has lo..hi tokens, per bucket.

    ``hyps`` are the outputs for every sentence of the split, in order (as :func:`bleu_on` returns them).
    Keys name the buckets ("1-8", ..., "19+" for an upper bound of 100 or more); empty buckets are left out.
    """
    from course_utils.bleu import corpus_bleu

    _check_split(split)
    refs = data.references(split)
    if len(hyps) != len(refs):
        raise ValueError(
            f"got {len(hyps)} outputs for the {len(refs)} sentences of {split!r}; give one per sentence"
        )
    scores = {}
    for lo, hi in buckets:
        idx = [i for i, (src, _) in enumerate(data.tokens[split]) if lo <= len(src) <= hi]
        if idx:
            key = f"{lo}-{hi}" if hi < 100 else f"{lo}+"
            scores[key] = corpus_bleu([hyps[i] for i in idx], [[refs[i]] for i in idx]).score
    return scores


_NO_SPACE_BEFORE = re.compile(r" (?=[.,!?;:)%]|'s\b|'re\b|'ve\b|'ll\b|'d\b|'m\b|n't\b)")
_NO_SPACE_AFTER = re.compile(r"(?<=[(]) ")


def detokenize(tokens: Sequence[str], *, capitalize: bool = True) -> str:
    """English tokens back to a plain sentence: no space before punctuation and clitics ("man 's" ->
    "man's"), none after "(", and (``capitalize``) an upper-case first letter. For scoring with sacreBLEU's
    own tokenizer against the raw references; the models' lower-casing is not undone otherwise."""
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise TypeError("detokenize takes a list of str tokens, e.g. a model's output from translate_corpus")
    text = _NO_SPACE_AFTER.sub("", _NO_SPACE_BEFORE.sub("", " ".join(tokens)))
    return text[:1].upper() + text[1:] if capitalize else text


# --------------------------------------------------------------------------- training and scoring


SCHEDULES = ("one-cycle", "inverse-sqrt")


@dataclass(frozen=True)
class Recipe:
    """How a translation model is trained by :func:`train_translation`.

    AdamW (decoupled weight decay) with ``betas``, label-smoothed cross-entropy, gradient-norm clipping,
    ``teacher_forcing`` as the probability of feeding the reference token (RNN models). Batches of
    ``batch_size`` sentences, or of up to ``max_tokens`` padded tokens when that is set.
    ``schedule="one-cycle"``: PyTorch's ``OneCycleLR`` (Smith & Topin 2019): a cosine warm-up from
    ``max_lr / 25`` to ``max_lr`` over the first ``warmup`` fraction of the steps, then a cosine decay towards
    zero; it also cycles Adam's beta1 between 0.95 and 0.85, opposite to the learning rate. ``schedule="inverse-sqrt"``: the Transformer paper's rule,
    linear warm-up over ``warmup_steps`` to ``max_lr``, then ``max_lr · √(warmup_steps / step)``.
    """

    epochs: int = 8
    batch_size: int = 128
    max_lr: float = 3e-3
    warmup: float = 0.1
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    clip_grad_norm: float = 1.0
    teacher_forcing: float = 1.0
    seed: int = 0
    max_tokens: int | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "one-cycle"
    warmup_steps: int = 4000

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Recipe: unknown schedule {self.schedule!r}; use one of {SCHEDULES}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"Recipe: betas must be two numbers in [0, 1), got {self.betas!r}")


def _scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe, total_steps: int):
    if recipe.schedule == "one-cycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.max_lr, total_steps=total_steps, pct_start=recipe.warmup
        )
    w = recipe.warmup_steps  # LambdaLR multiplies the optimizer's lr (max_lr) by this factor

    def factor(step: int) -> float:
        return min((step + 1) / w, (w / (step + 1)) ** 0.5)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_translation(
    model: torch.nn.Module,
    data: TranslationData,
    recipe: Recipe,
    *,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = True,
):
    """Train ``model`` on the training split with ``recipe``; return its :class:`course_utils.train.History`.

    Validation loss (label-smoothed, teacher-forced) is recorded after each epoch; the model keeps the
    weights of its last epoch. Runs on the model's device; ``autocast_dtype`` as in
    :func:`course_utils.train.fit`.
    """
    from course_utils.seq2seq import SequenceCrossEntropy
    from course_utils.train import fit

    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    torch.manual_seed(recipe.seed)
    if hasattr(model, "teacher_forcing"):
        model.teacher_forcing = recipe.teacher_forcing
    elif recipe.teacher_forcing != 1.0:
        raise ValueError(f"{type(model).__name__} always reads the reference prefix; use teacher_forcing=1.0")
    if recipe.max_tokens is not None:
        train_loader = make_loader(data, "train", max_tokens=recipe.max_tokens, seed=recipe.seed)
        sampler = train_loader.batch_sampler
        total_steps = sum(len(sampler.batches(e)) for e in range(recipe.epochs))
    else:
        train_loader = make_loader(data, "train", recipe.batch_size, seed=recipe.seed)
        total_steps = recipe.epochs * len(train_loader)
    val_loader = make_loader(data, "val", 256)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=recipe.max_lr, betas=recipe.betas, weight_decay=recipe.weight_decay
    )
    scheduler = _scheduler(optimizer, recipe, total_steps)
    loss_fn = SequenceCrossEntropy(data.tgt_vocab.pad_idx, label_smoothing=recipe.label_smoothing)
    return fit(
        model, optimizer, loss_fn, train_loader, val_loader,
        epochs=recipe.epochs, clip_grad_norm=recipe.clip_grad_norm, scheduler=scheduler,
        scheduler_interval="batch", restore_best=False, progress=progress, autocast_dtype=autocast_dtype,
    )  # fmt: skip


def perplexity(
    model: torch.nn.Module,
    data: TranslationData,
    split: str = "val",
    *,
    autocast_dtype: torch.dtype | None = None,
) -> float:
    """exp(mean cross-entropy per target token) of ``split`` under teacher forcing (no label smoothing)."""
    from course_utils.seq2seq import SequenceCrossEntropy
    from course_utils.train import evaluate

    loss = evaluate(
        model, make_loader(data, split, 256), SequenceCrossEntropy(data.tgt_vocab.pad_idx),
        autocast_dtype=autocast_dtype,
    )["loss"]  # fmt: skip
    return float(torch.tensor(loss).exp())


def bleu_on(
    model: torch.nn.Module,
    data: TranslationData,
    split: str = "test",
    *,
    beam_size: int = 1,
    length_penalty: str = "none",
    alpha: float = 0.6,
    autocast_dtype: torch.dtype | None = None,
):
    """Corpus BLEU of ``model`` on ``split`` (lower-cased spaCy tokens, one reference per sentence);
    returns ``(score, hypotheses)`` with score a :class:`course_utils.bleu.BleuScore`."""
    from course_utils.bleu import corpus_bleu

    _check_split(split)
    hyps = translate_corpus(
        model, [s for s, _ in data.examples[split]], data, beam_size=beam_size,
        length_penalty=length_penalty, alpha=alpha, autocast_dtype=autocast_dtype,
    )  # fmt: skip
    return corpus_bleu(hyps, [[ref] for ref in data.references(split)]), hyps


@torch.no_grad()
def attention_map(
    model: torch.nn.Module,
    sentence: str,
    data: TranslationData,
    *,
    max_len: int = 60,
    target: Sequence[str] | None = None,
) -> tuple[list[str], list[str], Tensor]:
    """Where an attention model looks while it writes each word of its translation of ``sentence``.

    Translates greedily, or, with ``target`` (English tokens, e.g. a beam-search output), feeds those
    tokens and ``<eos>`` instead. Returns ``(source tokens as the model reads them, output tokens ending
    with <eos>, weights)`` with weights (T_out, S): row t is the attention while writing output token t.
    Works for any model whose decoding state has a ``weights`` field (B, S), e.g. :class:`AttentionSeq2Seq`.
    """
    _check_decoder(model)
    forced = None
    if target is not None:
        if isinstance(target, str) or not all(isinstance(t, str) for t in target):
            raise TypeError("target must be a list of English tokens (str), e.g. translate(...).split()")
        forced = data.tgt_vocab.encode(list(target), add_eos=True)
    src = data.encode_source(sentence)
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        state = model.start(torch.tensor([src], device=device), torch.tensor([len(src)]))
        if not hasattr(state, "weights"):
            raise TypeError(
                f"{type(model).__name__}'s decoding state has no attention weights; use an attention model"
            )
        token, out, rows = data.tgt_vocab.bos_idx, [], []
        for t in range(len(forced) if forced is not None else max_len):
            logp, state = model.step(torch.tensor([token], device=device), state)
            token = forced[t] if forced is not None else int(logp[0].argmax())
            out.append(data.tgt_vocab.lookup_token(token))
            rows.append(state.weights[0].float().cpu())
            if token == data.tgt_vocab.eos_idx:
                break
    finally:
        model.train(was_training)
    return data.src_vocab.decode(src, skip_specials=False), out, torch.stack(rows)
