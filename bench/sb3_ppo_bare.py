"""A bare SB3 PPO script (no harness): the baseline of bench_overhead.py.

    python bench/sb3_ppo_bare.py --steps 100000 --seed 0 --eval-every 10000 --eval-episodes 10

What a researcher would write by hand: rl-baselines3-zoo's CartPole-v1 PPO
hyperparameters (the ``zoo`` preset of ``sb3.ppo``), 8 envs in a DummyVecEnv,
a deterministic evaluation on a separate env at step 0, every ``--eval-every``
steps and at the end, and the model saved at the end.  One torch thread, like a
harness worker.  Prints one JSON line with its timings.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

began = time.perf_counter()

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.utils import LinearSchedule  # noqa: E402

ENV = "CartPole-v1"
#: rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1 (n_timesteps 1e5).
ZOO = {"n_envs": 8, "policy": "MlpPolicy", "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98,
       "n_epochs": 20, "ent_coef": 0.0, "learning_rate": "lin_0.001", "clip_range": "lin_0.2"}


def evaluate(model: PPO, env: gym.Env, seeds: list[int]) -> float:
    returns = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


class PeriodicEval(BaseCallback):
    def __init__(self, model: PPO, env: gym.Env, seeds: list[int], every: int):
        super().__init__()
        self.model, self.env, self.seeds, self.every = model, env, seeds, every
        self.next_eval, self.history, self.eval_seconds = every, [], 0.0

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_eval:
            self.run_eval(self.num_timesteps)
            self.next_eval = (self.num_timesteps // self.every + 1) * self.every
        return True

    def run_eval(self, step: int) -> None:
        began = time.perf_counter()
        self.history.append((step, evaluate(self.model, self.env, self.seeds)))
        self.eval_seconds += time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    args = parser.parse_args()

    torch.set_num_threads(1)
    start = time.perf_counter()
    hyper = {k: v for k, v in ZOO.items() if k not in ("n_envs", "policy")}
    hyper["learning_rate"] = LinearSchedule(0.001, 0.0, 1.0)
    hyper["clip_range"] = LinearSchedule(0.2, 0.0, 1.0)
    env = make_vec_env(ENV, n_envs=ZOO["n_envs"], seed=args.seed)
    model = PPO(ZOO["policy"], env, seed=args.seed, device="cpu", verbose=0, **hyper)
    eval_env = gym.make(ENV)
    seeds = [10_000 + args.seed * 100 + i for i in range(args.eval_episodes)]
    callback = PeriodicEval(model, eval_env, seeds, args.eval_every)
    callback.run_eval(0)
    evaluated_before, learn_began = callback.eval_seconds, time.perf_counter()
    model.learn(args.steps, callback=callback)
    train_seconds = time.perf_counter() - learn_began - (callback.eval_seconds - evaluated_before)
    if callback.history[-1][0] != args.steps:  # like the harness: a final evaluation unless one fell on the budget
        callback.run_eval(args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "model.zip")
    done = time.perf_counter()
    print(json.dumps({"import_seconds": start - began, "run_seconds": done - start, "train_seconds": train_seconds,
                      "evaluations": len(callback.history), "final_return": callback.history[-1][1]}))


if __name__ == "__main__":
    main()
