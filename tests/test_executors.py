"""One test suite for every executor (local process pool, Ray): the executor contract end to end.

Each executor runs the same toy suite twice into its own SQLite store (two good
runs, one that raises, one with a NaN loss; the second pass resumes), then a
suite whose runs overrun their timeout (one notices itself, one hangs until the
executor kills it).  Ray runs on one local 2-CPU instance per module.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

import harness.executors.local
import harness.runner
from harness.progress import SuiteProgress
from harness.runner import SuiteOutcome, run_suite
from harness.tracking import Tracker
from tests.conftest import write_suite

EXECUTORS = ["local", "ray"]
KILL_GRACE = 20.0  # the local executor counts worker start-up (MLflow store init) against it
SUITE = """
name = "executors"
seeds = [3]
budget = 1500
[evaluation]
every = 500
episodes = 3
[[algorithms]]
name = "toy.search"
[[algorithms]]
name = "toy.search"
label = "raises"
params = { fail_at_step = 700 }
environments = ["CartPole-v1"]
[[algorithms]]
name = "toy.search"
label = "nan"
params = { nan_at_step = 600 }
environments = ["CartPole-v1"]
[[environments]]
name = "CartPole-v1"
[[environments]]
name = "CartPole-v1"
label = "CartPole-short"
kwargs = { max_episode_steps = 100 }
"""
#: Overruns: one notices its own timeout, one hangs until the executor kills it.
TIMEOUT_SUITE = """
name = "timeouts"
seeds = [3]
budget = 1500
timeout = 2
[[algorithms]]
name = "toy.search"
label = "slow"
params = { sleep_per_step = 0.0025 }
[[algorithms]]
name = "toy.search"
label = "hangs"
params = { sleep_per_step = 600 }
[[environments]]
name = "CartPole-v1"
"""
GOOD = ("toy.search/CartPole-v1", "toy.search/CartPole-short")
#: run -> text expected in the failed run's error.txt
FAULTS = {"raises/CartPole-v1": "injected failure at step 700",
          "nan/CartPole-v1": "non-finite training metric loss/nan"}
TIMEOUTS = {"slow/CartPole-v1": "timeout: run exceeded 2 s", "hangs/CartPole-v1": "timeout: killed after 2 s"}


@dataclass
class Pass:
    outcome: SuiteOutcome
    events: list[Any]
    runs: dict[str, Any]
    """``algorithm_label/env_label`` -> the one active MLflow run of it."""


@dataclass
class Result:
    folder: Path
    first: Pass
    second: Pass
    """The same suite again: resumes."""
    timeouts: Pass


_results: dict[str, Result] = {}


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module", params=EXECUTORS)
def executed(request, tmp_path_factory) -> Result:
    return results_for(request.param, request, tmp_path_factory)


def results_for(executor: str, request, tmp_path_factory) -> Result:
    """Run the suite twice (the second pass resumes) and the timeout suite once; cached per module."""
    if executor not in _results:
        if executor == "ray":
            request.getfixturevalue("ray_cluster")
        else:
            start_forkserver()
        folder = tmp_path_factory.mktemp(executor)
        suite, timeouts = write_suite(folder, SUITE), write_suite(folder, TIMEOUT_SUITE, "timeouts.toml")
        first, second = run_pass(suite, folder, executor), run_pass(suite, folder, executor)
        _results[executor] = Result(folder, first, second, run_pass(timeouts, folder, executor))
    return _results[executor]


def start_forkserver() -> None:
    """Start the local executor's fork server now: its start-up (imports) counts against a run's timeout."""
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(harness.executors.local.PRELOAD)
    process = context.Process(target=os.getpid)
    process.start()
    process.join()


def run_pass(suite: Path, folder: Path, executor: str) -> Pass:
    events: list[Any] = []

    class Recording(SuiteProgress):
        def update(self, event):
            events.append(event)
            super().update(event)

    uri = tracking_uri(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(harness.runner, "SuiteProgress", Recording)
        patch.setattr(harness.executors.local, "KILL_GRACE", KILL_GRACE)
        if executor == "ray":
            import harness_ray.executor

            patch.setattr(harness_ray.executor, "KILL_GRACE", KILL_GRACE)
        outcome = run_suite(suite, tracking_uri=uri, workers=2, executor=executor, show_progress=False)
    tracker = Tracker(uri)
    runs = tracker.runs(outcome.experiment_id)
    named = {name_of(run): run for run in runs}
    assert len(named) == len(runs) == len(outcome.suite.runs), f"one active run per spec: {sorted(named)}"
    return Pass(outcome, events, named)


def name_of(run: Any) -> str:
    return f"{run.data.tags['harness.algorithm_label']}/{run.data.tags['harness.env_label']}"


def tracking_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def test_good_runs_finish_and_faults_fail_alone(executed):
    runs = executed.first.runs
    assert sorted(executed.first.outcome.finished) == sorted(runs[label].data.tags["harness.run_key"] for label in GOOD)
    client = MlflowClient(tracking_uri(executed.folder))
    for label in GOOD:
        assert runs[label].info.status == "FINISHED"
        steps = [m.step for m in client.get_metric_history(runs[label].info.run_id, "eval/return_mean")]
        assert steps == [0, 500, 1000, 1500]
    for label, text in FAULTS.items():
        assert_failed_with(client, runs[label], text, executed.folder)


def test_timeouts_fail_the_run_and_name_the_cause(executed):
    client = MlflowClient(tracking_uri(executed.folder))
    for label, text in TIMEOUTS.items():
        assert_failed_with(client, executed.timeouts.runs[label], text, executed.folder)


def assert_failed_with(client: MlflowClient, run: Any, text: str, folder: Path) -> None:
    label = name_of(run)
    assert run.info.status == "FAILED", (label, run.info.status)
    error = Path(client.download_artifacts(run.info.run_id, "error.txt", str(folder)))
    assert text in error.read_text(), (label, error.read_text()[-300:])


def test_exactly_one_final_event_per_task(executed):
    for done in (executed.first, executed.second, executed.timeouts):
        final = Counter(e.run_key for e in done.events if e.kind in ("finished", "failed"))
        assert set(final.values()) == {1}, final
        assert set(final) == {run.data.tags["harness.run_key"] for run in done.runs.values()} - _skipped(done)
    assert len(executed.first.outcome.failed) == len(FAULTS)
    assert len(executed.timeouts.outcome.failed) == len(TIMEOUTS)


def _skipped(done: Pass) -> set[str]:
    return {r.data.tags["harness.run_key"] for r in done.runs.values() if r.info.status == "FINISHED"
            and r.data.tags["harness.run_key"] not in done.outcome.finished}


def test_resume_skips_finished_and_redoes_failed(executed):
    first, second = executed.first, executed.second
    assert second.outcome.skipped == len(GOOD)
    assert not second.outcome.finished and len(second.outcome.failed) == len(FAULTS)
    for label in GOOD:
        assert second.runs[label].info.run_id == first.runs[label].info.run_id, "finished run kept as is"
    for label in FAULTS:
        assert second.runs[label].info.run_id != first.runs[label].info.run_id, "failed run done again"
        assert second.runs[label].info.status == "FAILED"


def test_every_executor_logs_the_same_results(request, tmp_path_factory):
    results = {name: results_for(name, request, tmp_path_factory) for name in EXECUTORS}
    logged = {name: logged_results(result) for name, result in results.items()}
    reference = logged[EXECUTORS[0]]
    assert reference[GOOD[0]]["eval/return_mean"] != reference[GOOD[1]]["eval/return_mean"]
    for name in EXECUTORS[1:]:
        assert logged[name] == reference, f"{name} logged different results than {EXECUTORS[0]}"


def logged_results(result: Result) -> dict[str, dict[str, Any]]:
    """Per good run: params, run_key, and the full history of every seed-determined metric."""
    client = MlflowClient(tracking_uri(result.folder))
    out = {}
    for label in GOOD:
        run = result.first.runs[label]
        histories = {
            key: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
            for key in sorted(run.data.metrics) if not key.startswith(("time/", "sys/"))  # wall time and memory differ by machine state
        }
        out[label] = {"params": run.data.params, "run_key": run.data.tags["harness.run_key"], **histories}
    return out


# --- Ray-specific: resource requests, light plugin import ------------------------------------------------------------
def test_ray_requests_a_gpu_share_only_for_gpu_runs(monkeypatch):
    from harness_ray import placement
    from harness_ray.placement import Placement

    monkeypatch.setattr(placement, "prefers_gpu", lambda algorithm: algorithm == "image.ppo")
    on_gpus, cpu_only = Placement(1.0, 0.25, cluster_gpus=2), Placement(2.0, 0.5, cluster_gpus=0)
    spec = {"algorithm": "ppo", "device": "cpu"}
    assert on_gpus.resources(spec) == {"num_cpus": 1.0, "num_gpus": 0.0}
    assert on_gpus.resources({**spec, "device": "cuda:0"}) == {"num_cpus": 1.0, "num_gpus": 0.25}
    assert on_gpus.resources({**spec, "device": "auto"})["num_gpus"] == 0.0
    assert on_gpus.resources({"algorithm": "image.ppo", "device": "auto"})["num_gpus"] == 0.25
    assert cpu_only.resources({"algorithm": "image.ppo", "device": "auto"}) == {"num_cpus": 2.0, "num_gpus": 0.0}
    assert on_gpus.infeasible({**spec, "device": "cuda"}) is None
    assert "no GPU" in cpu_only.infeasible({**spec, "device": "cuda"})


@pytest.mark.parametrize("options", [{"gpus_per_run": 0}, {"gpus_per_run": 1.5}, {"cpus_per_run": 0},
                                     {"runs_per_worker": 0}])
def test_ray_executor_rejects_impossible_resource_requests(options):
    from harness_ray.executor import RayExecutor

    with pytest.raises(ValueError):
        RayExecutor(workers=2, **options)


def test_ray_fails_a_cuda_run_at_once_when_the_cluster_has_no_gpu(ray_cluster, tmp_path):
    from harness_ray.executor import RayExecutor

    from harness.worker import Event, RunTask

    task = RunTask({"run_key": "k1", "algorithm": "toy.search", "device": "cuda", "timeout": None},
                   tracking_uri(tmp_path), "0")
    events: list[Event] = []
    RayExecutor(workers=1).run([task], events.append)
    assert [(e.kind, e.run_key) for e in events] == [("failed", "k1")]
    assert "no GPU" in events[0].message


def test_ray_plugin_registers_without_importing_ray():
    code = ("import sys; from harness.registry import default_registry; "
            "assert default_registry().has('executor', 'ray'); assert 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_ray_prestart_warms_the_workers_that_runs_then_use(ray_cluster, monkeypatch):
    import ray
    from harness_ray import executor as ray_executor

    monkeypatch.setenv("HARNESS_PROBE", "1")  # forwarded: runs need workers with this environment
    ray_executor.RayExecutor.prestart(2)
    warmed = set(ray.get(list(ray_executor._warm_ups), timeout=120))
    assert len(warmed) == 2

    def probe() -> tuple[int, bool]:
        import importlib.util

        from harness.executors.local import PRELOAD

        installed = [module for module in PRELOAD if importlib.util.find_spec(module) is not None]
        return os.getpid(), all(module in sys.modules for module in installed)

    options = ray_executor.RayExecutor()._runtime_env()
    seen = ray.get([ray.remote(max_retries=0)(probe).options(num_cpus=1, **options).remote() for _ in range(4)])
    assert {pid for pid, _ in seen} <= warmed  # later tasks with the runs' options land on the warmed workers
    assert all(preloaded for _, preloaded in seen)


@pytest.mark.parametrize(("suite_text", "cli", "expected"), [
    ("", [], ("LocalExecutor", None)),
    ("workers = 3\n", [], ("LocalExecutor", 3)),
    ('executor = "ray"\nworkers = 3\n', ["--workers", "2"], ("RayExecutor", 2)),
    ("", ["--executor", "ray", "--address", "auto"], ("RayExecutor", None, {"address": "auto"})),
    ("workers = [", [], None),  # unreadable: left for validation to report
])
def test_harness_run_prestarts_the_chosen_executor(tmp_path, monkeypatch, suite_text, cli, expected):
    from harness_ray.executor import RayExecutor

    from harness.cli import _prestart_executor, build_parser
    from harness.executors.local import LocalExecutor

    calls = []
    for cls in (LocalExecutor, RayExecutor):
        monkeypatch.setattr(cls, "prestart", classmethod(
            lambda c, workers, **options: calls.append((c.__name__, workers, options) if options else (c.__name__, workers))))
    suite = tmp_path / "suite.toml"
    suite.write_text(suite_text)
    args = build_parser().parse_args(["run", str(suite), *cli])
    _prestart_executor(args, {"address": args.address} if args.address else {})
    assert calls == ([expected] if expected else [])


def test_ray_executor_without_ray_installed_is_a_one_line_error(tmp_path):
    suite = write_suite(tmp_path, SUITE)
    code = ("import sys; sys.modules['ray'] = None; from harness.cli import main; "
            "sys.exit(main(['run', sys.argv[1], '--executor', 'ray', '--tracking-uri', sys.argv[2]]))")
    done = subprocess.run([sys.executable, "-c", code, str(suite), tracking_uri(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == ["error: the ray executor needs Ray: pip install 'harness[ray]' (or pip install ray)"]
    assert not (tmp_path / "mlflow.db").exists()
