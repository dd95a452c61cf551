"""DDPG: a deterministic actor, one critic, Polyak-averaged targets, Gaussian exploration.

Lillicrap et al. 2016, "Continuous control with deep reinforcement learning".
DDPG is TD3 without its three fixes (one critic, no target smoothing, no
delay), so this module reuses :class:`harness_algos.td3.TD3Agent` with those
switched off; the training loop is in :mod:`harness_algos.td3`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from harness.api import RunContext
from harness_algos import td3
from harness_algos.common import param
from harness_algos.replay import OffPolicyParams


@dataclass
class Params(OffPolicyParams):
    """DDPG hyperparameters (defaults follow stable-baselines3's DDPG)."""

    exploration_noise: float = param(0.1, "Std of the Gaussian action noise, as a fraction of the half-range.", ge=0)


#: Pendulum values from rl-baselines3-zoo hyperparams/ddpg.yml (the same as its TD3 entry).
presets = {"default": {"*": {}, "Pendulum-v1": dict(td3.PENDULUM)}, "fast": {"Pendulum-v1": dict(td3.FAST_PENDULUM)}}


def as_td3(params: Params) -> td3.Params:
    """The TD3 settings that make TD3's agent a DDPG agent."""
    return td3.Params(**asdict(params), n_critics=1, policy_delay=1, target_policy_noise=0.0)


def make_agent(params: Params, ctx: RunContext) -> td3.TD3Agent:
    return td3.TD3Agent(as_td3(params), ctx, name="ddpg")


def load_agent(params: Params, ctx: RunContext, path: Path) -> td3.TD3Agent:
    agent = make_agent(params, ctx)
    agent.load(path)
    return agent
