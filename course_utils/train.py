"""The training loop the notebooks share, plus evaluation, prediction and checkpoints.

Typical use::

    history = cu.train.fit(model, optimizer, nn.CrossEntropyLoss(), train_loader, val_loader,
                           epochs=10, metrics={"accuracy": accuracy_fn},
                           monitor="val_accuracy", mode="max", patience=3)
    cu.plot.plot_history(history)
    cu.train.evaluate(model, test_loader, nn.CrossEntropyLoss(), metrics={"accuracy": accuracy_fn})

Conventions:

* Each batch is ``(inputs, targets)``. ``inputs`` is a tensor or a tuple/list of tensors (e.g.
  ``(tokens, lengths)``) and the model is called as ``model(*inputs)``; ``targets`` is a tensor.
  Every tensor is moved to ``device`` (a model that calls ``pack_padded_sequence`` should pass
  ``lengths.cpu()``).
* ``loss_fn(outputs, targets)`` returns the *mean* loss of the batch (a scalar tensor), or its *sum*
  when ``loss_fn.reduction == "sum"`` (as for ``nn.CrossEntropyLoss(reduction="sum")``): the gradient
  is then that of the sum, but the recorded losses are still per-element means (the sum is divided by
  the number of target elements). A loss with ``reduction="none"`` is refused. A plain function has no
  ``reduction`` attribute and must return the mean.
* Epoch losses are weighted means of the batch losses. The weight of a batch is the number of
  target elements it averages over: ``targets.numel()`` (the batch size for class labels ``[B]``),
  leaving out positions equal to ``loss_fn.ignore_index`` when the loss has that attribute (as
  ``nn.CrossEntropyLoss(ignore_index=pad_idx)`` does). So with batches of different sizes or
  different amounts of padding, ``train_loss`` / ``val_loss`` are exact per-example / per-token means,
  and ``math.exp(val_loss)`` is the per-token perplexity.
* Metrics are functions ``fn(outputs, targets) -> float`` applied to the outputs and targets of the
  whole validation set, concatenated along the batch dimension (on the CPU).
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = [
    "History",
    "count_parameters",
    "evaluate",
    "fit",
    "load_checkpoint",
    "predict",
    "save_checkpoint",
]

LossFn = Callable[[Any, Tensor], Tensor]
MetricFn = Callable[[Tensor, Tensor], float]
PathLike = str | os.PathLike

_CHECKPOINT_FORMAT = 1


# --------------------------------------------------------------------------------------------- History
@dataclass(repr=False)
class History:
    """What :func:`fit` recorded: one dict per epoch, plus the best epoch of the monitored value.

    ``history.epochs[i]`` holds ``epoch`` (1-based), ``train_loss``, ``lr`` (of the first parameter
    group, at the start of the epoch), ``grad_norm`` (mean gradient norm before clipping, when
    clipping), ``val_loss`` and ``val_<metric>`` (with a validation loader).
    ``history["val_loss"]`` gives one key's values as a list, one per epoch.
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    monitor: str | None = None
    mode: str = "min"
    best_epoch: int | None = None
    best_value: float | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    def keys(self) -> list[str]:
        """All recorded keys, in the order they first appear."""
        return list(dict.fromkeys(key for row in self.epochs for key in row))

    def __getitem__(self, key: str) -> list[float]:
        if key not in self:
            raise KeyError(f"history has no {key!r}; recorded keys: {self.keys()}")
        return [row.get(key, math.nan) for row in self.epochs]

    def __contains__(self, key: object) -> bool:
        return any(key in row for row in self.epochs)

    def __len__(self) -> int:
        return len(self.epochs)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python copy (JSON-friendly, and accepted by :func:`save_checkpoint` as an extra)."""
        return {
            "epochs": [dict(row) for row in self.epochs],
            "monitor": self.monitor,
            "mode": self.mode,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "stopped_early": self.stopped_early,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Rebuild a History from :meth:`to_dict`'s output (e.g. loaded from a checkpoint)."""
        return cls(**{**data, "epochs": [dict(row) for row in data.get("epochs", [])]})

    def __repr__(self) -> str:
        parts = [f"{len(self)} epoch" + ("" if len(self) == 1 else "s")]
        if self.epochs:
            parts.append("keys: " + ", ".join(k for k in self.keys() if k != "epoch"))
        if self.best_epoch is not None and self.best_value is not None:
            parts.append(f"best {self.monitor}={self.best_value:.4g} at epoch {self.best_epoch}")
        if self.stopped_early:
            parts.append("stopped early")
        return "History(" + "; ".join(parts) + ")"


