"""Running suites for real (toy algorithm, local executor): layout, determinism, failures, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from mlflow.tracking import MlflowClient
from threadpoolctl import threadpool_info

from harness.envs import eval_env_seeds, make_base_env, resolve_env
from harness.evaluation import evaluate
from harness.registry import default_registry
from harness.runner import run_suite
from harness.testing import make_context
from harness.tracking import Tracker
from harness.worker import single_threaded
from tests.conftest import harness_env, run_cli, toy_suite


def sqlite_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def finished_runs(uri: str, experiment: str) -> list:
    tracker = Tracker(uri)
    return [r for r in tracker.runs(tracker.experiment_id(experiment)) if r.info.status == "FINISHED"]


def eval_curves(uri: str, experiment: str) -> dict[str, list[tuple[int, float]]]:
    client = MlflowClient(uri)
    return {
        run.data.tags["harness.run_key"]: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "eval/return_mean")]
        for run in finished_runs(uri, experiment)
    }


def test_suite_logs_the_documented_layout(tmp_path):
    uri = sqlite_uri(tmp_path)
    outcome = run_suite(toy_suite(tmp_path, seeds=2, budget=2000), tracking_uri=uri, workers=2, show_progress=False)
    assert len(outcome.finished) == 2 and not outcome.failed
    client = MlflowClient(uri)
    runs = finished_runs(uri, "toy")
    assert len(runs) == 2
    run = runs[0]
    tags = run.data.tags
    for key in ("suite", "run_key", "algorithm", "env", "shaping", "seed", "eval_protocol", "device", "suite_hash", "version"):
        assert f"harness.{key}" in tags, key
    assert tags["harness.eval_protocol"] == "every=500;episodes=3;deterministic"
    assert run.data.params["algo.noise"] == "0.5" and run.data.params["budget"] == "2000"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "eval/return_mean")]
    assert steps == [0, 500, 1000, 1500, 2000]
    assert {"train/episode_return", "train/shaped_return", "time/sps", "time/elapsed"} <= set(run.data.metrics)
    assert 50 < run.data.metrics["sys/peak_rss_mb"] < 4096
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"spec.json", "model", "evaluations.json"} <= artifacts


def test_final_evaluation_scores_the_saved_model(tmp_path):
    """The last eval point is the agent after learn() returned, i.e. the model that was saved."""
    uri = sqlite_uri(tmp_path)
    run_suite(toy_suite(tmp_path, seeds=1, budget=1000), tracking_uri=uri, show_progress=False)
    run = finished_runs(uri, "toy")[0]
    model_dir = MlflowClient(uri).download_artifacts(run.info.run_id, "model", str(tmp_path))
    registry = default_registry()
    impl = registry.get("algorithm", "toy.search").load()
    ctx, _ = make_context("CartPole-v1", seed=0, registry=registry)
    agent = impl.load_agent(impl.Params(), ctx, Path(model_dir))
    env = make_base_env(resolve_env(registry, "CartPole-v1"), {})
    rescored = evaluate(agent, env, eval_env_seeds(0, 3)).mean
    assert run.data.metrics["eval/return_mean"] == rescored


def test_same_suite_twice_gives_identical_evaluations(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    for folder in (first, second):
        run_suite(toy_suite(folder, seeds=2, budget=1500), tracking_uri=sqlite_uri(folder), show_progress=False)
    curves_a, curves_b = eval_curves(sqlite_uri(first), "toy"), eval_curves(sqlite_uri(second), "toy")
    assert curves_a and curves_a == curves_b
    seeds_differ = [c[-1] for c in curves_a.values()]
    assert len(curves_a) == 2 and all(len(c) == 4 for c in curves_a.values()), seeds_differ


def test_failures_stay_isolated_and_are_recorded(tmp_path):
    suite = tmp_path / "faults.toml"
    suite.write_text("""
