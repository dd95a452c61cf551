"""The short table `harness run` ends with: final eval return per algorithm x environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table
from scipy.stats import trim_mean

from harness.layout import RUN_KEY
from harness.suite import Suite
from harness.tasks import INTERRUPTED
from harness.tracking import Tracker, with_retry


@dataclass(frozen=True)
class Row:
    algorithm: str
    env: str
    shaping: str
    returns: tuple[float, ...]
    failed: int
    expected: int
    decision: str = ""

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns)) if self.returns else float("nan")

    @property
    def iqm(self) -> float:
        return float(trim_mean(self.returns, 0.25)) if self.returns else float("nan")


def summarize(tracker: Tracker, experiment_id: str, suite: Suite,
              decisions: dict[tuple[str, str, str], str] | None = None) -> list[Row]:
    """Rows in suite order, from what MLflow holds for this suite's run keys.

    ``decisions``: (algorithm, environment, shaping) -> the decision column's text.
    """
    runs = {}
    for run in tracker.runs(experiment_id):
        key = run.data.tags.get(RUN_KEY)
        if key and (key not in runs or run.info.status == "FINISHED"):
            runs[key] = run
    groups: dict[tuple[str, str, str], list] = {}
    for spec in suite.runs:
        groups.setdefault((spec.algorithm_label, spec.env_label, spec.shaping), []).append(runs.get(spec.run_key))
    rows = []
    for (algorithm, env, shaping), found in groups.items():
        finished = [r for r in found if r is not None and r.info.status == "FINISHED"]
        returns = tuple(r.data.metrics["eval/return_mean"] for r in finished if "eval/return_mean" in r.data.metrics)
        failed = sum(1 for r in found if r is not None and r.info.status in ("FAILED", "KILLED"))
        decision = (decisions or {}).get((algorithm, env, shaping), "")
        rows.append(Row(algorithm, env, shaping, returns, failed, len(found), decision))
    return rows


def summary_table(rows: list[Row]) -> Table:
    shaped = any(r.shaping != "none" for r in rows)
    decided = any(r.decision for r in rows)
    table = Table(title="Final evaluation return (true reward)")
    names = ["algorithm", "environment", *(["shaping"] if shaped else []), "seeds", "mean", "IQM", "failed"]
    for name in names + (["decision"] if decided else []):
        table.add_column(name, justify="left" if name in ("algorithm", "environment", "shaping", "decision")
                         else "right", no_wrap=name == "decision")
    for r in rows:
        cells = [r.algorithm, r.env, *([r.shaping] if shaped else [])]
        cells += [f"{len(r.returns)}/{r.expected}", f"{r.mean:.2f}", f"{r.iqm:.2f}", str(r.failed)]
        cells += [r.decision] if decided else []
        table.add_row(*cells)
    return table


def failure_lines(tracker: Tracker, outcome: Any) -> list[str]:
    """One line per failed run of a :class:`~harness.runner.SuiteOutcome`: title, error, run id, traceback file."""
    titles = {spec.run_key: spec.title for spec in outcome.suite.runs}
    lines = []
    for key, message in outcome.failed.items():
        if message == INTERRUPTED:  # counted in outcome_line, not a failure
            continue
        run_id = outcome.run_ids.get(key)
        where = ""
        if run_id:
            artifacts = with_retry(lambda: tracker.client.get_run(run_id)).info.artifact_uri
            where = f" (run {run_id}; traceback: {artifacts.rstrip('/')}/error.txt)"
        lines.append(f"failed: {titles[key]}: {message}{where}")
    return lines


def outcome_line(total: int, skipped: int, finished: int, failures: dict[str, str],
                 copied: dict[str, int] | None = None) -> str:
    """``"8 of 12 runs finished (0 from earlier, 4 from the bank), 0 failed, 1 interrupted, 3 not started."``

    Counts what happened, not ``total - failed``: an interrupted suite does not claim its unstarted runs.
    ``copied`` counts runs copied rather than trained, by source (``bank`` or ``reused``, :mod:`harness.bank`).
    """
    interrupted = sum(1 for message in failures.values() if message == INTERRUPTED)
    failed = len(failures) - interrupted
    copied = copied or {}
    done = skipped + finished + sum(copied.values())
    sources = "".join(f", {n} from the bank" if source == "bank" else f", {n} reused from other experiments"
                      for source, n in sorted(copied.items()) if n)
    line = f"{done} of {total} runs finished ({skipped} from earlier{sources}), {failed} failed"
    if interrupted:
        line += f", {interrupted} interrupted"
    not_started = total - done - len(failures)
    if not_started > 0:
        line += f", {not_started} not started"
    return line + "."