# ------------------------------------------------------------------------------------- batch helpers
def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, (tuple, list)):
        return tuple(_to_device(item, device) for item in x)
    return x


def _batches(loader: Iterable, device: torch.device, name: str) -> Iterator[tuple[Any, Tensor]]:
    """Yield ``(inputs, targets)`` moved to ``device``; complain about malformed or missing batches."""
    n = 0
    for batch in loader:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            size = f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""
            raise TypeError(
                f"each batch of {name} must be a pair (inputs, targets), got a {type(batch).__name__}{size}. "
                "If your data has more parts, group the model inputs: ((tokens, lengths), targets)."
            )
        inputs, targets = batch
        if not isinstance(targets, Tensor):
            raise TypeError(f"targets in {name} must be a tensor, got {type(targets).__name__}.")
        n += 1
        yield _to_device(inputs, device), targets.to(device, non_blocking=True)
    if n == 0:
        raise ValueError(
            f"{name} yielded no batches: is the dataset empty, or drop_last=True with fewer examples "
            "than batch_size?"
        )


def _forward(model: nn.Module, inputs: Any) -> Any:
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def _n_targets(loss_fn: LossFn, targets: Tensor) -> int:
    """How many target elements a mean loss averages over: all, minus those equal to ``loss_fn.ignore_index``."""
    ignore_index = getattr(loss_fn, "ignore_index", None)
    if isinstance(ignore_index, int) and not targets.is_floating_point():
        return int((targets != ignore_index).sum())
    return targets.numel()


def _target_pad(loss_fn: LossFn) -> int:
    """Value for padding targets of shorter sequence batches: the loss's ignore_index, else -100."""
    ignore_index = getattr(loss_fn, "ignore_index", None)
    return ignore_index if isinstance(ignore_index, int) else -100


def _reduction(loss_fn: LossFn) -> str:
    """``"mean"`` or ``"sum"``: how ``loss_fn`` reduces a batch, from its ``reduction`` attribute (torch losses).

    Anything without the attribute (e.g. ``F.cross_entropy``) must return the mean. ``"batchmean"``
    (``nn.KLDivLoss``) is a mean too. ``"none"`` and unknown values are refused with a clear error.
    """
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be callable as loss_fn(outputs, targets), e.g. nn.CrossEntropyLoss(), "
            f"got {type(loss_fn).__name__}."
        )
    reduction = getattr(loss_fn, "reduction", None)
    if reduction is None or reduction in ("mean", "batchmean", "elementwise_mean"):
        return "mean"
    if reduction == "sum":
        return "sum"
    raise ValueError(
        f"loss_fn has reduction={reduction!r}, but it must return a scalar tensor (the batch's mean or "
        f"sum): use reduction='mean' (or 'sum'), e.g. {type(loss_fn).__name__}(reduction='mean')."
    )


def _batch_loss(loss_fn: LossFn, outputs: Any, targets: Tensor) -> Tensor:
    """``loss_fn(outputs, targets)``, checked to be a scalar tensor (the batch's mean, or its sum)."""
    loss = loss_fn(outputs, targets)
    if not isinstance(loss, Tensor) or loss.ndim != 0:
        shape = f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(
            f"loss_fn must return a scalar tensor (the mean loss), got {shape}; use reduction='mean'."
        )
    return loss


def _loss_total(loss_value: float, reduction: str, n: int) -> float:
    """The batch's summed loss, from its reduced value: ``mean * n``, or the sum itself."""
    return loss_value if reduction == "sum" else loss_value * n


def _len_or_none(loader: Iterable) -> int | None:
    """Number of batches for the progress bar, if the loader knows it."""
    try:
        return len(loader)
    except TypeError:
        return None