name = "faults"
seeds = 1
budget = 1500
timeout = 4
[evaluation]
every = 500
episodes = 2
[[algorithms]]
name = "toy.search"
[[algorithms]]
name = "toy.search"
label = "raises"
params = { fail_at_step = 700 }
[[algorithms]]
name = "toy.search"
label = "nan"
params = { nan_at_step = 600 }
[[algorithms]]
name = "toy.search"
label = "slow"
params = { sleep_per_step = 0.01 }
[[environments]]
name = "CartPole-v1"
""")
    result = run_cli("run", str(suite), "--no-report", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "1 of 4 runs finished (0 from earlier), 3 failed." in result.stdout.replace("\n", " ")
    tracker = Tracker(sqlite_uri(tmp_path))
    runs = {r.data.tags["harness.algorithm_label"]: r for r in tracker.runs(tracker.experiment_id("faults"))}
    assert runs["toy.search"].info.status == "FINISHED"
    expected = {"raises": "injected failure at step 700", "nan": "non-finite training metric loss/nan", "slow": "timeout"}
    for label, text in expected.items():
        run = runs[label]
        assert run.info.status == "FAILED", label
        assert text in run.data.tags["harness.error"], (label, run.data.tags["harness.error"])
        error_file = tracker.client.download_artifacts(run.info.run_id, "error.txt", str(tmp_path))
        assert text in Path(error_file).read_text()


def test_four_workers_on_sqlite_lose_no_metric(tmp_path):
    uri = sqlite_uri(tmp_path)
    outcome = run_suite(toy_suite(tmp_path, name="busy", seeds=8, budget=3000), tracking_uri=uri, workers=4, show_progress=False)
    assert len(outcome.finished) == 8
    client = MlflowClient(uri)
    for run in finished_runs(uri, "busy"):
        counter = [int(m.value) for m in client.get_metric_history(run.info.run_id, "toy/episode")]
        assert sorted(counter) == list(range(1, len(counter) + 1)), "a metric point was lost"
        episodes = client.get_metric_history(run.info.run_id, "train/episode_return")
        assert len(episodes) == len(counter), "one train/episode_return point per finished episode"
        assert len(client.get_metric_history(run.info.run_id, "eval/return_mean")) == 7


def test_resume_after_sigkill_runs_everything_exactly_once(tmp_path):
    suite = toy_suite(tmp_path, name="resume", seeds=6, budget=1500, extra="params = { sleep_per_step = 0.001 }")
    uri = sqlite_uri(tmp_path)
    Tracker(uri).experiment_id("resume")  # create the store now: polling one being migrated races the CLI
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(suite), "--workers", "2", "--no-report"],
                            cwd=tmp_path, env=harness_env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if _count_finished(uri, "resume") >= 1:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    time.sleep(2.5)  # orphaned workers notice the driver is gone and exit (one may finish its run first)
    before = _count_finished(uri, "resume")
    assert 1 <= before < 6, "the kill should land mid-suite; first run's output:\n" + (tmp_path / "first.log").read_text()[-3000:]
    result = run_cli("run", str(suite), "--no-report", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"({before} from earlier)" in result.stdout
    tracker = Tracker(uri)
    runs = tracker.runs(tracker.experiment_id("resume"))
    keys = [r.data.tags["harness.run_key"] for r in runs]
    assert len(keys) == 6 and len(set(keys)) == 6, "every run exactly once"
    assert all(r.info.status == "FINISHED" for r in runs)


def _count_finished(uri: str, experiment: str) -> int:
    try:
        return len(finished_runs(uri, experiment))
    except Exception:
        return 0


def test_summary_table_reports_mean_and_iqm(tmp_path):
    result = run_cli("run", str(toy_suite(tmp_path, seeds=2, budget=1000)), "--no-report", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Final evaluation return" in result.stdout and "IQM" in result.stdout
    assert "mlflow ui --backend-store-uri sqlite:///" in result.stdout
    curves = eval_curves(sqlite_uri(tmp_path), "toy")
    finals = [c[-1][1] for c in curves.values()]
    assert f"{np.mean(finals):.2f}" in result.stdout


def test_worker_runs_torch_and_numpy_blas_on_one_thread():
    single_threaded()
    assert torch.get_num_threads() == 1
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)
