"""Comparison reports from the runs stored in MLflow: tables, plots, verdicts against baselines.

``build_report(experiment, tracking_uri, out_root, suite)`` writes
``out_root/<experiment>/`` with ``index.md``, ``report.html``, CSV tables and
PNG plots, and logs them to MLflow as artifacts of a ``harness.kind=report`` run.

The heavy modules (pandas, matplotlib) load on first use, so light helpers such as
:mod:`harness.report.paths` can be imported early (``harness run`` checks ``--out`` first).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {"build_report": "harness.report.build", "ReportSection": "harness.report.extra",
         "SectionData": "harness.report.extra"}

__all__ = ["ReportSection", "SectionData", "build_report"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harness.report' has no attribute {name!r}")
