"""Shared pieces of the suite benchmarks: run `harness run` on a fresh store, read the runs back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def empty_store(folder: Path) -> Path:
    """An MLflow SQLite store with its tables created (its one-time creation is not what we measure)."""
    from mlflow.tracking import MlflowClient

    path = folder / "template.db"
    if not path.exists():
        MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@dataclass
class SuiteTiming:
    command: float
    """Wall seconds of the whole `harness run` command."""
    runs: float
    """Seconds from the first run's start to the last run's end (MLflow run times)."""
    finished: int
    total: int
    records: list[Any]


def run_suite_cli(suite_text: str, folder: Path, template: Path, *options: str,
                  env: dict[str, str] | None = None, sampler: Any = None) -> SuiteTiming:
    """Write the suite into ``folder``, run it there on a copy of ``template``, return its timings."""
    folder.mkdir(parents=True, exist_ok=True)
    suite = folder / "suite.toml"
    suite.write_text(suite_text)
    shutil.copy(template, folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    command = [sys.executable, "-m", "harness.cli", "run", str(suite), "--tracking-uri", uri, "--no-report", *options]
    began = time.perf_counter()
    proc = subprocess.Popen(command, cwd=folder, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if sampler is not None:
        sampler(proc)
    output = proc.communicate()[0]
    wall = time.perf_counter() - began
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"harness run failed ({proc.returncode}):\n{output[-3000:]}")
    runs = suite_runs(uri, suite_text)
    done = [r for r in runs if r.info.status == "FINISHED"]
    span = (max(r.info.end_time for r in done) - min(r.info.start_time for r in done)) / 1000 if done else 0.0
    return SuiteTiming(wall, span, len(done), len(runs), runs)


def suite_runs(uri: str, suite_text: str) -> list[Any]:
    import tomllib

    from harness.tracking import Tracker

    tracker = Tracker(uri)
    experiment = tracker.experiment_id(tomllib.loads(suite_text)["name"], create=False)
    return tracker.runs(experiment) if experiment else []


def load_note() -> str:
    """The 1/5/15-minute load averages and the core count, for the record."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"
