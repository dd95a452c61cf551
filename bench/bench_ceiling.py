"""The ceiling: random-policy environment steps per second, single env vs vectorised, in one process.

    python bench/bench_ceiling.py [--seconds 2] [--n 16] [--native-n 64]

Columns: a bare ``gym.make`` env; the same env as a harness training env (true-reward
tap + episode recorder, as ``ctx.make_env`` builds it); ``n`` envs in the in-process
``SyncVectorEnv`` that ``ctx.make_vec_env`` gives; the same with ``vector = "envpool"``
(when installed); gymnasium's numpy-vectorised
implementation where one exists.  Actions are sampled before the clock starts, so
this measures the environments (and wrappers), not the sampler.  Ratios are against
the bare single env; each figure is the median over alternating time slices.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym

ENVS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "LunarLander-v3"]


class Stepper:
    """Steps one env with pre-sampled random actions, a slice of time at a time."""

    def __init__(self, env: Any, vector: bool):
        self.env, self.vector = env, vector
        env.action_space.seed(0)
        self.actions = itertools.cycle([env.action_space.sample() for _ in range(512)])
        self.width = env.num_envs if vector else 1
        env.reset(seed=0)

    def steps_per_second(self, seconds: float) -> float:
        steps, began = 0, time.perf_counter()
        for i, action in enumerate(self.actions):
            _, _, terminated, truncated, _ = self.env.step(action)
            if not self.vector and (terminated or truncated):
                self.env.reset()
            steps += self.width
            if i % 128 == 0 and time.perf_counter() - began > seconds:
                return steps / (time.perf_counter() - began)
        raise AssertionError("unreachable")


def harness_env(env_id: str) -> gym.Env:
    """A training env exactly as a harness worker builds one (no shapers)."""
    from harness.testing import make_context

    ctx, _ = make_context(env_id, seed=0)
    return ctx.make_env(0)


def harness_vec_env(env_id: str, n: int, vector: str = "sync") -> gym.vector.VectorEnv | None:
    from harness.testing import make_context
    from harness.vector import VERIFIED, installed

    if vector != "sync" and not (installed(vector) and env_id in VERIFIED[vector]):
        return None
    ctx, _ = make_context(env_id, seed=0, vector=vector)
    return ctx.make_vec_env(n)


def native_vec_env(env_id: str, n: int) -> gym.vector.VectorEnv | None:
    try:
        return gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
    except Exception:  # no numpy-vectorised implementation registered
        return None


def measure(env_id: str, n: int, native_n: int, seconds: float, rounds: int) -> dict[str, float | None]:
    """Median steps/s per variant; variants take turns in short slices so load hits them alike."""
    makers: dict[str, tuple[Callable[[], Any], bool]] = {
        "single": (lambda: gym.make(env_id), False),
        "harness": (lambda: harness_env(env_id), False),
        f"sync x{n}": (lambda: harness_vec_env(env_id, n), True),
        f"envpool x{n}": (lambda: harness_vec_env(env_id, n, "envpool"), True),
        f"native x{native_n}": (lambda: native_vec_env(env_id, native_n), True),
    }
    steppers = {}
    for name, (make, vector) in makers.items():
        env = make()
        steppers[name] = None if env is None else Stepper(env, vector)
    samples: dict[str, list[float]] = {name: [] for name in steppers}
    for _ in range(rounds):
        for name, stepper in steppers.items():
            if stepper is not None:
                samples[name].append(stepper.steps_per_second(seconds / rounds))
    return {name: statistics.median(values) if values else None for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per variant and environment")
    parser.add_argument("--rounds", type=int, default=6, help="alternating slices per variant")
    parser.add_argument("--n", type=int, default=16, help="envs in the SyncVectorEnv")
    parser.add_argument("--native-n", type=int, default=64, help="envs in the numpy-vectorised env")
    parser.add_argument("--envs", nargs="*", default=ENVS)
    args = parser.parse_args()
    rows = {env_id: measure(env_id, args.n, args.native_n, args.seconds, args.rounds) for env_id in args.envs}
    columns = list(next(iter(rows.values())))
    print(f"{'environment':<16}" + "".join(f"{c:>22}" for c in columns))
    for env_id, row in rows.items():
        base = row["single"]
        cells = [f"{v / 1e3:9.1f}k ({v / base:5.2f}x)" if v else f"{'n/a':>20}" for v in row.values()]
        print(f"{env_id:<16}" + "".join(f"{c:>22}" for c in cells))
    print("steps/s (ratio to the bare single env); random policy, one process, torch not involved")


if __name__ == "__main__":
    main()
