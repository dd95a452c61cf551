"""Batched vs one-at-a-time evaluation: wall time of one evaluation point, same agent, same seeds.

    python bench/bench_eval.py            # --episodes 10 --rounds 5

Each case trains an agent briefly (so episodes are not trivially short), then times
``evaluate`` on one environment (episodes in turn, the loop before batching) and on
one environment per episode (one ``act_batch`` per step), taking turns; prints the
median of each and the ratio, and checks that both gave the same lengths.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from harness.envs import eval_env_seeds, make_base_env, resolve_env
from harness.evaluation import evaluate
from harness.registry import default_registry
from harness.testing import train

CASES = [  # algorithm, environment, training steps
    ("ppo", "CartPole-v1", 20_000),
    ("ppo", "LunarLander-v3", 20_000),
    ("ppo", "Pendulum-v1", 5_000),
    ("dqn", "Acrobot-v1", 5_000),
    ("td3", "Pendulum-v1", 1_000),
    ("sb3.ppo", "CartPole-v1", 20_000),
    ("sb3.ppo", "LunarLander-v3", 20_000),
    ("sb3.dqn", "Acrobot-v1", 5_000),
]


def time_case(algorithm: str, env: str, steps: int, episodes: int, rounds: int) -> tuple[float, float, int]:
    """Median seconds of one evaluation point, sequential and batched, and the env steps it took."""
    agent = train(algorithm, env, steps, seed=0, episodes=1).agent
    spec = resolve_env(default_registry(), env)
    seeds = eval_env_seeds(0, episodes)
    single, pool = make_base_env(spec, {}), [make_base_env(spec, {}) for _ in seeds]
    times: dict[str, list[float]] = {"sequential": [], "batched": []}
    results = {}
    for _ in range(rounds):
        for name, envs in (("sequential", single), ("batched", pool)):
            began = time.perf_counter()
            results[name] = evaluate(agent, envs, seeds)
            times[name].append(time.perf_counter() - began)
    assert np.array_equal(results["sequential"].lengths, results["batched"].lengths)
    return statistics.median(times["sequential"]), statistics.median(times["batched"]), int(results["batched"].lengths.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(1, user_api="blas")
    print("| algorithm | environment | env steps | sequential s | batched s | ratio |")
    print("|---|---|---|---|---|---|")
    for algorithm, env, steps in CASES:
        seq, batched, total = time_case(algorithm, env, steps, args.episodes, args.rounds)
        print(f"| {algorithm} | {env} | {total} | {seq:.3f} | {batched:.3f} | {seq / batched:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
