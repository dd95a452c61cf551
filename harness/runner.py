"""Running a suite: validate, skip what already FINISHED, execute the rest, summarise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.bank.reuse import reuse_runs
from harness.layout import common_tags, run_tags
from harness.progress import SuiteProgress
from harness.registry import Registry, default_registry
from harness.suite import Suite, load_suite
from harness.tracking import Tracker, resolve_tracking_uri, with_retry
from harness.tasks import Event, RunTask


@dataclass
class SuiteOutcome:
    suite: Suite
    tracking_uri: str
    experiment_id: str
    skipped: int = 0
    reused: dict[str, int] = field(default_factory=dict)
    """Runs copied instead of trained, by source: ``bank`` or ``reused`` (another experiment)."""
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False


def run_suite(
    path: Path | str,
    *,
    tracking_uri: str | None = None,
    workers: int | None = None,
    executor: str | None = None,
    executor_options: dict[str, Any] | None = None,
    registry: Registry | None = None,
    show_progress: bool = True,
    reuse: str = "exact",
) -> SuiteOutcome:
    """Run every run of the suite that has not FINISHED yet; failures stay isolated.

    ``reuse`` (``exact``, ``any``, ``off``): copy runs that FINISHED in other experiments of the
    store instead of training them (:mod:`harness.bank.reuse`).
    Raises :class:`harness.errors.SuiteErrors` before touching MLflow if the suite is invalid.
    """
    registry = registry or default_registry()
    suite = load_suite(path, registry)
    executor_name = executor or suite.config.executor
    executor_class = registry.get("executor", executor_name).load()
    tracker = Tracker(resolve_tracking_uri(tracking_uri))
    experiment_id = tracker.experiment_id(suite.name)
    outcome = SuiteOutcome(suite, tracker.uri, experiment_id)

    todo = plan_runs(tracker, experiment_id, suite, outcome)
    tags = common_tags(suite, registry)
    todo, reused = reuse_runs(tracker, experiment_id, todo, tags, registry, reuse)
    outcome.reused = dict(reused)
    tasks = [RunTask(spec.to_dict(), tracker.uri, experiment_id, tags, registry.snapshot()) for spec in todo]
    specs = {spec.run_key: spec for spec in todo}
    progress = SuiteProgress(todo, skipped=outcome.skipped + sum(reused.values()), enabled=show_progress)

    def on_event(event: Event) -> None:
        progress.update(event)
        if event.kind == "finished":
            outcome.finished.append(event.run_key)
        elif event.kind == "failed":
            outcome.failed[event.run_key] = event.message
            ensure_failed(tracker, experiment_id, specs[event.run_key], event, tags)

    executor_impl = executor_class(workers=workers or suite.config.workers, **(executor_options or {}))
    with progress:
        try:
            executor_impl.run(tasks, on_event)
        except KeyboardInterrupt:
            outcome.interrupted = True
    return outcome


def plan_runs(tracker: Tracker, experiment_id: str, suite: Suite, outcome: SuiteOutcome) -> list:
    """Specs still to run; stale unfinished attempts of them are deleted (one run per key)."""
    existing = tracker.runs_by_key(experiment_id)
    todo, stale = [], []
    for spec in suite.runs:
        runs = existing.get(spec.run_key, [])
        if any(run.info.status == "FINISHED" for run in runs):
            outcome.skipped += 1
            continue
        todo.append(spec)
        stale.extend(run.info.run_id for run in runs)
    tracker.delete_runs(stale)
    return todo


def ensure_failed(tracker: Tracker, experiment_id: str, spec, event: Event, tags: dict[str, str]) -> None:
    """Make sure a failed run is recorded as FAILED/KILLED, even if its worker died first."""
    status = "KILLED" if event.message == "interrupted" else "FAILED"
    if event.run_id is None:
        run = with_retry(lambda: tracker.client.create_run(
            experiment_id, tags={**tags, **run_tags(spec)}, run_name=spec.title))
        tracker.fail_run(run.info.run_id, event.message, status)
        return
    current = with_retry(lambda: tracker.client.get_run(event.run_id)).info.status
    if current == "RUNNING":
        tracker.fail_run(event.run_id, event.message, status)
