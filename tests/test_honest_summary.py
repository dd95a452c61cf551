"""Honest summaries: interrupted runs are not counted as finished; the steps actually trained are recorded."""

from __future__ import annotations

import csv
from pathlib import Path

from mlflow.tracking import MlflowClient

from harness.cli import main
from harness.executors.local import LocalExecutor
from harness.summary import outcome_line
from harness.tasks import INTERRUPTED, Event

from tests.conftest import run_cli, toy_suite, write_suite


def interrupt_after_one(self, tasks, on_event):
    """Run the first task for real, report the second as interrupted in flight, then Ctrl-C arrives."""
    RUN(self, tasks[:1], on_event)
    on_event(Event("failed", tasks[1].run_key, None, message=INTERRUPTED))
    raise KeyboardInterrupt


RUN = LocalExecutor.run


def test_interrupted_suite_counts_only_runs_that_finished(tmp_path, capsys, monkeypatch):
    suite = toy_suite(tmp_path, seeds=4, budget=500)
    monkeypatch.setattr(LocalExecutor, "run", interrupt_after_one)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri, "--workers", "1", "--no-report"]) == 130
    out = capsys.readouterr().out
    assert "1 of 4 runs finished (0 from earlier), 0 failed, 1 interrupted, 2 not started." in out, out
    assert "failed: " not in out  # an interrupted run is not listed as a failure
    statuses = sorted(run.info.status for run in MlflowClient(uri).search_runs(["1"]))
    assert statuses == ["FINISHED", "KILLED"]


def test_outcome_line_counts_each_kind():
    assert outcome_line(6, 1, 2, {"a": "boom", "b": INTERRUPTED}) == \
        "3 of 6 runs finished (1 from earlier), 1 failed, 1 interrupted, 1 not started."
    assert outcome_line(2, 0, 2, {}) == "2 of 2 runs finished (0 from earlier), 0 failed."


SB3_PPO = """
name = "chunks"
seeds = [0]
budget = 100
[evaluation]
every = 100
episodes = 1
[[algorithms]]
name = "sb3.ppo"
params = {n_steps = 64, batch_size = 32, n_epochs = 1}
[[environments]]
name = "CartPole-v1"
"""


def test_steps_actually_trained_are_recorded_and_reported(tmp_path):
    """SB3 PPO collects whole rollouts of 64 steps: a budget of 100 trains 128."""
    suite = write_suite(tmp_path, SB3_PPO)
    result = run_cli("run", str(suite), "--workers", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    run = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_runs(["1"], "tags.`harness.run_key` != ''")[0]
    assert run.data.tags["harness.steps_trained"] == "128"
    assert run.data.tags["harness.budget"] == "100"
    report = Path(tmp_path / "reports" / "chunks")
    [row] = csv.DictReader(open(report / "tables" / "configurations.csv"))
    assert (row["budget"], row["steps_trained"]) == ("100", "128")
    assert "| 100 | 128 |" in (report / "index.md").read_text()
