"""Every package a notebook or course_utils imports is installed by the notebooks' setup cell.

On Colab the setup cell runs ``pip install -e "/content/course[course]"``: it installs
course_utils' dependencies and its ``course`` extra, nothing else. A notebook that imports a
package missing from those lists works here (make installs the test tools too) and fails on Colab,
so this test parses every import and checks it against pyproject.toml.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUP_EXTRAS = re.compile(r'pip install -q -e "/content/course\[([a-z,]+)\]"')


def imported_modules(source: str) -> set[str]:
    """Top-level names of the modules that ``source`` imports (absolute imports only).

    IPython syntax (``!cmd``, ``%magic``) is first turned into Python as IPython does, so notebook
    cells can be passed as they are.
    """
    tree = ast.parse(TransformerManager().transform_cell(source))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def third_party(modules: set[str]) -> set[str]:
    return {
        m for m in modules if m not in sys.stdlib_module_names and m not in ("__future__", "course_utils")
    }


@functools.cache
def _module_owners() -> dict[str, set[str]]:
    """``{top-level module: {canonical distribution names}}`` for everything installed.

    Like ``importlib.metadata.packages_distributions()``, but Python 3.10's version reads only
    ``top_level.txt``, which wheels built with meson (numpy, matplotlib, ...) do not have; so the
    names are also inferred from each distribution's files.
    """
    owners: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        names = set((dist.read_text("top_level.txt") or "").split())
        for f in dist.files or []:
            if f.parts[0] == ".." or f.parts[0].endswith((".dist-info", ".data", ".pth")):
                continue
            if len(f.parts) > 1:
                names.add(f.parts[0])
            elif f.suffix in (".py", ".so", ".pyd"):
                names.add(f.name.split(".")[0])
        for name in names:
            owners.setdefault(name, set()).add(canonicalize_name(dist.metadata["Name"]))
    return owners


def distributions_of(module: str) -> set[str]:
    """The installed distributions that provide top-level ``module`` (canonical names)."""
    dists = _module_owners().get(module)
    assert dists, f"no installed distribution provides the module {module!r}; is it installed?"
    return dists


def setup_cell_installs(extras: list[str]) -> set[str]:
    """Distributions that ``pip install course_utils[extras]`` asks for by name (canonical)."""
    project = PYPROJECT["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(r).name) for r in reqs}


def _notebook_source(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(TransformerManager().transform_cell(c.source) for c in nb.cells if c.cell_type == "code")


def _setup_extras(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    match = SETUP_EXTRAS.search(setup)
    assert match, f"{path.name}: the setup cell does not install course_utils with extras"
    return match.group(1).split(",")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_setup_cell_installs_what_the_notebook_imports(path: Path) -> None:
    installed = setup_cell_installs(_setup_extras(path))
    for module in sorted(third_party(imported_modules(_notebook_source(path)))):
        provided_by = distributions_of(module)
        assert provided_by & installed, (
            f"{path.name} imports {module!r} (from {sorted(provided_by)}), which its setup cell does not install: "
            f"add it to [project.optional-dependencies] course in pyproject.toml"
        )


@pytest.mark.parametrize("path", sorted((ROOT / "course_utils").glob("*.py")), ids=lambda p: p.name)
def test_course_utils_imports_only_its_dependencies(path: Path) -> None:
    """course_utils needs only its own dependencies (the notebooks' setup cell adds ``course``)."""
    # the translation explorer is a widget: it imports ipywidgets (the course extra) inside its function;
    # embeddings.train_gensim, the peer of notebook 03, imports gensim (the course extra) inside its function
    installed = setup_cell_installs(["course"] if path.name in ("explorer.py", "embeddings.py") else [])
    for module in sorted(third_party(imported_modules(path.read_text(encoding="utf-8")))):
        assert distributions_of(module) & installed, (
            f"course_utils/{path.name} imports {module!r}, which is not in [project] dependencies"
        )


def test_the_import_check_can_fail() -> None:
    cell = "if True:\n    !pip list\n%time x = 1\nimport os, numpy as np\nfrom sacrebleu.metrics import BLEU\nfrom . import x\n"
    assert third_party(imported_modules(cell)) == {"numpy", "sacrebleu"}
    assert "pytest" not in setup_cell_installs(["course"])  # a test tool, not installed on Colab
    assert not distributions_of("pytest") & setup_cell_installs(["course"])
    assert {"torch", "hmmlearn", "ipython"} <= setup_cell_installs(["course"])


# What Colab preinstalls and imports when its kernel starts (googlecolab/colabtools: google-colab
# pins ipython 7.34.0; Colab ships ipywidgets 7.7.x). A floor above these would make the setup cell
# upgrade them, and Colab would ask for a restart or crash.
COLAB_PREINSTALLED = {"ipython": "7.34.0", "ipywidgets": "7.7.1"}


def test_setup_cell_leaves_colabs_own_packages_alone() -> None:
    for requirement in PYPROJECT["project"]["optional-dependencies"]["course"]:
        req = Requirement(requirement)
        version = COLAB_PREINSTALLED.get(canonicalize_name(req.name))
        if version is not None:
            assert req.specifier.contains(version), (
                f"{requirement} would upgrade Colab's {req.name} {version}"
            )
