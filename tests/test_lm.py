"""Language-model data on notebook 02's terms, and the perplexity every neural LM of the course reports."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils import ngram
from course_utils.lm import LMData, lm_perplexity, load_lm_data, make_lm_loader
from course_utils.text import UNK
from course_utils.transformer import TransformerLM


@pytest.fixture(scope="module")
def data() -> LMData:
    return load_lm_data()


def test_same_vocabulary_and_tokens_as_notebook_02(data: LMData) -> None:
    assert len(data.ids["train"]) == 29000 and len(data.ids["test"]) == 1000
    assert data.tokens["train"][0][:3] == ["two", "young", ","]
    assert data.predicted_tokens("test") == sum(len(s) + 1 for s in data.tokens["test"])
    kn = ngram.KneserNey(2).fit(data.tokens["train"], data.vocab)
    # the n-gram models predict every vocabulary token except <pad> and <bos>: the tokens a neural LM may predict
    assert kn.V == len(data.vocab) - len(data.never_predict)
    assert sum(t == UNK for s in data.tokens["test"] for t in s) > 0
    with pytest.raises(ValueError, match="split"):
        data.predicted_tokens("dev")


def test_loader_shifts_targets_by_one(data: LMData) -> None:
    (inputs,), targets = next(iter(make_lm_loader(data, "val", 8)))
    assert inputs.shape == targets.shape
    assert (inputs[:, 0] == data.vocab.bos_idx).all()
    real = targets != data.vocab.pad_idx
    assert (inputs[:, 1:][real[:, 1:]] == targets[:, :-1][real[:, 1:]]).all()
    assert ((targets == data.vocab.eos_idx).sum(1) == 1).all()
    with pytest.raises(ValueError, match="batch_size"):
        make_lm_loader(data, "val", 0)
    with pytest.raises(ValueError, match="split"):
        make_lm_loader(data, "dev", 8)


def test_perplexity_equals_a_brute_force_computation() -> None:
    small = load_lm_data(max_train=200)
    torch.manual_seed(0)
    lm = TransformerLM(len(small.vocab), d_model=16, num_heads=2, num_layers=1, d_ff=32,
                       never_predict=small.never_predict).eval()  # fmt: skip
    total, count = 0.0, 0
    with torch.no_grad():
        for s in small.ids["val"]:
            logp = torch.log_softmax(lm(torch.tensor([[small.vocab.bos_idx, *s]])), dim=-1)[0]
            target = [*s, small.vocab.eos_idx]
            total += float(logp[torch.arange(len(target)), torch.tensor(target)].sum())
            count += len(target)
    assert lm_perplexity(lm, small, "val") == pytest.approx(math.exp(-total / count), rel=1e-4)
    assert count == small.predicted_tokens("val")
    with pytest.raises(ValueError, match="never_predict"):
        lm_perplexity(TransformerLM(len(small.vocab), d_model=16, num_heads=2, num_layers=1), small, "val")
    with pytest.raises(ValueError, match="vocabulary"):
        lm_perplexity(TransformerLM(10, d_model=16, num_heads=2, num_layers=1), small, "val")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="min_freq"):
        load_lm_data(min_freq=0)
    with pytest.raises(ValueError, match="max_train"):
        load_lm_data(max_train=0)
