"""Evaluation: N episodes on a separate, unshaped environment with fixed, disjoint seeds."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from harness.api import Agent
from harness.contract import check_action


@dataclass(frozen=True)
class EvalResult:
    returns: np.ndarray
    lengths: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    def metrics(self) -> dict[str, float]:
        return {
            "eval/return_mean": self.mean,
            "eval/return_std": float(self.returns.std()),
            "eval/return_median": float(np.median(self.returns)),
            "eval/length_mean": float(self.lengths.mean()),
        }


#: An evaluation episode is cut here even if the environment has no time limit of its own.
MAX_EPISODE_STEPS = 100_000


def evaluate(agent: Agent, env: gym.Env, seeds: list[int], deterministic: bool = True) -> EvalResult:
    """Run one episode per seed and score it on the environment's own (true) reward."""
    returns, lengths = [], []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, length, done = 0.0, 0, False
        while not done:
            action = agent.act(obs, deterministic=deterministic)
            check_action(action, env.action_space)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            length += 1
            done = terminated or truncated or length >= MAX_EPISODE_STEPS
        returns.append(total)
        lengths.append(length)
    return EvalResult(np.asarray(returns), np.asarray(lengths))
