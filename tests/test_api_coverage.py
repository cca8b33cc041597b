"""Every public function and class of course_utils is exercised by its module's test file.

A cheap guard for the rule "every public function has unit tests": the name must appear in
tests/test_<module>.py. (What the test then checks is up to that file.)
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import course_utils

TESTS = Path(__file__).resolve().parent
MODULES = sorted(m.name for m in pkgutil.iter_modules(course_utils.__path__) if not m.name.startswith("_"))


def _public_api(module_name: str) -> list[str]:
    module = importlib.import_module(f"course_utils.{module_name}")
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    return sorted(
        n
        for n in names
        if (inspect.isfunction(getattr(module, n, None)) or inspect.isclass(getattr(module, n, None)))
        and getattr(getattr(module, n), "__module__", None) == module.__name__
    )


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_is_tested(module_name: str) -> None:
    test_file = TESTS / f"test_{module_name}.py"
    assert test_file.is_file(), f"course_utils/{module_name}.py has no tests/test_{module_name}.py"
    source = test_file.read_text(encoding="utf-8")
    untested = [n for n in _public_api(module_name) if n not in source]
    assert not untested, f"{test_file.name} never mentions {untested}"


def test_the_guard_sees_public_functions() -> None:
    assert "load_names" in _public_api("data") and "_read_names" not in _public_api("data")
