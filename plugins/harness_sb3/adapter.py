"""A Stable-Baselines3 model behind the harness Agent interface (shared by every sb3.* algorithm).

Training metrics: SB3 records its training values in ``model.logger.name_to_value``; at most once
every ``METRICS_EVERY`` env steps, and only after a new gradient update, the relay callback hands
them to the harness under stable keys (``METRIC_KEYS``; ``train/loss`` is per algorithm: PPO's total
loss -> ``loss/total``, DQN's TD loss -> ``loss/td``). Between those points it only passes the step
count with one reused, empty dict, so the hot path costs two integer comparisons per vector step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import (
    ActionNoise,
    NormalActionNoise,
    OrnsteinUhlenbeckActionNoise,
)
from stable_baselines3.common.utils import LinearSchedule, set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from harness.api import RunContext, StepCallback, load_object
from harness_sb3.params import HARNESS_FIELDS, SCHEDULE, activation_name

MODEL_FILE = "model.zip"
NORMALIZE_FILE = "vecnormalize.pkl"
#: Env steps between two training-metric reports.
METRICS_EVERY = 1000

#: SB3 logger key -> harness metric key.
METRIC_KEYS: dict[str, str] = {
    "train/policy_gradient_loss": "loss/policy",  # PPO
    "train/policy_loss": "loss/policy",  # A2C
    "train/policy_objective": "loss/policy_objective",  # TRPO surrogate objective (maximised)
    "train/value_loss": "loss/value",
    "train/entropy_loss": "loss/entropy",  # = -mean entropy; policy/entropy is its negation
    "train/approx_kl": "loss/approx_kl",  # PPO
    "train/kl_divergence_loss": "loss/kl",  # TRPO: KL(old || new) after the step
    "train/clip_fraction": "loss/clip_fraction",
    "train/explained_variance": "loss/explained_variance",
    "train/actor_loss": "loss/actor",  # SAC, TD3, DDPG
    "train/critic_loss": "loss/critic",
    "train/ent_coef_loss": "loss/ent_coef",  # SAC with a learned entropy coefficient
    "train/ent_coef": "policy/ent_coef",
    "train/std": "policy/std",  # mean action std (Box actions)
    "train/is_line_search_success": "loss/line_search_success",  # TRPO
    "train/learning_rate": "train/learning_rate",
    "rollout/exploration_rate": "policy/epsilon",  # DQN
}
_ACTIVATIONS = {
    "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "leakyrelu": torch.nn.LeakyReLU, "elu": torch.nn.ELU,
    "gelu": torch.nn.GELU, "silu": torch.nn.SiLU, "selu": torch.nn.SELU, "sigmoid": torch.nn.Sigmoid,
}


def metric_keys(loss_key: str | None = None) -> dict[str, str]:
    """``METRIC_KEYS`` plus where this algorithm's ``train/loss`` goes (if it records one)."""
    return {**METRIC_KEYS, "train/loss": loss_key} if loss_key else dict(METRIC_KEYS)


class HarnessRelay(BaseCallback):
    """SB3 callback forwarding the step count (and, now and then, training values) to the harness."""

    def __init__(self, report: StepCallback, keys: Mapping[str, str]):
        super().__init__(verbose=0)
        self._report = report
        self._keys = keys
        self._no_metrics: dict[str, float] = {}
        self._next_metrics = 0
        self._seen_updates = 0

    def _on_step(self) -> bool:
        steps = self.num_timesteps
        if steps >= self._next_metrics and self.model._n_updates != self._seen_updates:
            metrics = self._training_metrics(steps)
            if metrics:
                return self._report(steps, metrics) is not False
        return self._report(steps, self._no_metrics) is not False

    def _on_training_end(self) -> None:
        if self.model._n_updates != self._seen_updates:
            metrics = self._training_metrics(self.model.num_timesteps)
            if metrics:
                self._report(self.model.num_timesteps, metrics)

    def _training_metrics(self, steps: int) -> dict[str, float]:
        values = self.model.logger.name_to_value
        metrics = {key: float(values[name]) for name, key in self._keys.items() if name in values}
        if "loss/entropy" in metrics:
            metrics["policy/entropy"] = -metrics["loss/entropy"]
        if metrics:
            self._seen_updates = self.model._n_updates
            self._next_metrics = steps + METRICS_EVERY
        return metrics


