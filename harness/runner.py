"""Running a suite: validate, skip what already FINISHED, execute the rest, summarise."""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness import interrupts
from harness.adaptive import count_runs, rounds
from harness.bank.reuse import reuse_runs
from harness.claims import Claims, held_by_other, owner_of
from harness.layout import common_tags
from harness.progress import SuiteProgress
from harness.registry import Registry, default_registry
from harness.store import open_store
from harness.suite import Suite, load_suite
from harness.tracking import StoreUnavailable, Tracker, resolve_tracking_uri, with_retry
from harness.tasks import Event, RunTask

#: Seconds between looks at runs another process holds.
WAIT_SECONDS = 5.0


@dataclass
class SuiteOutcome:
    suite: Suite
    tracking_uri: str
    experiment_id: str
    skipped: int = 0
    reused: dict[str, int] = field(default_factory=dict)
    """Runs copied instead of trained, by source: ``bank`` or ``reused`` (another experiment)."""
    other_software: int = 0
    """Runs trained although one with their key FINISHED elsewhere, with other software (``--reuse exact``)."""
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    """run_key -> MLflow run id of this invocation's attempt."""
    interrupted: bool = False
    held: dict[str, str] = field(default_factory=dict)
    """Runs another live `harness run` holds: run_key -> its owner (host and pid)."""
    store_error: str | None = None
    """Set when the MLflow store stopped answering mid-suite (the suite stopped)."""
    not_needed: int = 0
    """Runs an adaptive suite did not start because their comparisons were decided."""