def _resolve_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """``device=None`` keeps the model where it is; otherwise the model is moved to ``device``."""
    if device is None:
        param = next(model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    model.to(device)
    return device


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``dtype`` on ``device``, or nothing when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"autocast_dtype must be None, torch.bfloat16 or torch.float16, got {dtype!r}")
    return torch.autocast(device.type, dtype=dtype)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """``model.eval()`` and ``torch.no_grad()`` for the block, then the previous train/eval mode again."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _concat(chunks: list[Tensor], pad_value: float, what: str) -> Tensor:
    """Concatenate per-batch tensors along dim 0; sequence tensors ``[B, T, ...]`` whose T differs
    between batches are right-padded along dim 1 to the longest T with ``pad_value`` first."""
    for chunk in chunks:
        if not isinstance(chunk, Tensor):
            raise TypeError(
                f"the model's {what} must be tensors to be collected, got {type(chunk).__name__}."
            )
    if len({tuple(c.shape[1:]) for c in chunks}) > 1:
        if len({(c.ndim, *c.shape[2:]) for c in chunks}) > 1 or chunks[0].ndim < 2:
            shapes = sorted({tuple(c.shape) for c in chunks})
            raise ValueError(
                f"cannot concatenate {what} of shapes {shapes}: only dim 1 (T) may vary between batches."
            )
        t_max = max(c.shape[1] for c in chunks)
        chunks = [F.pad(c, (0, 0) * (c.ndim - 2) + (0, t_max - c.shape[1]), value=pad_value) for c in chunks]
    return torch.cat(chunks)


# --------------------------------------------------------------------------- evaluate / predict / fit
def evaluate(
    model: nn.Module,
    loader: Iterable,
    loss_fn: LossFn,
    metrics: Mapping[str, MetricFn] | None = None,
    device: str | torch.device | None = None,
    *,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Mean loss (``"loss"``) and each metric of ``model`` over ``loader``, without updating anything.

    ``"loss"`` is the per-element mean over the whole loader, also for a ``reduction="sum"`` loss.

    ``autocast_dtype`` (e.g. ``torch.bfloat16``, see :func:`course_utils.runtime.autocast_dtype`) runs the
    forward pass under ``torch.autocast``.

    Runs in eval mode under ``torch.no_grad()`` (the previous train/eval mode is restored afterwards).
    Metrics see the outputs and targets of all batches concatenated along dim 0; sequence batches
    ``[B, T, ...]`` of different T are right-padded to the longest, outputs with 0 and targets with
    ``loss_fn.ignore_index`` (or -100), so a token-level metric should mask those targets out.
    """
    _check_model(model, "evaluate")
    reduction = _reduction(loss_fn)
    device = _resolve_device(model, device)
    metrics = dict(metrics or {})
    total, count = 0.0, 0
    all_outputs, all_targets = [], []
    with _eval_mode(model):
        for inputs, targets in _batches(loader, device, "the evaluation loader"):
            with _autocast(device, autocast_dtype):
                outputs = _forward(model, inputs)
                n = _n_targets(loss_fn, targets)
                if n > 0:
                    loss_value = _batch_loss(loss_fn, outputs, targets).item()
                    total += _loss_total(loss_value, reduction, n)
                    count += n
            if metrics:
                all_outputs.append(outputs.detach().cpu() if isinstance(outputs, Tensor) else outputs)
                all_targets.append(targets.cpu())
    result = {"loss": total / count if count else math.nan}
    if metrics:
        outputs = _concat(all_outputs, 0.0, "outputs")
        targets = _concat(all_targets, _target_pad(loss_fn), "targets")
        for name, fn in metrics.items():
            result[name] = float(fn(outputs, targets))
    return result


def predict(
    model: nn.Module,
    loader: Iterable,
    device: str | torch.device | None = None,
    *,
    target_pad: int = -100,
) -> tuple[Tensor, Tensor]:
    """All outputs and targets of ``model`` over ``loader``, concatenated along dim 0, on the CPU.

    For sequence batches ``[B, T, ...]`` whose length T varies between batches, shorter batches are
    right-padded along dim 1: outputs with 0, targets with ``target_pad`` (mask those positions out).
    """
    _check_model(model, "predict")
    device = _resolve_device(model, device)
    all_outputs, all_targets = [], []
    with _eval_mode(model):
        for inputs, targets in _batches(loader, device, "the prediction loader"):
            outputs = _forward(model, inputs)
            all_outputs.append(outputs.detach().cpu() if isinstance(outputs, Tensor) else outputs)
            all_targets.append(targets.cpu())
    return _concat(all_outputs, 0.0, "outputs"), _concat(all_targets, target_pad, "targets")


