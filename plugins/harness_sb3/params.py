"""Shared pieces of the SB3 Params dataclasses: field docs, checks, presets (no torch here)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import field, fields
from importlib import resources
from typing import Any

from harness.errors import short

#: ``"lin_<start>"``: linear decay from ``start`` to 0 over training (rl-baselines3-zoo's notation).
SCHEDULE = re.compile(r"^lin_([0-9.eE+-]+)$")
#: Names accepted for ``policy_kwargs["activation_fn"]`` (case-insensitive, ``nn.`` prefix allowed).
ACTIVATIONS = ("tanh", "relu", "leakyrelu", "elu", "gelu", "silu", "selu", "sigmoid")
#: Fields read by the adapter itself; everything else goes to the SB3 constructor.
HARNESS_FIELDS = frozenset({"policy", "n_envs", "normalize", "noise_type", "noise_std"})

DOCS: dict[str, str] = {
    # harness-level
    "policy": "SB3 policy class name, e.g. 'MlpPolicy'.",
    "n_envs": "Number of training environments stepped together (in-process DummyVecEnv).",
    "normalize": "VecNormalize the training envs: true, false, or a table of VecNormalize kwargs "
    "(norm_obs, norm_reward, clip_obs, clip_reward, gamma, epsilon); gamma defaults to the algorithm's gamma.",
    "noise_type": "Exploration noise added to actions: 'normal', 'ornstein-uhlenbeck' or none.",
    "noise_std": "Standard deviation of the exploration noise (per action dimension).",
    "policy_kwargs": "Policy network options, e.g. {net_arch = [64, 64], activation_fn = 'tanh'}; net_arch "
    "may be a list or {pi = [...], vf = [...]} / {pi = [...], qf = [...]}; activation_fn is one of "
    + ", ".join(ACTIVATIONS) + "; other keys (log_std_init, ortho_init, ...) go to SB3 unchanged.",
    # shared by several algorithms
    "learning_rate": "Optimizer learning rate: a float, or 'lin_<float>' for a linear decay to 0.",
    "gamma": "Discount factor.",
    "batch_size": "Minibatch size of each gradient step.",
    "max_grad_norm": "Maximum norm for gradient clipping.",
    "use_sde": "Use generalized State-Dependent Exploration instead of action noise (Box actions only).",
    "sde_sample_freq": "Resample the gSDE noise matrix every n steps (-1: only at rollout start).",
    # on-policy
    "n_steps": "Steps collected per environment before each update (rollout length).",
    "gae_lambda": "GAE lambda: bias/variance trade-off of the advantage estimate.",
    "ent_coef": "Entropy bonus coefficient of the loss.",
    "vf_coef": "Value-function coefficient of the loss.",
    "normalize_advantage": "Normalize advantages within each minibatch.",
    "n_epochs": "Passes over the rollout buffer per update.",
    "clip_range": "PPO clipping parameter: a float, or 'lin_<float>' for a linear decay to 0.",
    "clip_range_vf": "Clipping of the value-function update (none: no clipping); float or 'lin_<float>'.",
    "target_kl": "Stop the update early when the approximate KL exceeds this (none: never).",
    "use_rms_prop": "Use RMSprop (as in the original A2C) instead of Adam.",
    "rms_prop_eps": "RMSprop epsilon.",
    "cg_max_steps": "Maximum conjugate-gradient steps when computing the TRPO step direction.",
    "cg_damping": "Damping of the Hessian-vector product in conjugate gradient.",
    "line_search_shrinking_factor": "Step-size shrink factor of the backtracking line search.",
    "line_search_max_iter": "Maximum backtracking steps of the line search.",
    "n_critic_updates": "Value-function gradient steps per TRPO update.",
    "trpo_target_kl": "KL-divergence constraint of the TRPO step.",
    "sub_sampling_factor": "Use every n-th sample of the rollout for the policy step (1: all).",
    # off-policy
    "buffer_size": "Replay buffer capacity (transitions).",
    "learning_starts": "Environment steps of random actions before learning starts.",
    "tau": "Soft-update coefficient of the target networks (1: hard copy).",
    "train_freq": "Update every n steps, or [n, 'episode'] / [n, 'step'].",
    "gradient_steps": "Gradient steps per update (-1: as many as environment steps collected).",
    "target_update_interval": "Environment steps between target-network updates.",
    "exploration_fraction": "Fraction of training over which epsilon decays.",
    "exploration_initial_eps": "Initial epsilon of epsilon-greedy exploration.",
    "exploration_final_eps": "Final epsilon of epsilon-greedy exploration.",
    "sac_ent_coef": "Entropy coefficient: a float, 'auto' (learned), or 'auto_<float>' (learned, initial value).",
    "sac_target_update_interval": "Gradient steps between target-network updates.",
    "target_entropy": "Target entropy when ent_coef is learned ('auto': -dim(actions)).",
    "use_sde_at_warmup": "Use gSDE instead of uniform sampling during the warm-up phase.",
    "policy_delay": "Critic updates per actor (and target) update.",
    "target_policy_noise": "Std of the smoothing noise added to target actions.",
    "target_noise_clip": "Clip of the target-action smoothing noise.",
}


_P, _POS, _NONNEG, _ONE = {"ge": 0, "le": 1}, {"gt": 0}, {"ge": 0}, {"ge": 1}
#: Declared ranges by DOCS name (enforced by harness when a suite is validated); fields that may
#: also be strings (learning_rate, clip_range, ...) are checked by ``SB3Params`` instead.
RANGES: dict[str, dict[str, float]] = {
    "n_envs": _ONE, "noise_std": _NONNEG, "gamma": _P, "batch_size": _ONE, "max_grad_norm": _POS,
    "sde_sample_freq": {"ge": -1}, "n_steps": _ONE, "gae_lambda": _P, "ent_coef": _NONNEG, "vf_coef": _NONNEG,
    "n_epochs": _ONE, "target_kl": _POS, "rms_prop_eps": _POS, "cg_max_steps": _ONE, "cg_damping": _NONNEG,
    "line_search_shrinking_factor": {"gt": 0, "lt": 1}, "line_search_max_iter": _ONE, "n_critic_updates": _ONE,
    "trpo_target_kl": _POS, "sub_sampling_factor": _ONE, "buffer_size": _ONE, "learning_starts": _NONNEG,
    "tau": {"gt": 0, "le": 1}, "gradient_steps": {"ge": -1}, "target_update_interval": _ONE,
    "exploration_fraction": _P, "exploration_initial_eps": _P, "exploration_final_eps": _P,
    "sac_target_update_interval": _ONE, "policy_delay": _ONE, "target_policy_noise": _NONNEG,
    "target_noise_clip": _NONNEG,
}


def doc(name: str) -> dict[str, Any]:
    """Field metadata: the shared documentation of ``name`` and its declared range."""
    return {"doc": DOCS[name], **RANGES.get(name, {})}


def param(name: str, default: Any, doc_key: str | None = None) -> Any:
    """A dataclass field with SB3's (immutable) ``default`` and the shared documentation of ``name``."""
    return field(default=default, metadata=doc(doc_key or name))


