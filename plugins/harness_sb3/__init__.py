"""harness_sb3: Stable-Baselines3 (and sb3-contrib) algorithms as harness plugins.

Registered through the ``harness`` entry-point group. Importing this module stays cheap: the
specs name implementation modules (``harness_sb3.ppo`` ...) that are imported only when a run
needs them. Each has presets ``default`` (SB3 defaults) and ``zoo`` (rl-baselines3-zoo tuned
values, see ``presets/*.toml``).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.api import AlgorithmSpec
from harness.hookspecs import hookimpl

ANY_ACTION = ("Discrete", "Box", "MultiDiscrete", "MultiBinary")
#: SB3 policies one-hot encode Discrete observations; VecNormalize needs Box ones.
OBSERVATIONS = ("Box", "Discrete")
#: SB3 builds its own DummyVecEnv from ``ctx.make_env``: a suite's ``vector`` backend never reaches it.
OWN_ENVS = {"uses_vector_env": False}

SPECS = (
    AlgorithmSpec("sb3.ppo", "harness_sb3.ppo", "Stable-Baselines3 PPO", ANY_ACTION, OBSERVATIONS, **OWN_ENVS),
    AlgorithmSpec("sb3.a2c", "harness_sb3.a2c", "Stable-Baselines3 A2C", ANY_ACTION, OBSERVATIONS, **OWN_ENVS),
    AlgorithmSpec("sb3.trpo", "harness_sb3.trpo", "sb3-contrib TRPO", ANY_ACTION, OBSERVATIONS, **OWN_ENVS),
    AlgorithmSpec("sb3.dqn", "harness_sb3.dqn", "Stable-Baselines3 DQN", ("Discrete",), OBSERVATIONS, **OWN_ENVS),
    AlgorithmSpec("sb3.sac", "harness_sb3.sac", "Stable-Baselines3 SAC", ("Box",), OBSERVATIONS, **OWN_ENVS),
    AlgorithmSpec("sb3.td3", "harness_sb3.td3", "Stable-Baselines3 TD3", ("Box",), OBSERVATIONS, **OWN_ENVS),
    AlgorithmSpec("sb3.ddpg", "harness_sb3.ddpg", "Stable-Baselines3 DDPG", ("Box",), OBSERVATIONS, **OWN_ENVS),
)


@hookimpl
def harness_register_algorithms(register: Callable[[AlgorithmSpec], None]) -> None:
    """Register the SB3 baselines."""
    for spec in SPECS:
        register(spec)
