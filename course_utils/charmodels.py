"""Character-level name classifiers that go beyond a plain GRU (notebook 05's best row).

Two models that read a name in different ways, and their ensemble:

* :class:`NgramBagClassifier` (fastText-style): the name as a *bag* of character n-grams
  (n = 1..4, with boundary marks, so ``"^Mc"`` and ``"ski$"`` are features of their own). The n-grams
  seen at least twice in training each get an embedding, rarer ones share an ``<unk>`` one; the average
  embedding goes through a linear layer. Order is ignored beyond n characters.
* :class:`CharCNNBiGRU`: embedding -> (optional) convolutional n-gram features -> bidirectional GRU ->
  max & mean pooling over time -> linear classifier. It reads the whole name in order.
* :class:`ProbabilityEnsemble`: the average of the members' predicted probabilities.

:func:`train_best_names_classifier` trains the chosen ensemble (two n-gram bags and two BiGRUs, see
:data:`MEMBER_CONFIGS`) on ``course_utils.data.load_names`` splits; ``benchmarks/names_classifier.py``
scores it on the test split.

Every model is called as ``model(x, lengths)`` with x: [B, T] character ids (padded with 0 = ``<pad>``)
and lengths: [B], the batch format of :func:`course_utils.names.names_loader`, and returns
logits [B, C]. Padding never changes a name's logits: a name gets the same output alone or in a batch.

Shape legend: B batch, T time (characters), H hidden size, V vocabulary (characters), E embedding
size, C classes, N n-grams per name.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_utils.rnn import _check_dropout, _check_pad_idx, _check_positive_int, _check_positive_ints

__all__ = [
    "CharCNNBiGRU",
    "NgramBagClassifier",
    "ProbabilityEnsemble",
    "BEST_MEMBERS",
    "MEMBER_CONFIGS",
    "char_ngram_ids",
    "train_best_names_classifier",
]

_HASH_BASE = 1_000_003  # one "digit" per character id (fixed, so a name's hash never depends on the batch)
_HASH_PRIME = 2_147_483_647  # 2**31 - 1: keeps the rolling n-gram code small
_HASH_MULT = 2_654_435_761  # Knuth's multiplicative hash constant


# --------------------------------------------------------------------------------------------- checks
#: Integer dtypes accepted for character ids and lengths (computations then run in int64).
_INTEGER_DTYPES = frozenset(
    [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]
    + [getattr(torch, name) for name in ("uint16", "uint32", "uint64") if hasattr(torch, name)]
)


def _check_batch(x: Any, lengths: Any, vocab_size: int | None, who: str) -> tuple[Tensor, Tensor]:
    """x must be integer ids [B, T] (in [0, vocab_size) if given), lengths integers [B] in [1, T].

    Returns both as int64 (torch.long), so every later step is independent of the input integer dtype.
    """
    if not isinstance(x, Tensor) or x.dim() != 2:
        got = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{who} expects character ids x of shape [B, T], got {got}")
    if x.dtype not in _INTEGER_DTYPES:
        raise ValueError(
            f"{who} expects integer character ids x (torch.long), got dtype {x.dtype}; "
            f"encode the characters with the vocabulary, or convert with x.long() if they are whole ids"
        )
    x = x.long()
    if vocab_size is not None and x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab_size):
        raise ValueError(
            f"{who}: character ids must be in [0, vocab_size) = [0, {vocab_size}), got min {int(x.min())}, "
            f"max {int(x.max())}; was the batch encoded with the vocabulary the model was built for?"
        )
    if x.numel() and int(x.min()) < 0:
        raise ValueError(
            f"{who}: character ids x must be >= 0, got min {int(x.min())}; encode the characters with the vocabulary"
        )
    B, T = x.shape
    if not isinstance(lengths, Tensor) or lengths.dim() != 1 or lengths.shape[0] != B:
        got = list(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__
        raise ValueError(
            f"{who} expects lengths of shape [B] = [{B}] (one length per name, a tensor), got {got}"
        )
    if lengths.dtype not in _INTEGER_DTYPES:
        raise ValueError(
            f"{who}: lengths must be integers (torch.long), got dtype {lengths.dtype}; e.g. lengths.long()"
        )
    lengths = lengths.long()
    if B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
        raise ValueError(
            f"{who}: lengths must be in [1, T] = [1, {T}] (every name needs at least one character), "
            f"got min {int(lengths.min())}, max {int(lengths.max())}"
        )
    return x, lengths


def _valid_mask(lengths: Tensor, T: int) -> Tensor:
    """mask[b, t] = t < lengths[b]: [B, T] booleans, True on real characters."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


