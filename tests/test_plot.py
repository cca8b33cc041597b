import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_utils.plot import plot_confusion_matrix, plot_history, plot_matrix, plot_trellis
from course_utils.train import History

matplotlib.use("Agg")  # no windows, whatever $MPLBACKEND says


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def make_history():
    rows = [
        {"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_accuracy": 0.5, "lr": 0.1},
        {"epoch": 2, "train_loss": 0.6, "val_loss": 0.8, "val_accuracy": 0.7, "lr": 0.05},
        {"epoch": 3, "train_loss": 0.4, "val_loss": 0.9, "val_accuracy": 0.6, "lr": 0.025},
    ]
    return History(epochs=rows, monitor="val_loss", best_epoch=2, best_value=0.8)


def tick_texts(labels):
    return [t.get_text() for t in labels]


# -------------------------------------------------------------------------------------- plot_history
def test_plot_history_one_panel_per_family():
    fig = plot_history(make_history())
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "lr"]
    loss_ax = fig.axes[0]
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    assert {"train_loss", "val_loss", "best epoch"} <= set(lines)
    np.testing.assert_array_equal(lines["val_loss"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines["val_loss"].get_ydata(), [1.1, 0.8, 0.9])
    np.testing.assert_array_equal(lines["best epoch"].get_xdata(), [2, 2])
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes)
    assert fig.axes[2].get_yscale() == "log"


def test_plot_history_accepts_dict_and_key_subset():
    data = {"train_loss": [3.0, 2.0], "val_perplexity": [20.0, 15.0]}
    fig = plot_history(data)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "perplexity"]
    np.testing.assert_array_equal(fig.axes[1].get_lines()[0].get_xdata(), [1, 2])
    fig = plot_history(data, keys=["val_perplexity"])
    assert [ax.get_title() for ax in fig.axes] == ["perplexity"]


def test_plot_history_on_given_axes():
    fig, ax = plt.subplots()
    out = plot_history(make_history(), keys=["train_loss", "val_loss"], ax=ax)
    assert out is fig
    assert {line.get_label() for line in ax.get_lines()} >= {"train_loss", "val_loss"}
    fig, axes = plt.subplots(1, 2)
    plot_history(make_history(), keys=["val_loss", "val_accuracy"], ax=axes)
    assert [a.get_title() for a in axes] == ["loss", "accuracy"]


def test_plot_history_errors():
    with pytest.raises(KeyError, match="available"):
        plot_history(make_history(), keys=["val_bleu"])
    with pytest.raises(ValueError, match="empty"):
        plot_history(History())
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="one Axes per family"):
        plot_history(make_history(), ax=ax)


# ----------------------------------------------------------------------------------------- plot_matrix
def test_plot_matrix_labels_title_and_values():
    attn = torch.softmax(torch.randn(3, 4), dim=-1)
    ax = plot_matrix(
        attn, ["a", "b", "c"], ["w", "x", "y", "z"], title="attention", xlabel="source", ylabel="target"
    )
    assert isinstance(ax, Axes)
    assert tick_texts(ax.get_yticklabels()) == ["a", "b", "c"]
    assert tick_texts(ax.get_xticklabels()) == ["w", "x", "y", "z"]
    assert ax.get_xticklabels()[0].get_rotation() == 45
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("attention", "source", "target")
    np.testing.assert_allclose(ax.images[0].get_array(), attn.numpy(), rtol=1e-6)
    assert len(ax.figure.axes) == 2  # the heatmap and its colour bar
    assert len(ax.texts) == 0  # annotate=False by default


def test_plot_matrix_annotate_and_default_labels():
    ax = plot_matrix(np.array([[0.1, 0.9], [0.5, np.nan]]), None, None, annotate=True, cmap="magma")
    assert sorted(t.get_text() for t in ax.texts) == ["0.10", "0.50", "0.90"]
    assert tick_texts(ax.get_xticklabels()) == ["0", "1"]
    assert ax.images[0].get_cmap().name == "magma"


def test_plot_matrix_draws_on_given_axes():
    fig, ax = plt.subplots()
    assert plot_matrix([[1, 2]], ["r"], ["c1", "c2"], ax=ax) is ax


