"""Plots the notebooks share: training curves, confusion matrices and labelled heatmaps.

Every function draws with Matplotlib, never calls ``plt.show()`` (Jupyter shows the figure by
itself) and returns what it drew on, so a notebook can add to it::

    cu.plot.plot_history(history)                       # loss curves etc., one panel per metric family
    cu.plot.plot_confusion_matrix(cm, classes)          # rows = true, columns = predicted
    cu.plot.plot_matrix(attn, src_tokens, tgt_tokens)   # e.g. attention weights
    cu.plot.plot_trellis(delta, states, days, path=best)  # an HMM's trellis (forward or Viterbi)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

ArrayLike = np.ndarray | torch.Tensor | Sequence[Sequence[float]]

__all__ = ["plot_confusion_matrix", "plot_history", "plot_matrix", "plot_trellis"]

_PREFIXES = ("train_", "val_")
_NOT_PLOTTED = ("epoch",)


def _family(key: str) -> str:
    """The metric family of a history key: ``train_loss`` and ``val_loss`` are both ``loss``."""
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def plot_history(
    history: Any,
    keys: Sequence[str] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Plot training curves against the epoch, one panel per metric family.

    ``history`` is a :class:`course_utils.train.History` or a dict of lists (``{"train_loss": [...]}``).
    Keys that differ only by a ``train_`` / ``val_`` prefix share a panel (``train_loss`` with
    ``val_loss``); every other metric (``val_accuracy``, ``lr``, ``grad_norm`` ...) gets its own.
    ``keys`` picks what to draw (default: everything except ``epoch``). ``ax`` is one Axes (for one
    family) or a sequence with one Axes per family; by default a new figure is made.
    If the history knows its best epoch, a dotted line marks it. Returns the figure.
    """
    available = list(history.keys())
    if not available:
        raise ValueError("history is empty: train for at least one epoch first.")
    if keys is None:
        keys = [k for k in available if k not in _NOT_PLOTTED]
    elif isinstance(keys, str):
        keys = [keys]
    unknown = [k for k in keys if k not in available]
    if unknown:
        raise KeyError(f"history has no key(s) {unknown}; available: {available}")
    if not keys:
        raise ValueError(f"nothing to plot: no keys selected (available: {available}).")

    families: dict[str, list[str]] = {}
    for key in keys:
        families.setdefault(_family(key), []).append(key)
    if "loss" in families:  # the loss panel comes first
        families = {"loss": families.pop("loss"), **families}

    n = len(families)
    if ax is None:
        fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2), squeeze=False)
        axes = list(axes[0])
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != n:
            raise ValueError(
                f"got {len(axes)} Axes for {n} metric families {list(families)}; pass one Axes per family, "
                "fewer keys (keys=[...]), or ax=None to make a new figure."
            )
        fig = axes[0].figure

    epochs = list(history["epoch"]) if "epoch" in available else None
    best_epoch = getattr(history, "best_epoch", None)
    for panel, (family, family_keys) in zip(axes, families.items(), strict=True):
        for key in family_keys:
            values = np.asarray([np.nan if v is None else v for v in history[key]], dtype=float)
            x = epochs if epochs is not None and len(epochs) == len(values) else np.arange(1, len(values) + 1)
            panel.plot(x, values, marker="o", markersize=3, label=key)
        if family == "lr" and all(np.all(np.asarray(history[k], dtype=float) > 0) for k in family_keys):
            panel.set_yscale("log")
        if best_epoch is not None:
            panel.axvline(best_epoch, color="grey", linestyle=":", linewidth=1, label="best epoch")
        panel.set_title(family)
        panel.set_xlabel("epoch")
        panel.set_ylabel(family)
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
        panel.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _to_2d(matrix: ArrayLike, name: str = "matrix") -> np.ndarray:
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().float().cpu().numpy()
    try:
        arr = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a 2-D array of numbers: {err}") from err
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D, got shape {arr.shape}; "
            "select one example / head first (e.g. attn[0] for attn: [B, T, T])."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); there is nothing to draw.")
    return arr


def _labels(labels: Sequence[Any] | None, n: int, what: str) -> list[str]:
    """``what`` is a plural noun ("rows", "columns", "classes") for the error message."""
    if labels is None:
        return [str(i) for i in range(n)]
    if isinstance(labels, str):
        raise TypeError(f"labels for the {what} must be a sequence of names, not one string {labels!r}.")
    labels = [str(label) for label in labels]
    if len(labels) != n:
        raise ValueError(
            f"got {len(labels)} labels for a matrix with {n} {what}; give exactly one label per entry."
        )
    return labels


def plot_matrix(
    matrix: ArrayLike,
    row_labels: Sequence[Any] | None,
    col_labels: Sequence[Any] | None,
    ax: Axes | None = None,
    title: str | None = None,
    annotate: bool = False,
    cmap: str = "viridis",
    xlabel: str | None = None,
    ylabel: str | None = None,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    fmt: str = ".2f",
) -> Axes:
    """Labelled heatmap of a 2-D array or tensor (attention weights, HMM matrices ...), with a colour bar.

    ``row_labels`` / ``col_labels`` name the rows (y axis) and columns (x axis, labels rotated);
    ``None`` numbers them 0, 1, ... . ``annotate=True`` writes each value (format ``fmt``) in its cell.
    Returns the Axes.
    """
    arr = _to_2d(matrix)
    n_rows, n_cols = arr.shape
    rows = _labels(row_labels, n_rows, "rows")
    cols = _labels(col_labels, n_cols, "columns")
    if ax is None:
        width = min(14.0, max(4.0, 0.45 * n_cols + 2.5))
        height = min(12.0, max(3.0, 0.4 * n_rows + 1.5))
        _, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(arr, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax)
    ax.set_xticks(np.arange(n_cols), labels=cols)
    ax.set_yticks(np.arange(n_rows), labels=rows)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    if annotate:
        colormap = image.get_cmap()
        for i in range(n_rows):
            for j in range(n_cols):
                value = arr[i, j]
                if np.isnan(value):
                    continue
                r, g, b, _ = colormap(image.norm(value))
                text_colour = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                ax.text(j, i, format(value, fmt), ha="center", va="center", color=text_colour, fontsize=8)
    if title is not None:
        ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    return ax


