"""Synthetic preference data: pairs of episodes from one initial state, labelled by true return.

A pair is two episodes of a reference policy started from the same reset seed
(two responses to one prompt).  The one with the higher TRUE return (the
environment's own reward, kept by harness under ``info[TRUE_REWARD_KEY]``) is
preferred; equal returns are a tie (label 0.5); with ``label_noise`` a
non-tied label is flipped with that probability.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.api import TRUE_REWARD_KEY
from harness.envs import EVAL_SEED_BIT

#: ``act(obs) -> action`` of the policy that generates the pairs.
ActFn = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class Trajectory:
    obs: np.ndarray
    """``[T, *obs_shape]`` observations the actions were taken in."""
    actions: np.ndarray
    """``[T]`` (Discrete) or ``[T, action_dim]`` (Box) actions."""
    next_obs: np.ndarray
    """``[T, *obs_shape]`` observations after each action."""
    true_return: float


@dataclass(frozen=True)
class Pair:
    a: Trajectory
    b: Trajectory
    prefer_a: float
    """P(a preferred): 1, 0, or 0.5 for a tie."""


def random_policy(space: Any, rng: np.random.Generator) -> ActFn:
    """A uniformly random reference policy over ``space`` (Discrete or Box), drawing from ``rng``."""
    if hasattr(space, "n"):
        return lambda obs: int(rng.integers(space.n))
    low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
    return lambda obs: rng.uniform(low, high).astype(space.dtype)


def rollout(env: Any, act: ActFn, seed: int) -> Trajectory:
    """One episode from ``reset(seed=seed)``, scored on the true reward."""
    obs, _ = env.reset(seed=seed)
    observations, actions, next_obs, total, done = [], [], [], 0.0, False
    while not done:
        action = act(obs)
        new_obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        next_obs.append(new_obs)
        total += float(info.get(TRUE_REWARD_KEY, reward))
        obs, done = new_obs, terminated or truncated
    return Trajectory(np.asarray(observations, np.float32), np.asarray(actions),
                      np.asarray(next_obs, np.float32), total)


def label(return_a: float, return_b: float, noise: float, rng: np.random.Generator) -> float:
    """1 if a has the higher return, 0 if b, 0.5 if tied; non-ties flipped with probability ``noise``."""
    if return_a == return_b:
        return 0.5
    preferred = float(return_a > return_b)
    return 1.0 - preferred if noise > 0 and rng.random() < noise else preferred


def collect_pairs(env: Any, act: ActFn, n_pairs: int, rng: np.random.Generator,
                  noise: float = 0.0) -> tuple[list[Pair], int]:
    """``n_pairs`` labelled pairs, each from one fresh reset seed; also the env steps used."""
    pairs, steps = [], 0
    for seed in rng.integers(0, EVAL_SEED_BIT, n_pairs):
        a, b = rollout(env, act, int(seed)), rollout(env, act, int(seed))
        steps += len(a.actions) + len(b.actions)
        pairs.append(Pair(a, b, label(a.true_return, b.true_return, noise, rng)))
    return pairs, steps


def stack_steps(trajectories: list[Trajectory], field: str,
                device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """All steps' ``field`` of ``trajectories`` in one tensor, and each step's trajectory index, on ``device``."""
    values = np.concatenate([getattr(t, field) for t in trajectories])
    index = np.repeat(np.arange(len(trajectories)), [len(t.actions) for t in trajectories])
    return torch.as_tensor(values, device=device), torch.as_tensor(index, device=device)


def per_trajectory_sum(values: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    """``[S]`` per-step values -> ``[n]`` sums per trajectory (on the values' device)."""
    return torch.zeros(n, dtype=values.dtype, device=values.device).index_add_(0, index, values)
