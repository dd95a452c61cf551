"""MLflow: where runs live.  Buffered metric logging, run lookup by run_key.

Layout (see docs/mlflow-layout.md): one experiment per suite, one run per
RunSpec, tagged ``harness.*`` (names in :mod:`harness.layout`); metrics keyed by environment step.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from harness.layout import ERROR, RUN_KEY

DEFAULT_DB = "mlflow.db"
#: MLflow 3's UI opens a "custom model development" experiment on its runs table (not the GenAI overview).
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
T = TypeVar("T")


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """``--tracking-uri`` > ``MLFLOW_TRACKING_URI`` > ``sqlite:///<cwd>/mlflow.db``."""
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def browse_hint(uri: str, experiment_id: str) -> str:
    """Where to look at a suite's runs in the MLflow UI.

    MLflow 3.17's UI opens an experiment on its GenAI overview whatever the experiment's kind;
    ``workflowType=machine_learning`` opens the runs table (checked in headless Chromium).
    """
    page = f"#/experiments/{experiment_id}?workflowType=machine_learning"
    if uri.startswith(("http://", "https://")):
        return f"Browse runs: {uri.rstrip('/')}/{page}"
    return f"Browse runs: mlflow ui --backend-store-uri {uri}, then open http://127.0.0.1:5000/{page}"


#: How long a transient MLflow failure (server down, SQLite busy) is retried before giving up,
#: and after how many seconds of retrying harness says so on stderr.
RETRY_SECONDS = float(os.environ.get("HARNESS_STORE_RETRY_SECONDS", "60"))
ANNOUNCE_AFTER = 5.0


class StoreUnavailable(RuntimeError):
    """The MLflow store kept failing with transient errors for longer than the retry window."""


def with_retry(call: Callable[[], T], seconds: float | None = None) -> T:
    """Retry an MLflow call that failed transiently (SQLite busy, server hiccup) for up to ``seconds``.

    Waits longer than a few seconds are announced on stderr; past the window the call raises
    :class:`StoreUnavailable` naming the last error.
    """
    window = RETRY_SECONDS if seconds is None else seconds
    began, attempt, announced = time.monotonic(), 0, False
    while True:
        try:
            return call()
        except Exception as error:  # mlflow wraps sqlite/HTTP errors in several types
            if not _transient(error):
                raise
            waited = time.monotonic() - began
            left = window - waited
            if left <= 0:
                raise StoreUnavailable(f"MLflow store unavailable for {window:g} s: {first_line(error)}") from error
            if waited >= ANNOUNCE_AFTER and not announced:
                announced = True
                print(f"harness: MLflow store not answering ({first_line(error)}); retrying for up to {left:.0f} s",
                      file=sys.stderr, flush=True)
            time.sleep(min(left, 5.0, 0.05 * 2**attempt) * (0.5 + random.random()))
            attempt += 1


def first_line(error: BaseException) -> str:
    """The first line of an error's text (or its type), at most 200 characters."""
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]


def _transient(error: Exception) -> bool:
    if isinstance(error, StoreUnavailable):
        return False
    text = f"{type(error).__name__}: {error}".lower()
    return any(word in text for word in ("locked", "busy", "timeout", "timed out", "connection", "503", "502", "429"))


class Tracker:
    """The MLflow operations the harness needs, on one tracking URI."""

    def __init__(self, uri: str):
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)

    def experiment_id(self, name: str, create: bool = True) -> str | None:
        experiment = with_retry(lambda: self.client.get_experiment_by_name(name))
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                with_retry(lambda: self.client.restore_experiment(experiment.experiment_id))
            return experiment.experiment_id
        if not create:
            return None
        try:
            return with_retry(lambda: self.client.create_experiment(
                name, artifact_location=self._artifact_root(name), tags=EXPERIMENT_TAGS))
        except Exception:  # another process created it between our look and our insert
            experiment = with_retry(lambda: self.client.get_experiment_by_name(name))
            if experiment is None:
                raise
            return experiment.experiment_id

    def _artifact_root(self, name: str) -> str | None:
        """Next to the SQLite file, so the default store is one self-contained folder."""
        if not self.uri.startswith("sqlite:///"):
            return None
        db = Path(self.uri.removeprefix("sqlite:///"))
        return (db.parent / "mlartifacts" / name).resolve().as_uri()

    def runs(self, experiment_id: str, filter_string: str = "") -> list[Any]:
        """Every active run of the experiment (all pages)."""
        runs, token = [], None
        while True:
            page = with_retry(
                lambda: self.client.search_runs(
                    [experiment_id], filter_string=filter_string, max_results=5000, page_token=token
                )
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def runs_by_key(self, experiment_id: str) -> dict[str, list[Any]]:
        by_key: dict[str, list[Any]] = {}
        for run in self.runs(experiment_id):
            key = run.data.tags.get(RUN_KEY)
            if key:
                by_key.setdefault(key, []).append(run)
        return by_key

    def delete_runs(self, run_ids: Iterable[str]) -> None:
        for run_id in run_ids:
            with_retry(lambda: self.client.delete_run(run_id))

    def fail_run(self, run_id: str, message: str, status: str = "FAILED") -> None:
        fail_run(self.client, run_id, message, message, status)


def fail_run(client: MlflowClient, run_id: str, details: str, summary: str, status: str = "FAILED") -> None:
    """End a run FAILED (or KILLED): ``details`` go to ``error.txt``, ``summary`` to the ``harness.error`` tag."""
    with_retry(lambda: client.log_text(run_id, details, "error.txt"))
    with_retry(lambda: client.set_tag(run_id, ERROR, summary.strip()[:500]))
    with_retry(lambda: client.set_terminated(run_id, status))


class RunLogger:
    """Buffers metrics of one run and writes them with ``log_batch`` in chunks."""

    CHUNK = 1000

    def __init__(self, client: MlflowClient, run_id: str):
        self.client, self.run_id = client, run_id
        self._metrics: list[Metric] = []

    def metric(self, key: str, value: float, step: int) -> None:
        self._metrics.append(Metric(key, float(value), int(time.time() * 1000), int(step)))
        if len(self._metrics) >= 10 * self.CHUNK:
            self.flush()

    def metrics(self, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.metric(key, value, step)

    def params(self, values: dict[str, Any]) -> None:
        items = [Param(k, _param_text(v)) for k, v in values.items()]
        for i in range(0, len(items), 100):
            chunk = items[i : i + 100]
            with_retry(lambda: self.client.log_batch(self.run_id, params=chunk))

    def tags(self, values: dict[str, Any]) -> None:
        items = [RunTag(k, str(v)) for k, v in values.items()]
        for i in range(0, len(items), 100):
            chunk = items[i : i + 100]
            with_retry(lambda: self.client.log_batch(self.run_id, tags=chunk))

    def flush(self) -> None:
        while self._metrics:
            chunk = self._metrics[: self.CHUNK]
            with_retry(lambda: self.client.log_batch(self.run_id, metrics=chunk))
            del self._metrics[: self.CHUNK]


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."
