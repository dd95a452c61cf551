"""SB3 A2C as the harness algorithm ``sb3.a2c`` (defaults = SB3 2.x defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness_sb3.params import SB3Params, agent_functions, doc, load_presets, param

presets, zoo_budgets = load_presets("a2c")
#: The SB3 class, imported only when an agent is built: validating a suite needs no torch/SB3.
ALGORITHM = "stable_baselines3:A2C"
LOSS_KEY = None


@dataclass
class Params(SB3Params):
    """A2C hyperparameters (SB3 constructor arguments) plus harness-level env options."""

    policy: str = param("policy", "MlpPolicy")
    n_envs: int = param("n_envs", 1)
    normalize: bool | dict[str, Any] = field(default=False, metadata=doc("normalize"))
    learning_rate: float | str = param("learning_rate", 7e-4)
    n_steps: int = param("n_steps", 5)
    gamma: float = param("gamma", 0.99)
    gae_lambda: float = param("gae_lambda", 1.0)
    ent_coef: float = param("ent_coef", 0.0)
    vf_coef: float = param("vf_coef", 0.5)
    max_grad_norm: float = param("max_grad_norm", 0.5)
    rms_prop_eps: float = param("rms_prop_eps", 1e-5)
    use_rms_prop: bool = param("use_rms_prop", True)
    use_sde: bool = param("use_sde", False)
    sde_sample_freq: int = param("sde_sample_freq", -1)
    normalize_advantage: bool = param("normalize_advantage", False)
    policy_kwargs: dict[str, Any] = field(default_factory=dict, metadata=doc("policy_kwargs"))


make_agent, load_agent = agent_functions(ALGORITHM, LOSS_KEY)