def run_suite(
    path: Path | str | Suite,
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

    ``path`` is a suite file or an already validated :class:`Suite`. ``reuse`` (``exact``, ``any``,
    ``off``): copy runs that FINISHED in other experiments of the store instead of training them
    (:mod:`harness.bank.reuse`). Runs another live process holds are left to it and waited for
    (see :mod:`harness.claims`).
    Raises :class:`harness.errors.SuiteErrors` before touching MLflow if the suite is invalid,
    and :class:`harness.store.StoreError` if the tracking URI cannot be used.
    """
    registry = registry or default_registry()
    suite = path if isinstance(path, Suite) else load_suite(path, registry)
    executor_name = executor or suite.config.executor
    executor_class = registry.get("executor", executor_name).load()
    tracker = open_store(resolve_tracking_uri(tracking_uri))
    experiment_id = tracker.experiment_id(suite.name)
    outcome = SuiteOutcome(suite, tracker.uri, experiment_id)
    tags = common_tags(suite, registry)
    executor_impl = executor_class(workers=workers or suite.config.workers, **(executor_options or {}))
    with Claims(tracker, experiment_id) as claims:
        try:
            said = ""
            for specs in rounds(suite, tracker.uri, echo=print if show_progress else lambda line: None):
                while specs:
                    interrupts.check()
                    todo = plan_runs(tracker, experiment_id, replace(suite, runs=specs), outcome)
                    mine = claims.claim(todo, tags)
                    to_train = _copy_reusable(mine, claims, tags, registry, reuse, outcome)
                    _execute(to_train, claims, tags, registry.snapshot(), executor_impl, outcome, show_progress)
                    if outcome.interrupted or outcome.store_error:
                        break
                    lost = {s.run_key for s in todo} - {s.run_key for s in mine}
                    specs = [s for s in specs if s.run_key in outcome.held or s.run_key in lost]
                    if specs:
                        said = _wait_for_others(outcome, len(specs), said if show_progress else None)
                if outcome.interrupted or outcome.store_error:
                    break
            if suite.config.decision.seeds_per_round and not (outcome.interrupted or outcome.store_error):
                outcome.not_needed, finished = count_runs(tracker, experiment_id, suite)
                outcome.skipped = len(finished - set(outcome.finished)) - sum(outcome.reused.values())
        except KeyboardInterrupt:
            outcome.interrupted = True
        except StoreUnavailable as error:
            outcome.store_error = str(error)
        finally:
            if not outcome.store_error:
                claims.release(list(claims.open))
    return outcome


def _copy_reusable(mine: list, claims: Claims, tags: dict[str, str], registry: Registry, reuse: str,
                   outcome: SuiteOutcome) -> list:
    """Fill claimed runs that FINISHED elsewhere (:mod:`harness.bank.reuse`); return the specs left to train."""
    left, copied = reuse_runs(claims.tracker, claims.experiment_id, mine, tags, registry, reuse, claims.run_ids)
    for key in {spec.run_key for spec in mine} - {spec.run_key for spec in left}:
        claims.ended(key)
    outcome.other_software += copied.pop("other_software", 0)
    for source, count in copied.items():
        outcome.reused[source] = outcome.reused.get(source, 0) + count
    return left


def _execute(todo: list, claims: Claims, tags: dict[str, str], plugins: tuple, executor_impl: Any,
             outcome: SuiteOutcome, show_progress: bool) -> None:
    """Run the claimed ``todo`` on the executor, recording finished and failed runs in ``outcome``."""
    if not todo:
        return
    tracker = claims.tracker
    tasks = [RunTask(spec.to_dict(), tracker.uri, claims.experiment_id, tags, plugins,
                     run_id=claims.run_ids[spec.run_key])
             for spec in todo]
    progress = SuiteProgress(todo, skipped=outcome.skipped + sum(outcome.reused.values()), enabled=show_progress)

    def on_event(event: Event) -> None:
        outcome.run_ids[event.run_key] = claims.run_ids[event.run_key]
        progress.update(event)
        if event.kind == "finished":
            claims.ended(event.run_key)
            outcome.finished.append(event.run_key)
        elif event.kind == "failed":
            claims.ended(event.run_key)
            outcome.failed[event.run_key] = event.message
            if outcome.store_error is None:
                try:
                    ensure_failed(tracker, claims.run_ids[event.run_key], event)
                except StoreUnavailable as error:
                    outcome.store_error = str(error)
                    raise  # stops the executor: the runs left cannot be recorded either

    with progress:
        try:
            executor_impl.run(tasks, on_event)
        except KeyboardInterrupt:
            outcome.interrupted = True
        except StoreUnavailable:
            pass


def _wait_for_others(outcome: SuiteOutcome, count: int, said: str | None) -> str:
    """Pause before looking again at runs other processes hold (or that two racing ones both gave up).

    Says what it waits for when that changed since ``said`` (None: say nothing); returns the line.
    """
    owners = ", ".join(sorted(set(outcome.held.values()))) or "a process claiming them just now"
    line = f"harness: waiting for {count} run(s) held by {owners}"
    if said is not None and line != said:
        print(line, file=sys.stderr, flush=True)
    time.sleep(WAIT_SECONDS * (0.5 + random.random()))
    return line


def plan_runs(tracker: Tracker, experiment_id: str, suite: Suite, outcome: SuiteOutcome) -> list:
    """Specs still to run; runs held by another live process go to ``outcome.held``; stale attempts are deleted."""
    existing = tracker.runs_by_key(experiment_id)
    todo, stale = [], []
    outcome.held = {}
    for spec in suite.runs:
        runs = existing.get(spec.run_key, [])
        if any(run.info.status == "FINISHED" for run in runs):
            outcome.skipped += 1
            continue
        held = [run for run in runs if held_by_other(run)]
        if held:
            outcome.held[spec.run_key] = owner_of(held[0])
            continue
        todo.append(spec)
        stale.extend(run.info.run_id for run in runs)
    tracker.delete_runs(stale)
    return todo


def ensure_failed(tracker: Tracker, run_id: str, event: Event) -> None:
    """Make sure a failed run is recorded as FAILED/KILLED, even if its worker died first."""
    status = "KILLED" if event.message == "interrupted" else "FAILED"
    current = with_retry(lambda: tracker.client.get_run(run_id)).info.status
    if current == "RUNNING":
        tracker.fail_run(run_id, event.message, status)

