import math
import tracemalloc

import numpy as np
import pytest
import torch

from course_utils.metrics import accuracy, confusion_matrix, macro_f1, per_class_accuracy, perplexity


def brute_macro_f1(pred, target):
    """Per-class F1 by counting, averaged over the classes present in pred or target."""
    scores = []
    for c in sorted(set(pred) | set(target)):
        tp = sum(p == c and t == c for p, t in zip(pred, target, strict=True))
        fp = sum(p == c and t != c for p, t in zip(pred, target, strict=True))
        fn = sum(p != c and t == c for p, t in zip(pred, target, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def random_labels(seed, n=40, num_classes=5):
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_classes, n).tolist(), rng.integers(0, num_classes, n).tolist()


# ------------------------------------------------------------------------------------------ accuracy
def test_accuracy_counts_matches():
    assert accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == pytest.approx(0.75)
    assert accuracy([3], [3]) == 1.0
    assert accuracy([3], [1]) == 0.0


def test_inputs_as_list_array_tensor_and_bool_agree():
    pred, target = [0, 1, 1, 0, 1], [0, 1, 0, 0, 0]
    expected = 3 / 5
    assert accuracy(np.array(pred), np.array(target)) == pytest.approx(expected)
    assert accuracy(torch.tensor(pred), torch.tensor(target)) == pytest.approx(expected)
    assert accuracy(torch.tensor(pred, dtype=torch.bool), target) == pytest.approx(expected)
    assert isinstance(accuracy(torch.tensor(pred), target), float)


def test_accuracy_on_argmax_of_logits():
    logits = torch.tensor([[2.0, 1.0], [0.1, 0.3], [5.0, -1.0]])
    assert accuracy(logits.argmax(-1), torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)


# -------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn", [accuracy, macro_f1])
def test_length_mismatch(fn):
    with pytest.raises(ValueError, match="different lengths"):
        fn([0, 1, 2], [0, 1])


@pytest.mark.parametrize("fn", [accuracy, macro_f1])
def test_empty(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([], [])


def test_logits_hint():
    with pytest.raises(ValueError, match=r"argmax\(-1\)"):
        accuracy(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="argmax"):
        accuracy(torch.randn(2, 4, 3), torch.tensor([0, 1]))


def test_scalar_rejected():
    with pytest.raises(ValueError, match="1-D"):
        accuracy(torch.tensor(1), torch.tensor(1))


def test_non_integer_labels():
    with pytest.raises(TypeError, match="integer class indices"):
        accuracy([0.2, 0.9], [0, 1])
    with pytest.raises(TypeError, match="strings"):
        accuracy(["pos", "neg"], [0, 1])


def test_negative_labels():
    with pytest.raises(ValueError, match="negative label"):
        accuracy([0, -100], [0, 1])


def test_label_outside_num_classes():
    with pytest.raises(ValueError, match="num_classes=3"):
        confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="target contains label 5"):
        macro_f1([0, 1], [0, 5], num_classes=3)


@pytest.mark.parametrize("bad", [0, -1, 2.5, None])
def test_bad_num_classes(bad):
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix([0, 1], [0, 1], num_classes=bad)


# ------------------------------------------------------------------------------------------ macro F1
@pytest.mark.parametrize("seed", range(5))
def test_macro_f1_matches_brute_force(seed):
    pred, target = random_labels(seed)
    assert macro_f1(pred, target) == pytest.approx(brute_macro_f1(pred, target))


@pytest.mark.parametrize("seed", range(5))
def test_macro_f1_matches_sklearn(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    pred, target = random_labels(seed, n=60, num_classes=7)
    assert macro_f1(pred, target) == pytest.approx(metrics.f1_score(target, pred, average="macro"))


def test_macro_f1_skips_classes_absent_from_both():
    pred, target = [0, 2, 2, 0], [0, 2, 0, 0]  # class 1 never appears
    expected = brute_macro_f1(pred, target)  # mean over classes {0, 2}
    assert macro_f1(pred, target) == pytest.approx(expected)
    assert macro_f1(pred, target, num_classes=5) == pytest.approx(expected)
    f1_0, f1_2 = 2 * 2 / (2 * 2 + 0 + 1), 2 * 1 / (2 * 1 + 1 + 0)
    assert expected == pytest.approx((f1_0 + f1_2) / 2)


def test_macro_f1_counts_class_only_predicted_as_zero():
    # class 3 is predicted but never true: its F1 is 0 and it pulls the mean down
    assert macro_f1([0, 3], [0, 0]) == pytest.approx((2 / 3 + 0.0) / 2)


def test_macro_f1_perfect_and_worst():
    assert macro_f1([0, 1, 2], [0, 1, 2]) == 1.0
    assert macro_f1([1, 0], [0, 1]) == 0.0


# ---------------------------------------------------------------------------------- confusion matrix
@pytest.mark.parametrize("seed", range(3))
def test_confusion_matrix_matches_brute_force(seed):
    pred, target = random_labels(seed, num_classes=4)
    cm = confusion_matrix(pred, target, num_classes=6)
    expected = np.zeros((6, 6), dtype=np.int64)
    for p, t in zip(pred, target, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(cm, expected)
    assert cm.sum() == len(pred)


def test_confusion_matrix_rows_are_true_labels():
    cm = confusion_matrix(pred=[1, 1, 1], target=[0, 0, 1], num_classes=2)
    np.testing.assert_array_equal(cm, [[0, 2], [0, 1]])


def test_confusion_matrix_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    pred, target = random_labels(7, n=50, num_classes=5)
    np.testing.assert_array_equal(
        confusion_matrix(pred, target, 5), metrics.confusion_matrix(target, pred, labels=range(5))
    )


def test_confusion_matrix_needs_num_classes():
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix([0], [0], None)


# -------------------------------------------------------------------------------- per-class accuracy
def test_per_class_accuracy_is_row_recall():
    cm = np.array([[3, 1, 0], [0, 0, 0], [2, 0, 2]])
    got = per_class_accuracy(cm)
    np.testing.assert_allclose(got[[0, 2]], [0.75, 0.5])
    assert math.isnan(got[1])
    np.testing.assert_allclose(per_class_accuracy(torch.tensor(cm))[[0, 2]], [0.75, 0.5])


def test_per_class_accuracy_agrees_with_accuracy_on_one_class():
    pred, target = random_labels(3, num_classes=3)
    recall = per_class_accuracy(confusion_matrix(pred, target, 3))
    for c in range(3):
        idx = [i for i, t in enumerate(target) if t == c]
        assert recall[c] == pytest.approx(accuracy([pred[i] for i in idx], [target[i] for i in idx]))


def test_per_class_accuracy_rejects_bad_matrix():
    with pytest.raises(ValueError, match="square"):
        per_class_accuracy(np.ones((2, 3)))
    with pytest.raises(ValueError, match="negative"):
        per_class_accuracy(np.array([[1, -1], [0, 1]]))


# -------------------------------------------------------------------------------------- perplexity
def test_perplexity_of_uniform_model_is_vocab_size():
    vocab, n = 50, 17
    assert perplexity(n * math.log(vocab), n) == pytest.approx(vocab)


def test_perplexity_from_cross_entropy():
    logits, target = torch.randn(30, 8), torch.randint(0, 8, (30,))
    nll = torch.nn.functional.cross_entropy(logits, target, reduction="sum")
    probs = logits.softmax(-1)[torch.arange(30), target]
    expected = float(torch.prod(probs.double()) ** (-1 / 30))  # geometric-mean definition
    assert perplexity(nll, 30) == pytest.approx(expected, rel=1e-5)
    assert perplexity(0.0, 3) == 1.0


def test_perplexity_overflow_gives_inf():
    assert perplexity(1e6, 1) == math.inf


@pytest.mark.parametrize("n_tokens", [0, -3])
def test_perplexity_needs_tokens(n_tokens):
    with pytest.raises(ValueError, match="n_tokens must be > 0"):
        perplexity(1.0, n_tokens)


def test_perplexity_bad_inputs():
    with pytest.raises(ValueError, match="negative"):
        perplexity(-2.0, 4)
    with pytest.raises(ValueError, match="nan"):
        perplexity(float("nan"), 4)
    with pytest.raises(TypeError, match="int"):
        perplexity(2.0, 4.0)
    with pytest.raises(ValueError, match="single number"):
        perplexity(torch.ones(3), 4)


# ------------------------------------------------------------------------ large label ids, bad input
def test_macro_f1_with_huge_label_ids_needs_no_dense_matrix():
    pred, target = [100000, 3, 5, 10**12], [100000, 5, 5, 7]
    tracemalloc.start()
    try:
        got = macro_f1(pred, target)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # a dense [100001, 100001] matrix would take 80 GB
    assert got == pytest.approx(brute_macro_f1(pred, target))
    assert macro_f1(pred, target, num_classes=10**12 + 1) == pytest.approx(got)


@pytest.mark.parametrize("seed", range(5))
def test_macro_f1_with_sparse_label_ids_matches_sklearn(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    ids = rng.choice(10**9, size=8, replace=False)
    pred, target = ids[rng.integers(0, 8, 50)], ids[rng.integers(0, 8, 50)]
    assert macro_f1(pred, target) == pytest.approx(metrics.f1_score(target, pred, average="macro"))
    assert macro_f1(torch.tensor(pred), torch.tensor(target)) == pytest.approx(
        brute_macro_f1(pred.tolist(), target.tolist())
    )


def test_confusion_matrix_refuses_a_huge_dense_matrix():
    with pytest.raises(ValueError, match=r"num_classes=100000 asks for a dense \[100000, 100000\] matrix"):
        confusion_matrix([0, 1], [0, 1], num_classes=100000)


@pytest.mark.parametrize("fn", [accuracy, macro_f1, lambda p, t: confusion_matrix(p, t, 3)])
@pytest.mark.parametrize("which", ["pred", "target"])
def test_ragged_labels_get_a_clear_message(fn, which):
    ragged, good = [[0, 1], [2]], [0, 1]
    args = (ragged, good) if which == "pred" else (good, ragged)
    with pytest.raises(
        ValueError, match=rf"{which} must be a flat \(1-D\) sequence of class indices, but it is ragged"
    ):
        fn(*args)


@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        ({0, 1}, TypeError, "got a set"),
        ((i for i in range(2)), TypeError, "got a generator"),
        (
            torch.tensor([0.0, 1.0], dtype=torch.bfloat16),
            TypeError,
            "integer class indices, got dtype torch.bfloat16",
        ),
        (torch.tensor([0.0, 1.0]), TypeError, "integer class indices"),
        (torch.tensor(1.5), ValueError, "single value"),
        ([0, None], TypeError, "integer class indices, got dtype object"),
        (np.array([2**63 + 5, 0], dtype=np.uint64), ValueError, "too large for int64"),
        ([2**70, 0], ValueError, "too large for int64"),
    ],
    ids=["set", "generator", "bfloat16", "float-tensor", "scalar", "none", "uint64", "python-int"],
)
def test_odd_label_containers_are_named(labels, error, message):
    with pytest.raises(error, match=message) as err:
        accuracy(labels, [0, 1])
    assert str(err.value).startswith("pred ")


def test_label_containers_that_work():
    assert accuracy(range(3), [0, 1, 2]) == 1.0
    assert accuracy([torch.tensor(1), torch.tensor(0)], [1, 0]) == 1.0
    assert accuracy(np.array([1, 0], dtype=np.uint8), [1, 1]) == 0.5


def test_per_class_accuracy_rejects_ragged_and_non_numeric():
    with pytest.raises(ValueError, match=r"cm must be a square \[C, C\] confusion matrix, but it is ragged"):
        per_class_accuracy([[1, 2], [3]])
    with pytest.raises(TypeError, match="cm must hold numbers"):
        per_class_accuracy([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="cm contains nan or inf"):
        per_class_accuracy([[1, float("nan")], [0, 1]])
    got = per_class_accuracy(torch.tensor([[1, 2], [0, 1]], dtype=torch.bfloat16))
    np.testing.assert_allclose(got, [1 / 3, 1.0])


# ------------------------------------------------------------------------------ perplexity tolerance
@pytest.mark.parametrize(("total_nll", "n_tokens"), [(-1e-12, 1), (-1e-7, 1), (-5e-5, 100), (-0.0, 3)])
def test_perplexity_accepts_rounding_below_zero(total_nll, n_tokens):
    assert perplexity(total_nll, n_tokens) == 1.0
    assert perplexity(torch.tensor(total_nll, dtype=torch.float64), n_tokens) == 1.0


@pytest.mark.parametrize(("total_nll", "n_tokens"), [(-1e-3, 1), (-0.01, 100), (-2.0, 4), (float("-inf"), 2)])
def test_perplexity_still_refuses_clearly_negative_nll(total_nll, n_tokens):
    with pytest.raises(ValueError, match="total_nll must be >= 0.*log-likelihood instead of its negative"):
        perplexity(total_nll, n_tokens)


def test_perplexity_number_types():
    assert perplexity(np.float32(2.0), np.int64(2)) == pytest.approx(math.e)
    assert perplexity(torch.tensor(2.0), torch.tensor(2)) == pytest.approx(math.e)  # e.g. mask.sum()
    assert perplexity(np.array([2.0]), 2) == pytest.approx(math.e)
    assert perplexity(math.inf, 2) == math.inf
    for bad in ("2.0", None, [2.0], True):
        with pytest.raises(TypeError, match="total_nll must be a number"):
            perplexity(bad, 2)
    with pytest.raises(TypeError, match="n_tokens must be an int"):
        perplexity(2.0, torch.tensor(2.0))
