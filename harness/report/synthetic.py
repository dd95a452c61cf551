"""Synthetic runs in the MLflow layout of :mod:`harness.layout`, for tests and benchmarks.

Learning curves rise from ``start`` towards ``level`` with seeded noise; runs can
be FINISHED, FAILED (stopped half way, with ``harness.error``) or RUNNING.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from mlflow.entities import Metric, Param, RunTag

from harness import layout


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
    video: bool = False
    """Log ``video/policy.gif`` (a tiny two-frame GIF) and ``eval.video=True``."""

    def key(self) -> str:
        return self.run_key or f"{self.algorithm_label}-{self.env}-{self.shaping}-{self.seed}-{self.protocol}"


COMMON_TAGS = {
    layout.VERSION: "0.1.0",
    layout.SUITE_FILE: "suites/synthetic.toml",
    layout.SUITE_HASH: "feedc0ffee123456",
    layout.GIT_COMMIT: "0123456789abcdef0123456789abcdef01234567",
    layout.PLUGIN_VERSIONS: json.dumps({"harness": "0.1.0"}),
    layout.FINGERPRINT: json.dumps({"python": "3.11.7", "torch": "2.13.0+cpu", "plugins": {"harness": "0.1.0"}}),
    layout.FINGERPRINT_ID: "5ca1ab1e5ca1ab1e",
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
        layout.SUITE: suite, layout.RUN_KEY: run.key(), layout.ALGORITHM: run.algorithm_label,
        layout.ALGORITHM_LABEL: run.algorithm_label, layout.ENV: run.env, layout.ENV_LABEL: run.env,
        layout.SHAPING: run.shaping, layout.SEED: str(run.seed), layout.BUDGET: str(run.budget),
        layout.BASELINE: run.baseline, layout.BASELINE_SHAPING: run.baseline_shaping,
        layout.EVAL_PROTOCOL: run.protocol, layout.DEVICE: "auto", layout.DEVICE_RESOLVED: "cpu",
        layout.OWNER_HOST: "synthetic", layout.OWNER_PID: "0", layout.HEARTBEAT: "0",
        layout.VECTOR: "sync", layout.VECTOR_RESOLVED: "sync", layout.VECTOR_NOTE: "",
        "mlflow.runName": f"{run.algorithm_label} / {run.env} / seed {run.seed}",
    }
    if run.error:
        tags[layout.ERROR] = run.error
    if run.status == "FINISHED":
        tags[layout.STEPS_TRAINED] = str(run.budget)
    return {**tags, **run.extra_tags}


def log_run(client: Any, experiment_id: str, run: FakeRun, suite: str = "synthetic") -> str:
    """Create one MLflow run with tags, params and metrics like the worker's; return its id."""
    run_id = client.create_run(experiment_id).info.run_id
    tags = [RunTag(k, v) for k, v in tags_of(run, suite).items()]
    steps, returns = curve(run)
    now = int(time.time() * 1000)
    metrics = []
    for step, value in zip(steps.tolist(), returns.tolist(), strict=True):
        elapsed = step / run.sps + 0.5
        metrics += [Metric("eval/return_mean", value, now, step), Metric("eval/return_std", abs(value) / 10, now, step),
                    Metric("eval/return_median", value, now, step), Metric("eval/length_mean", 200.0, now, step),
                    Metric("time/elapsed", elapsed, now, step), Metric("time/sps", run.sps, now, step),
                    Metric("train/episode_return", value - 1, now, step), Metric("loss/policy", 0.1, now, step)]
    params = [Param("seed", str(run.seed)), Param("budget", str(run.budget)), Param("eval.video", str(run.video))]
    for i in range(0, len(metrics), 1000):
        first = i == 0
        client.log_batch(run_id, metrics=metrics[i : i + 1000], params=params if first else [],
                         tags=tags if first else [])
    if run.video:
        _log_gif(client, run_id, run.seed)
    if run.status != "RUNNING":
        client.set_terminated(run_id, run.status)
    return run_id


def _log_gif(client: Any, run_id: str, seed: int) -> None:
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.gif"
        frames = [Image.new("RGB", (48, 32), ((40 * seed + 60 * i) % 256, 120, 200)) for i in range(2)]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, loop=0)
        client.log_artifact(run_id, str(path), "video")


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


ENV_INFO = {"CartPole-v1": (22.0, 475.0), "Acrobot-v1": (-500.0, -100.0)}
"""Random score and solved threshold the demo registers for its environments."""


def demo_runs(seeds: int = 4) -> list[FakeRun]:
    """A small experiment with a baseline, a clear winner, a close call, a shaping, and trouble.

    sb3.ppo is the baseline; ppo beats it; a2c is close to it; ppo also runs with
    ``potential`` shaping against ``none``.  One a2c run FAILED, one ppo run is
    still RUNNING and one sb3.ppo run used another evaluation protocol.
    """
    envs = {"CartPole-v1": (20.0, 500.0), "Acrobot-v1": (-500.0, -70.0)}
    runs = grid({"sb3.ppo": (0.55, ""), "ppo": (0.98, "sb3.ppo"), "a2c": (0.5, "sb3.ppo")}, envs, seeds,
                shapings=("none",), baseline_shaping="none", points=10)
    runs += grid({"ppo": (0.85, "sb3.ppo")}, envs, seeds, shapings=("potential",), baseline_shaping="none",
                 points=10)
    runs.append(FakeRun("a2c", "CartPole-v1", seeds, 150.0, start=20.0, baseline="sb3.ppo", baseline_shaping="none",
                        status="FAILED", error="RunFailure: <script>alert('x')</script> | **boom**", points=10))
    runs.append(FakeRun("ppo", "Acrobot-v1", seeds, -90.0, start=-500.0, baseline="sb3.ppo",
                        baseline_shaping="none", status="RUNNING", points=10))
    runs.append(FakeRun("sb3.ppo", "CartPole-v1", 0, 300.0, start=20.0, baseline_shaping="none",
                        protocol="every=1000;episodes=5;deterministic", points=10))
    return runs


_CACHE: dict[str, Path] = {}


def _cached_copy(key: str, folder: Path, make: Any) -> Path:
    """``folder/mlflow.db`` copied from a per-process template built once by ``make(path)``."""
    import shutil
    import tempfile

    if key not in _CACHE:
        template = Path(tempfile.mkdtemp(prefix=f"harness-{key}-")) / "mlflow.db"
        make(template)
        _CACHE[key] = template
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_CACHE[key], folder / "mlflow.db")
    return folder / "mlflow.db"


def _migrate(path: Path) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()


def empty_store(folder: Path) -> str:
    """A new, already migrated SQLite store in ``folder`` (migrations run once per process)."""
    return f"sqlite:///{_cached_copy('empty', folder, _migrate)}"


def store_with(folder: Path, runs: list[FakeRun], name: str = "demo") -> str:
    """Log ``runs`` into experiment ``name`` of a new SQLite store in ``folder``; return its URI."""
    from mlflow.tracking import MlflowClient

    uri = empty_store(folder)
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(name, artifact_location=(folder / "artifacts").as_uri())
    log_runs(client, experiment_id, runs, name)
    return uri


def demo_store(folder: Path) -> str:
    """A copy of the :func:`demo_runs` store (experiment ``demo``), logged once per process."""

    def make(path: Path) -> None:
        store_with(path.parent, demo_runs())

    return f"sqlite:///{_cached_copy('demo', folder, make)}"