# ------------------------------------------------------------------------------------ n-gram bag
_MAX_BUCKETS = 2**62  # the int64 hash codes stay below this


def _check_num_buckets(num_buckets: Any) -> None:
    if (
        isinstance(num_buckets, bool)
        or not isinstance(num_buckets, int)
        or not 2 <= num_buckets <= _MAX_BUCKETS
    ):
        raise ValueError(
            f"num_buckets must be an int in [2, 2**62] (the size of the n-gram hash space, e.g. 2**20), "
            f"got {num_buckets!r}"
        )


def char_ngram_ids(x: Tensor, lengths: Tensor, max_n: int = 4, num_buckets: int = 2**20) -> Tensor:
    """Hashed ids of every character n-gram (n = 1..max_n) of each name, boundaries included.

    A name "Li" is read as "^Li$" ("^", "$" = the boundary), so its n-grams are ^ L i $, ^L Li i$, ^Li Li$,
    ^Li$. Each n-gram's characters are combined into one integer and hashed into [1, num_buckets).
    x: [B, T] character ids, lengths: [B] -> ids: [B, N] with N = sum over n of (T + 3 - n); windows that
    run past the name's end are 0 (= no n-gram), so padding never changes a name's n-grams.
    x and lengths may have any integer dtype: the hash is computed in int64, so the ids never depend on it.
    """
    x, lengths = _check_batch(x, lengths, None, "char_ngram_ids")
    _check_positive_int(max_n, "max_n")
    _check_num_buckets(num_buckets)
    B, T = x.shape
    lengths = lengths.to(x.device)
    # [B, T]; 0 = boundary (and padding). x % P + 1 == x + 1 for every realistic id (and the same modulo P
    # for all), and keeps the int64 arithmetic below from overflowing.
    digits = torch.where(_valid_mask(lengths, T), x % _HASH_PRIME + 1, 0)
    digits = F.pad(digits, (1, 1))  # [B, T + 2]: "^" at 0, "$" at lengths + 1
    ids = []
    for n in range(1, max_n + 1):
        if T + 3 - n < 1:
            break
        windows = digits.unfold(1, n, 1)  # [B, T + 3 - n, n]
        code = torch.zeros_like(windows[..., 0])
        for j in range(n):  # rolling polynomial code of the window's characters
            code = (code * _HASH_BASE + windows[..., j]) % _HASH_PRIME
        bucket = (code * _HASH_MULT + n) % (num_buckets - 1) + 1  # [B, T + 3 - n] in [1, num_buckets)
        start = torch.arange(T + 3 - n, device=x.device)
        inside = start[None, :] + n - 1 <= lengths[:, None] + 1  # the window ends at or before "$"
        ids.append(torch.where(inside, bucket, 0))
    return torch.cat(ids, dim=1)  # [B, N]


