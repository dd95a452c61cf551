"""Report sections contributed by plugins (``harness_register_report_sections``).

A plugin registers ``ReportSectionSpec(name, impl="pkg.module:section")``;
``section(data: SectionData) -> ReportSection | None`` gets the scored runs and
tables and returns blocks (``Heading``, ``Text``, ``Table``, ``Image``); import
all of these from :mod:`harness.api`.  Images must be PNGs the section wrote under
``data.folder`` and are referenced relative to it.  A section that raises is
reported as a warning; it never stops the report.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.report.render import Block, Heading, Image, Text

__all__ = ["ReportSection", "SectionData", "plugin_blocks"]


@dataclass(frozen=True)
class SectionData:
    """What a plugin section can read: scored runs, their curves, issues and tables."""

    experiment: str
    """The MLflow experiment (= suite name) the report is about."""
    runs: pd.DataFrame
    """One row per scored run: tags plus ``final``, ``auc``, ``steps_to_threshold``, ``wall_time``, ``sps``."""
    curves: pd.DataFrame
    """One row per (run_id, step): ``return_mean``, ``return_std``, ``elapsed``, ``sps``."""
    issues: pd.DataFrame
    """Runs left out of the statistics (failed, missing, running, ...), one row each with the reason."""
    tables: Any
    """:class:`harness.report.tables.Tables`."""
    folder: Path
    """The report folder; write PNGs under ``folder / "plots"``."""
    tracking_uri: str = ""
    """The MLflow tracking URI the report reads (for metrics beyond ``curves``)."""


@dataclass(frozen=True)
class ReportSection:
    """What a section function returns."""

    title: str
    """The section's heading."""
    blocks: list[Block] = field(default_factory=list)
    """``Heading``, ``Text``, ``Table`` and ``Image`` blocks, in order."""


def plugin_blocks(registry: Any, data: SectionData) -> list[Block]:
    """Blocks of every registered report section, in name order."""
    blocks: list[Block] = []
    for entry in registry.entries("report_section"):
        try:
            section = entry.spec.load()(data)
        except Exception:
            last = traceback.format_exc().strip().splitlines()[-1]
            blocks += [Heading(entry.spec.name), Text(f"Section plugin {entry.spec.name} failed: {last}", "warning")]
            continue
        if section is None:
            continue
        blocks.append(Heading(section.title))
        for block in section.blocks:
            if isinstance(block, Image) and not _inside(data.folder, block.path):
                blocks.append(Text(f"Image {block.path} of section {entry.spec.name} is not in the report", "warning"))
                continue
            blocks.append(block)
    return blocks


def _inside(folder: Path, relative: str) -> bool:
    path = (folder / relative).resolve()
    return path.is_file() and folder.resolve() in path.parents
