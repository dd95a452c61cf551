"""One run, start to finish, inside a worker process.

resolve plugins -> make envs (shapers, true-reward tap) -> seed -> learn with
periodic evaluation on the unshaped reward -> log to MLflow -> FINISHED/FAILED.
"""

from __future__ import annotations

import json
import math
import resource
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.api import RunContext
from harness.config import Evaluation
from harness.envs import eval_env_seeds, make_base_env, resolve_env, train_env_seeds, training_env_factory
from harness.evaluation import EvalResult, evaluate, evaluation_envs
from harness.params import build_params, flatten
from harness.registry import Registry, default_registry
from harness.seeding import resolve_device, seed_everything
from harness.spec import RunSpec
from harness.tasks import Event, RunTask
from harness.tracking import TAG, RunLogger, fail_run, with_retry
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
        self.eval_seconds = 0.0
        self.last_report = 0.0

    def __call__(self, step: int, metrics: Mapping[str, float]) -> bool:
        if metrics:
            self._log_training(step, metrics)
        if step < self.next_check:
            return True
        self._drain_episodes()
        if self.next_eval <= step < self.spec.budget:  # the final evaluation comes after learn()
            self.evaluation(step)
            self.next_eval = (step // self.every + 1) * self.every
        self.next_check = min(step + self.CHECK_EVERY, self.next_eval)
        self._check_time(step)
        return True

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
    """Run one task, logging into a new MLflow run; never raises for a failed run."""
    from mlflow.tracking import MlflowClient

    single_threaded()
    spec = RunSpec.from_dict(task.spec)
    client = MlflowClient(tracking_uri=task.tracking_uri)
    tags = {**task.tags, **run_tags(spec)}
    run = with_retry(lambda: client.create_run(task.experiment_id, tags=tags, run_name=spec.title))
    run_id = run.info.run_id
    report(Event("started", spec.run_key, run_id))
    logger = RunLogger(client, run_id)
    try:
        logger.params(run_params(spec))
        with_retry(lambda: client.log_dict(run_id, spec.to_dict(), "spec.json"))
        result = train(spec, logger, client, run_id, report, registry or default_registry())
        logger.flush()
        with_retry(lambda: client.set_terminated(run_id, "FINISHED"))
        report(Event("finished", spec.run_key, run_id, step=spec.budget, result=result))
    except BaseException as error:
        details, summary = traceback.format_exc(), f"{type(error).__name__}: {error}"
        interrupted = not isinstance(error, Exception)
        try:
            logger.flush()
        finally:
            fail_run(client, run_id, details, summary, "KILLED" if interrupted else "FAILED")
            report(Event("failed", spec.run_key, run_id, message="interrupted" if interrupted else summary))
        if interrupted:
            raise


def train(spec: RunSpec, logger: RunLogger, client: Any, run_id: str,
          report: Callable[[Event], None], registry: Registry) -> dict[str, float]:
    """Build everything for one spec, learn, evaluate; return the final scores."""
    algorithm = registry.get("algorithm", spec.algorithm)
    impl = algorithm.load()
    params = build_params(impl.Params, spec.params)
    env_spec = resolve_env(registry, spec.env)
    device = resolve_device(spec.device, algorithm.prefers_gpu)
    logger.tags({TAG + "device_resolved": device})
    seed_everything(spec.seed)

    episodes: list[dict[str, Any]] = []
    make_env = training_env_factory(registry, env_spec, spec.env_kwargs, spec.shapers, spec.seed, episodes.append)
    vector_env, backend, note = training_vector_env(spec.vector, env_spec, spec.env_kwargs, spec.shapers,
                                                    spec.seed, episodes.append)
    logger.tags({TAG + "vector_resolved": backend, **({TAG + "vector_note": note} if note else {})})
    ctx = RunContext(spec.env, spec.seed, device, make_env, env_seeds=lambda n: train_env_seeds(spec.seed, n),
                     vector_env=vector_env)
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
    agent.learn(spec.budget, monitor)
    final = monitor.evaluation(spec.budget)
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


def run_tags(spec: RunSpec) -> dict[str, str]:
    """The ``harness.*`` tags every run carries (see docs/mlflow-layout.md)."""
    return {
        TAG + "suite": spec.suite,
        TAG + "run_key": spec.run_key,
        TAG + "algorithm": spec.algorithm,
        TAG + "algorithm_label": spec.algorithm_label,
        TAG + "env": spec.env,
        TAG + "env_label": spec.env_label,
        TAG + "shaping": spec.shaping,
        TAG + "seed": str(spec.seed),
        TAG + "budget": str(spec.budget),
        TAG + "baseline": spec.baseline or "",
        TAG + "baseline_shaping": spec.baseline_shaping or "",
        TAG + "eval_protocol": Evaluation(**spec.evaluation).describe(),
        TAG + "device": spec.device,
        TAG + "vector": spec.vector,
    }


def run_params(spec: RunSpec) -> dict[str, Any]:
    params = {"seed": spec.seed, "budget": spec.budget}
    params.update(flatten(spec.params, "algo."))
    params.update(flatten(spec.env_kwargs, "env."))
    for i, step in enumerate(spec.shapers):
        params[f"shaper.{i}.name"] = step["name"]
        params.update(flatten(step["params"], f"shaper.{i}."))
    params.update(flatten(spec.evaluation, "eval."))
    return params
