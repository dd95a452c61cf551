"""The smoke suite against a real `mlflow server` on 127.0.0.1, read back with the MLflow client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import ROOT, run_cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("mlflow server did not answer /health within 120 s")
    yield url
    proc.terminate()
    proc.wait(30)


def test_smoke_suite_against_a_real_server(tmp_path, mlflow_server):
    result = run_cli("run", str(ROOT / "suites" / "smoke.toml"), "--tracking-uri", mlflow_server, "--no-report",
                     cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "mlflow.db").exists(), "must not fall back to the local SQLite store"
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("smoke")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    for run in runs:
        history = client.get_metric_history(run.info.run_id, "eval/return_mean")
        assert [m.step for m in history] == [0, 2000, 4000]
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"spec.json", "model", "evaluations.json"}
    assert {r.data.tags["harness.algorithm"] for r in runs} == {"sb3.ppo", "sb3.a2c"}


def test_the_printed_link_opens_the_runs_table_in_a_browser(tmp_path, mlflow_server):
    """Headless Chromium renders the MLflow UI page `harness run` points to: the runs table, not the GenAI overview."""
    import html
    import re
    import shutil

    from harness.tracking import Tracker, browse_hint

    tracker = Tracker(mlflow_server)
    experiment_id = tracker.experiment_id("ui-check")
    assert tracker.client.get_experiment(experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    run = tracker.client.create_run(experiment_id, run_name="toy.search / CartPole-v1 / seed 7")
    tracker.client.set_terminated(run.info.run_id)
    url = browse_hint(mlflow_server, experiment_id).removeprefix("Browse runs: ")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    page = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=30000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=300, check=False).stdout
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style).*?</\\1>", "", page, flags=re.S)))
    assert "Run Name" in text and "toy.search / CartPole-v1 / seed 7" in text, text[:2000]
