"""What the off-policy agents share: their common parameters, the replay buffer, small bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from harness_algos.common import param


@dataclass
class OffPolicyParams:
    """Parameters every native off-policy agent has (defaults: stable-baselines3's TD3 and DDPG)."""

    learning_rate: float = param(1e-3, "Adam step size (of every network).", gt=0)
    buffer_size: int = param(1_000_000, "Replay buffer capacity in transitions.", ge=1)
    learning_starts: int = param(100, "Env steps of uniformly random actions before the first update.", ge=0)
    batch_size: int = param(256, "Transitions per gradient step.", ge=1)
    tau: float = param(0.005, "Target update weight: 1 copies the online net, < 1 is a Polyak average.", gt=0, le=1)
    gamma: float = param(0.99, "Discount factor.", ge=0, le=1)
    train_freq: int = param(1, "Env steps (summed over envs) between two rounds of updates.", ge=1)
    gradient_steps: int = param(1, "(Critic) gradient steps per round of updates.", ge=1)
    hidden_sizes: tuple[int, ...] = param((400, 300), "Hidden layer widths of every network.")
    n_envs: int = param(1, "Training environments stepped together.", ge=1)


class Batch(NamedTuple):
    """A sampled minibatch; every field has leading dimension ``batch_size``."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    """1.0 where the episode really ended (no bootstrap); 0.0 also on time-limit truncation."""


class ReplayBuffer:
    """A ring buffer of transitions in preallocated numpy arrays, sampled uniformly."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], action_shape: tuple[int, ...],
                 action_dtype: Any, rng: np.random.Generator, device: str | torch.device = "cpu"):
        self.capacity, self.rng, self.device = capacity, rng, torch.device(device)
        self.obs = np.zeros((capacity, *obs_shape), np.float32)
        self.next_obs = np.zeros((capacity, *obs_shape), np.float32)
        self.actions = np.zeros((capacity, *action_shape), action_dtype)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.pos = 0
        self.size = 0

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
            next_obs: np.ndarray, terminated: np.ndarray) -> None:
        """Store a batch of ``n`` transitions (one per env), overwriting the oldest when full."""
        n = len(obs)
        idx = slice(self.pos, self.pos + n) if self.pos + n <= self.capacity else \
            np.arange(self.pos, self.pos + n) % self.capacity
        self.obs[idx] = obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.next_obs[idx] = next_obs
        self.terminated[idx] = terminated
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement, as tensors on the device."""
        idx = self.rng.integers(0, self.size, batch_size)
        fields = (self.obs, self.actions, self.rewards, self.next_obs, self.terminated)
        return Batch(*(torch.from_numpy(f[idx]).to(self.device, non_blocking=True) for f in fields))


class EnvBatch:
    """``n`` training envs from ``ctx.make_env`` stepped in a plain loop, resetting finished ones.

    Gives what an off-policy agent needs and a vector env hides in ``info``: the
    observation each env really reached (the last one of a finished episode)
    next to the one to act on. About 3x less overhead per step than gymnasium's
    ``SyncVectorEnv`` for one env; flattens observations to ``(n, obs_dim)``.
    """

    def __init__(self, make_env: Any, n: int):
        self.envs = [make_env(i) for i in range(n)]
        self.observation_space = self.envs[0].observation_space
        self.action_space = self.envs[0].action_space
        self.obs_dim = int(np.prod(self.observation_space.shape))

    def reset(self) -> np.ndarray:
        """First observations, shape ``(n, obs_dim)``."""
        return np.stack([np.asarray(env.reset()[0], np.float32).reshape(-1) for env in self.envs])

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(next_obs, reached_obs, rewards, terminated)``; they differ only where an episode ended."""
        n = len(self.envs)
        reached = np.empty((n, self.obs_dim), np.float32)
        rewards, terminated = np.empty(n, np.float32), np.zeros(n, np.float32)
        ended = []
        for i, env in enumerate(self.envs):
            obs, reward, term, trunc, _ = env.step(actions[i])
            reached[i], rewards[i] = np.asarray(obs).reshape(-1), reward
            terminated[i] = term  # truncation is not termination: the TD target still bootstraps
            if term or trunc:
                ended.append(i)
        next_obs = reached
        if ended:
            next_obs = reached.copy()
            for i in ended:
                next_obs[i] = np.asarray(self.envs[i].reset()[0]).reshape(-1)
        return next_obs, reached, rewards, terminated

    def close(self) -> None:
        for env in self.envs:
            env.close()


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """``start`` moving linearly to ``end`` over the first ``fraction`` of training, then ``end``."""
    if fraction <= 0:
        return end
    return start + (end - start) * min(progress / fraction, 1.0)


class UpdateClock:
    """Turns env steps into gradient steps: ``gradient_steps`` per ``train_freq`` env steps.

    Counts in env steps (not vector steps), so the update-to-data ratio does not
    change with the number of envs; nothing is due before ``learning_starts``.
    """

    def __init__(self, train_freq: int, gradient_steps: int, learning_starts: int):
        self.train_freq, self.gradient_steps, self.learning_starts = train_freq, gradient_steps, learning_starts
        self.pending = 0

    def due(self, step: int, new_steps: int) -> int:
        """Gradient steps to take now, after ``new_steps`` more env steps (``step`` in total)."""
        if step < self.learning_starts:
            return 0
        self.pending += new_steps
        rounds, self.pending = divmod(self.pending, self.train_freq)
        return rounds * self.gradient_steps
