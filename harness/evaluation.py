"""Evaluation: N episodes on separate, unshaped environments with fixed, disjoint seeds.

Given several environments and an agent with ``act_batch``, the episodes of one
evaluation point run side by side: one batched forward pass per step over the
episodes still running, each episode on its own environment and seed.  Every
episode sees exactly the observations, seed and actions it would see alone, so
the returns are those of the one-episode-at-a-time loop (up to the last-bit
rounding a batched matrix product may differ by).  Stochastic evaluation keeps
the one-at-a-time loop: an agent's sampling stream would otherwise be consumed
in another order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from harness.api import Agent


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


class Episode:
    """One evaluation episode on its own environment: the current observation and running sums."""

    def __init__(self, env: gym.Env, index: int, seed: int):
        self.env, self.index = env, index
        self.obs, _ = env.reset(seed=seed)
        self.total, self.length = 0.0, 0

    def step(self, action: Any) -> bool:
        """Apply the agent's action; True while the episode goes on."""
        self.obs, reward, terminated, truncated, _ = self.env.step(action)
        self.total += float(reward)
        self.length += 1
        return not (terminated or truncated or self.length >= MAX_EPISODE_STEPS)


def evaluate(agent: Agent, envs: gym.Env | Sequence[gym.Env], seeds: list[int],
             deterministic: bool = True) -> EvalResult:
    """Run one episode per seed and score it on the environment's own (true) reward.

    ``envs``: one environment (episodes in turn) or several (that many episodes at
    once when the agent has ``act_batch`` and acts deterministically).
    """
    pool = [envs] if isinstance(envs, gym.Env) else list(envs)
    batched = len(pool) > 1 and batches(agent, pool[0], deterministic)
    returns, lengths = np.zeros(len(seeds)), np.zeros(len(seeds), np.int64)
    pending: Iterator[tuple[int, int]] = iter(enumerate(seeds))
    running = [episode for env in (pool if batched else pool[:1]) if (episode := _next(env, pending))]
    while running:
        if batched:
            actions = agent.act_batch(np.stack([episode.obs for episode in running]), deterministic)
        else:
            actions = [agent.act(running[0].obs, deterministic=deterministic)]
        still = []
        for episode, action in zip(running, actions, strict=True):
            if episode.step(action):
                still.append(episode)
                continue
            returns[episode.index], lengths[episode.index] = episode.total, episode.length
            if following := _next(episode.env, pending):
                still.append(following)
        running = still
    return EvalResult(returns, lengths)


def batches(agent: Agent, env: gym.Env, deterministic: bool) -> bool:
    """Whether :func:`evaluate` runs this agent's episodes side by side on ``env``'s kind."""
    return deterministic and callable(getattr(agent, "act_batch", None)) \
        and isinstance(env.observation_space, gym.spaces.Box)


def evaluation_envs(make_env: Callable[[], gym.Env], agent: Agent, episodes: int,
                    deterministic: bool) -> list[gym.Env]:
    """The environments :func:`evaluate` needs: one per episode when it batches, else one."""
    first = make_env()
    return [first, *(make_env() for _ in range(episodes - 1))] if batches(agent, first, deterministic) else [first]


def _next(env: gym.Env, pending: Iterator[tuple[int, int]]) -> Episode | None:
    """The next seed's episode on ``env``, or None when every seed has had one."""
    item = next(pending, None)
    return None if item is None else Episode(env, *item)