def _check_fit_args(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    val_loader: Iterable | None,
    epochs: int,
    clip_grad_norm: float | None,
    scheduler: Any,
    scheduler_interval: str,
    metrics: Mapping[str, MetricFn],
    mode: str,
    patience: int | None,
) -> None:
    _check_model(model, "fit")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "fit needs optimizer to be a torch.optim.Optimizer, e.g. torch.optim.Adam(model.parameters()), "
            f"got {type(optimizer).__name__}."
        )
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}.")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' (e.g. for a loss) or 'max' (e.g. for accuracy), got {mode!r}.")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be None (no early stopping) or an int >= 1, got {patience!r}.")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be None or > 0 (e.g. 1.0), got {clip_grad_norm!r}.")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}.")
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and scheduler_interval == "batch":
        raise ValueError(
            "ReduceLROnPlateau needs the monitored value once per epoch; use scheduler_interval='epoch'."
        )
    if metrics and val_loader is None:
        raise ValueError(
            f"metrics {list(metrics)} are computed on the validation set: pass val_loader as well."
        )
    for name, fn in metrics.items():
        if not isinstance(name, str) or name == "loss" or not callable(fn):
            raise ValueError(
                f"metrics must map names other than 'loss' to functions fn(outputs, targets); got {name!r}."
            )
    model_params = {id(p) for p in model.parameters()}
    opt_params = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if model_params and not model_params & opt_params:
        raise ValueError(
            "the optimizer does not hold any of this model's parameters; "
            "create it from this model, e.g. torch.optim.Adam(model.parameters())."
        )


