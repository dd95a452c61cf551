"""What ``harness plugins`` and ``harness describe`` show: registered plugins, broken ones, one plugin's contract."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.params import field_docs
from harness.registry import KINDS, Entry, PluginError, Registry, unknown_name_message


def plugin_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per registered name (``status`` ok) and per broken plugin (``status`` broken, with ``error``)."""
    rows = [
        {"kind": e.kind, "name": e.name, "distribution": e.provider.distribution, "version": e.provider.version,
         "plugin": e.provider.plugin, "summary": e.spec.summary, "status": "ok", "error": ""}
        for e in registry.entries()
    ]
    rows += [
        {"kind": "?", "name": b.plugin, "distribution": b.distribution, "version": b.version,
         "plugin": b.plugin, "summary": f"BROKEN: {b.error}", "status": "broken", "error": b.error}
        for b in registry.broken
    ]
    return rows


def plugin_table(rows: list[dict[str, Any]]) -> str:
    """Aligned text columns, the summary last (broken plugins say ``BROKEN: <error>`` there)."""
    columns = ["kind", "name", "distribution", "version", "summary"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns[:-1]]
    lines = []
    for cells in [dict(zip(columns, columns)), *rows]:
        lines.append("  ".join(str(cells[c]).ljust(w) for c, w in zip(columns, widths)) + "  " + cells["summary"])
    return "\n".join(lines)


def describe(registry: Registry, name: str) -> str:
    """What ``harness describe NAME`` prints: the spec, and for algorithms and shapers their
    parameters (type, default, doc) and presets."""
    entries = [registry.entry(kind, name) for kind in KINDS if registry.has(kind, name)]
    if not entries:
        every = sorted({e.name for e in registry.entries()})
        raise PluginError(unknown_name_message("plugin", name, every) + registry.broken_hint())
    return "\n\n".join(_describe_entry(entry) for entry in entries)


def _describe_entry(entry: Entry) -> str:
    spec, provider = entry.spec, entry.provider
    lines = [f"{entry.kind} {spec.name}  ({provider.distribution} {provider.version}, plugin {provider.plugin})"]
    lines += [f"  {f.name}: {getattr(spec, f.name)!r}" for f in dataclasses.fields(spec) if f.name != "name"]
    if entry.kind in ("algorithm", "shaper"):
        impl = spec.load()
        lines += ["", "parameters (default <- preset <- the suite's params):"]
        lines += _params_lines(impl.Params)
        shape = "preset -> environment -> values" if entry.kind == "algorithm" else "preset -> values"
        lines += ["", f"presets ({shape}):", *_preset_lines(impl.presets, entry.kind == "algorithm")]
    return "\n".join(lines)


def _params_lines(params_class: type) -> list[str]:
    docs = field_docs(params_class)
    rows = []
    for f in dataclasses.fields(params_class):
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = "REQUIRED"
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append((f.name, str(kind), default, docs.get(f.name, "")))
    widths = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    return [f"  {n.ljust(widths[0])}  {k.ljust(widths[1])}  {d.ljust(widths[2])}  {doc}".rstrip()
            for n, k, d, doc in rows]


def _preset_lines(presets: Mapping[str, Any], by_env: bool) -> list[str]:
    lines = []
    for preset, table in presets.items():
        if not by_env:
            lines.append(f"  {preset}: {_values(table)}")
            continue
        lines.append(f"  {preset}:")
        lines += [f"    {env}: {_values(values)}" for env, values in table.items()]
    return lines or ["  (none)"]


def _values(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "(defaults)"
