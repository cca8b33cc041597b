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
import numbers
from collections.abc import Iterator, Sequence

import numpy as np
import torch

Labels = Sequence[int] | np.ndarray | torch.Tensor

__all__ = ["accuracy", "confusion_matrix", "macro_f1", "per_class_accuracy", "perplexity"]


_INT64_MAX = np.iinfo(np.int64).max
_MAX_CM_ENTRIES = 2**28  # a [C, C] int64 confusion matrix of 2 GiB (C = 16384)
_NLL_TOLERANCE = 1e-6  # per token: a summed -log p this far below 0 is floating-point rounding of 0


def _not_integer_error(name: str, kind: str) -> TypeError:
    return TypeError(
        f"{name} must be integer class indices, got {kind}. "
        "If these are scores or probabilities take .argmax(-1) first; if they are whole numbers "
        "stored as floats convert them with .long() / .astype(int); map string labels to indices first."
    )


def _as_array(x: object, name: str, expected: str, fix: str) -> np.ndarray:
    """``np.asarray(x)``, turning NumPy's errors on ragged or unordered input into clear ones."""
    if isinstance(x, (set, frozenset, dict)) or (not isinstance(x, (str, bytes)) and isinstance(x, Iterator)):
        raise TypeError(
            f"{name} must be {expected} (a list, NumPy array or tensor), got a {type(x).__name__}; "
            "convert it with list(...) first."
        )
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{name} must be {expected}, but it is ragged (rows of different lengths) or holds nested "
            f"sequences; {fix}"
        ) from err


