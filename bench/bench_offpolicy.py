"""Native DQN / TD3 / DDPG against SB3's, side by side: env steps per second and final return.

    python bench/bench_offpolicy.py --cells dqn:CartPole-v1:50000,dqn:Acrobot-v1:100000 --seeds 0,1,2,3,4
    python bench/bench_offpolicy.py --cells td3:Pendulum-v1:20000,ddpg:Pendulum-v1:20000 --native zoo,fast

For each cell (algorithm, environment, budget) and seed, in turn: the SB3 baseline with its
rl-baselines3-zoo preset (the `sb3.*` plugin, as suites and the bank run it) and the native agent
with each preset of ``--native``, all built through the same harness run context and one torch
thread, as in a harness worker. Only ``learn()`` is timed. Each trained agent is then evaluated
deterministically on the run seed's 10 evaluation episodes (harness's evaluation seeds), on the
plain gymnasium environment. Prints a table per cell: steps/s (wall and per CPU second), final
returns per seed, and each native preset's speed ratio to SB3.
"""

from __future__ import annotations

import argparse
import importlib
import time
import warnings
from collections import defaultdict

import numpy as np
import torch

from harness.envs import eval_env_seeds, make_base_env, resolve_env
from harness.evaluation import evaluate
from harness.params import build_params, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.seeding import seed_everything
from harness.testing import make_context

warnings.filterwarnings("ignore")
torch.set_num_threads(1)


def train_and_score(module_name: str, preset: str, env_id: str, budget: int, seed: int,
                    registry: Registry) -> tuple[float, float, float]:
    """(env steps per wall second, env steps per CPU second, final mean return) of one run."""
    module = importlib.import_module(module_name)
    params = build_params(module.Params, preset_overrides(module.presets, preset, env_id))
    seed_everything(seed)
    agent = module.make_agent(params, make_context(env_id, seed, registry=registry)[0])
    wall, cpu = time.perf_counter(), time.process_time()
    agent.learn(budget, lambda step, metrics: True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    env = make_base_env(resolve_env(registry, env_id), {})
    score = evaluate(agent, env, eval_env_seeds(seed, 10)).mean
    return budget / wall, budget / cpu, float(score)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="dqn:CartPole-v1:50000,dqn:Acrobot-v1:100000,"
                                           "td3:Pendulum-v1:20000,ddpg:Pendulum-v1:20000",
                        help="comma-separated algorithm:environment:budget")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--native", default="zoo,fast", help="native presets to run (each beside SB3's zoo)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    registry = Registry(make_plugin_manager(load_entrypoints=False))
    for cell in args.cells.split(","):
        algo, env_id, budget = cell.split(":")
        agents = [(f"sb3.{algo} zoo", f"harness_sb3.{algo}", "zoo")]
        agents += [(f"{algo} {preset}", f"harness_algos.{algo}", preset) for preset in args.native.split(",")]
        results: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for seed in seeds:
            for label, module_name, preset in agents:
                results[label].append(train_and_score(module_name, preset, env_id, int(budget), seed, registry))
                wall, cpu, score = results[label][-1]
                print(f"{cell} seed {seed} {label}: {wall:8.0f} steps/s wall {cpu:8.0f} per CPU s  return {score:8.1f}",
                      flush=True)
        print(f"\n{algo} on {env_id}, {int(budget):,} steps, seeds {args.seeds}\n")
        print("| agent | env steps/s (wall) | per CPU second | final return: mean (per seed) | speed vs SB3 (CPU) |")
        print("|---|---:|---:|---|---:|")
        sb3_cpu = np.mean([r[1] for r in results[agents[0][0]]])
        for label, _, _ in agents:
            rows = results[label]
            wall, cpu = np.mean([r[0] for r in rows]), np.mean([r[1] for r in rows])
            scores = ", ".join(f"{r[2]:.0f}" for r in rows)
            print(f"| {label} | {wall:,.0f} | {cpu:,.0f} | {np.mean([r[2] for r in rows]):.1f} ({scores}) | "
                  f"{cpu / sb3_cpu:.2f}× |")
        print(flush=True)


if __name__ == "__main__":
    main()
