"""Checks of the repository itself: line endings, CI workflows and the README's commands."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
IN_GIT = (ROOT / ".git").exists() and shutil.which("git") is not None


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def _manifest() -> dict[str, str]:
    lines = (DATA / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    return {name.lstrip("*"): digest for digest, name in (ln.split(maxsplit=1) for ln in lines if ln.strip())}


def readme_test_command() -> str:
    """The command the README gives for checking the course (``make test``)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^(make test)\b", readme, re.M)
    assert match, "README.md must show the test command `make test` at the start of a line"
    return match.group(1)


@pytest.mark.skipif(not IN_GIT, reason="not a git checkout")
def test_data_files_are_marked_never_converted() -> None:
    files = sorted(str(p.relative_to(ROOT)) for p in DATA.rglob("*") if p.is_file())
    out = _git("check-attr", "text", "--", *files)
    converted = [line for line in out.splitlines() if not line.endswith(": text: unset")]
    assert not converted, f".gitattributes lets git convert line endings of: {converted}"


@pytest.mark.skipif(not IN_GIT, reason="not a git checkout")
def test_a_windows_checkout_keeps_the_data_byte_exact(tmp_path: Path) -> None:
    """Check the data out as Git for Windows would (core.autocrlf=true) and compare the checksums."""
    tracked = set(_git("ls-files", "--", "data").split())
    wanted = {f"data/{name}" for name in _manifest()}
    assert wanted <= tracked, f"data files not in git: {sorted(wanted - tracked)}"
    subprocess.run(
        ["git", "-c", "core.autocrlf=true", "-c", "core.eol=crlf", "checkout-index", f"--prefix={tmp_path}/", "--", *sorted(wanted)],
        cwd=ROOT, check=True,
    )  # fmt: skip
    for name, digest in _manifest().items():
        got = hashlib.sha256((tmp_path / "data" / name).read_bytes()).hexdigest()
        assert got == digest, f"data/{name} changes when checked out with core.autocrlf=true"


def test_ci_runs_the_readme_test_command() -> None:
    command = readme_test_command()
    assert re.search(rf"^{command}$", (ROOT / ".ci" / "run").read_text(), re.M)
    workflow = (ROOT / ".github" / "workflows" / "test.yml").read_text(encoding="utf-8")
    jobs = re.split(r"^  (?=[a-z][\w-]*:\n)", workflow.split("\njobs:\n", 1)[1], flags=re.M)[1:]
    assert {j.split(":", 1)[0] for j in jobs} == {"cpu", "gpu"}
    for job in jobs:
        assert re.search(rf"^\s+- run: {command}$", job, re.M), (
            f"job {job.split(':')[0]} must run `{command}`"
        )
    assert 'python: ["3.10", "3.13"]' in workflow, "test the lowest and the highest supported Python"
    assert "self-hosted" in workflow


def test_readme_quotes_lab_args() -> None:
    """`make lab LAB_ARGS=--no-browser --port 8890` hands --port to make; the README must quote it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for args in re.findall(r"LAB_ARGS=(\S.*?)(?:`|$)", readme, re.M):
        assert " " not in args or args[0] in "\"'", f"quote LAB_ARGS in README.md: LAB_ARGS={args}"


def test_conda_steps_agree() -> None:
    """The steps in environment.yml's own comment are the README's conda steps, none left out."""
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    steps = re.findall(r"^#   (\S.*)$", env, re.M)
    assert steps[0].startswith("conda env create")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(conda env create.*?)```", readme, re.S)
    assert block and block.group(1).split("\n")[:-1] == steps


def test_saved_notebooks_turn_widgets_into_text() -> None:
    """`make notebooks` keeps a tqdm bar's final text and replaces any other widget (the explorer of
    notebook 09) by a note on how to use it, instead of its Python repr."""
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / ".ci" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    view = "application/vnd.jupyter.widget-view+json"
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_t"]}},
        "t": {"model_name": "TextModel", "state": {"value": "Ein Hund"}},
    }
    cell = nbformat.v4.new_code_cell("translation_explorer(...)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={view: {"model_id": "box"}, "text/plain": "VBox(children=...)"}
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    module.freeze_progress_bars(nb)
    assert cell.outputs[0]["data"] == {"text/plain": module.WIDGET_NOTE}
    assert "widgets" not in nb.metadata
