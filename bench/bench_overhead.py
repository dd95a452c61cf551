"""Harness overhead: a bare SB3 PPO script vs the same run through `harness run` (target <= 1.03x).

    python bench/bench_overhead.py [--steps 100000] [--rounds 2]

Both train rl-baselines3-zoo's PPO on CartPole-v1 (``sb3.ppo`` preset ``zoo``) for the
same steps and seed, evaluate on the same schedule (10 deterministic episodes at 0,
every 10k steps and at the end) and save the model; both use one torch thread.  The
two commands take turns (A B, B A, ...) so machine load hits them alike.  Reported:

* command: wall time of the whole command (interpreter, imports, everything); the
  MLflow store exists already (its one-time creation, ~2.4 CPU-s, is not counted);
* run: the bare script from model creation to saved model vs the MLflow run's
  start-to-end time (env + model creation, training, evaluations, logging, artifacts);
* train: the learning loop without the evaluations (bare: ``learn`` minus the time in
  its evaluation callback; harness: budget / ``time/sps``).  The two sides seed their
  envs differently, so their policies, and with them the cost of evaluating (CartPole
  episodes last up to 500 steps), differ: ``train`` is the like-for-like figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = """
name = "overhead"
seeds = [{seed}]
budget = {steps}
device = "cpu"
[evaluation]
every = {every}
episodes = {episodes}
[[algorithms]]
name = "sb3.ppo"
preset = "zoo"
[[environments]]
name = "CartPole-v1"
"""


def check_same_hyperparameters() -> None:
    """The bare script's hard-coded values must be exactly the harness preset."""
    sys.path.insert(0, str(HERE))
    from harness_sb3 import ppo
    from sb3_ppo_bare import ENV, ZOO

    from harness.params import preset_overrides

    preset = preset_overrides(ppo.presets, "zoo", ENV)
    assert preset == ZOO, f"bare script {ZOO} != harness zoo preset {preset}"


def run_bare(args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, str(HERE / "sb3_ppo_bare.py"), "--steps", str(args.steps), "--seed", str(args.seed),
               "--eval-every", str(args.every), "--eval-episodes", str(args.episodes)]
    began = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - began
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"command": wall, "run": result["run_seconds"], "train": result["train_seconds"],
            "evaluations": result["evaluations"], "final_return": result["final_return"]}


def empty_store(folder: Path) -> Path:
    """An MLflow SQLite store with its tables already created (as after a user's first run)."""
    from mlflow.tracking import MlflowClient

    path = folder / "template.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def run_harness(args: argparse.Namespace) -> dict[str, float]:
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(args.template, Path(tmp) / "mlflow.db")
        suite = Path(tmp) / "overhead.toml"
        suite.write_text(SUITE.format(seed=args.seed, steps=args.steps, every=args.every, episodes=args.episodes))
        uri = f"sqlite:///{tmp}/mlflow.db"
        command = [sys.executable, "-m", "harness.cli", "run", str(suite), "--workers", "1", "--tracking-uri", uri, "--no-report"]
        began = time.perf_counter()
        subprocess.run(command, capture_output=True, text=True, check=True, cwd=tmp)
        wall = time.perf_counter() - began
        client = MlflowClient(uri)
        run = client.search_runs([client.get_experiment_by_name("overhead").experiment_id])[0]
        assert run.info.status == "FINISHED", run.info.status
        evaluations = len(client.get_metric_history(run.info.run_id, "eval/return_mean"))
        sps = [m for m in client.get_metric_history(run.info.run_id, "time/sps") if m.step == args.steps]
    return {"command": wall, "run": (run.info.end_time - run.info.start_time) / 1000,
            "train": args.steps / sps[-1].value, "evaluations": evaluations,
            "final_return": run.data.metrics["eval/return_mean"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="env steps (zoo budget: 100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=10_000, help="evaluate every this many steps")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per evaluation")
    parser.add_argument("--rounds", type=int, default=2, help="measurements per side (alternating)")
    args = parser.parse_args()
    check_same_hyperparameters()
    scratch = tempfile.TemporaryDirectory()
    args.template = empty_store(Path(scratch.name))
    sides = {"bare": run_bare, "harness": run_harness}
    samples: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for i in range(args.rounds):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for side in order:
            samples[side].append(sides[side](args))
            print(f"round {i + 1} {side:>8}: {samples[side][-1]}", flush=True)
    print(f"\nPPO zoo CartPole-v1, {args.steps} steps, eval every {args.every} x {args.episodes} episodes, "
          f"median of {args.rounds}")
    for metric in ("command", "run", "train"):
        medians = {side: statistics.median(s[metric] for s in runs) for side, runs in samples.items()}
        cells = "  ".join(f"{side} {value:7.1f} s ({value / medians['bare']:.3f}x)" for side, value in medians.items())
        print(f"{metric:>8}: {cells}")


if __name__ == "__main__":
    main()
