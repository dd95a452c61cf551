"""Every hook and every suite key is documented (docs drift is a test failure)."""

from __future__ import annotations

import inspect
import re

from harness import hookspecs
from harness.config import SuiteConfig
from tests.conftest import ROOT


def hook_names() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("harness_")]


def test_every_hook_is_documented_for_plugin_authors():
    text = (ROOT / "docs" / "writing-plugins.md").read_text()
    for name in hook_names():
        assert f"`{name}`" in text, f"{name} is missing from docs/writing-plugins.md"
        spec_class = inspect.signature(getattr(hookspecs, name)).parameters["register"].annotation
        assert re.search(r"Callable\[\[(\w+)\]", spec_class).group(1) in text


def test_every_hook_has_a_one_line_docstring():
    for name in hook_names():
        doc = getattr(hookspecs, name).__doc__ or ""
        assert doc.strip() and "\n" not in doc.strip(), name


def test_every_suite_key_is_in_the_suite_reference():
    text = (ROOT / "docs" / "suites.md").read_text()
    for key in SuiteConfig.model_fields:
        assert f"`{key}`" in text, f"suite key {key!r} is missing from docs/suites.md"
