"""DDPG: a deterministic actor, one critic, Polyak-averaged targets, Gaussian exploration.

Lillicrap et al. 2016, "Continuous control with deep reinforcement learning".
DDPG is TD3 without its three fixes (one critic, no target smoothing, no
delay), so this module reuses :class:`harness_algos.td3.TD3Agent` with those
switched off; the training loop is in :mod:`harness_algos.td3`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.api import RunContext
from harness_algos import td3


@dataclass
class Params:
    """DDPG hyperparameters (defaults follow stable-baselines3's DDPG)."""

    learning_rate: float = field(default=1e-3, metadata={"doc": "Adam step size of actor and critic.", "gt": 0})
    buffer_size: int = field(default=1_000_000, metadata={"doc": "Replay buffer capacity in transitions.", "ge": 1})
    learning_starts: int = field(default=100, metadata={"doc": "Env steps of uniformly random actions before the first update.", "ge": 0})
    batch_size: int = field(default=256, metadata={"doc": "Transitions per gradient step.", "ge": 1})
    tau: float = field(default=0.005, metadata={"doc": "Polyak weight of the target-network updates.", "gt": 0, "le": 1})
    gamma: float = field(default=0.99, metadata={"doc": "Discount factor.", "ge": 0, "le": 1})
    train_freq: int = field(default=1, metadata={"doc": "Env steps (summed over envs) between two rounds of updates.", "ge": 1})
    gradient_steps: int = field(default=1, metadata={"doc": "Gradient steps per round of updates.", "ge": 1})
    exploration_noise: float = field(default=0.1, metadata={"doc": "Std of the Gaussian action noise, as a fraction of the half-range.", "ge": 0})
    hidden_sizes: tuple[int, ...] = field(default=(400, 300), metadata={"doc": "Hidden layer widths of actor and critic."})
    n_envs: int = field(default=1, metadata={"doc": "Training environments stepped together.", "ge": 1})


#: Pendulum values from rl-baselines3-zoo hyperparams/ddpg.yml (the same as its TD3 entry).
presets = {"default": {"*": {}, "Pendulum-v1": dict(td3.PENDULUM)}}


def as_td3(params: Params) -> td3.Params:
    """The TD3 settings that make TD3's agent a DDPG agent."""
    return td3.Params(**asdict(params), n_critics=1, policy_delay=1, target_policy_noise=0.0)


def make_agent(params: Params, ctx: RunContext) -> td3.TD3Agent:
    return td3.TD3Agent(as_td3(params), ctx, name="ddpg")


def load_agent(params: Params, ctx: RunContext, path: Path) -> td3.TD3Agent:
    agent = make_agent(params, ctx)
    agent.load(path)
    return agent
