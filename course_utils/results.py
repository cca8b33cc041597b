"""The course's results tables: one row per model, shared between notebooks.

Notebooks 08, 09 and 10 add rows to one translation table (model, parameters, training minutes on
the machine that ran the notebook, validation perplexity, test BLEU greedy and with beam search);
notebooks 07 and 10 add rows to one table of language models scored on notebook 02's test set
(model, parameters, training minutes, validation and test perplexity).
Each table is a JSON file in ``notebooks/results/``, written by the notebook's full-profile run and
committed with it, so a later notebook can show the rows of an earlier one without retraining it:

    rows = record("translation", {"model": "gru-context", "notebook": "08", ...})
    print(to_markdown(rows))

In the quick profile (tests, CI) :func:`record` returns the table with the new row but does not
write the file: quick runs train tiny models whose numbers must not replace the real ones.
``$COURSE_RESULTS_DIR`` points the tables elsewhere (the tests use it).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from course_utils.runtime import get_profile

__all__ = ["RESULTS_DIR", "TABLES", "load_results", "record", "results_path", "to_markdown"]

RESULTS_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "results"
RESULTS_ENV = "COURSE_RESULTS_DIR"

#: The columns every row of a table must have, in display order; rows may carry more (e.g. BLEU by length).
TABLES: dict[str, tuple[str, ...]] = {
    "translation": ("model", "notebook", "params", "train_minutes", "val_ppl", "bleu_greedy", "bleu_beam"),
    "language_models": ("model", "notebook", "params", "train_minutes", "val_ppl", "test_ppl"),
}


def _check_table(table: str) -> tuple[str, ...]:
    if table not in TABLES:
        raise ValueError(f"unknown results table {table!r}; choose one of {sorted(TABLES)}")
    return TABLES[table]


def results_path(table: str) -> Path:
    """Where ``table`` is kept: ``notebooks/results/<table>.json`` (or under ``$COURSE_RESULTS_DIR``)."""
    _check_table(table)
    folder = Path(os.environ[RESULTS_ENV]) if os.environ.get(RESULTS_ENV) else RESULTS_DIR
    return folder / f"{table}.json"


def _check_row(table: str, row: Any) -> dict[str, Any]:
    columns = _check_table(table)
    if not isinstance(row, dict):
        raise TypeError(f"a row is a dict of column -> value, got {type(row).__name__}")
    missing = [c for c in columns if c not in row]
    if missing:
        raise ValueError(f"the row lacks {missing}; a {table!r} row needs {list(columns)}")
    if not isinstance(row["model"], str) or not row["model"].strip():
        raise ValueError(f"'model' must be a non-empty name, got {row['model']!r}")
    for key, value in row.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{key} = {value} is not a finite number; a result must be measured")
    try:
        json.dumps(row)
    except TypeError as err:
        raise TypeError(f"a row holds plain values only (numbers, strings, lists, dicts): {err}") from err
    return dict(row)


def load_results(table: str) -> list[dict[str, Any]]:
    """The rows of ``table`` saved so far (an empty list when no notebook has written it yet)."""
    path = results_path(table)
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}); restore it with `git checkout -- {path.name}`"
        ) from err
    if not isinstance(rows, list):
        raise ValueError(f"{path} must hold a list of rows, found {type(rows).__name__}")
    return [_check_row(table, r) for r in rows]


def record(table: str, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Add ``row`` to ``table`` (in place of the row of the same model, if any) and return all rows.

    Saved to disk in the full profile only; in the quick profile the returned rows include ``row``
    but the file is left as it is.
    """
    row = _check_row(table, row)
    rows = load_results(table)
    same = [i for i, r in enumerate(rows) if r["model"] == row["model"]]
    if same:
        rows[same[0]] = row  # a re-run keeps the row's place in the table
    else:
        rows.append(row)
    if get_profile() == "full":
        path = results_path(table)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value / 1e6:.2f} M" if value >= 100_000 else str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_markdown(rows: list[dict[str, Any]], columns: tuple[str, ...] | None = None) -> str:
    """A Markdown table of ``rows`` (e.g. for ``IPython.display.Markdown``); parameters in millions."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError("rows must be a list of dicts, as record() and load_results() return")
    if columns is None:
        columns = tuple(dict.fromkeys(k for r in rows for k in r if not isinstance(r[k], (dict, list))))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