def _as_labels(x: Labels, name: str = "labels") -> np.ndarray:
    """Convert a list / array / tensor of class indices to a 1-D int64 NumPy array, with clear errors."""
    if isinstance(x, torch.Tensor):
        if x.dim() == 0:
            raise ValueError(
                f"{name} must be a 1-D sequence of class indices, got a single value {x.item()!r}."
            )
        if x.dim() >= 2:
            raise _shape_error(name, tuple(x.shape))
        if x.numel() and (x.dtype.is_floating_point or x.dtype.is_complex):  # (NumPy has no bfloat16)
            raise _not_integer_error(name, f"dtype {x.dtype}")
        x = x.detach().cpu().numpy() if x.numel() else np.zeros(0, dtype=np.int64)
    arr = _as_array(
        x,
        name,
        "a flat (1-D) sequence of class indices",
        "flatten it first, e.g. [label for seq in labels for label in seq], dropping the padding.",
    )
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D sequence of class indices, got a single value {arr!r}.")
    if arr.ndim >= 2:
        raise _shape_error(name, arr.shape)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: metrics need at least one example.")
    if arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if arr.dtype == object and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr.tolist()
        ):
            arr = np.array(arr.tolist())  # Python ints too large for int64 end up here
            if arr.dtype == object:
                raise ValueError(f"{name} contains a label too large for int64 (max {_INT64_MAX}).")
        else:
            raise _not_integer_error(name, "strings" if arr.dtype.kind in "US" else f"dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.max() > _INT64_MAX:
        raise ValueError(f"{name} contains label {arr.max()}, too large for int64 (max {_INT64_MAX}).")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(
            f"{name} contains a negative label ({arr.min()}); class indices must be >= 0. "
            "Did you forget to drop padding / ignore_index positions (e.g. -100)?"
        )
    return arr


def _shape_error(name: str, shape: tuple[int, ...]) -> ValueError:
    if len(shape) == 2:
        return ValueError(
            f"{name} must be 1-D class indices, got a 2-D array of shape {tuple(shape)}. "
            "Did you pass logits or probabilities? Take .argmax(-1) first. "
            "For labels of shape [B, T], flatten them (and drop the padding) first."
        )
    return ValueError(
        f"{name} must be 1-D class indices, got shape {tuple(shape)}; "
        "take .argmax(-1) of logits and flatten (dropping padding) first."
    )


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
    if c * c > _MAX_CM_ENTRIES:
        raise ValueError(
            f"num_classes={c} asks for a dense [{c}, {c}] matrix of {c * c:,} counts "
            f"({c * c * 8 / 2**30:.1f} GiB); pass at most {math.isqrt(_MAX_CM_ENTRIES)} classes, e.g. map rare "
            "labels to one 'other' class first, or use macro_f1 / accuracy, which need no matrix."
        )
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
    # Renumber the labels that occur as 0..k-1: memory grows with the examples, not the largest label id.
    labels, codes = np.unique(np.concatenate([pred_arr, target_arr]), return_inverse=True)
    k, n = len(labels), len(pred_arr)
    pred_codes, target_codes = codes[:n], codes[n:]
    tp = np.bincount(target_codes[pred_codes == target_codes], minlength=k).astype(np.float64)
    n_pred = np.bincount(pred_codes, minlength=k)  # TP + FP: predicted as c
    n_true = np.bincount(target_codes, minlength=k)  # TP + FN: truly c
    denom = n_pred + n_true  # = 2 TP + FP + FN > 0 for every class that occurs
    return float(np.mean(2 * tp / denom))


def per_class_accuracy(cm: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-class accuracy (recall) from a confusion matrix: ``cm[c, c] / cm[c].sum()`` for each row.

    Rows with no examples (a class absent from the data) give ``nan``.
    """
    if isinstance(cm, torch.Tensor):
        cm = cm.detach().cpu()
        cm = (cm.double() if cm.is_floating_point() else cm).numpy()
    cm = _as_array(
        cm, "cm", "a square [C, C] confusion matrix", "pass confusion_matrix(pred, target, num_classes)."
    )
    if cm.dtype == np.bool_ or not (
        np.issubdtype(cm.dtype, np.integer) or np.issubdtype(cm.dtype, np.floating)
    ):
        raise TypeError(
            f"cm must hold numbers (counts from confusion_matrix()), got dtype {cm.dtype}; "
            "pass confusion_matrix(pred, target, num_classes)."
        )
    cm = cm.astype(np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square [C, C] confusion matrix, got shape {cm.shape}.")
    if not np.isfinite(cm).all():
        raise ValueError("cm contains nan or inf; pass counts from confusion_matrix().")
    if (cm < 0).any():
        raise ValueError("cm contains negative entries; pass counts from confusion_matrix().")
    support = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def perplexity(total_nll: float | torch.Tensor, n_tokens: int) -> float:
    """Perplexity ``exp(total_nll / n_tokens)`` from a summed negative log-likelihood (in nats).

    ``total_nll`` is the sum of ``-log p(token)`` over ``n_tokens`` predicted tokens (e.g. the mean
    cross-entropy times the number of tokens). Returns ``inf`` if the result overflows. A ``total_nll``
    a hair below 0 (at most 1e-6 per token, floating-point rounding of a perfect prediction) counts as 0.
    """
    if isinstance(total_nll, (torch.Tensor, np.ndarray)):
        n_values = total_nll.size if isinstance(total_nll, np.ndarray) else total_nll.numel()
        if n_values != 1:
            raise ValueError(
                f"total_nll must be a single number, got a tensor of shape {tuple(total_nll.shape)}."
            )
        total_nll = total_nll.item()
    if isinstance(total_nll, bool) or not isinstance(total_nll, numbers.Real):
        raise TypeError(
            f"total_nll must be a number (the summed -log p, e.g. loss.item() * n_tokens), "
            f"got {type(total_nll).__name__}."
        )
    if isinstance(n_tokens, torch.Tensor) and n_tokens.numel() == 1 and not n_tokens.is_floating_point():
        n_tokens = n_tokens.item()  # e.g. mask.sum()
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, (int, np.integer)):
        raise TypeError(f"n_tokens must be an int (a count of tokens), got {type(n_tokens).__name__}.")
    if n_tokens <= 0:
        raise ValueError(f"n_tokens must be > 0, got {n_tokens}: perplexity is undefined without tokens.")
    total_nll = float(total_nll)
    if math.isnan(total_nll):
        raise ValueError("total_nll is nan; check the model's log-probabilities.")
    if total_nll < 0:
        if total_nll >= -_NLL_TOLERANCE * int(n_tokens):
            total_nll = 0.0  # rounding error around a perfect prediction, not a sign error
        else:
            raise ValueError(
                f"total_nll must be >= 0 (a sum of -log p), got {total_nll}, a negative value. "
                "Did you pass the log-likelihood instead of its negative?"
            )
    try:
        return math.exp(total_nll / int(n_tokens))
    except OverflowError:
        return math.inf
