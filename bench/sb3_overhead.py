"""Harness overhead on SB3: the same model trained bare and through harness_sb3.

Usage: python bench/sb3_overhead.py [--algo ppo] [--env CartPole-v1] [--steps 20000] [--repeats 3]

Three variants, interleaved ``repeats`` times, one torch thread (as a harness worker):
  bare     SB3 model on plain ``gym.make`` envs, no callback
  adapter  the harness adapter (relay callback + a no-op harness callback) on the same plain envs
  harness  the adapter on ``ctx.make_env`` envs (true-reward tap, episode recorder, seeding)
           with the worker's TrainingMonitor-style cheap callback
Then, because end-to-end timings on a shared machine scatter by +-15%, it times the part the
adapter adds per vector step directly: ``HarnessRelay.on_step`` (with a TrainingMonitor-like
callback) against SB3's own default callback (``ConvertCallback(None)``), and relates the
difference to the bare run's CPU time per vector step.
Prints the best CPU time (``time.process_time``: steadier than wall time on a shared machine) of each
and the ratios to ``bare``; the zoo preset gives the params.
"""

from __future__ import annotations

import argparse
import importlib
import time

import gymnasium as gym
import torch
from harness_sb3 import adapter
from stable_baselines3.common.callbacks import BaseCallback, ConvertCallback
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv

from harness.params import build_params, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.testing import make_context


def monitor_like_callback():
    """What the worker's TrainingMonitor does between its check points: compare two integers."""
    next_check = [1000]

    def callback(step: int, metrics) -> bool:
        if step < next_check[0]:
            return True
        next_check[0] = step + 1000
        return True

    return callback


def bare(algo, params, env_name: str, steps: int) -> float:
    set_random_seed(0)
    env = DummyVecEnv([lambda: gym.make(env_name) for _ in range(params.n_envs)])
    model = algo(params.policy, env, device="cpu", verbose=0, **adapter.constructor_kwargs(params, env))
    began = time.process_time()
    model.learn(steps)
    return time.process_time() - began


def through_adapter(algo, module, params, env_name: str, steps: int, registry: Registry, wrapped: bool) -> float:
    ctx, _ = make_context(env_name, registry=registry)
    if not wrapped:
        ctx.make_env = lambda i: gym.make(env_name)
    agent = adapter.make_agent(module.ALGORITHM, params, ctx, module.LOSS_KEY)
    callback = monitor_like_callback()
    began = time.process_time()
    agent.learn(steps, callback)
    return time.process_time() - began


def per_call_seconds(callback: BaseCallback, calls: int = 200_000) -> float:
    """CPU seconds of one ``callback.on_step()`` (the model's step count stays put)."""
    began = time.process_time()
    for _ in range(calls):
        callback.on_step()
    return (time.process_time() - began) / calls


def relay_cost(algo, module, params, env_name: str) -> tuple[float, float]:
    """(SB3 default callback, harness relay) CPU seconds per vector step."""
    env = DummyVecEnv([lambda: gym.make(env_name) for _ in range(params.n_envs)])
    model = algo(params.policy, env, device="cpu", verbose=0, **adapter.constructor_kwargs(params, env))
    default, relay = ConvertCallback(None), adapter.HarnessRelay(monitor_like_callback(), adapter.metric_keys(module.LOSS_KEY))
    default.init_callback(model)
    relay.init_callback(model)
    return per_call_seconds(default), per_call_seconds(relay)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="ppo")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    module = importlib.import_module(f"harness_sb3.{args.algo}")
    algo = adapter.sb3_class(module.ALGORITHM)
    params = build_params(module.Params, preset_overrides(module.presets, "zoo", args.env))
    registry = Registry(make_plugin_manager(load_entrypoints=False, modules=["harness_sb3"]))
    times: dict[str, list[float]] = {"bare": [], "adapter": [], "harness": []}
    for _ in range(args.repeats):
        times["bare"].append(bare(algo, params, args.env, args.steps))
        times["adapter"].append(through_adapter(algo, module, params, args.env, args.steps, registry, False))
        times["harness"].append(through_adapter(algo, module, params, args.env, args.steps, registry, True))
    best = {name: min(values) for name, values in times.items()}
    for name, seconds in best.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name:8s} best {seconds:7.2f} s  {args.steps / seconds:8.0f} steps/s  "
              f"ratio {seconds / best['bare']:.3f}  (runs: {runs})")
    default, relay = relay_cost(algo, module, params, args.env)
    per_vector_step = best["bare"] / (args.steps / params.n_envs)
    print(f"per vector step: SB3 default callback {default * 1e6:.2f} us, harness relay {relay * 1e6:.2f} us, "
          f"bare run {per_vector_step * 1e6:.0f} us -> relay adds {(relay - default) / per_vector_step:.4%}")


if __name__ == "__main__":
    main()
