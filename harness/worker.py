"""One run, start to finish, inside a worker process.

resolve plugins -> make envs (shapers, true-reward tap) -> seed -> learn with
periodic evaluation on the unshaped reward -> log to MLflow -> FINISHED/FAILED.
"""

from __future__ import annotations

import json
import math
import resource
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.api import StopTraining
from harness.envs import eval_env_seeds, make_base_env, resolve_env
from harness.evaluation import EvalResult, evaluate, evaluation_envs
from harness.fingerprint import fingerprint_tags
from harness.layout import (
    DEVICE_RESOLVED,
    STEPS_TRAINED,
    VECTOR_NOTE,
    VECTOR_RESOLVED,
    build_context,
    run_params,
    run_tags,
)
from harness.params import build_params
from harness.registry import Registry, default_registry, snapshot_registry
from harness.seeding import resolve_device, seed_everything
from harness.spec import RunSpec
from harness.tasks import Event, RunTask
from harness.store import bound_http_retries
from harness.tracking import RunLogger, StoreUnavailable, fail_run, with_retry
from harness.vector import training_vector_env


class RunFailure(Exception):
    """A run went wrong in a way the harness detects itself (NaN, timeout)."""


class TrainingMonitor:
    """The callback handed to ``Agent.learn``: logs, evaluates, reports progress.

    Cheap on the hot path: between check points it compares two integers.
    """

    CHECK_EVERY = 1000

    def __init__(self, spec: RunSpec, logger: RunLogger, evaluate_now: Callable[[int], EvalResult],
                 episodes: list[dict[str, Any]], report: Callable[[Event], None], run_id: str):
        self.spec, self.logger, self.episodes, self.report = spec, logger, episodes, report
        self.evaluate_now, self.run_id = evaluate_now, run_id
        self.every = spec.evaluation["every"]
        self.next_eval = self.every
        self.next_check = min(self.CHECK_EVERY, self.every)
        self.start = time.perf_counter()
        self.steps = 0
        """Environment steps trained so far (the last step ``learn`` reported; may pass the budget)."""
        self.eval_seconds = 0.0
        self.last_report = 0.0
        self.failure: Exception | None = None

    def __call__(self, step: int, metrics: Mapping[str, float]) -> bool:
        """The stopping contract: on a failure, return ``False`` once, then raise :class:`StopTraining`."""
        self.steps = step
        if self.failure is None:
            try:
                if metrics:
                    self._log_training(step, metrics)
                if step >= self.next_check:
                    self._checkpoint(step)
                return True
            except Exception as error:  # kept for after learn(): an agent's `except Exception` cannot hide it
                self.failure = error
                return False
        raise StopTraining(f"learn() went on after the harness returned False: {self.failure}")

    def _checkpoint(self, step: int) -> None:
        self._drain_episodes()
        if self.next_eval <= step < self.spec.budget:  # the final evaluation comes after learn()
            self.evaluation(step)
            self.next_eval = (step // self.every + 1) * self.every
        self.next_check = min(step + self.CHECK_EVERY, self.next_eval)
        self._check_time(step)

    def learn(self, agent: Any) -> None:
        """``agent.learn`` under the stopping contract; re-raises what stopped it."""
        try:
            agent.learn(self.spec.budget, self)
        except StopTraining:
            pass
        if self.failure is not None:
            raise self.failure

    def _log_training(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            if not math.isfinite(value):
                raise RunFailure(f"non-finite training metric {key}={value} at step {step}")
        self.logger.metrics(dict(metrics), step)

    def _drain_episodes(self) -> None:
        for record in self.episodes:
            step = record["step"]
            self.logger.metric("train/episode_return", record["true_return"], step)
            self.logger.metric("train/shaped_return", record["shaped_return"], step)
            self.logger.metric("train/episode_length", record["length"], step)
            for name, value in record["components"].items():
                self.logger.metric(f"train/reward/{name}", value, step)
        self.episodes.clear()

    def evaluation(self, step: int) -> EvalResult:
        began = time.perf_counter()
        result = self.evaluate_now(step)
        self.eval_seconds += time.perf_counter() - began
        if not math.isfinite(result.mean):
            raise RunFailure(f"non-finite evaluation return at step {step}")
        elapsed = time.perf_counter() - self.start
        train_seconds = max(elapsed - self.eval_seconds, 1e-9)
        self.logger.metrics(result.metrics(), step)
        self.logger.metrics({"time/elapsed": elapsed, "time/sps": step / train_seconds}, step)
        self.logger.flush()
        return result

    def _check_time(self, step: int) -> None:
        now = time.perf_counter()
        timeout = self.spec.timeout
        if timeout and now - self.start > timeout:
            raise RunFailure(f"timeout: run exceeded {timeout:g} s at step {step}")
        if now - self.last_report > 0.5:
            self.last_report = now
            self.report(Event("progress", self.spec.run_key, self.run_id, step=step))


def single_threaded() -> None:
    """One compute thread per worker: torch's and numpy's BLAS (workers run side by side on the cores).

    A threaded BLAS is also slower on its own here: numpy's OpenBLAS threads a 512x64 matmul
    (a rollout actor's batch), which took 1.3 ms instead of 0.08 ms with the cores busy.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1, user_api="blas")


def execute(task: RunTask, report: Callable[[Event], None], registry: Registry | None = None) -> None:
    """Run one task, logging into its MLflow run (the driver's claim, else a new one); never raises for a failed run.

    A Ctrl-C that lands while the run is being marked FINISHED waits until the driver has
    been told, so a finished run is never turned into a KILLED one.
    """
    from mlflow.tracking import MlflowClient

    bound_http_retries()
    single_threaded()
    spec = RunSpec.from_dict(task.spec)
    registry = registry or task_registry(task)
    client = MlflowClient(tracking_uri=task.tracking_uri)
    tags = {**task.tags, **run_tags(spec)}
    run_id = task.run_id or with_retry(
        lambda: client.create_run(task.experiment_id, tags=tags, run_name=spec.title)).info.run_id
    report(Event("started", spec.run_key, run_id))
    logger = RunLogger(client, run_id)
    done = False
    try:
        logger.tags({**tags, **fingerprint_tags(registry)})
        logger.params(run_params(spec))
        with_retry(lambda: client.log_dict(run_id, spec.to_dict(), "spec.json"))
        result = train(spec, logger, client, run_id, report, registry)
        logger.flush()
        with _sigint_deferred():
            with_retry(lambda: client.set_terminated(run_id, "FINISHED"))
            done = True
            report(Event("finished", spec.run_key, run_id, step=spec.budget, result=result))
    except BaseException as error:
        if done:
            raise  # a Ctrl-C held back while finishing: the run is FINISHED and reported
        interrupted = not isinstance(error, Exception)
        summary = "interrupted" if interrupted else f"{type(error).__name__}: {error}"
        try:
            _record_failure(logger, client, run_id, error, "KILLED" if interrupted else "FAILED")
        finally:
            report(Event("failed", spec.run_key, run_id, message=summary))
        if interrupted:
            raise


def _record_failure(logger: RunLogger, client: Any, run_id: str, error: BaseException, status: str) -> None:
    """Flush what was logged and end the run with the traceback; skipped when the store itself is gone."""
    if isinstance(error, StoreUnavailable):
        return  # nothing more can be written; a rerun finds the run stale (its driver gone) and redoes it
    details, summary = traceback.format_exc(), f"{type(error).__name__}: {error}"
    try:
        try:
            logger.flush()
        finally:
            fail_run(client, run_id, details, summary, status)
    except StoreUnavailable:
        pass


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C back until the block has ended, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def task_registry(task: RunTask) -> Registry:
    """The driver's plugin set, so packages installed or broken during a suite change nothing."""
    return snapshot_registry(task.plugins) if task.plugins else default_registry()


def train(spec: RunSpec, logger: RunLogger, client: Any, run_id: str,
          report: Callable[[Event], None], registry: Registry) -> dict[str, float]:
    """Build everything for one spec, learn, evaluate; return the final scores."""
    algorithm = registry.get("algorithm", spec.algorithm)
    impl = algorithm.load()
    params = build_params(impl.Params, spec.params)
    env_spec = resolve_env(registry, spec.env)
    device = resolve_device(spec.device, algorithm.prefers_gpu)
    logger.tags({DEVICE_RESOLVED: device})
    seed_everything(spec.seed)

    episodes: list[dict[str, Any]] = []
    vector_env, backend, note = training_vector_env(spec.vector, env_spec, spec.env_kwargs, spec.shapers,
                                                    spec.seed, episodes.append)
    logger.tags({VECTOR_RESOLVED: backend, VECTOR_NOTE: note})
    ctx = build_context(registry, spec.env, spec.seed, device, spec.env_kwargs, spec.shapers, episodes.append,
                        vector_env)
    agent = impl.make_agent(params, ctx)

    seeds = eval_env_seeds(spec.seed, spec.evaluation["episodes"])
    eval_envs = evaluation_envs(lambda: make_base_env(env_spec, spec.env_kwargs), agent, len(seeds),
                                spec.evaluation["deterministic"])
    history: list[dict[str, Any]] = []

    def evaluate_now(step: int) -> EvalResult:
        result = evaluate(agent, eval_envs, seeds, spec.evaluation["deterministic"])
        history.append({"step": step, "returns": result.returns.tolist(), "lengths": result.lengths.tolist()})
        return result

    monitor = TrainingMonitor(spec, logger, evaluate_now, episodes, report, run_id)
    monitor.evaluation(0)
    monitor.learn(agent)
    final = monitor.evaluation(spec.budget)
    logger.tags({STEPS_TRAINED: monitor.steps})
    monitor._drain_episodes()
    logger.metric("sys/peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, spec.budget)
    for env in eval_envs:
        env.close()

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        agent.save(model_dir)
        with_retry(lambda: client.log_artifacts(run_id, str(model_dir), "model"))
        (Path(tmp) / "evaluations.json").write_text(json.dumps(history))
        with_retry(lambda: client.log_artifact(run_id, str(Path(tmp) / "evaluations.json")))
        if spec.evaluation.get("video"):
            _record_video(agent, env_spec, spec, Path(tmp), client, run_id)
    return {"return_mean": final.mean, "wall_seconds": time.perf_counter() - monitor.start}


def _record_video(agent: Any, env_spec: Any, spec: RunSpec, tmp: Path, client: Any, run_id: str) -> None:
    from harness.video import record_gif

    env = make_base_env(env_spec, spec.env_kwargs, render_mode="rgb_array")
    path = record_gif(agent, env, tmp / "policy.gif", seed=eval_env_seeds(spec.seed, 1)[0],
                      deterministic=spec.evaluation["deterministic"])
    env.close()
    with_retry(lambda: client.log_artifact(run_id, str(path), "video"))
