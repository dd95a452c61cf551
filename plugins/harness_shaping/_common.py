"""Small pieces the shapers share: component reporting and space checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from harness.api import REWARD_COMPONENTS_KEY


def report_components(info: dict[str, Any], shaper: str, components: Mapping[str, float]) -> None:
    """Add ``shaper/name -> value`` to the step's reward components (merging with other shapers)."""
    table = dict(info.get(REWARD_COMPONENTS_KEY, {}))
    for name, value in components.items():
        table[f"{shaper}/{name}"] = float(value)
    info[REWARD_COMPONENTS_KEY] = table


def check_finite(name: str, value: float) -> None:
    """Raise ValueError unless ``value`` is a finite number."""
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def short_space(space: gym.Space) -> str:
    """``Box(8,)``, ``Discrete(4)``: a space without its (long) bounds."""
    if isinstance(space, gym.spaces.Box):
        return f"Box{space.shape}"
    return str(space)


def describe_spaces(env: gym.Env) -> str:
    return f"observation space {short_space(env.observation_space)}, action space {short_space(env.action_space)}"


def is_lunar_lander_like(env: gym.Env) -> bool:
    """Observation Box of shape (8,) and Discrete(4) or Box(2,) actions, as LunarLander has."""
    obs, act = env.observation_space, env.action_space
    if not isinstance(obs, gym.spaces.Box) or obs.shape != (8,):
        return False
    if isinstance(act, gym.spaces.Discrete):
        return int(act.n) == 4
    return isinstance(act, gym.spaces.Box) and act.shape == (2,)


def require_lunar_lander(env: gym.Env, who: str) -> None:
    """Raise ValueError naming the spaces when ``env`` does not look like LunarLander."""
    if not is_lunar_lander_like(env):
        raise ValueError(
            f"{who} needs a LunarLander-like env (observation shape (8,), Discrete(4) or Box(2,) actions); "
            f"got {describe_spaces(env)}"
        )
