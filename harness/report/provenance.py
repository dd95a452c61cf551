"""Where the numbers come from: versions, hashes, protocols and devices of the runs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from harness.report.render import Block, Heading, Table, Text

FIELDS = [
    ("suite_hash", "suite file hash"),
    ("suite_file", "suite file"),
    ("version", "harness version"),
    ("plugin_versions", "plugin versions"),
    ("git_commit", "git commit"),
    ("eval_protocol", "evaluation protocol"),
    ("device", "device requested"),
    ("device_resolved", "device used"),
    ("vector", "training env backend requested"),
    ("vector_resolved", "training env backend used"),
]


def public_uri(uri: str) -> str:
    """The tracking URI without any user name or password."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return uri


def _values(runs: pd.DataFrame, column: str) -> str:
    counts = runs[column].replace("", "(not recorded)").value_counts().sort_index()
    if column == "plugin_versions":
        counts.index = [_plugins(v) for v in counts.index]
    if len(counts) == 1:
        return str(counts.index[0])
    return "; ".join(f"{value} ({n} runs)" for value, n in counts.items())


def _plugins(text: str) -> str:
    try:
        versions = json.loads(text)
        return ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    except (ValueError, AttributeError):
        return text


def provenance_blocks(experiment: str, tracking_uri: str, runs: pd.DataFrame, suite: Any = None) -> list[Block]:
    rows = [["experiment", experiment], ["tracking store", public_uri(tracking_uri)], ["runs", str(len(runs))]]
    if suite is not None:
        rows += [["suite file (this report)", str(suite.path)], ["suite file hash (this report)", suite.file_hash]]
    for column, label in FIELDS:
        rows.append([label, _values(runs, column) if len(runs) else "–"])
    blocks: list[Block] = [Heading("Provenance"), Table(["what", "value"], rows)]
    for column, label in (("suite_hash", "suite file hashes"), ("version", "harness versions"),
                          ("plugin_versions", "plugin versions"), ("git_commit", "git commits")):
        if len(runs) and runs[column].nunique() > 1:
            blocks.append(Text(f"Runs were produced with different {label}; compare with care.", "warning"))
    if suite is not None and len(runs):
        other = sorted(set(runs["suite_hash"]) - {suite.file_hash, ""})
        if other:
            blocks.append(Text(f"Some runs carry suite hash(es) {', '.join(other)}, not this file's "
                               f"{suite.file_hash}: the suite file changed since they ran.", "warning"))
    return blocks
