"""Re-execute notebooks and save their outputs in place: `make notebooks [NB=04]`.

Runs in the profile given by $COURSE_PROFILE (the Makefile sets `full`), one notebook at a time,
and prints how long each took. tqdm's notebook bars are widgets: the saved notebook would hold
every bar's widget state (hundreds of kB, and Colab and GitHub do not render it) and, as the
plain-text fallback, the bar's *first* text ("0%"). After the run each bar becomes a plain-text
output with its final text, bars closed with ``leave=False`` are dropped, and the widget state is
removed, so the committed notebook is small and reads right in JupyterLab, Colab, GitHub or a terminal.
"""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# what a saved notebook shows in place of an interactive widget (its own text/plain is its Python repr)
WIDGET_NOTE = "[an interactive widget: run this cell in JupyterLab or Colab to use it]"


def _final_bar_text(model_id: str, state: dict) -> str | None:
    """The final text of a tqdm bar (an HBox of HTML, FloatProgress, HTML), or None."""
    box = state.get(model_id, {})
    if box.get("model_name") != "HBoxModel":
        return None
    parts = [state.get(child.removeprefix("IPY_MODEL_"), {}) for child in box["state"].get("children", [])]
    if [p.get("model_name") for p in parts] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, progress, right = (p["state"] for p in parts)
    filled = int(10 * progress.get("value", 0) / progress["max"]) if progress.get("max") else 0
    bar = "█" * filled
    text = f"{html.unescape(left.get('value', ''))}|{bar:<10}|{html.unescape(right.get('value', ''))}"
    return text.replace("\u2007", " ")


def _hidden(model_id: str, state: dict) -> bool:
    """True for a bar closed with ``leave=False`` (tqdm hides its layout)."""
    layout = state.get(model_id, {}).get("state", {}).get("layout", "").removeprefix("IPY_MODEL_")
    return state.get(layout, {}).get("state", {}).get("visibility") == "hidden"


def freeze_progress_bars(nb: nbformat.NotebookNode) -> None:
    """Drop bars closed with ``leave=False``, turn the others into plain text (their final state), other
    widgets into a note saying how to use them, and remove the notebook's widget state."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view and _hidden(view["model_id"], state):
                continue
            if view:
                text = _final_bar_text(view["model_id"], state) or WIDGET_NOTE
                out["data"] = {"text/plain": text}
            kept.append(out)
        if cell.cell_type == "code":
            cell.outputs = kept
    nb.metadata.pop("widgets", None)


def main(prefix: str = "") -> None:
    paths = sorted(NOTEBOOKS.glob(f"{prefix}*.ipynb"))
    if not paths:
        sys.exit(f"no notebook in notebooks/ starts with {prefix!r}; try e.g. NB=00")
    for path in paths:
        start = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        resources = {"metadata": {"path": str(NOTEBOOKS)}}
        NotebookClient(nb, timeout=1800, kernel_name="python3", resources=resources).execute()
        freeze_progress_bars(nb)
        nbformat.write(nb, path)
        print(f"{path.name}: {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--freeze-only"]:  # re-do the clean-up on saved notebooks without running them
        for path in sorted(NOTEBOOKS.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            freeze_progress_bars(nb)
            nbformat.write(nb, path)
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "")
