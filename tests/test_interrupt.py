"""Ctrl-C during `harness run`, with every executor: exit 130, nothing finished is lost, a rerun completes the suite.

The signal goes to the whole process group, as a terminal's Ctrl-C does.  `harness run` is
started with SIGINT ignored, as a shell without job control starts a background command (a
script, CI, `cmd &`): Python then leaves SIGINT ignored unless harness restores it, and the
Ctrl-C was lost (the run went on and exited 0; this was the "Ctrl-C lost under load" failure).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


import pytest

from harness.cli import EXIT_INTERRUPTED, main
from harness.tracking import Tracker
from tests.conftest import harness_env, write_suite

SUITE = """
name = "interrupt"
seeds = 2
budget = 2000
[evaluation]
every = 1000
episodes = 2
[[algorithms]]
name = "toy.search"
label = "slow"
params = { sleep_per_step = 0.006 }
[[algorithms]]
name = "toy.search"
[[environments]]
name = "CartPole-v1"
"""
RUNS = 4
#: `harness run`, dumping its threads' stacks on SIGUSR1 (to see where a slow Ctrl-C hangs).
CLI = ("import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1, all_threads=True); "
       "from harness.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_ctrl_c_keeps_finished_runs_and_a_rerun_completes(tmp_path, executor):
    suite = write_suite(tmp_path, SUITE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker(uri).experiment_id("interrupt")  # create the store now: polling one being migrated races the CLI
    command = [sys.executable, "-c", CLI, "run", str(suite), "--executor", executor,
               "--workers", "3", "--tracking-uri", uri, "--no-report"]
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(command, cwd=tmp_path, env=harness_env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_ignore_sigint)
        try:
            before = wait_for_finished_and_running(uri, proc, tmp_path / "first.log")
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(2)
            code = None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    output = (tmp_path / "first.log").read_text()
    assert code == 130, f"exit code {code}:\n{output[-6000:]}"

    after = statuses(uri)
    assert all(after[run_id] == "FINISHED" for run_id, status in before.items() if status == "FINISHED"), \
        "a finished run was lost"
    assert "RUNNING" not in after.values(), f"runs left RUNNING after Ctrl-C: {after}"
    assert set(after.values()) <= {"FINISHED", "KILLED", "FAILED"}
    assert "KILLED" in after.values() or "FAILED" in after.values(), "the interrupt should land mid-suite"
    finished = {run_id for run_id, status in after.items() if status == "FINISHED"}  # some may end after the poll

    rerun = subprocess.run(command, cwd=tmp_path, env=harness_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert f"({len(finished)} from earlier)" in rerun.stdout
    runs = active_runs(uri)
    keys = [run.data.tags["harness.run_key"] for run in runs]
    assert len(keys) == len(set(keys)) == RUNS, "every run exactly once"
    assert all(run.info.status == "FINISHED" for run in runs)
    assert finished <= {run.info.run_id for run in runs}, "finished runs were not redone"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def own_handlers():
    """Put this process's SIGINT/SIGTERM handlers back after a test that lets `main` replace them."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("signum, delay", [(signal.SIGINT, 0.5), (signal.SIGTERM, 1.5),
                                           (signal.SIGINT, 3.0), (signal.SIGTERM, 4.5)])
def test_a_signal_during_start_up_ends_harness_run_with_130(tmp_path, signum, delay):
    """The signal lands while `harness run` imports, validates, creates the store, starts its executor or plans.

    A real process (SIGINT arriving ignored): a signal landing in an import would leave half-imported
    modules behind in the test process.
    """
    suite = write_suite(tmp_path, SUITE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [sys.executable, "-c", CLI, "run", str(suite), "--tracking-uri", uri, "--no-report", "--workers", "2"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=harness_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=_ignore_sigint)
    time.sleep(delay)
    proc.send_signal(signum)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == EXIT_INTERRUPTED, output[-4000:]
    if (tmp_path / "mlflow.db").exists():
        assert "RUNNING" not in statuses(uri).values(), "a claim or a run was left RUNNING"


def _swallowed_signal() -> None:
    """A signal whose KeyboardInterrupt a library swallowed (a finalizer, a rollback) before going on."""
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1.0)
    except KeyboardInterrupt:
        pass


def test_a_swallowed_signal_still_stops_the_suite(tmp_path, own_handlers, monkeypatch):
    import harness.runner

    open_store = harness.runner.open_store

    def open_after_a_signal(uri):
        store = open_store(uri)
        _swallowed_signal()  # as when the signal lands in garbage collection during start-up
        return store

    monkeypatch.setattr(harness.runner, "open_store", open_after_a_signal)
    suite = write_suite(tmp_path, SUITE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["run", str(suite), "--tracking-uri", uri, "--no-report", "--workers", "2"]) == EXIT_INTERRUPTED
    assert not active_runs(uri), "the suite started runs after the signal"


def test_a_signal_that_surfaces_as_another_error_is_an_interruption(tmp_path, own_handlers, monkeypatch, capsys):
    import harness.runner

    def broken_store(uri):
        _swallowed_signal()
        raise RuntimeError("Can't reconnect until invalid transaction is rolled back")  # as sqlalchemy says

    monkeypatch.setattr(harness.runner, "open_store", broken_store)
    suite = write_suite(tmp_path, SUITE)
    code = main(["run", str(suite), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--no-report"])
    assert code == EXIT_INTERRUPTED
    assert "Interrupted" in capsys.readouterr().err


def wait_for_finished_and_running(uri: str, proc: subprocess.Popen, log: Path, limit: float = 240) -> dict[str, str]:
    """Poll MLflow until a run FINISHED while a slow one (>= 12 s of sleeping left) is RUNNING."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        runs = active_runs_or_none(uri)
        finished = any(run.info.status == "FINISHED" for run in runs)
        slow = any(run.info.status == "RUNNING" and run.data.tags["harness.algorithm_label"] == "slow" for run in runs)
        if finished and slow:
            return {run.info.run_id: run.info.status for run in runs}
    raise AssertionError(f"never saw a finished and a running run at once (exit code {proc.poll()}):\n"
                         + log.read_text()[-3000:])


def statuses(uri: str) -> dict[str, str]:
    return {run.info.run_id: run.info.status for run in active_runs(uri)}


def active_runs_or_none(uri: str) -> list:
    try:
        return active_runs(uri)
    except Exception:  # SQLite busy while the workers write: try again later
        return []


def active_runs(uri: str) -> list:
    tracker = Tracker(uri)
    experiment = tracker.experiment_id("interrupt", create=False)
    return tracker.runs(experiment) if experiment else []
