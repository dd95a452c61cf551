"""Tracking stores that are wrong or go away: a one-line error at once, a quick stop mid-suite, a rerun that recovers.

The outage test runs a real `mlflow server` on 127.0.0.1, kills it mid-suite and starts it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from harness import tracking
from harness.store import StoreError, check_tracking_uri
from harness.tracking import StoreUnavailable, with_retry
from tests.conftest import harness_env, run_cli, toy_suite
from tests.test_mlflow_server import free_port


@pytest.mark.parametrize("uri, words", [
    ("garbage://x", "unsupported scheme 'garbage'"),
    ("file:///tmp/mlruns", "file store is not supported"),
    ("/tmp/mlruns", "file store is not supported"),
    ("sqlite:///no/such/folder/mlflow.db", "does not exist"),
])
def test_unusable_tracking_uris_are_one_line_errors(uri, words):
    with pytest.raises(StoreError, match=words):
        check_tracking_uri(uri)


def test_retries_are_bounded_and_announced(monkeypatch, capsys):
    monkeypatch.setattr(tracking, "ANNOUNCE_AFTER", 0.2)
    calls = []

    def refused():
        calls.append(time.monotonic())
        raise ConnectionError("Connection refused")

    with pytest.raises(StoreUnavailable, match="unavailable for 1 s: Connection refused"):
        with_retry(refused, seconds=1)
    assert 0.9 <= calls[-1] - calls[0] < 3 and len(calls) > 3
    assert capsys.readouterr().err.count("MLflow store not answering (Connection refused)") == 1
    with pytest.raises(ValueError):  # not transient: raised at once
        with_retry(lambda: int("x"), seconds=60)


def test_harness_run_against_a_dead_server_fails_within_seconds(tmp_path):
    suite = toy_suite(tmp_path)
    began = time.monotonic()
    result = run_cli("run", str(suite), "--tracking-uri", f"http://127.0.0.1:{free_port()}", cwd=tmp_path, timeout=120)
    seconds = time.monotonic() - began
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no MLflow server answers there" in lines[0], result.stderr
    assert seconds < 60, f"took {seconds:.0f} s"  # ~3 s idle; generous for a loaded machine
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "reports").exists(), "nothing written"


def start_server(folder: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--artifacts-destination", str(folder / "art")],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("mlflow server did not answer /health within 180 s")


def finished(url: str) -> list:
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name("outage")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    return [r for r in runs if r.info.status == "FINISHED"]


def test_server_killed_mid_suite_stops_quickly_and_a_rerun_recovers(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # this test's own polling client
    suite = toy_suite(tmp_path, name="outage", seeds=3, budget=2000, extra="params = { sleep_per_step = 0.004 }")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port)
    env = harness_env(HARNESS_STORE_RETRY_SECONDS="10")
    command = [sys.executable, "-m", "harness.cli", "run", str(suite), "--tracking-uri", url, "--no-report",
               "--workers", "2"]
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not finished(url) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        before = {r.info.run_id for r in finished(url)}
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        killed_at = time.monotonic()
        code = proc.wait(timeout=300)
        stopped_after = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "first.log").read_text()
    assert 1 <= len(before) < 3, "the server should die mid-suite:\n" + output[-3000:]
    assert code == 1, output[-4000:]
    assert "error: stopped: MLflow store unavailable" in output and "rerun the same command" in output, output[-3000:]
    assert stopped_after < 150, f"took {stopped_after:.0f} s to give up"  # ~30 s idle

    server = start_server(tmp_path, port)
    try:
        rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
        runs = MlflowClient(url).search_runs([MlflowClient(url).get_experiment_by_name("outage").experiment_id])
        keys = [r.data.tags["harness.run_key"] for r in runs]
        assert len(keys) == len(set(keys)) == 3, "every run exactly once"
        assert all(r.info.status == "FINISHED" for r in runs)
        assert before <= {r.info.run_id for r in runs}, "runs finished before the outage were kept"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
