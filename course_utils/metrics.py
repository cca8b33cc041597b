"""Evaluation metrics: accuracy, macro F1, the confusion matrix and perplexity.

Every function takes predicted and true *class indices* as Python lists, NumPy arrays or
PyTorch tensors (on any device) of non-negative integers, one label per example::

    pred = logits.argmax(-1)            # logits: [B, C] -> pred: [B]
    cu.metrics.accuracy(pred, target)   # target: [B]

For token-level tasks, flatten and drop the padding first, e.g.
``mask = target != pad_idx; accuracy(pred[mask], target[mask])``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

Labels = Sequence[int] | np.ndarray | torch.Tensor

__all__ = ["accuracy", "confusion_matrix", "macro_f1", "per_class_accuracy", "perplexity"]


def _as_labels(x: Labels, name: str = "labels") -> np.ndarray:
    """Convert a list / array / tensor of class indices to a 1-D int64 NumPy array, with clear errors."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D sequence of class indices, got a single value {arr!r}.")
    if arr.ndim == 2:
        raise ValueError(
            f"{name} must be 1-D class indices, got a 2-D array of shape {tuple(arr.shape)}. "
            "Did you pass logits or probabilities? Take .argmax(-1) first. "
            "For labels of shape [B, T], flatten them (and drop the padding) first."
        )
    if arr.ndim > 2:
        raise ValueError(
            f"{name} must be 1-D class indices, got shape {tuple(arr.shape)}; "
            "take .argmax(-1) of logits and flatten (dropping padding) first."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty: metrics need at least one example.")
    if arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        kind = "strings" if arr.dtype.kind in "US" else f"dtype {arr.dtype}"
        raise TypeError(
            f"{name} must be integer class indices, got {kind}. "
            "If these are scores or probabilities take .argmax(-1) first; if they are whole numbers "
            "stored as floats convert them with .long() / .astype(int); map string labels to indices first."
        )
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(
            f"{name} contains a negative label ({arr.min()}); class indices must be >= 0. "
            "Did you forget to drop padding / ignore_index positions (e.g. -100)?"
        )
    return arr


def _check_pair(
    pred: Labels, target: Labels, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    pred_arr, target_arr = _as_labels(pred, "pred"), _as_labels(target, "target")
    if pred_arr.shape != target_arr.shape:
        raise ValueError(
            f"pred and target have different lengths ({len(pred_arr)} vs {len(target_arr)}); "
            "they must hold one label per example."
        )
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}.")
        for name, arr in (("pred", pred_arr), ("target", target_arr)):
            if arr.max() >= num_classes:
                raise ValueError(
                    f"{name} contains label {arr.max()} but num_classes={num_classes} "
                    f"(labels must be in 0..{num_classes - 1})."
                )
    return pred_arr, target_arr


def accuracy(pred: Labels, target: Labels) -> float:
    """Fraction of examples whose predicted label equals the true label, in [0, 1]."""
    pred_arr, target_arr = _check_pair(pred, target)
    return float(np.mean(pred_arr == target_arr))


def confusion_matrix(pred: Labels, target: Labels, num_classes: int) -> np.ndarray:
    """Counts ``cm[i, j]`` = number of examples of true class ``i`` predicted as class ``j``.

    Returns an int64 array of shape ``[C, C]`` (rows = true, columns = predicted), ``C = num_classes``.
    """
    if num_classes is None:
        raise ValueError("confusion_matrix needs num_classes (e.g. len(classes)).")
    pred_arr, target_arr = _check_pair(pred, target, num_classes)
    c = int(num_classes)
    flat = np.bincount(target_arr * c + pred_arr, minlength=c * c)
    return flat.reshape(c, c)


def macro_f1(pred: Labels, target: Labels, num_classes: int | None = None) -> float:
    """Macro-averaged F1: the unweighted mean of the per-class F1 scores.

    For class ``c``: ``F1_c = 2 TP / (2 TP + FP + FN)`` (the harmonic mean of precision and recall).
    The mean is taken over the classes that appear in ``target`` or ``pred``; a class absent from
    both has an undefined F1 (0 / 0) and is left out, whether or not ``num_classes`` is given.
    This matches ``sklearn.metrics.f1_score(target, pred, average="macro")``.
    ``num_classes``, if given, only checks that every label is below it.
    """
    pred_arr, target_arr = _check_pair(pred, target, num_classes)
    c = int(max(pred_arr.max(), target_arr.max())) + 1
    cm = confusion_matrix(pred_arr, target_arr, c)
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp  # predicted as c but not c
    fn = cm.sum(axis=1) - tp  # c but predicted as something else
    denom = 2 * tp + fp + fn
    present = denom > 0  # the class occurs in target or pred
    return float(np.mean(2 * tp[present] / denom[present]))


def per_class_accuracy(cm: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-class accuracy (recall) from a confusion matrix: ``cm[c, c] / cm[c].sum()`` for each row.

    Rows with no examples (a class absent from the data) give ``nan``.
    """
    if isinstance(cm, torch.Tensor):
        cm = cm.detach().cpu().numpy()
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square [C, C] confusion matrix, got shape {cm.shape}.")
    if (cm < 0).any():
        raise ValueError("cm contains negative entries; pass counts from confusion_matrix().")
    support = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def perplexity(total_nll: float | torch.Tensor, n_tokens: int) -> float:
    """Perplexity ``exp(total_nll / n_tokens)`` from a summed negative log-likelihood (in nats).

    ``total_nll`` is the sum of ``-log p(token)`` over ``n_tokens`` predicted tokens (e.g. the mean
    cross-entropy times the number of tokens). Returns ``inf`` if the result overflows.
    """
    if isinstance(total_nll, torch.Tensor):
        if total_nll.numel() != 1:
            raise ValueError(
                f"total_nll must be a single number, got a tensor of shape {tuple(total_nll.shape)}."
            )
        total_nll = total_nll.item()
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, (int, np.integer)):
        raise TypeError(f"n_tokens must be an int (a count of tokens), got {type(n_tokens).__name__}.")
    if n_tokens <= 0:
        raise ValueError(f"n_tokens must be > 0, got {n_tokens}: perplexity is undefined without tokens.")
    total_nll = float(total_nll)
    if math.isnan(total_nll):
        raise ValueError("total_nll is nan; check the model's log-probabilities.")
    if total_nll < 0:
        raise ValueError(
            f"total_nll must be >= 0 (a sum of -log p), got {total_nll}. "
            "Did you pass the log-likelihood instead of its negative?"
        )
    try:
        return math.exp(total_nll / int(n_tokens))
    except OverflowError:
        return math.inf
