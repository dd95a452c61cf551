"""Running return normalisation, as VecNormalize does for rewards (SB3).

Each step: ``ret = gamma * ret + r``; the running variance of ``ret`` is updated;
the reward passed on is ``clip(r / sqrt(var + epsilon), -clip, clip)``; ``ret`` restarts
at 0 when an episode ends.  A reset *with a seed* also restarts the statistics, so one
seed and one action sequence always give the same rewards (gymnasium's determinism
contract); the harness seeds only an env's first reset.  The reward is divided, never shifted (a shift would change
what ending an episode is worth).  Statistics are kept per environment instance (SB3
shares them across the envs of one VecNormalize) and are not saved with the model:
they only shape training rewards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np



@dataclass
class Params:
    gamma: float = field(default=0.99, metadata={"doc": "discount of the running return; use the agent's gamma", "ge": 0, "le": 1})
    epsilon: float = field(default=1e-8, metadata={"doc": "added to the variance before the square root", "gt": 0})
    clip: float = field(default=10.0, metadata={"doc": "normalised rewards are clipped to [-clip, clip]", "gt": 0})


presets: dict[str, dict[str, Any]] = {"sb3": {"gamma": 0.99, "epsilon": 1e-8, "clip": 10.0}}


class RunningVariance:
    """Mean and variance of a stream of numbers (Chan et al.'s parallel update, one at a time)."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4  # the prior VecNormalize starts from

    def update(self, x: float) -> None:
        delta = x - self.mean
        total = self.count + 1.0
        self.mean += delta / total
        self.var = (self.var * self.count + delta * delta * self.count / total) / total
        self.count = total


class NormalizeReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Divides rewards by the running std of the discounted return."""

    def __init__(self, env: gym.Env, params: Params):
        gym.utils.RecordConstructorArgs.__init__(self, params=params)
        super().__init__(env)
        self.params = params
        self.stats = RunningVariance()
        self._return = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._return = 0.0
        if seed is not None:
            self.stats = RunningVariance()
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        p = self.params
        self._return = p.gamma * self._return + float(reward)
        self.stats.update(self._return)
        scaled = float(np.clip(float(reward) / np.sqrt(self.stats.var + p.epsilon), -p.clip, p.clip))
        if terminated or truncated:
            self._return = 0.0
        return obs, scaled, terminated, truncated, info


def wrap(env: gym.Env, params: Params) -> gym.Wrapper:
    """Wrap ``env`` with running return normalisation."""
    return NormalizeReward(env, params)
