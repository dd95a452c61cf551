"""Comparison reports from the runs stored in MLflow: tables, plots, verdicts against baselines.

``build_report(experiment, tracking_uri, out_root, suite)`` writes
``out_root/<experiment>/`` with ``index.md``, ``report.html``, CSV tables and
PNG plots, and logs them to MLflow as artifacts of a ``harness.kind=report`` run.
"""

from harness.report.build import build_report
from harness.report.extra import ReportSection, SectionData

__all__ = ["ReportSection", "SectionData", "build_report"]
