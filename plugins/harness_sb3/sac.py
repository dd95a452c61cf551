"""SB3 SAC as the harness algorithm ``sb3.sac`` (defaults = SB3 2.x defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from harness_sb3.params import SB3Params, agent_functions, doc, load_presets, param

presets, zoo_budgets = load_presets("sac")
#: The SB3 class, imported only when an agent is built: validating a suite needs no torch/SB3.
ALGORITHM = "stable_baselines3:SAC"
LOSS_KEY = None


@dataclass
class Params(SB3Params):
    """SAC hyperparameters (SB3 constructor arguments) plus harness-level env and noise options."""

    policy: str = param("policy", "MlpPolicy")
    n_envs: int = param("n_envs", 1)
    normalize: bool | dict[str, Any] = field(default=False, metadata=doc("normalize"))
    learning_rate: float | str = param("learning_rate", 3e-4)
    buffer_size: int = param("buffer_size", 1_000_000)
    learning_starts: int = param("learning_starts", 100)
    batch_size: int = param("batch_size", 256)
    tau: float = param("tau", 0.005)
    gamma: float = param("gamma", 0.99)
    train_freq: int | tuple[int, str] = param("train_freq", 1)
    gradient_steps: int = param("gradient_steps", 1)
    ent_coef: float | str = param("ent_coef", "auto", "sac_ent_coef")
    target_update_interval: int = param("target_update_interval", 1, "sac_target_update_interval")
    target_entropy: float | str = param("target_entropy", "auto")
    use_sde: bool = param("use_sde", False)
    sde_sample_freq: int = param("sde_sample_freq", -1)
    use_sde_at_warmup: bool = param("use_sde_at_warmup", False)
    noise_type: Literal["normal", "ornstein-uhlenbeck"] | None = param("noise_type", None)
    noise_std: float = param("noise_std", 0.1)
    policy_kwargs: dict[str, Any] = field(default_factory=dict, metadata=doc("policy_kwargs"))


make_agent, load_agent = agent_functions(ALGORITHM, LOSS_KEY)
