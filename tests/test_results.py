"""The shared results tables: rows checked, saved only in the full profile, read back by later notebooks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from course_utils.results import RESULTS_DIR, TABLES, load_results, record, results_path, to_markdown

ROW = dict(
    model="m",
    notebook="08",
    params=1_234_567,
    train_minutes=3.5,
    val_ppl=7.25,
    bleu_greedy=20.0,
    bleu_beam=21.5,
)


@pytest.fixture
def tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    return tmp_path


def test_record_saves_in_the_full_profile_and_replaces_by_model(tables: Path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert load_results("translation") == []
    record("translation", ROW)
    rows = record("translation", {**ROW, "model": "other", "bleu_by_length": {"1-8": 30.0}})
    assert [r["model"] for r in rows] == ["m", "other"]
    rows = record("translation", {**ROW, "bleu_greedy": 25.0})  # the same model again: replaced in its place
    assert [(r["model"], r["bleu_greedy"]) for r in rows] == [("m", 25.0), ("other", 20.0)]
    assert load_results("translation") == rows
    assert json.loads(results_path("translation").read_text()) == rows


def test_quick_profile_never_writes(tables: Path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_PROFILE", "full")
    record("translation", ROW)
    before = results_path("translation").read_text()
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    rows = record("translation", {**ROW, "model": "tiny"})
    assert [r["model"] for r in rows] == ["m", "tiny"]
    assert results_path("translation").read_text() == before


def test_bad_rows_and_tables_name_the_problem(tables: Path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_PROFILE", "full")
    with pytest.raises(ValueError, match="unknown results table"):
        record("translations", ROW)
    with pytest.raises(ValueError, match="lacks \\['bleu_beam'\\]"):
        record("translation", {k: v for k, v in ROW.items() if k != "bleu_beam"})
    with pytest.raises(ValueError, match="finite"):
        record("translation", {**ROW, "val_ppl": math.nan})
    with pytest.raises(ValueError, match="model"):
        record("translation", {**ROW, "model": " "})
    with pytest.raises(TypeError, match="plain values"):
        record("translation", {**ROW, "extra": object()})
    with pytest.raises(TypeError, match="dict"):
        record("translation", [ROW])
    results_path("translation").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results("translation")
    results_path("translation").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="list of rows"):
        load_results("translation")


def test_markdown_table() -> None:
    text = to_markdown([ROW, {**ROW, "model": "n", "bleu_beam": None, "bleu_by_length": {"1-8": 1.0}}])
    lines = text.splitlines()
    assert lines[0] == "| model | notebook | params | train_minutes | val_ppl | bleu_greedy | bleu_beam |"
    assert lines[2] == "| m | 08 | 1.23 M | 3.50 | 7.25 | 20.00 | 21.50 |"
    assert lines[3].endswith("| – |") and len(lines) == 4
    with pytest.raises(TypeError):
        to_markdown(ROW)


def test_the_committed_translation_table_is_valid() -> None:
    """What the notebooks committed reads back, with every column (it is what notebook 10 extends)."""
    path = RESULTS_DIR / "translation.json"
    assert path.exists(), "notebooks 08 and 09 write notebooks/results/translation.json in the full profile"
    rows = json.loads(path.read_text())
    assert {r["notebook"] for r in rows} >= {"08"}
    for row in rows:
        assert set(TABLES["translation"]) <= set(row)


def test_the_committed_language_model_table_is_valid() -> None:
    """Notebook 10 writes its decoder-only Transformer here and notebook 07 its models; 07 shows them all."""
    rows = load_results("language_models")
    assert {r["notebook"] for r in rows} >= {"10"}
    for row in rows:
        assert set(TABLES["language_models"]) <= set(row)
        assert row["test_ppl"] > 1 and row["val_ppl"] > 1
