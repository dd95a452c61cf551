"""Adaptive seeding: [decision] validation, rounds that stop decided configurations, resume after kill -9."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from harness.adaptive import config_decisions
from harness.cli import main
from harness.registry import default_registry
from harness.suite import load_suite
from harness.tracking import Tracker

from tests.conftest import harness_env, run_cli, write_suite

SUITE = """
name = "adaptive"
seeds = {seeds}
budget = 1000
timeout = 120
[decision]
{decision}
[evaluation]
every = 500
episodes = 2
[[algorithms]]
name = "toy.search"
label = "zero"
params = {{ noise = 0.0 }}
[[algorithms]]
name = "toy.search"
label = "good"
baseline = "zero"
[[environments]]
name = "CartPole-v1"
"""
ROUNDS = "seeds_per_round = 3\nmax_rounds = 3"

BAD = [
    ("alpha", "alpha = 1.5", 2, "decision.alpha: Input should be less than 1"),
    ("statistic", "statistic = 'median'", 2, "decision.statistic: Input should be 'iqm' or 'mean'"),
    ("half rounds", "seeds_per_round = 3", 2, "decision: give both seeds_per_round and max_rounds, or neither"),
    ("one seed a round", "seeds_per_round = 1\nmax_rounds = 2", 2,
     "decision.seeds_per_round: Input should be greater than or equal to 2"),
    ("seed count", ROUNDS, 6, "decision: seeds must hold seeds_per_round * max_rounds = 9 seeds (got 6)"),
    ("iqm sequential", ROUNDS + "\nstatistic = 'iqm'", 9, "statistic 'iqm' is not available with seeds_per_round"),
    ("margin sequential", ROUNDS + "\nmargin = 1.0", 9, "margin is not available with seeds_per_round"),
    ("unknown key", "rounds = 3", 2, "decision.rounds: unknown key 'rounds' (allowed: alpha, margin, max_rounds,"),
]


@pytest.mark.parametrize("case,decision,seeds,expected", BAD, ids=[c[0] for c in BAD])
def test_bad_decision_table_is_one_clear_line(tmp_path, capsys, case, decision, seeds, expected):
    path = write_suite(tmp_path, SUITE.format(seeds=seeds, decision=decision))
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and expected in lines[0], lines


def test_run_with_bad_decision_writes_nothing(tmp_path):
    path = write_suite(tmp_path, SUITE.format(seeds=9, decision="alpha = 0"))
    result = run_cli("run", str(path), cwd=tmp_path)
    assert result.returncode == 2 and "decision.alpha" in result.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlartifacts").exists()


def _finished(uri: str) -> int:
    try:
        tracker = Tracker(uri)
        return sum(r.info.status == "FINISHED" for r in tracker.runs(tracker.experiment_id("adaptive", create=False)))
    except Exception:
        return 0


def test_rounds_stop_decided_configurations_and_resume_after_kill_gives_the_same_decisions(tmp_path):
    """zero never moves (noise 0) and good learns: decided 'better' after round 2 of 3, from MLflow.

    The first invocation is killed with SIGKILL once round 2 has started; the second
    replays round 1 from MLflow, finishes round 2, decides, and never starts round 3.
    """
    path = write_suite(tmp_path, SUITE.format(seeds=9, decision=ROUNDS))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker(uri).experiment_id("adaptive")  # create the store before polling it
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(path), "--workers", "2", "--no-report"],
                            cwd=tmp_path, env=harness_env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and _finished(uri) < 7:
        time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    first = (tmp_path / "first.log").read_text()
    assert 6 <= _finished(uri) < 12 and "Round 1/3 (3 seeds per configuration): nothing decided" in first, first
    time.sleep(2.5)  # orphaned workers notice the driver is gone and exit
    result = run_cli("run", str(path), cwd=tmp_path, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Round 2/3 (6 seeds per configuration): decided good vs zero on CartPole-v1: better" in result.stdout
    assert "12 of 12 runs finished" in result.stdout and "6 not needed (decided early)" in result.stdout
    assert "better (round 2)" in result.stdout  # the summary's decision column
    tracker = Tracker(uri)
    runs = tracker.runs(tracker.experiment_id("adaptive"))
    seeds = sorted(int(r.data.tags["harness.seed"]) for r in runs
                   if r.info.status == "FINISHED" and "harness.run_key" in r.data.tags)  # not the report's run
    assert seeds == sorted(list(range(6)) * 2), "each of seeds 0-5 exactly once per configuration, none of round 3"
    suite = load_suite(path, default_registry())
    assert config_decisions(suite, uri) == {("good", "CartPole-v1", "none"): "better (round 2)"}
    report = (tmp_path / "reports" / "adaptive" / "index.md").read_text()
    assert re.search(r"better \\?\(round 2\\?\)", report) and "AdaStop group-sequential permutation test" in report
    assert "None: every expected run finished" in report  # round 3 was never needed, so it is not missing
