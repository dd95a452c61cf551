"""The bank file: finished runs as gzip-compressed JSON lines (docs/bank.md).

Line 1 is the header, then one line per run, then the footer::

    {"format": "harness-bank", "schema_version": 1, "runs": N, "created": ..., "harness_version": ...}
    {"experiment": ..., "bank_id": ..., "run_name": ..., "start_time": ..., "end_time": ...,
     "tags": {...}, "params": {...}, "metrics": {key: [[step, value, timestamp], ...]},
     "artifacts": {path: base64}}
    {"end": N, "sha256": <hex digest of the run lines>}

:func:`read_bank` checks everything (gzip stream, JSON, header, every record's fields and
types, the count and the checksum) before returning, so an import writes nothing from a
corrupt, truncated or foreign file.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import layout
from harness.errors import InputError

FORMAT, SCHEMA_VERSION = "harness-bank", 1
#: Record field -> the JSON type it must have.
RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "experiment": str, "bank_id": str, "run_name": str, "start_time": int, "end_time": int,
    "tags": dict, "params": dict, "metrics": dict, "artifacts": dict,
}
#: Tags a record must carry: what reuse matches on.
REQUIRED_TAGS = (layout.RUN_KEY, layout.FINGERPRINT_ID, layout.FINGERPRINT)


class BankError(InputError):
    """A bank file that cannot be used; the message is one line naming the file (exit code 2)."""


def write_bank(path: Path, records: list[dict[str, Any]]) -> None:
    """Write ``records`` to ``path`` (via a temporary file, so a failed write leaves nothing)."""
    from harness import __version__

    lines = [json.dumps(r, sort_keys=True, separators=(",", ":")) for r in records]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    header = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "runs": len(records),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "harness_version": __version__}
    tmp = path.with_name(path.name + ".partial")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        for line in lines:
            out.write(line + "\n")
        out.write(json.dumps({"end": len(records), "sha256": digest}) + "\n")
    tmp.replace(path)


def read_bank(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(header, records)`` of a bank file; :class:`BankError` on anything wrong."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except FileNotFoundError:
        raise BankError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise BankError(f"{path}: not a readable bank file ({_short(error)})") from None
    if len(lines) < 2:
        raise BankError(f"{path}: truncated: {len(lines)} line(s), a bank has a header and a footer")
    header = _json(path, lines[0], 1)
    _check_header(path, header)
    footer = _json(path, lines[-1], len(lines))
    body = lines[1:-1]
    if not isinstance(footer, dict) or "end" not in footer:
        raise BankError(f"{path}: truncated: the footer line is missing")
    if footer.get("end") != header["runs"] or len(body) != header["runs"]:
        raise BankError(f"{path}: truncated or damaged: header says {header['runs']} runs, file holds {len(body)}")
    if hashlib.sha256("\n".join(body).encode()).hexdigest() != footer.get("sha256"):
        raise BankError(f"{path}: damaged: the checksum of the run lines does not match the footer")
    records = [_check_record(path, _json(path, line, i + 2), i + 2) for i, line in enumerate(body)]
    return header, records


def _check_header(path: Path, header: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BankError(f"{path}: not a harness bank file (line 1 lacks \"format\": \"{FORMAT}\")")
    version = header.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BankError(f"{path}: schema_version {version!r} is not supported (allowed: {SCHEMA_VERSION})")
    if not isinstance(header.get("runs"), int) or header["runs"] < 0:
        raise BankError(f"{path}: header key 'runs' must be a count (got {header.get('runs')!r})")


def _check_record(path: Path, record: Any, line: int) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise BankError(f"{path}: line {line}: a run record must be a JSON object")
    for key, kind in RECORD_FIELDS.items():
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            raise BankError(f"{path}: line {line}: key {key!r} missing or not {_type_name(kind)}")
    for tag in REQUIRED_TAGS:
        if not isinstance(record["tags"].get(tag), str) or not record["tags"][tag]:
            raise BankError(f"{path}: line {line}: tag {tag!r} is missing")
    for key, points in record["metrics"].items():
        if not isinstance(points, list) or not all(_point(p) for p in points):
            raise BankError(f"{path}: line {line}: metrics[{key!r}] must be a list of [step, value, timestamp]")
    for name, data in record["artifacts"].items():
        if not isinstance(data, str) or not _safe_path(name):
            raise BankError(f"{path}: line {line}: artifacts[{name!r}] must be a relative path with base64 text")
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            raise BankError(f"{path}: line {line}: artifacts[{name!r}] is not valid base64") from None
    return record


def _point(point: Any) -> bool:
    return (isinstance(point, list) and len(point) == 3 and isinstance(point[0], int)
            and isinstance(point[1], (int, float)) and isinstance(point[2], int))


def _safe_path(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def _json(path: Path, line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise BankError(f"{path}: line {number} is not valid JSON ({error.msg})") from None


def _type_name(kind: type | tuple[type, ...]) -> str:
    return {str: "a string", int: "an integer", dict: "an object"}.get(kind, str(kind))  # type: ignore[call-overload]


def _short(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:200]
