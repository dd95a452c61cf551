"""Reward clipping: r' = min(max(r, low), high)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np


@dataclass
class Params:
    low: float = field(default=-1.0, metadata={"doc": "smallest reward passed on"})
    high: float = field(default=1.0, metadata={"doc": "largest reward passed on"})

    def __post_init__(self) -> None:
        if np.isnan(self.low) or np.isnan(self.high):
            raise ValueError(f"low and high must be numbers, got low={self.low!r}, high={self.high!r}")
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got low={self.low!r}, high={self.high!r}")


#: ``unit`` is the [-1, 1] clipping of the Atari DQN work (Mnih et al., 2015).
presets: dict[str, dict[str, Any]] = {"unit": {"low": -1.0, "high": 1.0}}


class ClipReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Clips each reward into ``[low, high]``."""

    def __init__(self, env: gym.Env, params: Params):
        gym.utils.RecordConstructorArgs.__init__(self, params=params)
        super().__init__(env)
        self.low, self.high = params.low, params.high

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, min(max(float(reward), self.low), self.high), terminated, truncated, info


def wrap(env: gym.Env, params: Params) -> gym.Wrapper:
    """Wrap ``env`` so that rewards are clipped into ``[low, high]``."""
    return ClipReward(env, params)
