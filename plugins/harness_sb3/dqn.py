"""SB3 DQN as the harness algorithm ``sb3.dqn`` (defaults = SB3 2.x defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness_sb3.params import SB3Params, agent_functions, doc, load_presets, param

presets, zoo_budgets = load_presets("dqn")
#: The SB3 class, imported only when an agent is built: validating a suite needs no torch/SB3.
ALGORITHM = "stable_baselines3:DQN"
LOSS_KEY = "loss/td"


@dataclass
class Params(SB3Params):
    """DQN hyperparameters (SB3 constructor arguments) plus harness-level env options."""

    policy: str = param("policy", "MlpPolicy")
    n_envs: int = param("n_envs", 1)
    normalize: bool | dict[str, Any] = field(default=False, metadata=doc("normalize"))
    learning_rate: float | str = param("learning_rate", 1e-4)
    buffer_size: int = param("buffer_size", 1_000_000)
    learning_starts: int = param("learning_starts", 100)
    batch_size: int = param("batch_size", 32)
    tau: float = param("tau", 1.0)
    gamma: float = param("gamma", 0.99)
    train_freq: int | tuple[int, str] = param("train_freq", 4)
    gradient_steps: int = param("gradient_steps", 1)
    target_update_interval: int = param("target_update_interval", 10_000)
    exploration_fraction: float = param("exploration_fraction", 0.1)
    exploration_initial_eps: float = param("exploration_initial_eps", 1.0)
    exploration_final_eps: float = param("exploration_final_eps", 0.05)
    max_grad_norm: float = param("max_grad_norm", 10.0)
    policy_kwargs: dict[str, Any] = field(default_factory=dict, metadata=doc("policy_kwargs"))


make_agent, load_agent = agent_functions(ALGORITHM, LOSS_KEY)