def _train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    loader: Iterable,
    device: torch.device,
    epoch: int,
    clip_grad_norm: float | None,
    batch_scheduler: Any,
    progress: bool,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """One pass over ``loader`` in train mode; returns ``train_loss`` (and ``grad_norm`` when clipping)."""
    reduction = _reduction(loss_fn)
    model.train()
    total, count, grad_norms = 0.0, 0, []
    batches = tqdm(
        _batches(loader, device, "train_loader"),
        total=_len_or_none(loader),
        desc=f"epoch {epoch}",
        leave=False,
        disable=not progress,
        mininterval=0.5,
    )
    for step, (inputs, targets) in enumerate(batches, start=1):
        n = _n_targets(loss_fn, targets)
        if n == 0:  # every target is padding: nothing to learn from this batch
            continue
        with _autocast(device, autocast_dtype):
            outputs = _forward(model, inputs)
            loss = _batch_loss(loss_fn, outputs, targets)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"the loss became {loss_value} at epoch {epoch}, batch {step}. "
                "Try a smaller learning rate or gradient clipping (clip_grad_norm=1.0)."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm))
            if not math.isfinite(norm):
                raise FloatingPointError(
                    f"the gradient norm became {norm} at epoch {epoch}, batch {step}. "
                    "Try a smaller learning rate or a smaller clip_grad_norm."
                )
            grad_norms.append(norm)
        optimizer.step()
        if batch_scheduler is not None:
            batch_scheduler.step()
        total += _loss_total(loss_value, reduction, n)
        count += n
    if count == 0:
        raise ValueError(
            "every target in train_loader equals loss_fn.ignore_index: there is nothing to learn."
        )
    row = {"train_loss": total / count}
    if grad_norms:
        row["grad_norm"] = sum(grad_norms) / len(grad_norms)
    return row


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    *,
    epochs: int,
    device: str | torch.device | None = None,
    clip_grad_norm: float | None = None,
    scheduler: Any = None,
    metrics: Mapping[str, MetricFn] | None = None,
    monitor: str = "val_loss",
    mode: str = "min",
    patience: int | None = None,
    restore_best: bool = True,
    progress: bool = True,
    scheduler_interval: str = "epoch",
    autocast_dtype: torch.dtype | None = None,
) -> History:
    """Train ``model`` for up to ``epochs`` epochs and return its :class:`History`.

    Each epoch: one pass over ``train_loader`` (zero_grad, forward, loss, backward, optional
    ``clip_grad_norm_``, optimizer step), then :func:`evaluate` on ``val_loader`` (``val_loss`` and
    ``val_<name>`` for each of ``metrics``), then ``scheduler.step()`` (``ReduceLROnPlateau`` gets the
    monitored value; ``scheduler_interval="batch"`` steps after every batch instead, e.g. for warm-up).

    ``monitor`` (a recorded key, e.g. ``"val_accuracy"`` with ``mode="max"``) picks the best epoch;
    without ``val_loader`` the default ``"val_loss"`` falls back to ``"train_loss"``. With ``patience``,
    training stops after that many epochs without improvement. With ``restore_best`` the model ends with
    the weights of the best epoch. ``clip_grad_norm=float("inf")`` records ``grad_norm`` without clipping.
    ``device=None`` keeps the model on its current device. ``autocast_dtype`` (e.g. ``torch.bfloat16``,
    see :func:`course_utils.runtime.autocast_dtype`) runs forward passes and the loss under
    ``torch.autocast``. A non-finite loss raises FloatingPointError. The model is left in eval mode.
    """
    metrics = dict(metrics or {})
    _reduction(loss_fn)  # refuse reduction="none" before training starts
    _check_fit_args(
        model,
        optimizer,
        val_loader,
        epochs,
        clip_grad_norm,
        scheduler,
        scheduler_interval,
        metrics,
        mode,
        patience,
    )
    if val_loader is None and monitor == "val_loss":
        monitor = "train_loss"
    recorded = ["train_loss", "lr"] + (["grad_norm"] if clip_grad_norm is not None else [])
    if val_loader is not None:
        recorded += ["val_loss"] + [f"val_{name}" for name in metrics]
    if monitor not in recorded:
        hint = " (val_* keys need a val_loader)" if val_loader is None and monitor.startswith("val_") else ""
        raise ValueError(f"monitor={monitor!r} is not recorded; choose one of {recorded}{hint}.")

    device = _resolve_device(model, device)
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    batch_scheduler = scheduler if scheduler_interval == "batch" else None
    history = History(monitor=monitor, mode=mode)
    best_state, epochs_without_improvement = None, 0
    start = time.perf_counter()

    epoch_bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress)
    for epoch in epoch_bar:
        lr = optimizer.param_groups[0]["lr"]
        row: dict[str, float] = {"epoch": epoch}
        row.update(
            _train_one_epoch(
                model,
                optimizer,
                loss_fn,
                train_loader,
                device,
                epoch,
                clip_grad_norm,
                batch_scheduler,
                progress,
                autocast_dtype,
            )
        )
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, metrics, device, autocast_dtype=autocast_dtype)
            row.update({f"val_{name}": value for name, value in val.items()})
        row["lr"] = float(lr)
        history.epochs.append(row)

        value = row[monitor]
        if scheduler is not None and scheduler_interval == "epoch":
            if plateau:
                scheduler.step(value)
            else:
                scheduler.step()

        improved = not math.isnan(value) and (
            history.best_value is None
            or (value < history.best_value if mode == "min" else value > history.best_value)
        )
        if improved:
            history.best_epoch, history.best_value = epoch, value
            epochs_without_improvement = 0
            if restore_best:
                best_state = copy.deepcopy(model.state_dict())
        else:
            epochs_without_improvement += 1

        shown = {
            key: f"{row[key]:.4g}" for key in dict.fromkeys(["train_loss", "val_loss", monitor]) if key in row
        }
        epoch_bar.set_postfix(shown, refresh=False)
        if patience is not None and epochs_without_improvement >= patience:
            history.stopped_early = True
            break

    epoch_bar.close()
    if restore_best and best_state is not None and history.best_epoch != len(history.epochs):
        model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


# ----------------------------------------------------------------------------------------- checkpoints
_PLAIN_TYPES = (bool, int, float, str, type(None))


def _check_plain(value: Any, where: str) -> None:
    """Raise TypeError unless ``value`` is built only from types ``torch.load(weights_only=True)`` reads."""
    if type(value) in _PLAIN_TYPES or isinstance(value, Tensor):
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            if type(key) not in (str, int):
                raise TypeError(
                    f"checkpoint extra {where} has a key {key!r} of type {type(key).__name__}; use str keys."
                )
            _check_plain(item, f"{where}[{key!r}]")
        return
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    raise TypeError(
        f"checkpoint extra {where} is a {kind}; extras must be plain Python values (numbers, strings, None, "
        "lists, tuples, dicts with str keys) or tensors, so that torch.load(weights_only=True) can read them. "
        "Convert it first, e.g. float(x), array.tolist(), history.to_dict(), vocab.itos."
    )


