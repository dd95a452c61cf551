"""Synthetic runs in the MLflow layout of :mod:`harness.worker`, for tests and benchmarks.

Learning curves rise from ``start`` towards ``level`` with seeded noise; runs can
be FINISHED, FAILED (stopped half way, with ``harness.error``) or RUNNING.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mlflow.entities import Metric, Param, RunTag


@dataclass(frozen=True)
class FakeRun:
    algorithm_label: str
    env: str
    seed: int
    level: float
    """Expected final evaluation return."""
    start: float = 0.0
    shaping: str = "none"
    baseline: str = ""
    baseline_shaping: str = ""
    budget: int = 50_000
    points: int = 10
    noise: float = 5.0
    status: str = "FINISHED"
    error: str = ""
    protocol: str = "every=5000;episodes=10;deterministic"
    sps: float = 2000.0
    extra_tags: dict[str, str] = field(default_factory=dict)
    run_key: str | None = None

    def key(self) -> str:
        return self.run_key or f"{self.algorithm_label}-{self.env}-{self.shaping}-{self.seed}-{self.protocol}"


COMMON_TAGS = {
    "harness.version": "0.1.0",
    "harness.suite_hash": "feedc0ffee123456",
    "harness.git_commit": "0123456789abcdef0123456789abcdef01234567",
    "harness.plugin_versions": json.dumps({"harness": "0.1.0"}),
}


def curve(run: FakeRun) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation steps and mean returns of a synthetic run."""
    rng = np.random.default_rng([run.seed, sum(map(ord, run.algorithm_label + run.env + run.shaping))])
    steps = np.linspace(0, run.budget, run.points).round().astype(int)
    rise = 1 - np.exp(-4 * steps / run.budget)
    returns = run.start + (run.level - run.start) * rise + rng.normal(0, run.noise, run.points)
    if run.status != "FINISHED":
        keep = max(1, run.points // 2)
        steps, returns = steps[:keep], returns[:keep]
    return steps, returns


def tags_of(run: FakeRun, suite: str) -> dict[str, str]:
    tags = {
        **COMMON_TAGS,
        "harness.suite": suite, "harness.run_key": run.key(), "harness.algorithm": run.algorithm_label,
        "harness.algorithm_label": run.algorithm_label, "harness.env": run.env, "harness.env_label": run.env,
        "harness.shaping": run.shaping, "harness.seed": str(run.seed), "harness.budget": str(run.budget),
        "harness.baseline": run.baseline, "harness.baseline_shaping": run.baseline_shaping,
        "harness.eval_protocol": run.protocol, "harness.device": "auto", "harness.device_resolved": "cpu",
        "mlflow.runName": f"{run.algorithm_label} / {run.env} / seed {run.seed}",
    }
    if run.error:
        tags["harness.error"] = run.error
    return {**tags, **run.extra_tags}


def log_run(client: Any, experiment_id: str, run: FakeRun, suite: str = "synthetic") -> str:
    """Create one MLflow run with tags, params and metrics like the worker's; return its id."""
    created = client.create_run(experiment_id, tags=tags_of(run, suite))
    run_id = created.info.run_id
    steps, returns = curve(run)
    now = int(time.time() * 1000)
    metrics = []
    for step, value in zip(steps.tolist(), returns.tolist(), strict=True):
        elapsed = step / run.sps + 0.5
        metrics += [Metric("eval/return_mean", value, now, step), Metric("eval/return_std", abs(value) / 10, now, step),
                    Metric("eval/return_median", value, now, step), Metric("eval/length_mean", 200.0, now, step),
                    Metric("time/elapsed", elapsed, now, step), Metric("time/sps", run.sps, now, step),
                    Metric("train/episode_return", value - 1, now, step), Metric("loss/policy", 0.1, now, step)]
    params = [Param("seed", str(run.seed)), Param("budget", str(run.budget)), Param("eval.video", "False")]
    for i in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[i : i + 1000], params=params if i == 0 else [])
    if run.status != "RUNNING":
        client.set_terminated(run_id, run.status)
    return run_id


def log_runs(client: Any, experiment_id: str, runs: list[FakeRun], suite: str = "synthetic") -> list[str]:
    return [log_run(client, experiment_id, run, suite) for run in runs]


def grid(algorithms: dict[str, tuple[float, str]], envs: dict[str, tuple[float, float]], seeds: int,
         shapings: tuple[str, ...] = ("none",), **kwargs: Any) -> list[FakeRun]:
    """Every algorithm x env x shaping x seed; ``algorithms[label] = (skill 0..1, baseline label)``.

    ``envs[name] = (start return, best return)``; a run's level interpolates by skill.
    """
    runs = []
    for label, (skill, baseline) in algorithms.items():
        for env, (low, high) in envs.items():
            for shaping in shapings:
                for seed in range(seeds):
                    level = low + skill * (high - low)
                    runs.append(FakeRun(label, env, seed, level, start=low, shaping=shaping, baseline=baseline,
                                        noise=0.05 * (high - low), **kwargs))
    return runs
