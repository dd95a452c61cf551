"""The plugin reference (docs/plugin-reference.md), generated from the code it documents.

``python -m harness.reference > docs/plugin-reference.md``; tests/test_docs.py fails when
the file differs, so a new hook, spec field or agent method cannot go undocumented.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from typing import Any

from harness import api, hookspecs

SPECS = (api.AlgorithmSpec, api.EnvironmentSpec, api.ShaperSpec, api.ExecutorSpec, api.ReportSectionSpec)
#: Dataclasses whose every field the reference documents (the report-section types are added lazily).
DOCUMENTED = (*SPECS, api.RunContext, "SectionData", "ReportSection")
PROTOCOLS = (api.Agent, api.AlgorithmImpl, api.ShaperImpl)


def attribute_docs(cls: type) -> dict[str, str]:
    """Docstrings written under class attributes (``x: int = 0`` then ``\"\"\"doc\"\"\"``), by attribute."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, after in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr) \
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def hook_names() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("harness_")]


def _default(f: dataclasses.Field) -> str:
    if callable(f.default):
        return "computed"
    if f.default is not dataclasses.MISSING:
        return f"`{f.default!r}`"
    return "computed" if f.default_factory is not dataclasses.MISSING else "**required**"


def _fields_table(cls: type) -> list[str]:
    docs = attribute_docs(cls)
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        kind = str(f.type).replace("|", "\\|")
        lines.append(f"| `{f.name}` | `{kind}` | {_default(f)} | {docs.get(f.name, '')} |")
    return lines


def _methods(cls: type) -> list[str]:
    lines = []
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    for name, member in cls.__dict__.items():
        if callable(member) and not name.startswith("_") and name not in fields:
            signature = str(inspect.signature(member)).replace("'", "")
            doc = " ".join((inspect.getdoc(member) or "").split())
            lines.append(f"- `{name}{signature}`" + (f": {doc}" if doc else ""))
    return lines


def _section(title: str, obj: Any, body: list[str]) -> list[str]:
    doc = inspect.getdoc(obj) or "" if obj is not None else ""
    return [f"### {title}", "", doc, "", *body, ""]


def reference_markdown() -> str:
    """The whole reference page."""
    out = ["# Plugin reference", "",
           "Generated from `harness/hookspecs.py` and `harness/api.py` by `python -m harness.reference`;",
           "`tests/test_docs.py` checks this file is current. The guide is [writing-plugins.md](writing-plugins.md).",
           "", "## Hooks", "", "| hook | signature | what it does |", "|---|---|---|"]
    for name in hook_names():
        function = getattr(hookspecs, name)
        signature = str(inspect.signature(function)).replace("'", "")
        out.append(f"| `{name}` | `{signature}` | {inspect.getdoc(function)} |")
    out += ["", "## Specs (what a plugin registers)", ""]
    for cls in SPECS:
        out += _section(f"`{cls.__name__}`", cls, _fields_table(cls) + [""] + _methods(cls))
    out += ["## What the harness hands an algorithm", ""]
    out += _section("`RunContext`", api.RunContext, _fields_table(api.RunContext) + [""] + _methods(api.RunContext))
    out += _section("`StepCallback`", None,
                    ["`callback(env_steps: int, metrics: Mapping[str, float]) -> bool`: " + _comment("StepCallback")])
    out += _section("`StopTraining`", api.StopTraining, [])
    from harness.report.extra import ReportSection, SectionData

    out += ["## What a report section gets and returns", ""]
    for cls in (SectionData, ReportSection):
        out += _section(f"`{cls.__name__}`", cls, _fields_table(cls))
    out += ["## What an implementation provides", ""]
    for cls in PROTOCOLS:
        members = [f"- `{name}`: {doc}" for name, doc in attribute_docs(cls).items()]
        annotations = [f"- `{name}: {kind}`" for name, kind in cls.__annotations__.items()
                       if name not in attribute_docs(cls)]
        out += _section(f"`{cls.__name__}`", cls, annotations + members + _methods(cls))
    return "\n".join(line.rstrip() for line in out).rstrip() + "\n"


def _comment(name: str) -> str:
    """The ``#:`` comment lines above a module-level name in harness/api.py."""
    lines = inspect.getsource(api).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{name} ="))
    block = []
    for line in reversed(lines[:at]):
        if not line.startswith("#:"):
            break
        block.insert(0, line[2:].strip())
    return " ".join(block)


if __name__ == "__main__":
    print(reference_markdown(), end="")