def plot_confusion_matrix(
    cm: ArrayLike,
    labels: Sequence[Any],
    normalize: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
    *,
    annotate: bool | None = None,
    cmap: str = "Blues",
) -> Axes:
    """Heatmap of a confusion matrix from :func:`course_utils.metrics.confusion_matrix`.

    Rows are the true classes, columns the predicted ones, both named by ``labels``.
    ``normalize=True`` divides each row by its total, so cell ``[i, j]`` is the fraction of class
    ``i`` predicted as ``j`` and the diagonal is the per-class recall (rows without examples stay 0).
    ``annotate`` writes the values in the cells (default: only when there are at most 12 classes).
    Returns the Axes.
    """
    arr = _to_2d(cm, "cm")
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(
            f"cm must be square [C, C] (rows = true, columns = predicted), got shape {arr.shape}."
        )
    if (arr < 0).any():
        raise ValueError("cm has negative entries; pass counts from course_utils.metrics.confusion_matrix().")
    names = _labels(labels, arr.shape[0], "classes")
    if normalize:
        totals = arr.sum(axis=1, keepdims=True)
        arr = np.divide(arr, totals, out=np.zeros_like(arr), where=totals > 0)
    if annotate is None:
        annotate = arr.shape[0] <= 12
    if title is None:
        title = "Confusion matrix (row-normalised)" if normalize else "Confusion matrix (counts)"
    return plot_matrix(
        arr,
        names,
        names,
        ax=ax,
        title=title,
        annotate=annotate,
        cmap=cmap,
        xlabel="predicted",
        ylabel="true",
        vmin=0.0,
        vmax=1.0 if normalize else None,
        fmt=".2f" if normalize else ".0f",
    )


def plot_trellis(
    values: ArrayLike,
    state_labels: Sequence[Any] | None,
    step_labels: Sequence[Any] | None,
    *,
    path: Sequence[int] | None = None,
    back_pointers: ArrayLike | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    fmt: str = ".3g",
) -> Axes:
    """The trellis of an HMM: one node per (time step, state), written with ``values`` [T, N].

    Grey lines join every state at step t to every state at t + 1 (the paths the forward algorithm sums
    over). ``back_pointers`` [T, N] (Viterbi's psi: psi[t, j] = the best predecessor of state j at step t;
    row 0 is ignored) draws the one edge kept into each node; ``path`` (T state ids) is drawn in red.
    Time runs left to right, states top to bottom. Returns the Axes.
    """
    arr = _to_2d(values, "values")
    if np.isnan(arr).any():
        raise ValueError("values holds NaN; a trellis needs numbers (log-probabilities may be -inf).")
    T, N = arr.shape
    states = _labels(state_labels, N, "states (columns of values)")
    steps = _labels(step_labels, T, "time steps (rows of values)")

    def _state_ids(ids: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
        out = np.asarray(ids.detach().cpu() if isinstance(ids, torch.Tensor) else ids)
        if out.shape != shape or not (np.issubdtype(out.dtype, np.integer) or out.size == 0):
            raise ValueError(
                f"{name} must be integer state ids of shape {shape}, got {out.dtype} {out.shape}"
            )
        if out.size and (out.min() < 0 or out.max() >= N):
            raise ValueError(f"{name} holds state ids outside 0..{N - 1}: {out.min()}..{out.max()}")
        return out

    psi = None if back_pointers is None else _state_ids(back_pointers, "back_pointers", (T, N))
    best = None if path is None else _state_ids(path, "path", (T,))
    if ax is None:
        _, ax = plt.subplots(figsize=(min(14.0, 1.5 * T + 1.5), 0.9 * N + 1.2))
    for t in range(T - 1):
        for i in range(N):
            for j in range(N):
                ax.plot([t, t + 1], [i, j], color="0.85", lw=0.8, zorder=1)
    if psi is not None:
        for t in range(1, T):
            for j in range(N):
                ax.plot([t - 1, t], [psi[t, j], j], color="C0", lw=1.6, zorder=2)
    if best is not None:
        ax.plot(np.arange(T), best, color="C3", lw=3, zorder=3, label="best path")
    for t in range(T):
        for i in range(N):
            on_path = best is not None and best[t] == i
            ax.text(t, i, format(arr[t, i], fmt), ha="center", va="center", fontsize=8, zorder=4,
                    bbox=dict(boxstyle="round", fc="mistyrose" if on_path else "white",
                              ec="C3" if on_path else "0.5"))  # fmt: skip
    ax.set_xticks(np.arange(T), labels=steps)
    ax.set_yticks(np.arange(N), labels=states)
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_ylim(N - 0.5, -0.5)  # first state on top
    ax.set_xlabel("time step")
    ax.set_ylabel("state")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title is not None:
        ax.set_title(title)
    return ax