def _check_model(model: nn.Module, who: str) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{who} needs model to be an nn.Module, got {type(model).__name__}.")


def _check_optimizer(optimizer: torch.optim.Optimizer | None, who: str) -> None:
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"{who} needs optimizer to be None or a torch.optim.Optimizer, got {type(optimizer).__name__}."
        )


def _open_new_file(directory: Path, prefix: str) -> tuple[int, str]:
    """Create and open a new, uniquely named file in ``directory`` for writing: ``(fd, name)``.

    Unlike ``tempfile.mkstemp`` (always mode 0600) the file gets the permissions of a plain
    ``open(..., "wb")``: 0666 minus the process umask (e.g. 0644).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = os.path.join(directory, f"{prefix}{secrets.token_hex(8)}.tmp")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {str(directory)!r}.")


def save_checkpoint(
    path: PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, **extra: Any
) -> Path:
    """Save the model's (and optimizer's) state and plain ``extra`` values (epoch, config, vocab ...) to ``path``.

    The write is atomic: the checkpoint goes to a temporary file in the same directory, which then
    replaces ``path`` in one step, so an interrupted save never leaves a half-written file behind.
    The file gets normal permissions (0666 minus the umask, e.g. 0644), like any file written with
    ``open``. Missing parent directories are created. Returns the path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or pathlib.Path (e.g. 'model.pt'), got {type(path).__name__}.")
    _check_model(model, "save_checkpoint")
    _check_optimizer(optimizer, "save_checkpoint")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"path {str(path)!r} is a directory; give a file name inside it, e.g. {str(path / 'model.pt')!r}."
        )
    for key, value in extra.items():
        _check_plain(value, repr(key))
    checkpoint = {
        "format": _CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = _open_new_file(path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return path


def _read_checkpoint(path: Path, map_location: Any) -> dict[str, Any]:
    """``torch.load`` the file (weights only), turning every kind of unreadable file into a clear ValueError."""
    if path.stat().st_size == 0:
        raise ValueError(
            f"the checkpoint file {str(path)!r} is empty (0 bytes): it was not written by save_checkpoint, "
            "or its save was interrupted. Save the model again with save_checkpoint(path, model)."
        )
    if isinstance(map_location, (str, torch.device)):
        try:
            device = torch.device(map_location)
        except (RuntimeError, ValueError) as err:
            raise ValueError(
                f"map_location={map_location!r} is not a device; use e.g. 'cpu' or 'cuda'."
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"map_location={map_location!r} but CUDA is not available; use map_location='cpu'."
            )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, MemoryError):
        raise
    except Exception as err:
        first_line = (str(err).strip().splitlines() or [""])[0][:200]
        reason = f"{type(err).__name__}: {first_line}" if first_line else type(err).__name__
        raise ValueError(
            f"cannot read {str(path)!r} as a checkpoint ({reason}). It is not a complete file written by "
            "save_checkpoint / torch.save (is it truncated, a text file, or a pickle of arbitrary objects?). "
            "Check the path, or save the model again with save_checkpoint(path, model)."
        ) from err
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ValueError(
            f"{str(path)!r} is not a checkpoint written by save_checkpoint (it has no 'model' entry)."
        )
    if not isinstance(checkpoint["model"], Mapping):
        raise ValueError(
            f"{str(path)!r} is not a checkpoint written by save_checkpoint: its 'model' entry is a "
            f"{type(checkpoint['model']).__name__}, not a state dict."
        )
    extra = checkpoint.get("extra", {})
    if extra is None:
        checkpoint["extra"] = {}
    elif not isinstance(extra, Mapping):
        raise ValueError(
            f"{str(path)!r} is not a checkpoint written by save_checkpoint: its 'extra' entry is a "
            f"{type(extra).__name__}, not a dict."
        )
    return checkpoint


def _state_dict_problems(model: nn.Module, state: Mapping[str, Any]) -> list[str]:
    """Every way ``state`` does not fit ``model``: missing / unexpected keys, non-tensors, shape mismatches."""
    expected = model.state_dict()
    problems = []
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing:
        problems.append(f"missing from the checkpoint: {missing}")
    if unexpected:
        problems.append(f"in the checkpoint but not in the model: {unexpected}")
    for key, ours in expected.items():
        if key not in state:
            continue
        theirs = state[key]
        if not isinstance(ours, Tensor):  # e.g. a module's get_extra_state(): its own loader checks it
            continue
        if not isinstance(theirs, Tensor):
            problems.append(f"{key}: the checkpoint holds a {type(theirs).__name__}, not a tensor")
        elif not nn.parameter.is_lazy(ours) and ours.shape != theirs.shape:
            problems.append(
                f"{key}: shape {list(theirs.shape)} in the checkpoint, {list(ours.shape)} in the model"
            )
    return problems


def _optimizer_problems(optimizer: torch.optim.Optimizer, state: Any) -> list[str]:
    """Why an optimizer state dict does not fit ``optimizer`` (wrong structure, group or parameter counts)."""
    if (
        not isinstance(state, Mapping)
        or not isinstance(state.get("param_groups"), list)
        or "state" not in state
    ):
        return [f"the optimizer entry is a {type(state).__name__} without 'state' and 'param_groups'"]
    saved = [
        len(group.get("params", ())) if isinstance(group, Mapping) else -1 for group in state["param_groups"]
    ]
    ours = [len(group["params"]) for group in optimizer.param_groups]
    if saved != ours:
        return [
            f"the saved optimizer has parameter groups of sizes {saved}, this optimizer {ours} "
            "(create the optimizer from the same model, with the same parameter groups)"
        ]
    return []


def load_checkpoint(
    path: PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer``); return the extra values.

    Reads with ``torch.load(..., weights_only=True)``, which refuses to run arbitrary pickled code.
    Everything is checked before anything is loaded (the file, every key and shape of the model's
    state, the optimizer's parameter groups): if the checkpoint does not fit, the model and the
    optimizer are left untouched.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or pathlib.Path (e.g. 'model.pt'), got {type(path).__name__}.")
    _check_model(model, "load_checkpoint")
    _check_optimizer(optimizer, "load_checkpoint")
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(
                f"path {str(path)!r} is a directory, not a checkpoint file; pass the file, e.g. "
                f"{str(path / 'model.pt')!r}."
            )
        where = "" if path.is_absolute() else f" (relative to the working directory {Path.cwd()})"
        raise FileNotFoundError(
            f"no checkpoint at {str(path)!r}{where}. Check the path, or train the model and save it "
            "first with save_checkpoint(path, model, optimizer)."
        )
    checkpoint = _read_checkpoint(path, map_location)
    problems = _state_dict_problems(model, checkpoint["model"])
    if problems:
        raise RuntimeError(
            f"the checkpoint {str(path)!r} does not fit this model (nothing was loaded); build the model "
            "with the same hyperparameters (sizes, vocabulary) as when it was saved.\n  "
            + "\n  ".join(problems)
        )
    if optimizer is not None:
        if checkpoint.get("optimizer") is None:
            raise ValueError(
                f"{str(path)!r} holds no optimizer state (saved without optimizer); "
                "call load_checkpoint without optimizer (nothing was loaded)."
            )
        problems = _optimizer_problems(optimizer, checkpoint["optimizer"])
        if problems:
            raise ValueError(
                f"the optimizer state in {str(path)!r} does not fit this optimizer (nothing was loaded): "
                + "; ".join(problems)
                + ". Or call load_checkpoint without optimizer to load only the model."
            )
    current = model.state_dict()
    backup = None  # to undo a load that fails after all (e.g. a custom load hook refuses)
    if all(isinstance(v, Tensor) and not nn.parameter.is_lazy(v) for v in current.values()):
        backup = {key: value.detach().clone() for key, value in current.items()}
    try:
        model.load_state_dict(checkpoint["model"])
        if optimizer is not None:
            optimizer.load_state_dict(checkpoint["optimizer"])
    except Exception as err:
        if backup is not None:
            model.load_state_dict(backup)
        raise RuntimeError(
            f"the checkpoint {str(path)!r} could not be loaded into this model / optimizer (nothing was "
            f"loaded); build them with the same hyperparameters as when it was saved.\n{err}"
        ) from err
    return dict(checkpoint.get("extra") or {})


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters in ``model`` (only those with ``requires_grad`` by default); shared ones once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
