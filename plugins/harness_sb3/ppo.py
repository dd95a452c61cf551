"""SB3 PPO as the harness algorithm ``sb3.ppo`` (defaults = SB3 2.x defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness_sb3.params import SB3Params, agent_functions, doc, load_presets, param

presets, zoo_budgets = load_presets("ppo")
#: The SB3 class, imported only when an agent is built: validating a suite needs no torch/SB3.
ALGORITHM = "stable_baselines3:PPO"
LOSS_KEY = "loss/total"


@dataclass
class Params(SB3Params):
    """PPO hyperparameters (SB3 constructor arguments) plus harness-level env options."""

    policy: str = param("policy", "MlpPolicy")
    n_envs: int = param("n_envs", 1)
    normalize: bool | dict[str, Any] = field(default=False, metadata=doc("normalize"))
    learning_rate: float | str = param("learning_rate", 3e-4)
    n_steps: int = param("n_steps", 2048)
    batch_size: int = param("batch_size", 64)
    n_epochs: int = param("n_epochs", 10)
    gamma: float = param("gamma", 0.99)
    gae_lambda: float = param("gae_lambda", 0.95)
    clip_range: float | str = param("clip_range", 0.2)
    clip_range_vf: float | str | None = param("clip_range_vf", None)
    normalize_advantage: bool = param("normalize_advantage", True)
    ent_coef: float = param("ent_coef", 0.0)
    vf_coef: float = param("vf_coef", 0.5)
    max_grad_norm: float = param("max_grad_norm", 0.5)
    use_sde: bool = param("use_sde", False)
    sde_sample_freq: int = param("sde_sample_freq", -1)
    target_kl: float | None = param("target_kl", None)
    policy_kwargs: dict[str, Any] = field(default_factory=dict, metadata=doc("policy_kwargs"))


make_agent, load_agent = agent_functions(ALGORITHM, LOSS_KEY)
