"""Native PPO vs SB3 PPO: env steps per second and final return, side by side.

    python bench/bench_ppo_speed.py --steps 100000 --seeds 0,1,2
    python bench/bench_ppo_speed.py --env LunarLander-v3 --steps 1000000 --preset zoo \
        --params '{"update_kernel": "numpy"}' --vector envpool --breakdown

SB3 runs its rl-zoo3 preset for the environment through the ``sb3.ppo`` plugin
(as suites and the bank run it); native PPO runs through ``make_agent`` on harness
training envs (``ctx.make_vec_env``), as a harness worker would.  Both use one torch
thread and one BLAS thread.  Only ``learn`` is timed, by the wall clock and by this process's CPU
time (steady when other processes share the cores); each agent is then
evaluated deterministically on the harness's evaluation seeds of that run seed.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from harness.envs import eval_env_seeds, make_base_env, resolve_env
from harness.evaluation import evaluate
from harness.params import build_params, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.seeding import seed_everything
from harness.testing import make_context
from harness.worker import single_threaded

REGISTRY = Registry(make_plugin_manager(load_entrypoints=False))


class Result(NamedTuple):
    sps: float
    """env steps per wall-clock second of ``learn``"""
    cpu_sps: float
    """env steps per CPU second of this process during ``learn``"""
    final_return: float


class Clock:
    """Wall and CPU time since construction."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def result(self, steps: int, final_return: float) -> Result:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return Result(steps / wall, steps / cpu, final_return)


def score(agent, env_id: str, seed: int, episodes: int) -> float:
    """Mean deterministic return over the run's evaluation seeds, on the plain gymnasium env."""
    env = make_base_env(resolve_env(REGISTRY, env_id), {})
    return float(evaluate(agent, env, eval_env_seeds(seed, episodes)).mean)


def run_sb3(env_id: str, seed: int, steps: int, episodes: int) -> Result:
    from harness_sb3 import ppo

    params = build_params(ppo.Params, preset_overrides(ppo.presets, "zoo", env_id))
    seed_everything(seed)
    agent = ppo.make_agent(params, make_context(env_id, seed, registry=REGISTRY)[0])
    clock = Clock()
    agent.learn(steps, lambda step, metrics: True)
    return clock.result(steps, 0.0)._replace(final_return=score(agent, env_id, seed, episodes))


class LeanVecEnv:
    """Same-step autoreset over ``ctx.make_env(i)`` envs, without SyncVectorEnv's per-step info merging.

    Only for ``--lean-vec-env``: a prototype of a possible core ``make_vec_env``,
    to measure what it would give; the harness itself uses ``SyncVectorEnv``.
    """

    def __init__(self, envs: list[gym.Env]):
        self.envs, n = envs, len(envs)
        self.rewards, self.terminated, self.truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)

    def reset(self):
        self.obs = np.stack([env.reset()[0] for env in self.envs])
        return self.obs.copy(), {}

    def step(self, actions):
        final = None
        for i, (env, action) in enumerate(zip(self.envs, actions)):
            obs, self.rewards[i], self.terminated[i], self.truncated[i], _ = env.step(action)
            if self.terminated[i] or self.truncated[i]:
                final = np.empty(len(self.envs), object) if final is None else final
                final[i] = obs
                obs, _ = env.reset()
            self.obs[i] = obs
        info = {} if final is None else {"final_obs": final}
        return self.obs.copy(), self.rewards.copy(), self.terminated.copy(), self.truncated.copy(), info


def timed(obj: object, name: str, totals: dict[str, float]) -> None:
    """Wrap ``obj.name`` so that the CPU time spent in it accumulates in ``totals[name]``."""
    inner = getattr(obj, name)

    def wrapper(*args):
        began = time.process_time()
        try:
            return inner(*args)
        finally:
            totals[name] += time.process_time() - began

    totals[name] = 0.0
    setattr(obj, name, wrapper)


