"""Hygiene checks over every committed notebook (the conventions of CONTRIBUTING.md).

nbval re-executes the notebooks; these tests check what is *committed*: format, kernel, outputs,
the template (title, Colab badge, setup cell, summary, exercises) and that nothing is downloaded.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The repository URL lives in one place, pyproject.toml; badges and the Colab set-up must use it.
REPO_URL = re.search(r'^Repository = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
REPO_PATH = REPO_URL.removeprefix("https://github.com/")
MAX_BYTES = 2 * 1024 * 1024
# The kernel of the environment JupyterLab runs in (.venv, conda, Colab): ipykernel's own spec.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

MACHINE_PATH = re.compile(
    r"(/home/|/root/|/Users/|/tmp/|/work/|[A-Za-z]:\\\\Users|site-packages|\.\./shared)"
)
MEMORY_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}")
NETWORK = re.compile(
    r"(urlopen|urlretrieve|requests\.(get|post)|httpx|wget |curl |download=True|hf_hub_download|"
    r"(?<!Embedding\.)from_pretrained|spacy\.cli\.download|python -m spacy download|torch\.hub|pip install|git clone)"
)  # nn.Embedding.from_pretrained(weights) loads a tensor it is given; AutoModel.from_pretrained downloads
NETWORK_IN_CODE = re.compile(
    NETWORK.pattern.removesuffix("|pip install|git clone)") + ")"
)  # error hints may say "pip install"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# matplotlib's default font has no Chinese glyphs (they render as boxes): keep Chinese out of plot text
PLOT_TEXT = re.compile(
    r"(set_title|set_xlabel|set_ylabel|suptitle|title|xlabel|ylabel|legend|text|annotate|set_xticks|set_yticks"
    r"|set_xticklabels|set_yticklabels)\(|label=|labels="
)
COLAB_BLOCK = re.compile(r'if "google\.colab" in sys\.modules:\n((?:[ \t]+.*\n?)+)')


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def _output_text(output: nbformat.NotebookNode) -> str:
    parts = [output.get("text", "")]
    data = output.get("data", {})
    parts += [data.get(k, "") for k in ("text/plain", "text/html", "text/markdown")]
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _colab_setup_lines() -> str:
    return (
        'if "google.colab" in sys.modules:\n'
        '    if not os.path.exists("/content/course/.installed"):\n'
        '        print("Installing the course and what its notebooks import (once per Colab runtime) ...")\n'
        f"        !rm -rf /content/course && git clone -q --depth 1 {REPO_URL} /content/course"
        ' && pip install -q -e "/content/course[course]" && touch /content/course/.installed\n'
        '    if "/content/course" not in sys.path:\n'
        '        sys.path.insert(0, "/content/course")\n'
    )


def test_there_are_notebooks() -> None:
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


def test_the_notebooks_kernel_exists_under_that_name() -> None:
    """JupyterLab rewrites a notebook's kernelspec to the running kernel's; here they already agree."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNELSPEC["name"])
    assert spec.display_name == KERNELSPEC["display_name"]
    assert spec.language == KERNELSPEC["language"]
    assert "ipykernel" in " ".join(spec.argv)
    # jupyter_client runs "python" as the Python that runs JupyterLab, i.e. this environment's
    assert spec.argv[0] in ("python", "python3", sys.executable), f"the python3 kernel runs {spec.argv[0]}"


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request: pytest.FixtureRequest) -> tuple[Path, nbformat.NotebookNode]:
    path: Path = request.param
    return path, nbformat.read(path, as_version=nbformat.NO_CONVERT)


def test_format_and_kernel(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    path, nb = notebook
    assert nb.nbformat == 4
    nbformat.validate(nb)
    assert dict(nb.metadata.kernelspec) == KERNELSPEC, (
        f"{path.name}: the kernelspec must be {KERNELSPEC} (the environment's own kernel, under the name "
        f"JupyterLab gives it, so that opening the notebook does not rewrite it); found {dict(nb.metadata.kernelspec)}"
    )
    assert path.stat().st_size < MAX_BYTES, (
        f"{path.name} is {path.stat().st_size:,} bytes; keep outputs small"
    )
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)


def test_progress_bars_saved_as_plain_text(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    """`make notebooks` turns tqdm widgets into their final text; widget state would bloat the file."""
    path, nb = notebook
    assert "widgets" not in nb.metadata, (
        f"{path.name}: widget state saved; run `make notebooks NB={path.name[:2]}`"
    )
    for i, cell in enumerate(_code_cells(nb), start=1):
        for out in cell.outputs:
            assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {}), (
                f"{path.name}, code cell {i}: a widget output; run `make notebooks NB={path.name[:2]}`"
            )


