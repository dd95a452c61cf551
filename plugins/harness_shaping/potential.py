"""Potential-based shaping (Ng, Harada & Russell 1999): r' = r + gamma*Phi(s') - Phi(s).

Phi of a terminal state is 0, so an episode's gamma-discounted shaped return is its
true return minus Phi(s0): the ranking of policies, hence the optimal policy, is kept
(when ``gamma`` equals the agent's discount).  Truncation (a time limit) is not
terminal, so there Phi(s') is used as usual.

Potentials:

* ``lunar_lander``: LunarLander's own progress measure, with the coefficients its
  step function uses (gymnasium ``lunar_lander.py``):
  ``-100*|pos| - 100*|vel| - 100*|angle| + 10*(leg contacts)``.
* ``negative_distance_to_goal``: ``-|goal - obs[0]|`` (MountainCar's position); the goal
  defaults to the env's ``goal_position``.
* ``linear``: ``weights . obs`` over the observation's dimensions.

Every potential is multiplied by ``scale``.  The step's bonus ``gamma*Phi(s') - Phi(s)``
is reported under ``potential/bonus``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from harness_shaping._common import check_finite, describe_spaces, report_components, require_lunar_lander

Potential = Callable[[np.ndarray], float]
KINDS = ("lunar_lander", "negative_distance_to_goal", "linear")


@dataclass
class Params:
    potential: Literal["lunar_lander", "negative_distance_to_goal", "linear"] = field(
        default="lunar_lander", metadata={"doc": "which potential Phi(s): " + ", ".join(KINDS)}
    )
    gamma: float = field(default=0.99, metadata={"doc": "discount in gamma*Phi(s') - Phi(s); use the agent's gamma", "ge": 0, "le": 1})
    scale: float = field(default=1.0, metadata={"doc": "factor on the potential"})
    weights: tuple[float, ...] = field(
        default=(), metadata={"doc": "per-observation-dimension weights (potential 'linear' only)"}
    )
    goal: float | None = field(
        default=None,
        metadata={"doc": "goal position (potential 'negative_distance_to_goal'; default: env.goal_position)"},
    )

    def __post_init__(self) -> None:
        if self.potential not in KINDS:
            raise ValueError(f"potential must be one of {', '.join(KINDS)}; got {self.potential!r}")
        check_finite("scale", self.scale)
        for w in self.weights:
            check_finite("weights", w)
        if self.potential == "linear" and not self.weights:
            raise ValueError("potential 'linear' needs weights (one per observation dimension)")
        if self.potential != "linear" and self.weights:
            raise ValueError(f"weights are only used by potential 'linear', not {self.potential!r}")
        if self.goal is not None:
            check_finite("goal", self.goal)
            if self.potential != "negative_distance_to_goal":
                raise ValueError(f"goal is only used by potential 'negative_distance_to_goal', not {self.potential!r}")


presets: dict[str, dict[str, Any]] = {
    "lunar_lander": {"potential": "lunar_lander", "gamma": 0.99},
    "mountain_car": {"potential": "negative_distance_to_goal", "gamma": 0.99},
}


def lunar_lander_potential(obs: np.ndarray) -> float:
    x, y, vx, vy, angle, _, leg_l, leg_r = (float(v) for v in obs[:8])
    return -100.0 * np.hypot(x, y) - 100.0 * np.hypot(vx, vy) - 100.0 * abs(angle) + 10.0 * (leg_l + leg_r)


def _flat_box(env: gym.Env, who: str) -> gym.spaces.Box:
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"{who} needs a flat Box observation; got {describe_spaces(env)}")
    return space


def make_potential(env: gym.Env, params: Params) -> Potential:
    """Phi for ``env``, already multiplied by ``params.scale``; fails clearly if it cannot fit."""
    who = f"potential {params.potential!r}"
    scale = params.scale
    if params.potential == "lunar_lander":
        require_lunar_lander(env, who)
        return lambda obs: scale * lunar_lander_potential(obs)
    space = _flat_box(env, who)
    if params.potential == "linear":
        weights = np.asarray(params.weights, dtype=np.float64)
        if weights.shape != space.shape:
            raise ValueError(f"{who} has {weights.size} weights but the observation has shape {space.shape}")
        return lambda obs: scale * float(weights @ np.asarray(obs, dtype=np.float64))
    goal = params.goal if params.goal is not None else getattr(env.unwrapped, "goal_position", None)
    if goal is None:
        raise ValueError(f"{who}: the env has no goal_position; give the goal parameter")
    goal = float(goal)
    return lambda obs: -scale * abs(goal - float(obs[0]))


class PotentialShaping(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds gamma*Phi(s') - Phi(s) to each reward (Phi(terminal) = 0)."""

    def __init__(self, env: gym.Env, params: Params):
        phi = make_potential(env, params)
        gym.utils.RecordConstructorArgs.__init__(self, params=params)
        super().__init__(env)
        self.phi, self.gamma = phi, params.gamma
        self._last = 0.0

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._last = self.phi(obs)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        following = 0.0 if terminated else self.phi(obs)
        bonus = self.gamma * following - self._last
        self._last = following
        report_components(info, "potential", {"bonus": bonus})
        return obs, float(reward) + bonus, terminated, truncated, info


def wrap(env: gym.Env, params: Params) -> gym.Wrapper:
    """Wrap ``env`` with potential-based shaping."""
    return PotentialShaping(env, params)
