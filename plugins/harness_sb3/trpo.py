"""sb3-contrib TRPO as the harness algorithm ``sb3.trpo`` (defaults = sb3-contrib 2.x defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness_sb3.params import SB3Params, agent_functions, doc, load_presets, param

presets, zoo_budgets = load_presets("trpo")
#: The SB3 class, imported only when an agent is built: validating a suite needs no torch/SB3.
ALGORITHM = "sb3_contrib:TRPO"
LOSS_KEY = None


@dataclass
class Params(SB3Params):
    """TRPO hyperparameters (sb3-contrib constructor arguments) plus harness-level env options."""

    policy: str = param("policy", "MlpPolicy")
    n_envs: int = param("n_envs", 1)
    normalize: bool | dict[str, Any] = field(default=False, metadata=doc("normalize"))
    learning_rate: float | str = param("learning_rate", 1e-3)
    n_steps: int = param("n_steps", 2048)
    batch_size: int = param("batch_size", 128)
    gamma: float = param("gamma", 0.99)
    cg_max_steps: int = param("cg_max_steps", 15)
    cg_damping: float = param("cg_damping", 0.1)
    line_search_shrinking_factor: float = param("line_search_shrinking_factor", 0.8)
    line_search_max_iter: int = param("line_search_max_iter", 10)
    n_critic_updates: int = param("n_critic_updates", 10)
    gae_lambda: float = param("gae_lambda", 0.95)
    use_sde: bool = param("use_sde", False)
    sde_sample_freq: int = param("sde_sample_freq", -1)
    normalize_advantage: bool = param("normalize_advantage", True)
    target_kl: float = param("target_kl", 0.01, "trpo_target_kl")
    sub_sampling_factor: int = param("sub_sampling_factor", 1)
    policy_kwargs: dict[str, Any] = field(default_factory=dict, metadata=doc("policy_kwargs"))


make_agent, load_agent = agent_functions(ALGORITHM, LOSS_KEY)