def test_outputs_present_in_order_and_clean(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    path, nb = notebook
    cells = _code_cells(nb)
    counts = [c.execution_count for c in cells]
    assert None not in counts, (
        f"{path.name}: some cells were never run; run `make notebooks NB={path.name[:2]}`"
    )
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: execution counts out of order: {counts}"
    assert any(c.outputs for c in cells), f"{path.name}: committed without outputs"
    for i, cell in enumerate(cells, start=1):
        for out in cell.outputs:
            assert out.output_type != "error", (
                f"{path.name}, code cell {i}: an error output ({out.get('ename')})"
            )
            text = _output_text(out)
            assert not MACHINE_PATH.search(text), f"{path.name}, code cell {i}: a machine path in the output"
            assert not MEMORY_ADDRESS.search(text), (
                f"{path.name}, code cell {i}: a memory address in the output"
            )


def test_template_header_and_setup_cell(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    path, nb = notebook
    head = nb.cells[0]
    assert head.cell_type == "markdown" and head.source.startswith("# "), "start with a markdown title"
    title = head.source.splitlines()[0]
    assert CHINESE.search(title), f"{path.name}: the title needs its Chinese form too: {title!r}"
    badge = f"https://colab.research.google.com/github/{REPO_PATH}/blob/main/notebooks/{path.name}"
    assert badge in head.source, f"{path.name}: the Open in Colab badge must link to {badge}"
    for heading in ("What you will learn", "Prerequisites"):
        assert heading in head.source, f"{path.name}: the first cell needs a '{heading}' part"
    setup = _code_cells(nb)[0].source
    assert "import course_utils" in setup, f"{path.name}: the first code cell is the setup cell"
    assert "cu.setup(" in setup
    assert _colab_setup_lines() in setup + "\n", (
        f"{path.name}: the Colab lines must match the template exactly"
    )


def test_summary_and_exercises(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    path, nb = notebook
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^## Summary", markdown, re.M), f"{path.name}: add a '## Summary' section"
    assert re.search(r"^## Exercises", markdown, re.M), f"{path.name}: add a '## Exercises' section"
    exercises = markdown[markdown.index("## Exercises") :]
    assert exercises.count("<details>") >= 2 and exercises.count("<details>") == exercises.count("</details>")


def test_no_network_downloads_in_notebooks(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    path, nb = notebook
    for i, cell in enumerate(_code_cells(nb), start=1):
        source = COLAB_BLOCK.sub("", cell.source) if i == 1 else cell.source
        match = NETWORK.search(source)
        assert not match, f"{path.name}, code cell {i}: {match.group(0)!r} fetches from the network"


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("course_utils/*.py")) + sorted(ROOT.glob("benchmarks/*.py")), ids=str
)
def test_no_network_downloads_in_code(path: Path) -> None:
    match = NETWORK_IN_CODE.search(path.read_text(encoding="utf-8"))
    assert not match, f"{path.relative_to(ROOT)}: {match.group(0)!r} fetches from the network"


def test_checked_cells_hold_no_timings(notebook: tuple[Path, nbformat.NotebookNode]) -> None:
    path, nb = notebook
    for cell in _code_cells(nb):
        if cell.source.startswith("# NBVAL_CHECK_OUTPUT"):
            text = "".join(_output_text(o) for o in cell.outputs)
            assert cell.outputs, f"{path.name}: a checked cell without output"
            assert not re.search(r"\d\s?(s|ms|sec|seconds)\b|it/s", text), (
                f"{path.name}: a timing in a checked cell"
            )


def _chinese_plot_text(code: str) -> list[str]:
    return [line for line in code.splitlines() if PLOT_TEXT.search(line) and CHINESE.search(line)]


@pytest.mark.parametrize(
    "path", [*NOTEBOOKS, *sorted((ROOT / "course_utils").glob("*.py"))], ids=lambda p: p.name
)
def test_no_chinese_in_plot_text(path: Path) -> None:
    if path.suffix == ".ipynb":
        code = "\n".join(c.source for c in _code_cells(nbformat.read(path, as_version=4)))
    else:
        code = path.read_text(encoding="utf-8")
    assert not _chinese_plot_text(code), (
        f"{path.name}: Chinese in plot text renders as boxes: {_chinese_plot_text(code)}"
    )


def test_the_hygiene_checks_can_fail(tmp_path: Path) -> None:
    """The patterns above do catch what they are meant to catch."""
    assert MACHINE_PATH.search("saved to /home/alice/model.pt")
    assert _chinese_plot_text('ax.set_title("遗忘门 forget gate")') and not _chinese_plot_text(
        'print("遗忘门")'
    )
    assert MEMORY_ADDRESS.search("<Model object at 0x7f3a2b1c9d90>")
    assert NETWORK.search("urllib.request.urlretrieve(url, 'x.zip')")
    assert NETWORK.search("AutoModel.from_pretrained('bert-base')")
    assert not NETWORK.search("nn.Embedding.from_pretrained(weights, freeze=True)")
    assert NETWORK_IN_CODE.search("torch.hub.load('x')") and not NETWORK_IN_CODE.search(
        "hint: pip install spacy"
    )
    setup = "import os\nimport sys\n\n" + _colab_setup_lines() + "\nimport course_utils as cu\n"
    assert not NETWORK.search(COLAB_BLOCK.sub("", setup))


def test_notebooks_saved_with_one_python_named_in_the_readme() -> None:
    """JupyterLab rewrites ``language_info`` when the kernel's Python differs; the README names the one
    the outputs come from, so it must be one version for all notebooks."""
    versions = {nbformat.read(p, as_version=4).metadata.language_info.version for p in NOTEBOOKS}
    assert len(versions) == 1, f"notebooks saved with different Pythons: {sorted(versions)}"
    (version,) = versions
    assert f"Python other than {version}" in (ROOT / "README.md").read_text(encoding="utf-8")
