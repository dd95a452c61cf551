"""Affine reward change: r' = factor * r + offset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from harness_shaping._common import check_finite


@dataclass
class Params:
    factor: float = field(default=1.0, metadata={"doc": "multiplies every reward"})
    offset: float = field(default=0.0, metadata={"doc": "added to every reward after scaling"})

    def __post_init__(self) -> None:
        check_finite("factor", self.factor)
        check_finite("offset", self.offset)
        if self.factor == 0.0:
            raise ValueError("factor must not be 0 (it would erase the reward)")


presets: dict[str, dict[str, Any]] = {"tenth": {"factor": 0.1}}


class ScaleReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Multiplies each reward by ``factor`` and adds ``offset``."""

    def __init__(self, env: gym.Env, params: Params):
        gym.utils.RecordConstructorArgs.__init__(self, params=params)
        super().__init__(env)
        self.factor, self.offset = params.factor, params.offset

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, self.factor * float(reward) + self.offset, terminated, truncated, info


def wrap(env: gym.Env, params: Params) -> gym.Wrapper:
    """Wrap ``env`` so that rewards become ``factor * r + offset``."""
    return ScaleReward(env, params)
