"""Env steps/s of every sb3.* algorithm with its zoo preset, trained through the harness adapter.

Usage: python bench/sb3_throughput.py [--steps 5000] [--envs CartPole-v1 Pendulum-v1] [--algos ppo ...]

Each run builds a RunContext as a worker does (one torch thread, harness-wrapped envs), then
learns ``learning_starts + steps`` env steps (off-policy warm-up steps take random actions and
are cheap, so they are timed apart). Printed per run: steps/s over the whole run and over the
learning phase only, both by CPU time of this process (steadier than wall time on a shared
machine), and the wall-clock steps/s of the whole run.
"""

from __future__ import annotations

import argparse
import importlib
import time

import torch

from harness.params import build_params, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.testing import make_context

ALGOS = ("ppo", "a2c", "trpo", "dqn", "sac", "td3", "ddpg")


def measure(name: str, env: str, steps: int, registry: Registry) -> dict[str, float] | None:
    """Train one zoo-configured run; None when the zoo has no entry for ``env``."""
    module = importlib.import_module(f"harness_sb3.{name}")
    if env not in module.presets["zoo"]:
        return None
    params = build_params(module.Params, preset_overrides(module.presets, "zoo", env))
    warmup = getattr(params, "learning_starts", 0)
    ctx, _ = make_context(env, registry=registry)
    agent = module.make_agent(params, ctx)
    mark: dict[str, float] = {}

    def callback(step: int, metrics) -> bool:
        if step >= warmup and "learning" not in mark:
            mark["learning"], mark["learning_step"] = time.process_time(), step
        return True

    cpu, wall = time.process_time(), time.perf_counter()
    agent.learn(warmup + steps, callback)
    cpu_end, wall_end = time.process_time(), time.perf_counter()
    total = agent.model.num_timesteps
    learned = total - mark["learning_step"]
    return {
        "steps": total,
        "sps_cpu": total / (cpu_end - cpu),
        "sps_learning_cpu": learned / max(cpu_end - mark["learning"], 1e-9),
        "sps_wall": total / (wall_end - wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000, help="learning-phase env steps per run")
    parser.add_argument("--envs", nargs="*", default=["CartPole-v1", "Pendulum-v1"])
    parser.add_argument("--algos", nargs="*", default=list(ALGOS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    registry = Registry(make_plugin_manager(load_entrypoints=False, modules=["harness_sb3"]))
    print(f"{'algorithm':10s} {'environment':14s} {'steps':>7s} {'sps(cpu)':>9s} {'learning sps(cpu)':>18s} "
          f"{'sps(wall)':>10s}", flush=True)
    for env in args.envs:
        for name in args.algos:
            result = measure(name, env, args.steps, registry)
            if result is not None:
                print(f"sb3.{name:6s} {env:14s} {result['steps']:7d} {result['sps_cpu']:9.0f} "
                      f"{result['sps_learning_cpu']:18.0f} {result['sps_wall']:10.0f}", flush=True)


if __name__ == "__main__":
    main()
