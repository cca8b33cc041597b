"""The translation explorer: beam candidates, the attention of the best one, the widget and bad input."""

from __future__ import annotations

import pytest
import torch

from course_utils.decoding import beam_search
from course_utils.explorer import Candidate, Explanation, explain, show_explanation, translation_explorer
from course_utils.seq2seq import make_model
from course_utils.text import pad_batch
from course_utils.translation import TranslationData, attention_map, load_translation_data

SENTENCE = "Ein Hund läuft im Schnee."


@pytest.fixture(scope="module")
def small() -> TranslationData:
    return load_translation_data(max_train=300, max_eval=5)


@pytest.fixture(scope="module")
def attn(small: TranslationData) -> torch.nn.Module:
    torch.manual_seed(0)
    return make_model("attention", small, emb_dim=8, hidden_size=8, attn_dim=8).eval()


def test_explain_returns_the_beam_and_the_best_candidates_attention(small, attn) -> None:
    exp = explain(attn, small, SENTENCE, beam_size=3, max_len=8)
    src = small.encode_source(SENTENCE)
    hyps = beam_search(attn, pad_batch([src], 0), bos=small.tgt_vocab.bos_idx, eos=small.tgt_vocab.eos_idx,
                       beam_size=3, max_len=8, length_penalty="average", n_best=3)[0]  # fmt: skip
    assert [c.tokens for c in exp.candidates] == [small.decode_target(h.tokens) for h in hyps]
    assert [c.score for c in exp.candidates] == [h.score for h in hyps]
    assert isinstance(exp, Explanation) and all(isinstance(c, Candidate) for c in exp.candidates)
    assert exp.translation == exp.candidates[0].text == " ".join(exp.candidates[0].tokens)
    _, out, weights = attention_map(attn, SENTENCE, small, target=exp.candidates[0].tokens)
    assert exp.output_tokens == out
    torch.testing.assert_close(exp.attention, weights)
    assert exp.source_tokens[-1] == "<eos>" and exp.attention.shape == (len(out), len(src))


def test_models_without_attention_get_no_heatmap(small, capsys) -> None:
    gru = make_model("gru-context", small, emb_dim=8, hidden_size=8).eval()
    exp = explain(gru, small, SENTENCE, beam_size=2, n_best=1, max_len=5)
    assert exp.attention is None and exp.output_tokens is None and len(exp.candidates) == 1
    show_explanation(exp)
    assert "candidate" in capsys.readouterr().out


def test_bad_input_names_the_problem(small, attn) -> None:
    with pytest.raises(ValueError, match="non-empty str"):
        explain(attn, small, "   ")
    with pytest.raises(ValueError, match="beam_size"):
        explain(attn, small, SENTENCE, beam_size=0)
    with pytest.raises(ValueError, match="n_best=4 cannot exceed"):
        explain(attn, small, SENTENCE, beam_size=3, n_best=4)
    with pytest.raises(ValueError, match="length_penalty"):
        explain(attn, small, SENTENCE, length_penalty="long")
    with pytest.raises(TypeError, match="decoding interface"):
        explain(torch.nn.Linear(2, 2), small, SENTENCE)
    with pytest.raises(TypeError, match="what explain"):
        show_explanation("a translation")


def test_the_widget_translates_what_is_typed(small, attn, monkeypatch) -> None:
    pytest.importorskip("ipywidgets")
    import course_utils.explorer as explorer

    shown = []
    monkeypatch.setattr(explorer, "show_explanation", lambda e: shown.append(e.sentence))
    box = translation_explorer(attn, small, example=SENTENCE, beam_size=2)
    text, button = box.children[0].children
    assert text.value == SENTENCE and shown == [SENTENCE]  # the example is shown at once
    text.value = "Zwei Männer spielen Fußball."  # what pressing Enter after typing does
    assert shown[-1] == "Zwei Männer spielen Fußball."
    button.click()
    assert len(shown) == 3
    text.value = "  "  # an empty sentence is reported in the box, not raised
    assert len(shown) == 3
    with pytest.raises(ValueError, match="beam_size"):
        translation_explorer(attn, small, example=SENTENCE, beam_size=0)
