"""The seed-003 LunarLander reward: weighted state terms and engine penalties.

Each step, from the *next* observation ``(x, y, vx, vy, angle, v_angle, leg_l, leg_r)``
and the action taken, the shaper computes (as in seed 003's ``RewardShapingWrapper``)::

    distance = -sqrt(x^2 + y^2)        velocity = -sqrt(vx^2 + vy^2)
    angle    = -|angle|                legs     = leg_l_contact + leg_r_contact
    shaped   = scale * (w_distance*distance + w_velocity*velocity + w_angle*angle
                        + w_legs*legs - penalty_main*main_power - penalty_side*side_power)

``main_power``/``side_power`` are 1 when the discrete action fires that engine; for
continuous actions they are the throttle LunarLander itself uses (0.5..1, 0 when off).
``mode = "replace"`` makes ``shaped`` the reward; ``"add"`` adds it to the env reward.
Each weighted term is reported per step under ``lunar_lander/<term>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from harness_shaping._common import check_finite, report_components, require_lunar_lander

WEIGHTS = ("w_distance", "w_velocity", "w_angle", "w_legs", "penalty_main", "penalty_side")


@dataclass
class Params:
    w_distance: float = field(default=0.0, metadata={"doc": "weight of the distance-to-pad penalty"})
    w_velocity: float = field(default=0.0, metadata={"doc": "weight of the speed penalty"})
    w_angle: float = field(default=0.0, metadata={"doc": "weight of the tilt (|angle|) penalty"})
    w_legs: float = field(default=0.0, metadata={"doc": "bonus per leg touching the ground"})
    penalty_main: float = field(default=0.0, metadata={"doc": "cost per step of firing the main engine"})
    penalty_side: float = field(default=0.0, metadata={"doc": "cost per step of firing a side engine"})
    mode: Literal["replace", "add"] = field(
        default="add", metadata={"doc": "'replace' the env reward with the shaped one, or 'add' it"}
    )
    scale: float = field(default=1.0, metadata={"doc": "factor on the shaped term (not on the env reward)"})

    def __post_init__(self) -> None:
        for name in WEIGHTS:
            value = getattr(self, name)
            check_finite(name, value)
            if value < 0:
                raise ValueError(f"{name} must be >= 0 (it weighs a penalty or bonus; 0 turns it off), got {value!r}")
        check_finite("scale", self.scale)
        if self.mode not in ("replace", "add"):
            raise ValueError(f"mode must be 'replace' or 'add', got {self.mode!r}")


#: Seed 003's example "custom reward" (steady, slow, fuel-saving landing).
presets: dict[str, dict[str, Any]] = {
    "seed003": {
        "w_distance": 200.0,
        "w_velocity": 50.0,
        "w_angle": 50.0,
        "w_legs": 10.0,
        "penalty_main": 0.3,
        "penalty_side": 0.03,
        "mode": "replace",
    },
}


def engine_power(action: Any, continuous: bool) -> tuple[float, float]:
    """(main, side) engine throttle of an action, following LunarLander's own rules."""
    if not continuous:
        action = int(action)
        return float(action == 2), float(action in (1, 3))
    main_in, side_in = (float(a) for a in np.asarray(action, dtype=np.float64).reshape(2))
    main = (np.clip(main_in, 0.0, 1.0) + 1.0) / 2.0 if main_in > 0.0 else 0.0
    side = np.clip(abs(side_in), 0.5, 1.0) if abs(side_in) > 0.5 else 0.0
    return float(main), float(side)


def components(obs: np.ndarray, action: Any, params: Params, continuous: bool) -> dict[str, float]:
    """The weighted, scaled terms of one step; their sum is the shaped reward."""
    x, y, vx, vy, angle, _, leg_l, leg_r = (float(v) for v in obs[:8])
    main, side = engine_power(action, continuous)
    raw = {
        "distance": params.w_distance * -np.hypot(x, y),
        "velocity": params.w_velocity * -np.hypot(vx, vy),
        "angle": params.w_angle * -abs(angle),
        "legs": params.w_legs * (float(leg_l > 0.5) + float(leg_r > 0.5)),
        "main_engine": -params.penalty_main * main,
        "side_engine": -params.penalty_side * side,
    }
    return {name: params.scale * float(value) for name, value in raw.items()}


class LunarLanderShaping(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Replaces or augments LunarLander's reward with seed 003's weighted terms."""

    def __init__(self, env: gym.Env, params: Params):
        require_lunar_lander(env, "shaper 'lunar_lander'")
        gym.utils.RecordConstructorArgs.__init__(self, params=params)
        super().__init__(env)
        self.params = params
        self.continuous = isinstance(env.action_space, gym.spaces.Box)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        terms = components(obs, action, self.params, self.continuous)
        shaped = sum(terms.values())
        report_components(info, "lunar_lander", terms)
        new_reward = shaped if self.params.mode == "replace" else float(reward) + shaped
        return obs, float(new_reward), terminated, truncated, info


def wrap(env: gym.Env, params: Params) -> gym.Wrapper:
    """Wrap ``env`` (LunarLander-like) with the seed-003 reward."""
    return LunarLanderShaping(env, params)