class NgramBagClassifier(nn.Module):
    """fastText-style classifier: mean of character n-gram embeddings -> dropout -> linear.

    The n-gram vocabulary works like a word vocabulary with ``min_freq``: :meth:`build_ngram_vocab`
    counts the (hashed) n-grams of the training names and gives the ``max_ngrams`` most frequent of
    those seen at least ``min_freq`` times a row of the embedding table; rarer n-grams all share one
    ``<unk>`` row, so the model cannot memorise a training name by an n-gram that only it has (this
    alone was worth about one point of validation accuracy).

    ``forward(x, lengths)``: x [B, T] character ids, lengths [B] -> logits [B, C].
    """

    def __init__(
        self,
        num_classes: int,
        emb_dim: int = 64,
        max_n: int = 4,
        max_ngrams: int = 20_000,
        min_freq: int = 2,
        num_buckets: int = 2**20,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        _check_positive_ints(
            num_classes=num_classes, emb_dim=emb_dim, max_n=max_n, max_ngrams=max_ngrams, min_freq=min_freq
        )
        _check_num_buckets(num_buckets)
        _check_dropout(dropout)
        self.num_classes, self.max_n, self.num_buckets = num_classes, max_n, num_buckets
        self.max_ngrams, self.min_freq = max_ngrams, min_freq
        # bucket_to_row[h] = the embedding row of hashed n-gram h: 0 = no n-gram (padding),
        # 1 = a rare n-gram (<unk>), 2, 3, ... = the n-gram vocabulary, most frequent first
        self.register_buffer("bucket_to_row", torch.zeros(num_buckets, dtype=torch.long))
        self.ngram_embedding = nn.Embedding(max_ngrams + 2, emb_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(emb_dim, num_classes)

    @torch.no_grad()
    def build_ngram_vocab(self, batches: Iterable[tuple[Tensor, Tensor]]) -> int:
        """Count the n-grams of the training names, given as batches of ``(x [B, T], lengths [B])``, and
        keep the ``max_ngrams`` most frequent ones seen at least ``min_freq`` times. Returns how many."""
        if isinstance(batches, tuple) and len(batches) == 2 and isinstance(batches[0], Tensor):
            raise TypeError(
                "build_ngram_vocab takes an iterable of (x, lengths) batches, got a single (x, lengths) pair; "
                "wrap it in a list: model.build_ngram_vocab([(x, lengths)])"
            )
        if not isinstance(batches, Iterable):
            raise TypeError(
                f"batches must be an iterable of (x [B, T], lengths [B]) pairs, got {type(batches).__name__}"
            )
        counts = torch.zeros(self.num_buckets, dtype=torch.long)
        for i, batch in enumerate(batches):
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise TypeError(
                    f"batches[{i}] must be an (x [B, T], lengths [B]) pair, got {type(batch).__name__}; "
                    f"e.g. model.build_ngram_vocab(inputs for inputs, _ in train_loader)"
                )
            x, lengths = (t.cpu() if isinstance(t, Tensor) else t for t in batch)
            ids = char_ngram_ids(x, lengths, self.max_n, self.num_buckets)  # [B, N]
            counts += torch.bincount(ids.flatten(), minlength=self.num_buckets)
        counts[0] = 0  # "no n-gram" (windows past the end of a name)
        frequent = (counts >= self.min_freq).nonzero().squeeze(1)  # bucket ids
        frequent = frequent[counts[frequent].argsort(descending=True, stable=True)][: self.max_ngrams]
        if len(frequent) == 0:
            raise ValueError(f"no n-gram occurs min_freq={self.min_freq} times; pass (more) training names")
        device = self.bucket_to_row.device
        self.bucket_to_row.fill_(1)  # every n-gram is rare ...
        self.bucket_to_row[0] = 0  # ... except "no n-gram"
        self.bucket_to_row[frequent.to(device)] = torch.arange(2, len(frequent) + 2, device=device)
        return len(frequent)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x: [B, T] character ids, lengths: [B] -> logits [B, C]."""
        if not bool(self.bucket_to_row.any()):
            raise RuntimeError(
                "the n-gram vocabulary is empty: call model.build_ngram_vocab(batches of training (x, lengths)) "
                "before training or predicting"
            )
        ids = char_ngram_ids(x, lengths, self.max_n, self.num_buckets)  # [B, N], 0 = no n-gram
        rows = self.bucket_to_row[ids]  # [B, N]: 0 = none, 1 = rare, >= 2 = known
        present = (rows != 0).unsqueeze(-1)  # [B, N, 1]
        vectors = self.ngram_embedding(rows)  # [B, N, E] (row 0 -> zero vector)
        bag = vectors.sum(1) / present.sum(1)  # [B, E]: mean over the name's n-grams
        return self.classifier(self.dropout(bag))  # [B, C]


# ------------------------------------------------------------------------------------ CNN + BiGRU
class CharCNNBiGRU(nn.Module):
    """Embedding -> convolutional n-gram features -> BiGRU -> max & mean pooling -> linear.

    * Each kernel width k gives ``conv_channels`` detectors of k-character patterns (ReLU), computed at
      every position; they are concatenated with the character embedding: [B, T, E + K*C_conv].
      ``kernel_sizes=()`` leaves them out: a plain BiGRU over the embeddings (the ensemble's choice,
      as the convolutions did not improve validation accuracy).
    * A bidirectional GRU reads that sequence (packed, so padding never enters the recurrence).
    * Max and mean over the real time steps of the GRU outputs give a fixed-size feature [B, 4H].
    * Dropout (``emb_dropout`` on the embeddings, ``dropout`` on the pooled feature) regularises it.

    ``forward(x, lengths)``: x [B, T] character ids (padded with ``pad_idx``), lengths [B] -> logits [B, C].
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        emb_dim: int = 64,
        kernel_sizes: Sequence[int] = (2, 3, 4),
        conv_channels: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.3,
        emb_dropout: float = 0.0,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        _check_positive_ints(
            vocab_size=vocab_size,
            num_classes=num_classes,
            emb_dim=emb_dim,
            conv_channels=conv_channels,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )
        for k in kernel_sizes:
            _check_positive_int(k, "each kernel size")
        _check_dropout(dropout)
        _check_dropout(emb_dropout)
        _check_pad_idx(pad_idx, vocab_size)
        self.vocab_size, self.num_classes = vocab_size, num_classes
        self.kernel_sizes = tuple(kernel_sizes)
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.emb_dropout = nn.Dropout(emb_dropout)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, conv_channels, k) for k in self.kernel_sizes)
        rnn_input = emb_dim + conv_channels * len(self.kernel_sizes)
        self.rnn = nn.GRU(
            rnn_input,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(4 * hidden_size, num_classes)

    def ngram_features(self, emb: Tensor) -> Tensor:
        """Convolutions over the characters: emb [B, T, E] (zero after each name) -> [B, T, K*C_conv].

        A width-k window is centred on each position (zeros beyond the edges), so the output keeps T steps.
        """
        channels_first = emb.transpose(1, 2)  # [B, E, T]
        features = []
        for k, conv in zip(self.kernel_sizes, self.convs, strict=True):
            padded = F.pad(channels_first, ((k - 1) // 2, k // 2))  # [B, E, T + k - 1]
            features.append(F.relu(conv(padded)))  # [B, C_conv, T]
        return torch.cat(features, dim=1).transpose(1, 2)  # [B, T, K*C_conv]

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x: [B, T] character ids, lengths: [B] -> logits [B, C]."""
        x, lengths = _check_batch(x, lengths, self.vocab_size, type(self).__name__)
        B, T = x.shape
        if B == 0:
            raise ValueError(f"{type(self).__name__} got an empty batch (B = 0); pass at least one name")
        mask = _valid_mask(lengths.to(x.device), T).unsqueeze(-1)  # [B, T, 1]
        emb = self.emb_dropout(self.embedding(x)) * mask  # [B, T, E], zero on padding
        if self.kernel_sizes:
            emb = torch.cat([emb, self.ngram_features(emb)], dim=-1) * mask  # [B, T, E + K*C_conv]
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # [B, T, 2H]
        max_pool = out.masked_fill(~mask, float("-inf")).amax(dim=1)  # [B, 2H]
        mean_pool = (out * mask).sum(dim=1) / mask.sum(dim=1)  # [B, 2H]
        return self.classifier(self.dropout(torch.cat([max_pool, mean_pool], dim=-1)))  # [B, C]


# ----------------------------------------------------------------------------------------- ensemble
class ProbabilityEnsemble(nn.Module):
    """Average the members' class probabilities: p(c | x) = mean_m softmax(f_m(x))_c.

    ``forward(*inputs)`` returns log p: [B, C], usable as logits (argmax, softmax and cross-entropy work).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("ProbabilityEnsemble needs at least one member model")
        for m in members:
            if not isinstance(m, nn.Module):
                raise TypeError(f"ensemble members must be nn.Module, got {type(m).__name__}")
        self.members = nn.ModuleList(members)

    def forward(self, *inputs: Tensor) -> Tensor:
        """inputs -> log of the mean probability [B, C]."""
        log_probs = torch.stack([F.log_softmax(m(*inputs), dim=-1) for m in self.members])  # [M, B, C]
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))  # [B, C]


# ----------------------------------------------------------------------------------------- training
#: Hyperparameters of each member family, chosen on the validation split (ablation in the module's
#: benchmark, benchmarks/names_classifier.py). Every member: AdamW, one-cycle schedule, batch 64,
#: gradient clipping at 1.0, 10 epochs.
MEMBER_CONFIGS: dict[str, dict[str, Any]] = {
    "ngram_bag": {
        "model": {"emb_dim": 64, "max_n": 4, "max_ngrams": 20_000, "min_freq": 2, "dropout": 0.2},
        "lr": 1e-2,
        "weight_decay": 0.0,
        "label_smoothing": 0.1,
    },
    "bigru": {
        "model": {"emb_dim": 64, "kernel_sizes": (), "hidden_size": 128, "dropout": 0.3},
        "lr": 3e-3,
        "weight_decay": 0.01,
        "label_smoothing": 0.0,
    },
    "cnn_bigru": {
        "model": {
            "emb_dim": 64,
            "kernel_sizes": (2, 3, 4),
            "conv_channels": 64,
            "hidden_size": 128,
            "dropout": 0.3,
        },
        "lr": 3e-3,
        "weight_decay": 0.01,
        "label_smoothing": 0.0,
    },
}

#: The chosen ensemble: these families, each trained from ``seeds_per_member`` seeds.
BEST_MEMBERS = ("ngram_bag", "bigru")


def _build_member(name: str, vocab_size: int, num_classes: int, model_kwargs: dict[str, Any]) -> nn.Module:
    if name == "ngram_bag":
        return NgramBagClassifier(num_classes, **model_kwargs)
    return CharCNNBiGRU(vocab_size, num_classes, **model_kwargs)


def _adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused into one kernel where this PyTorch supports it (several times faster on the CPU)."""
    params = list(model.parameters())
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _accuracy(logits: Tensor, y: Tensor) -> float:
    return float((logits.argmax(-1) == y).float().mean())


def train_best_names_classifier(
    splits: Any,
    device: str | torch.device | None = None,
    *,
    epochs: int | None = None,
    seed: int = 0,
    members: Sequence[str] = BEST_MEMBERS,
    seeds_per_member: int = 2,
    batch_size: int = 64,
    config: dict[str, dict[str, Any]] | None = None,
    progress: bool = True,
) -> tuple[ProbabilityEnsemble, dict[str, Any], dict[str, Any]]:
    """Train the course's best names classifier: a probability ensemble of n-gram bags and BiGRUs.

    ``splits`` is ``course_utils.data.load_names(seed)`` (pairs of raw Unicode ``(name, language)``).
    Every family in ``members`` (keys of :data:`MEMBER_CONFIGS`) is trained ``seeds_per_member`` times
    (seeds ``seed``, ``seed + 1``, ...) on ``splits.train`` for ``epochs`` epochs (default: 1 in the quick
    profile, 10 in the full one), keeping the last weights. ``splits.val`` is only evaluated (history
    curves, ``info["val_accuracy"]``); it may be empty, for the final refit on train + val once the
    configuration is chosen (``benchmarks/names_classifier.py``). ``splits.test`` is never touched.
    ``config`` overrides entries of :data:`MEMBER_CONFIGS`.

    Returns ``(model, history, info)``: the :class:`ProbabilityEnsemble` (eval mode, on ``device``),
    ``{"ngram_bag#0": course_utils.train.History, ...}``, and ``info`` with ``char_vocab`` (encode names
    with it, e.g. ``names_loader(pairs, info["char_vocab"], info["classes"], shuffle=False)``), ``classes``,
    ``train_seconds`` (all members, vocabulary building and per-epoch validation included),
    ``parameters``, ``val_accuracy`` and the ``config`` used.
    """
    from course_utils.names import build_char_vocab, names_loader
    from course_utils.runtime import by_profile, seed_everything
    from course_utils.train import count_parameters, evaluate, fit

    for part in ("train", "val", "classes"):
        if not hasattr(splits, part):
            raise TypeError(f"splits must be a Splits from course_utils.data.load_names, it has no .{part}")
    if not splits.train:
        raise ValueError("splits.train is empty: there is nothing to train on")
    epochs = by_profile(quick=1, full=10) if epochs is None else epochs
    _check_positive_int(epochs, "epochs")
    _check_positive_int(seeds_per_member, "seeds_per_member")
    config = {**MEMBER_CONFIGS, **(config or {})}
    if isinstance(members, str) or not members or any(m not in config for m in members):
        raise ValueError(f"members must be a non-empty list of {sorted(config)}, got {members!r}")
    device = torch.device(device) if device is not None else torch.device("cpu")

    classes = list(splits.classes)
    char_vocab = build_char_vocab(name for name, _ in splits.train)  # raw Unicode: accents are informative
    val_loader = None
    if splits.val:
        val_loader = names_loader(splits.val, char_vocab, classes, batch_size=512, shuffle=False)

    trained, history = [], {}
    start = time.perf_counter()
    for k in range(seeds_per_member):
        train_loader = names_loader(splits.train, char_vocab, classes, batch_size=batch_size, seed=seed + k)
        for name in members:
            cfg = config[name]
            seed_everything(seed + k)
            model = _build_member(name, len(char_vocab), len(classes), dict(cfg["model"])).to(device)
            if isinstance(model, NgramBagClassifier):
                model.build_ngram_vocab(inputs for inputs, _ in train_loader)
            optimizer = _adamw(model, cfg["lr"], cfg["weight_decay"])
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=cfg["lr"], total_steps=epochs * len(train_loader), pct_start=0.25
            )
            history[f"{name}#{k}"] = fit(
                model,
                optimizer,
                nn.CrossEntropyLoss(label_smoothing=cfg["label_smoothing"]),
                train_loader,
                val_loader,
                epochs=epochs,
                device=device,
                clip_grad_norm=1.0,
                scheduler=scheduler,
                scheduler_interval="batch",
                metrics={"accuracy": _accuracy} if val_loader is not None else None,
                restore_best=False,
                progress=progress,
            )
            trained.append(model)
    train_seconds = time.perf_counter() - start

    ensemble = ProbabilityEnsemble(trained).to(device).eval()
    info: dict[str, Any] = {
        "char_vocab": char_vocab,
        "classes": classes,
        "train_seconds": train_seconds,
        "parameters": count_parameters(ensemble),
        "epochs": epochs,
        "members": list(history),
        "config": {m: config[m] for m in members},
    }
    if val_loader is not None:
        scores = evaluate(ensemble, val_loader, nn.NLLLoss(), {"accuracy": _accuracy})
        info["val_accuracy"] = scores["accuracy"]
    return ensemble, history, info
