"""Reading a suite's runs out of MLflow into two tidy tables.

``load_runs(experiment, uri)`` gives a :class:`RunData`: ``runs`` (one row per
run, its status and ``harness.*`` tags without the prefix) and ``curves`` (one
row per run and evaluation step).  On a SQLite store it reads the tables in
three queries; anywhere else (or if that fails) it uses the MLflow client.
Both paths return the same frames; runs without a ``harness.run_key`` tag (a
report run, say) are left out.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

TAG = "harness."
#: MLflow metric key -> column of ``RunData.curves``.
CURVE_METRICS = {
    "eval/return_mean": "return_mean",
    "eval/return_std": "return_std",
    "time/elapsed": "elapsed",
    "time/sps": "sps",
}
#: Tags every run row has (empty string when the run lacks it).
TAG_COLUMNS = (
    "suite", "run_key", "algorithm", "algorithm_label", "env", "env_label", "shaping", "seed", "budget",
    "baseline", "baseline_shaping", "eval_protocol", "device", "device_resolved", "vector", "vector_resolved", "error",
    "version", "suite_hash", "suite_file", "git_commit", "plugin_versions",
)
RUN_COLUMNS = ("run_id", "status", "start_time", "end_time", "artifact_uri", "video", *TAG_COLUMNS)
CURVE_COLUMNS = ("run_id", "step", *CURVE_METRICS.values())

log = logging.getLogger(__name__)


class ExperimentNotFound(LookupError):
    """No MLflow experiment has the requested name."""


@dataclass(frozen=True)
class RunData:
    """Runs of one experiment: ``runs`` (index-free, one row per run) and ``curves``."""

    experiment: str
    experiment_id: str
    runs: pd.DataFrame
    curves: pd.DataFrame


def load_runs(experiment: str, tracking_uri: str, fast: bool = True) -> RunData:
    """All active harness runs of ``experiment`` and their evaluation curves."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ExperimentNotFound(f"no MLflow experiment named {experiment!r} at {tracking_uri}")
    experiment_id = found.experiment_id
    frames = None
    if fast and tracking_uri.startswith("sqlite:"):
        try:
            frames = _load_sqlite(tracking_uri, experiment_id)
        except Exception as error:  # schema drift: fall back to the API, which always works
            log.warning("fast SQLite read failed (%s); using the MLflow client", error)
    if frames is None:
        frames = _load_client(client, experiment_id)
    runs, curves = frames
    return RunData(experiment, experiment_id, _tidy_runs(runs), _tidy_curves(curves, runs))


def _load_sqlite(uri: str, experiment_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    import sqlalchemy as sa

    scope = "SELECT run_uuid FROM runs WHERE experiment_id = :e AND lifecycle_stage = 'active'"
    keys = ", ".join(f"'{k}'" for k in CURVE_METRICS)
    queries = {
        "runs": "SELECT run_uuid, status, start_time, end_time, artifact_uri FROM runs "
                "WHERE experiment_id = :e AND lifecycle_stage = 'active'",
        "tags": f"SELECT run_uuid, key, value FROM tags WHERE key LIKE 'harness.%' AND run_uuid IN ({scope})",
        "video": f"SELECT run_uuid, value FROM params WHERE key = 'eval.video' AND run_uuid IN ({scope})",
        "metrics": f"SELECT run_uuid, key, step, value, is_nan, timestamp FROM metrics "
                   f"WHERE key IN ({keys}) AND run_uuid IN ({scope})",
    }
    engine = sa.create_engine(uri)
    connection = engine.raw_connection()  # plain DB-API tuples: 20x faster into pandas than Row objects
    try:
        cursor = connection.cursor()
        rows = {}
        for name, sql in queries.items():
            cursor.execute(sql, {"e": int(experiment_id)})
            rows[name] = cursor.fetchall()
    finally:
        connection.close()
        engine.dispose()
    tags: dict[str, dict[str, str]] = {}
    for run_id, key, value in rows["tags"]:
        tags.setdefault(run_id, {})[key] = value or ""
    videos = dict(rows["video"])
    runs = [
        _run_row(run_id, status, start, end, artifact_uri, tags.get(run_id, {}), videos.get(run_id))
        for run_id, status, start, end, artifact_uri in rows["runs"]
        if tags.get(run_id, {}).get(TAG + "run_key")
    ]
    metrics = pd.DataFrame(rows["metrics"], columns=["run_id", "key", "step", "value", "is_nan", "timestamp"])
    metrics.loc[metrics["is_nan"].astype(bool), "value"] = np.nan
    return pd.DataFrame(runs), metrics.drop(columns="is_nan")


def _run_row(run_id: str, status: str, start: Any, end: Any, artifact_uri: str,
             tags: dict[str, str], video: str | None) -> dict[str, Any]:
    row = {"run_id": run_id, "status": status, "start_time": start, "end_time": end,
           "artifact_uri": artifact_uri or "", "video": str(video).lower() == "true"}
    for key, value in tags.items():
        if key.startswith(TAG):
            row[key[len(TAG):]] = value
    return row


def _load_client(client: Any, experiment_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=5000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    rows = [
        _run_row(r.info.run_id, r.info.status, r.info.start_time, r.info.end_time, r.info.artifact_uri,
                 r.data.tags, r.data.params.get("eval.video"))
        for r in runs if r.data.tags.get(TAG + "run_key")
    ]

    def history(item: tuple[str, str]) -> list[tuple]:
        run_id, key = item
        return [(run_id, key, m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, key)]

    wanted = [(r["run_id"], key) for r in rows for key in CURVE_METRICS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        points = [p for chunk in pool.map(history, wanted) for p in chunk]
    metrics = pd.DataFrame(points, columns=["run_id", "key", "step", "value", "timestamp"])
    return pd.DataFrame(rows), metrics


def _tidy_runs(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.copy()
    for column in RUN_COLUMNS:
        if column not in runs:
            runs[column] = False if column == "video" else ""
    runs = runs[runs["run_key"].fillna("") != ""]
    extra = sorted(c for c in runs.columns if c not in RUN_COLUMNS)
    runs = runs[[*RUN_COLUMNS, *extra]]
    text = [c for c in runs.columns if c not in ("start_time", "end_time", "video")]
    runs[text] = runs[text].fillna("").astype(str)
    for column in ("start_time", "end_time"):
        runs[column] = pd.to_numeric(runs[column], errors="coerce")
    runs["seed"] = pd.to_numeric(runs["seed"], errors="coerce").astype("Int64")
    runs["budget"] = pd.to_numeric(runs["budget"], errors="coerce").astype("Int64")
    return runs.sort_values("run_id").reset_index(drop=True)


def _tidy_curves(metrics: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Long metric rows -> one row per (run, step); the latest value wins on a repeated step."""
    keep = set(runs["run_id"]) if len(runs) else set()
    metrics = metrics[metrics["run_id"].isin(keep)]
    if metrics.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in CURVE_COLUMNS}).astype({"run_id": str, "step": int})
    metrics = metrics.sort_values(["run_id", "key", "step", "timestamp"], kind="stable")
    metrics = metrics.drop_duplicates(["run_id", "key", "step"], keep="last")
    wide = metrics.pivot(index=["run_id", "step"], columns="key", values="value")
    wide = wide.rename(columns=CURVE_METRICS).reset_index()
    for column in CURVE_COLUMNS:
        if column not in wide:
            wide[column] = np.nan
    wide = wide[list(CURVE_COLUMNS)]
    wide.columns.name = None
    wide["step"] = wide["step"].astype(int)
    return wide.sort_values(["run_id", "step"]).reset_index(drop=True)