def run_native(env_id: str, seed: int, steps: int, episodes: int, preset: str, overrides: dict,
               breakdown: bool, lean_vec_env: bool, vector: str = "sync") -> Result:
    from harness_algos import ppo

    params = build_params(ppo.Params, {**preset_overrides(ppo.presets, preset, env_id), **overrides})
    seed_everything(seed)
    ctx, _ = make_context(env_id, seed, registry=REGISTRY, vector=vector)
    if lean_vec_env:
        ctx.make_vec_env = lambda n: LeanVecEnv([ctx.make_env(i) for i in range(n)])
    agent = ppo.make_agent(params, ctx)
    totals: dict[str, float] = {}
    if breakdown:
        agent.start()
        timed(agent.envs, "step", totals)
        for name in ("collect", "batch", "update"):
            timed(agent, name, totals)
    clock = Clock()
    agent.learn(steps, lambda step, metrics: True)
    timing = clock.result(agent.env_steps, 0.0)
    elapsed = agent.env_steps / timing.cpu_sps
    if breakdown:
        print(f"  native learn() on {vector}, seed {seed}, CPU time by phase:")
        parts = {
            f"env steps (vector env + episode records + {env_id})": totals["step"],
            "rollout policy + bookkeeping": totals["collect"] - totals["step"],
            "advantages (GAE)": totals["batch"],
            "update (forward, backward, Adam)": totals["update"],
        }
        parts["other"] = elapsed - sum(parts.values())
        for label, seconds in parts.items():
            print(f"    {label:58s} {seconds:6.2f} s {100 * seconds / elapsed:5.1f}%  "
                  f"{1e6 * seconds / agent.env_steps:5.1f} us/step")
    return timing._replace(final_return=score(agent, env_id, seed, episodes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes per seed")
    parser.add_argument("--preset", default="fast", help="native PPO preset")
    parser.add_argument("--params", default="{}", help="JSON overrides of the native preset")
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument("--skip-native", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="time the phases of native learn()")
    parser.add_argument("--vector", default="sync", help="native training-env backends, side by side: sync,envpool")
    parser.add_argument("--lean-vec-env", action="store_true",
                        help="experiment: give native PPO a lean vector env instead of SyncVectorEnv")
    args = parser.parse_args()
    single_threaded()  # one torch and one BLAS thread, as in a harness worker; for both sides alike

    missing = Result(np.nan, np.nan, np.nan)
    sb3_runs: list[Result] = []
    native_runs: dict[str, list[Result]] = {vector: [] for vector in args.vector.split(",")}
    for seed in (int(s) for s in args.seeds.split(",")):
        sb3 = missing if args.skip_sb3 else run_sb3(args.env, seed, args.steps, args.episodes)
        sb3_runs.append(sb3)
        print(f"seed {seed}: SB3 {sb3.sps:7.0f} steps/s ({sb3.cpu_sps:7.0f} per CPU s) return {sb3.final_return:6.1f}")
        for vector, runs in native_runs.items():
            native = missing if args.skip_native else run_native(
                args.env, seed, args.steps, args.episodes, args.preset, json.loads(args.params), args.breakdown,
                args.lean_vec_env, vector)
            runs.append(native)
            print(f"  native on {vector}: {native.sps:7.0f} steps/s ({native.cpu_sps:7.0f} per CPU s) return "
                  f"{native.final_return:6.1f} | ratio {native.sps / sb3.sps:5.1f}x", flush=True)
    report(args, np.array(sb3_runs), {vector: np.array(runs) for vector, runs in native_runs.items()})


def report(args: argparse.Namespace, sb3: np.ndarray, natives: dict[str, np.ndarray]) -> None:
    """Markdown table of the means over seeds (rows of ``sb3`` and of each backend's array: Result fields)."""
    print(f"\n{args.env}, {args.steps} env steps, seeds {args.seeds}, {args.episodes} deterministic eval episodes "
          f"per seed, native preset {args.preset!r}\n")
    print("| agent | env steps/s (wall) | env steps per CPU second | final return: mean (per seed) |")
    print("|---|---:|---:|---|")
    rows = [("SB3 PPO, rl-zoo3 preset", sb3)]
    overrides = f" + {args.params}" if json.loads(args.params) else ""
    rows += [(f"native PPO, `{args.preset}` preset{overrides}, vector `{vector}`", runs) for vector, runs in natives.items()]
    for name, runs in rows:
        per_seed = ", ".join(f"{r:.0f}" for r in runs[:, 2])
        print(f"| {name} | {runs[:, 0].mean():,.0f} | {runs[:, 1].mean():,.0f} | {runs[:, 2].mean():.1f} ({per_seed}) |")
    for vector, native in natives.items():
        print(f"| ratio native (`{vector}`) / SB3 | {native[:, 0].mean() / sb3[:, 0].mean():.1f}x | "
              f"{native[:, 1].mean() / sb3[:, 1].mean():.1f}x | |")


if __name__ == "__main__":
    main()
