"""Runs as records: read a finished MLflow run into a bank record, write a record as a run.

One owner for copying a run, used by export (store -> file), import (file -> store) and
reuse (store -> this suite's experiment).  The tags naming where a copy came from are in
:mod:`harness.layout` (``source``, ``origin``, ``bank_id``).
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag

from harness import layout
from harness.tracking import with_retry

TAG_BANK_ID, TAG_SOURCE, TAG_ORIGIN = layout.BANK_ID, layout.SOURCE, layout.ORIGIN
#: Artifacts every record carries; ``model/`` only when asked for.
ARTIFACTS = ("spec.json", "evaluations.json")
BATCH = 1000


def record_from_run(client: Any, run: Any, experiment: str, models: bool = False,
                    metrics_prefixes: tuple[str, ...] = ()) -> dict[str, Any]:
    """A bank record of a FINISHED run: tags, params, full metric histories (only the keys
    starting with one of ``metrics_prefixes``, when given), artifacts."""
    run_id = run.info.run_id
    metrics = {}
    for key in sorted(k for k in run.data.metrics if k.startswith(metrics_prefixes or ("",))):
        history = with_retry(lambda: client.get_metric_history(run_id, key))
        metrics[key] = [[int(m.step), float(m.value), int(m.timestamp)] for m in history]
    tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
    tags.setdefault(TAG_BANK_ID, run_id)
    return {
        "experiment": experiment, "bank_id": tags[TAG_BANK_ID], "run_name": run.info.run_name or "",
        "start_time": int(run.info.start_time or 0), "end_time": int(run.info.end_time or 0),
        "tags": tags, "params": dict(run.data.params), "metrics": metrics,
        "artifacts": _read_artifacts(client, run_id, models),
    }


def _read_artifacts(client: Any, run_id: str, models: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        names = [a.path for a in with_retry(lambda: client.list_artifacts(run_id))]
        for name in names:
            if name not in ARTIFACTS and not (models and name == "model"):
                continue
            local = Path(with_retry(lambda: client.download_artifacts(run_id, name, tmp)))
            files = [p for p in local.rglob("*") if p.is_file()] if local.is_dir() else [local]
            for path in files:
                out[path.relative_to(tmp).as_posix()] = base64.b64encode(path.read_bytes()).decode()
    return out


def write_run(client: Any, experiment_id: str, record: dict[str, Any], tags: dict[str, str],
              run_id: str | None = None) -> str:
    """Make a FINISHED run from ``record`` in ``experiment_id``; ``tags`` override the record's.

    Creates the run, or fills ``run_id`` (a run this process claimed). The run stays RUNNING
    until everything is written, so a copy cut short is never FINISHED (and reuse or import redo it).
    """
    all_tags = {**record["tags"], **tags}
    if run_id is None:
        run_id = with_retry(lambda: client.create_run(experiment_id, start_time=record["start_time"] or None,
                                                      tags=all_tags, run_name=record["run_name"] or None)).info.run_id
    else:
        if record["run_name"]:
            with_retry(lambda: client.update_run(run_id, name=record["run_name"]))
        run_tags = [RunTag(k, v) for k, v in all_tags.items()]
        for i in range(0, len(run_tags), 100):
            with_retry(lambda: client.log_batch(run_id, tags=run_tags[i : i + 100]))
    params = [Param(k, v) for k, v in record["params"].items()]
    metrics = [Metric(key, value, timestamp, step)
               for key, points in record["metrics"].items() for step, value, timestamp in points]
    for i in range(0, len(params), 100):
        with_retry(lambda: client.log_batch(run_id, params=params[i : i + 100]))
    for i in range(0, len(metrics), BATCH):
        with_retry(lambda: client.log_batch(run_id, metrics=metrics[i : i + BATCH]))
    _write_artifacts(client, run_id, record["artifacts"])
    with_retry(lambda: client.set_terminated(run_id, "FINISHED", end_time=record["end_time"] or None))
    return run_id


def _write_artifacts(client: Any, run_id: str, artifacts: dict[str, str]) -> None:
    if not artifacts:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in artifacts.items():
            path = Path(tmp, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(data))
        with_retry(lambda: client.log_artifacts(run_id, tmp))
