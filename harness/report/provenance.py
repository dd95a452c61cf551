"""Where the numbers come from: versions, hashes, protocols and devices of the runs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from harness.fingerprint import FIELDS as FINGERPRINT_FIELDS
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
    rows += source_rows(runs) + software_rows(runs)
    blocks: list[Block] = [Heading("Provenance"), Table(["what", "value"], rows)]
    blocks += software_warnings(runs)
    for column, label in (("suite_hash", "suite file hashes"), ("version", "harness versions"),
                          ("plugin_versions", "plugin versions"), ("git_commit", "git commits")):
        if len(runs) and runs[column].nunique() > 1:
            why = ""
            if column == "git_commit" and runs["source"].astype(bool).any():
                why = (" (runs from a bank or another experiment keep the commit that trained them; "
                       "the software rows above say whether what they ran on differs)")
            blocks.append(Text(f"Runs were produced with different {label}{why}; compare with care.", "warning"))
    if suite is not None and len(runs):
        other = sorted(set(runs["suite_hash"]) - {suite.file_hash, ""})
        if other:
            blocks.append(Text(f"Some runs carry suite hash(es) {', '.join(other)}, not this file's "
                               f"{suite.file_hash}: the suite file changed since they ran.", "warning"))
    return blocks


def source_rows(runs: pd.DataFrame) -> list[list[str]]:
    """Where the runs come from: trained for this experiment, imported from a bank, or reused."""
    if not len(runs) or not runs["source"].astype(bool).any():
        return []
    names = {"": "trained for this experiment", "bank": "from a bank", "reused": "reused from another experiment"}
    parts = []
    for source, group in runs.groupby("source"):
        origins = sorted({o.split("/")[0] for o in group["origin"] if o})
        where = f": {', '.join(origins)}" if origins else ""
        parts.append(f"{names.get(source, source)} ({len(group)} runs{where})")
    return [["sources", "; ".join(parts)]]


def _fingerprints(runs: pd.DataFrame) -> list[dict[str, str] | None]:
    """One flat ``{field: value}`` per run (plugins as ``plugins.<distribution>``); ``None`` if not recorded."""
    out: list[dict[str, str] | None] = []
    for text in runs["fingerprint"]:
        try:
            values = json.loads(text)
        except (ValueError, TypeError):
            out.append(None)
            continue
        flat = {k: str(v) for k, v in values.items() if k != "plugins"}
        flat.update({f"plugins.{k}": str(v) for k, v in (values.get("plugins") or {}).items()})
        out.append(flat)
    return out


def _field_values(prints: list[dict[str, str] | None]) -> dict[str, pd.Series]:
    known = [p for p in prints if p is not None]
    fields = sorted({f for p in known for f in p}, key=_field_order)
    return {f: pd.Series([p.get(f, "(not recorded)") for p in known]).value_counts().sort_index() for f in fields}


def _field_order(field: str) -> tuple[int, str]:
    head = field.split(".")[0]
    return (FINGERPRINT_FIELDS.index(head) if head in FINGERPRINT_FIELDS else len(FINGERPRINT_FIELDS), field)


def software_rows(runs: pd.DataFrame) -> list[list[str]]:
    """"all runs share X" / "runs differ in Y" over the software fingerprints."""
    if not len(runs):
        return []
    prints = _fingerprints(runs)
    values = _field_values(prints)
    shared = [f"{f} {counts.index[0]}" for f, counts in values.items() if len(counts) == 1]
    rows = [["software shared by all runs", ", ".join(shared) or "–"]]
    for field, counts in values.items():
        if len(counts) > 1:
            rows.append([f"runs differ in {field}", "; ".join(f"{v} ({n} runs)" for v, n in counts.items())])
    missing = sum(p is None for p in prints)
    if missing:
        rows.append(["runs without a software fingerprint", str(missing)])
    return rows


def software_warnings(runs: pd.DataFrame) -> list[Block]:
    """Flag pooled runs from different software, and bank runs built on other software than the rest."""
    if not len(runs):
        return []
    prints = _fingerprints(runs)
    differ = [f for f, counts in _field_values(prints).items() if len(counts) > 1]
    blocks: list[Block] = []
    if differ:
        blocks.append(Text(f"Runs were produced with different software or machines (differ in: {', '.join(differ)}); "
                           "the same seed can give other numbers there, so pooled results mix them.", "warning"))
    bank = (runs["source"] == "bank").to_numpy()
    ours = {json.dumps(p, sort_keys=True) for p, b in zip(prints, bank) if p is not None and not b}
    theirs = [p for p, b in zip(prints, bank) if p is not None and b]
    foreign = [p for p in theirs if json.dumps(p, sort_keys=True) not in ours]
    if ours and foreign:
        blocks.append(Text(f"{len(foreign)} of the {int(bank.sum())} runs from a bank were built on other software "
                           "than the runs trained here: comparisons against them are not like for like "
                           "(check with `harness bank verify`).", "warning"))
    return blocks