def test_plot_matrix_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="2 labels for a matrix with 3 rows"):
        plot_matrix(np.zeros((3, 2)), ["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="3 labels for a matrix with 2 columns"):
        plot_matrix(np.zeros((3, 2)), ["a", "b", "c"], ["x", "y", "z"])
    with pytest.raises(TypeError, match="sequence of names"):
        plot_matrix(np.zeros((1, 2)), "a", ["x", "y"])


def test_plot_matrix_rejects_non_2d():
    with pytest.raises(ValueError, match="must be 2-D"):
        plot_matrix(torch.zeros(2, 3, 3), None, None)


# ----------------------------------------------------------------------------- plot_confusion_matrix
def test_plot_confusion_matrix_normalised():
    cm = np.array([[8, 2, 0], [1, 1, 0], [0, 0, 0]])
    ax = plot_confusion_matrix(cm, ["de", "en", "fr"])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert tick_texts(ax.get_yticklabels()) == ["de", "en", "fr"]
    assert tick_texts(ax.get_xticklabels()) == ["de", "en", "fr"]
    assert "normalised" in ax.get_title()
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown, [[0.8, 0.2, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    assert len(ax.texts) == 9  # small matrices are annotated


def test_plot_confusion_matrix_counts_title_and_tensor():
    ax = plot_confusion_matrix(
        torch.tensor([[3, 1], [0, 4]]), ["neg", "pos"], normalize=False, title="test set"
    )
    assert ax.get_title() == "test set"
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), [[3, 1], [0, 4]])
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "3", "4"]


def test_plot_confusion_matrix_many_classes_not_annotated():
    ax = plot_confusion_matrix(np.eye(18), [f"c{i}" for i in range(18)])
    assert len(ax.texts) == 0


def test_plot_confusion_matrix_errors():
    with pytest.raises(ValueError, match="2 labels for a matrix with 3 classes"):
        plot_confusion_matrix(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="negative"):
        plot_confusion_matrix(np.array([[1, -1], [0, 1]]), ["a", "b"])


# -------------------------------------------------------------------------------------- plot_trellis


def test_plot_trellis_nodes_edges_and_path():
    values = np.array([[0.36, 0.04], [0.08, 0.05], [0.01, 0.03]])  # [T=3, N=2]
    psi = np.array([[0, 0], [0, 0], [0, 1]])
    ax = plot_trellis(
        values, ["sunny", "rainy"], ["d1", "d2", "d3"], path=[0, 0, 1], back_pointers=psi, title="t"
    )
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["0.36", "0.04", "0.08", "0.05", "0.01", "0.03"]
    assert tick_texts(ax.get_yticklabels()) == ["sunny", "rainy"]
    assert tick_texts(ax.get_xticklabels()) == ["d1", "d2", "d3"]
    # 2 steps x 4 grey edges, 2 steps x 2 back-pointer edges, 1 path line
    assert len(ax.lines) == 8 + 4 + 1
    np.testing.assert_array_equal(ax.lines[-1].get_ydata(), [0, 0, 1])
    assert ax.get_title() == "t"


def test_plot_trellis_errors():
    values = np.zeros((3, 2))
    with pytest.raises(ValueError, match="2-D"):
        plot_trellis(np.zeros(3), None, None)
    with pytest.raises(ValueError, match="empty"):
        plot_trellis(np.zeros((0, 0)), [], [])
    with pytest.raises(TypeError, match="2-D array of numbers"):
        plot_trellis([["a", "b"], ["c", "d"]], None, None)
    with pytest.raises(ValueError, match="NaN"):
        plot_trellis(np.array([[np.nan, 0.0], [0.0, 0.0]]), None, None)
    plot_trellis(np.array([[-np.inf, 0.0], [0.0, -1.0]]), None, None)  # log(0) is a value a trellis may show
    plt.close("all")
    with pytest.raises(ValueError, match="labels"):
        plot_trellis(values, ["a"], None)
    with pytest.raises(ValueError, match="path must be integer state ids of shape"):
        plot_trellis(values, None, None, path=[0, 1])
    with pytest.raises(ValueError, match="path must be integer"):
        plot_trellis(values, None, None, path=[0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="outside 0..1"):
        plot_trellis(values, None, None, path=[0, 2, 0])
    with pytest.raises(ValueError, match="back_pointers must be integer state ids of shape"):
        plot_trellis(values, None, None, back_pointers=np.zeros((2, 2), dtype=int))
