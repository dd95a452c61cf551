"""What ``harness plugins`` shows: every registered plugin, and the ones that failed to load."""

from __future__ import annotations

from typing import Any

from harness.registry import Registry


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