def check_schedule(name: str, value: Any) -> None:
    """``value`` must be a positive number or ``"lin_<positive float>"``."""
    match = SCHEDULE.match(value) if isinstance(value, str) else None
    if isinstance(value, str) and not match:
        raise ValueError(f"{name}: expected a float or 'lin_<float>', got {short(value)}")
    start = float(match.group(1)) if match else value
    if start is not None and not start > 0:  # also refuses NaN
        raise ValueError(f"{name} must be > 0, got {short(value)}")


def activation_name(value: str) -> str:
    """``"nn.ReLU"`` / ``"relu"`` -> ``"relu"``; unknown names raise ``ValueError``."""
    name = value.lower().removeprefix("nn.").replace("_", "")
    if name not in ACTIVATIONS:
        raise ValueError(f"policy_kwargs.activation_fn: unknown {value!r} (allowed: {', '.join(ACTIVATIONS)})")
    return name


class SB3Params:
    """Base of every sb3.* Params: checks the fields that are strings with a meaning."""

    def __post_init__(self) -> None:
        names = {f.name for f in fields(self)}  # type: ignore[arg-type]
        for name in ("learning_rate", "clip_range", "clip_range_vf"):
            if name in names:
                check_schedule(name, getattr(self, name))
        activation = getattr(self, "policy_kwargs", {}).get("activation_fn")
        if activation is not None:
            activation_name(str(activation))
        if getattr(self, "n_envs", 1) < 1:
            raise ValueError(f"n_envs: must be >= 1, got {self.n_envs}")  # type: ignore[attr-defined]


def load_presets(algorithm: str) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, int]]:
    """``({"default": {"*": {}}, "zoo": {env: params}}, {env: zoo n_timesteps})`` from presets/<algo>.toml."""
    text = resources.files("harness_sb3").joinpath("presets", f"{algorithm}.toml").read_text()
    zoo = tomllib.loads(text)["zoo"]
    budgets = {env: int(values.pop("n_timesteps")) for env, values in zoo.items()}
    return {"default": {"*": {}}, "zoo": zoo}, budgets


def agent_functions(algorithm: str, loss_key: str | None) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``make_agent`` and ``load_agent`` for the SB3 class ``algorithm`` (``"package:Class"``).

    SB3 and torch are imported only when one of them is called, so validating a suite stays light.
    """

    def make_agent(params: Any, ctx: Any) -> Any:
        from harness_sb3 import adapter

        return adapter.make_agent(algorithm, params, ctx, loss_key)

    def load_agent(params: Any, ctx: Any, path: Any) -> Any:
        from harness_sb3 import adapter

        return adapter.load_agent(algorithm, params, ctx, path, loss_key)

    return make_agent, load_agent
