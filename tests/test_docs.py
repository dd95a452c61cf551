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


def test_plugin_reference_is_generated_from_the_code():
    from harness.reference import reference_markdown

    text = (ROOT / "docs" / "plugin-reference.md").read_text()
    assert text == reference_markdown(), "regenerate: python -m harness.reference > docs/plugin-reference.md"


def test_every_spec_field_and_contract_member_has_a_doc():
    import dataclasses

    from harness import api
    from harness.reference import DOCUMENTED, PROTOCOLS, attribute_docs

    for cls in (getattr(api, c) if isinstance(c, str) else c for c in DOCUMENTED):
        docs = attribute_docs(cls)
        missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
        assert not missing, f"{cls.__name__}: document {missing} (a docstring under the field)"
    for cls in PROTOCOLS:
        documented = {*attribute_docs(cls), *(n for n, m in vars(cls).items() if callable(m) and m.__doc__)}
        members = {*cls.__annotations__, *(n for n, m in vars(cls).items() if callable(m) and not n.startswith("_"))}
        assert members <= documented, f"{cls.__name__}: document {sorted(members - documented)}"


def test_report_types_come_from_the_public_api_without_importing_pandas():
    import subprocess
    import sys

    code = ("import sys, harness.api as api; assert 'pandas' not in sys.modules; "
            "assert api.SectionData.__name__ == 'SectionData' and api.Table and api.Image and api.Heading")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)