class SB3Agent:
    """A trained or training SB3 model; ``act`` applies the VecNormalize statistics itself."""

    def __init__(self, model: BaseAlgorithm, keys: Mapping[str, str]):
        self.model = model
        self.keys = keys
        self.normalizer: VecNormalize | None = model.get_vec_normalize_env()
        self._discrete = isinstance(model.action_space, spaces.Discrete)

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        # A logger with no outputs: SB3's default one creates an empty /tmp/SB3-<time> folder per run.
        self.model.set_logger(Logger(folder=None, output_formats=[]))
        self.model.learn(total_steps, callback=HarnessRelay(callback, self.keys))

    def act(self, obs: np.ndarray, deterministic: bool = True) -> Any:
        action = self.act_batch(obs, deterministic)  # SB3's predict takes one observation or a batch
        return int(action) if self._discrete else action

    def act_batch(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations (one row per environment), in one forward pass."""
        if self.normalizer is not None:
            obs = self.normalizer.normalize_obs(obs)
        return self.model.predict(obs, deterministic=deterministic)[0]

    def save(self, path: Path) -> None:
        path = Path(path)
        self.model.save(path / MODEL_FILE)
        if self.normalizer is not None:
            self.normalizer.save(str(path / NORMALIZE_FILE))


def make_vec_env(params: Any, ctx: RunContext, normalizer_path: Path | None = None) -> VecEnv:
    """``n_envs`` harness training envs in a DummyVecEnv, VecNormalize-d when asked (or loaded)."""
    env: VecEnv = DummyVecEnv([lambda i=i: ctx.make_env(i) for i in range(params.n_envs)])
    if normalizer_path is not None and normalizer_path.exists():
        return VecNormalize.load(str(normalizer_path), env)
    if params.normalize is False:
        return env
    options = {"gamma": params.gamma, **(params.normalize if isinstance(params.normalize, dict) else {})}
    return VecNormalize(env, **options)


def schedule(value: float | str | None) -> Any:
    """``"lin_3e-4"`` -> a linear decay from 3e-4 to 0; numbers and None pass through."""
    if isinstance(value, str):
        match = SCHEDULE.match(value)
        if match is None:
            raise ValueError(f"expected a float or 'lin_<float>', got {value!r}")
        return LinearSchedule(float(match.group(1)), 0.0, 1.0)
    return value


def policy_kwargs(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Harness policy_kwargs (plain data) -> SB3 policy_kwargs (activation class, net_arch)."""
    kwargs = dict(raw)
    if "activation_fn" in kwargs:
        kwargs["activation_fn"] = _ACTIVATIONS[activation_name(str(kwargs["activation_fn"]))]
    arch = kwargs.get("net_arch")
    if isinstance(arch, list) and len(arch) == 1 and isinstance(arch[0], dict):
        kwargs["net_arch"] = dict(arch[0])  # SB3 < 1.8 form [dict(pi=..., vf=...)]
    return kwargs


def action_noise(params: Any, action_space: spaces.Space) -> ActionNoise | None:
    """The exploration noise ``noise_type``/``noise_std`` ask for (None when noise_type is None)."""
    if getattr(params, "noise_type", None) is None:
        return None
    size = int(np.prod(action_space.shape))
    mean, sigma = np.zeros(size), params.noise_std * np.ones(size)
    if params.noise_type == "normal":
        return NormalActionNoise(mean=mean, sigma=sigma)
    return OrnsteinUhlenbeckActionNoise(mean=mean, sigma=sigma)


def constructor_kwargs(params: Any, env: VecEnv) -> dict[str, Any]:
    """Params -> keyword arguments of the SB3 constructor (harness-level fields removed)."""
    kwargs = {k: v for k, v in dataclasses.asdict(params).items() if k not in HARNESS_FIELDS}
    for name in ("learning_rate", "clip_range", "clip_range_vf"):
        if name in kwargs:
            kwargs[name] = schedule(kwargs[name])
    if "train_freq" in kwargs and isinstance(kwargs["train_freq"], list | tuple):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    kwargs["policy_kwargs"] = policy_kwargs(kwargs.get("policy_kwargs") or {})
    if hasattr(params, "noise_type"):
        kwargs["action_noise"] = action_noise(params, env.action_space)
    return kwargs


def make_agent(algorithm: str, params: Any, ctx: RunContext, loss_key: str | None) -> SB3Agent:
    """A fresh model of ``algorithm`` (``"package:Class"``); seeded through SB3's global seeding,
    never ``seed=`` (the harness seeds env resets)."""
    set_random_seed(ctx.seed)
    env = make_vec_env(params, ctx)
    model = sb3_class(algorithm)(params.policy, env, device=ctx.device, verbose=0, **constructor_kwargs(params, env))
    return SB3Agent(model, metric_keys(loss_key))


def load_agent(algorithm: str, params: Any, ctx: RunContext, path: Path, loss_key: str | None) -> SB3Agent:
    """Reload what ``SB3Agent.save`` wrote into ``path`` (ready to act or to keep learning)."""
    path = Path(path)
    set_random_seed(ctx.seed)
    env = make_vec_env(params, ctx, normalizer_path=path / NORMALIZE_FILE)
    model = sb3_class(algorithm).load(path / MODEL_FILE, env=env, device=ctx.device)
    return SB3Agent(model, metric_keys(loss_key))


def sb3_class(algorithm: str) -> type[BaseAlgorithm]:
    """The SB3 algorithm class named ``"package:Class"``."""
    return load_object(algorithm)
