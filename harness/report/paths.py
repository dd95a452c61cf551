"""Where report files go: names from runs never leave the report root."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from harness.errors import InputError

MARKER = ".harness-report"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str, limit: int = 80) -> str:
    """A file name made from ``name``: only ``[A-Za-z0-9_.-]``, no leading dot.

    When anything had to change, a short hash of the original keeps distinct
    names distinct.
    """
    slug = _UNSAFE.sub("_", name).lstrip(".-")[:limit]
    if slug != name or not slug:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        slug = f"{slug}-{digest}" if slug else f"report-{digest}"
    return slug


def report_dir(out_root: Path, experiment: str) -> Path:
    """``out_root/<safe experiment name>``, checked to lie directly inside ``out_root``."""
    root = Path(out_root).resolve()
    target = (root / safe_name(experiment)).resolve()
    if target.parent != root:
        raise ValueError(f"report folder {target} would lie outside {root}")
    return target


def check_out_root(out_root: Path, experiment: str | None = None) -> None:
    """Raise :class:`InputError` (one line) if no report can be written under ``out_root``.

    Checked before a suite runs, so a bad ``--out`` fails in a second, not after the runs.
    """
    root = Path(out_root)
    for folder in [root, *root.absolute().parents]:
        if not folder.exists():
            continue
        if not folder.is_dir():
            raise InputError(f"--out {root}: {folder} is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"--out {root}: cannot write in {folder}")
        break
    if experiment is not None:
        target = report_dir(root, experiment)
        if target.exists() and (not target.is_dir() or not (target / MARKER).exists() and any(target.iterdir())):
            raise InputError(f"--out {root}: {target} exists and is not a harness report; move it away first")


def fresh_dir(target: Path) -> None:
    """Empty ``target`` for a new report; refuse to delete a folder the harness did not write."""
    if target.exists():
        if not (target / MARKER).exists() and any(target.iterdir()):
            raise FileExistsError(f"{target} exists and is not a harness report; move it away first")
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / MARKER).write_text("written by harness report; safe to delete\n")
