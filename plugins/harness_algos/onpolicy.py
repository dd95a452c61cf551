"""What the native on-policy agents share: parameters, GAE, the rollout buffer, the agent shell.

The hot loop is :meth:`VecAgent.collect`: per vectorised step one batched
forward pass of the policy and value nets (in numpy on CPU, see
:class:`~harness_algos.kernels.NumpyActor`) and a handful of writes into
preallocated arrays.  Episodes cut by a time limit are bootstrapped from the
value of ``info["final_obs"]`` (the vector env autoresets in the same step).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from harness.api import RunContext
from harness_algos.common import (
    RewardScaler,
    RunningMeanStd,
    action_converter,
    flat_dim,
    load_checkpoint,
    param,
    save_checkpoint,
)
from harness_algos.kernels import NumpyActor, clip_grad_norm
from harness_algos.nets import ActorCritic, CategoricalHead
from harness_algos.numpy_update import ActorCriticGrads, FlatParams


@dataclass
class NetParams:
    """Network and observation options every native on-policy agent has."""

    hidden: tuple[int, ...] = param((64, 64), "hidden layer sizes of the policy net (and of the value net)")
    critic_hidden: tuple[int, ...] | None = param(None, "hidden layer sizes of the value net (None: as `hidden`)")
    activation: Literal["tanh", "relu"] = param("tanh", "hidden-layer activation")
    init_log_std: float = param(0.0, "initial log std of the Gaussian policy (Box actions)")
    normalize_obs: bool = param(False, "normalise observations by a running mean/std (kept for act())")


@dataclass
class RolloutParams(NetParams):
    """Options of agents that learn from fixed-length vectorised rollouts."""

    n_envs: int = param(8, "parallel training environments (one SyncVectorEnv)", ge=1)
    n_steps: int = param(32, "steps per environment in each rollout", ge=1)
    gamma: float = param(0.99, "discount factor", ge=0, le=1)
    gae_lambda: float = param(0.95, "GAE lambda (1.0 gives n-step returns)", ge=0, le=1)
    scale_rewards: bool = param(False, "divide rewards by the running std of the discounted return")


def gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, ended: np.ndarray,
        gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimates and value targets; all arrays are (T, N).

    ``next_values[t]`` is the value of the state after step ``t``: V(final obs)
    when the episode was truncated there, 0 when it terminated.  ``ended[t]``
    marks episode ends (terminated or truncated); advantages do not flow across them.
    """
    deltas = rewards + gamma * next_values - values
    decay = gamma * lam * (1.0 - ended)
    advantages = np.empty_like(deltas)
    carry = np.zeros_like(deltas[0])
    for t in range(len(deltas) - 1, -1, -1):
        carry = deltas[t] + decay[t] * carry
        advantages[t] = carry
    return advantages, advantages + values


class Batch(NamedTuple):
    """A flattened rollout (or a minibatch of one) as tensors, or as numpy arrays for the numpy kernel."""

    obs: torch.Tensor
    actions: torch.Tensor
    logp: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    def take(self, index: torch.Tensor | np.ndarray | slice) -> Batch:
        return Batch(*(x[index] for x in self))

    def numpy(self) -> Batch:
        """The same CPU tensors as numpy views (the numpy update kernel indexes these ~5x faster)."""
        return Batch(*(x.numpy() for x in self))


class Rollout:
    """Preallocated (n_steps, n_envs) arrays of one rollout."""

    def __init__(self, n_steps: int, n_envs: int, obs_dim: int, action_shape: tuple[int, ...], discrete: bool):
        shape = (n_steps, n_envs)
        self.obs = np.zeros((*shape, obs_dim), np.float32)
        self.actions = np.zeros((*shape, *action_shape), np.int64 if discrete else np.float32)
        self.logp, self.values, self.rewards, self.boot = (np.zeros(shape, np.float32) for _ in range(4))
        self.ended = np.zeros(shape, bool)
        self.last_values = np.zeros(n_envs, np.float32)

    def next_values(self) -> np.ndarray:
        """V(s_{t+1}) for every step: the next row's value, or ``boot`` where the episode ended."""
        following = np.concatenate([self.values[1:], self.last_values[None]])
        return np.where(self.ended, self.boot, following)


class TorchActor:
    """Rollout-time view of an :class:`ActorCritic` on any device (numpy in, numpy out)."""

    def __init__(self, model: ActorCritic, device: torch.device):
        self.model, self.device = model, device

    @torch.inference_mode()
    def step(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actions, logp, values = self.model.step(torch.as_tensor(obs, device=self.device))
        return actions.cpu().numpy(), logp.cpu().numpy(), values.cpu().numpy()

    @torch.inference_mode()
    def values(self, obs: np.ndarray) -> np.ndarray:
        return self.model.value(torch.as_tensor(obs, device=self.device)).cpu().numpy()


class Agent:
    """Model, observation normalisation, act/save/load; knows nothing about learning."""

    def __init__(self, params: NetParams, ctx: RunContext):
        self.params, self.ctx = params, ctx
        self.device = torch.device(ctx.device)
        probe = ctx.make_env(0)
        self.observation_space, self.action_space = probe.observation_space, probe.action_space
        probe.close()
        self.obs_dim = flat_dim(self.observation_space)
        self.model = ActorCritic(self.obs_dim, self.action_space, params.hidden, params.activation,
                                 params.init_log_std, params.critic_hidden).to(self.device)
        self.parameters = list(self.model.parameters())
        self.discrete = isinstance(self.model.head, CategoricalHead)
        self.obs_rms = RunningMeanStd((self.obs_dim,)) if params.normalize_obs else None
        self.to_env = action_converter(self.action_space)
        self.rng = np.random.default_rng(int(torch.randint(2**62, ()).item()))  # rollout sampling
        self.env_steps = 0

    def observe(self, obs: np.ndarray, update: bool = False) -> np.ndarray:
        """A batch of raw observations -> flat float32 policy inputs (normalised if asked)."""
        obs = obs.reshape(len(obs), -1)
        if self.obs_rms is None:
            return obs.astype(np.float32, copy=False)
        if update:
            self.obs_rms.update(obs)
        return self.obs_rms.normalize(obs)

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, device=self.device)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> Any:
        action = self.act_batch(np.asarray(obs)[None], deterministic)[0]
        return int(action) if self.discrete else action

    def act_batch(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of raw observations (one row per environment)."""
        x = self.tensor(self.observe(np.asarray(obs)))
        with torch.inference_mode():
            dist = self.model.dist(x)
            action = self.model.head.mode(dist) if deterministic else self.model.head.sample(dist)
        action = action.cpu().numpy()
        return action if self.discrete else self.to_env(action)

    def save(self, path: Path) -> None:
        save_checkpoint(path, model=self.model.state_dict(), env_steps=self.env_steps,
                        obs_rms=self.obs_rms.state_dict() if self.obs_rms else None)

    def load(self, path: Path) -> None:
        state = load_checkpoint(path)
        self.model.load_state_dict(state["model"])
        self.env_steps = state["env_steps"]
        if self.obs_rms is not None:
            self.obs_rms.load_state_dict(state["obs_rms"])

    def numpy_grads(self, kernel: str) -> ActorCriticGrads | None:
        """With ``update_kernel = "numpy"`` on CPU: the model's parameters moved into one flat array
        and the hand-written backward pass over it (:mod:`harness_algos.numpy_update`); else None."""
        if kernel != "numpy" or self.device.type != "cpu":
            return None
        return ActorCriticGrads(self.model, FlatParams(self.parameters), self.params.activation)

    def grad_norm(self, max_norm: float | None) -> float | None:
        """Clip the gradients' global norm when ``max_norm`` is set; return the norm before clipping."""
        if not max_norm:
            return None
        return clip_grad_norm(self.parameters, max_norm)


class VecAgent(Agent):
    """An agent that learns from fixed-length rollouts of ``ctx.make_vec_env(n_envs)``."""

    params: RolloutParams

    def start(self) -> None:
        """Create the training envs and the rollout buffer on first use."""
        if getattr(self, "envs", None) is not None:
            return
        p = self.params
        self.envs = self.ctx.make_vec_env(p.n_envs)
        self.obs = self.envs.reset()[0]
        action_shape = () if self.discrete else (self.model.head.net_out,)
        self.rollout = Rollout(p.n_steps, p.n_envs, self.obs_dim, action_shape, self.discrete)
        self.reward_scaler = RewardScaler(p.n_envs, p.gamma) if p.scale_rewards else None

    def budget(self, total_steps: int) -> Iterator[float]:
        """Yields the fraction of ``total_steps`` done, once per rollout, until it is spent."""
        self.start()
        begin = self.env_steps
        while self.env_steps - begin < total_steps:
            yield (self.env_steps - begin) / total_steps

    def actor(self) -> NumpyActor | TorchActor:
        """What picks actions during a rollout: the current policy, in numpy on CPU."""
        if self.device.type == "cpu":
            return NumpyActor(self.model, self.params.activation, self.rng)
        return TorchActor(self.model, self.device)

    def collect(self) -> None:
        """Step all envs ``n_steps`` times with the current policy, filling ``self.rollout``."""
        r, actor, envs, scaler = self.rollout, self.actor(), self.envs, self.reward_scaler
        r.boot.fill(0.0)
        for t in range(len(r.obs)):
            x = self.observe(self.obs, update=True)
            actions, r.logp[t], r.values[t] = actor.step(x)
            r.obs[t], r.actions[t] = x, actions
            self.obs, rewards, terminated, truncated, info = envs.step(self.to_env(actions))
            ended = terminated | truncated
            r.rewards[t] = rewards if scaler is None else scaler(rewards, ended)
            r.ended[t] = ended
            if truncated.any():  # bootstrap episodes cut by a time limit from V(final obs)
                cut = np.flatnonzero(truncated & ~terminated)
                if len(cut):
                    r.boot[t, cut] = actor.values(self.observe(np.stack(info["final_obs"][cut])))
        r.last_values[:] = actor.values(self.observe(self.obs))
        self.env_steps += r.obs.shape[0] * r.obs.shape[1]

    def batch(self) -> Batch:
        """The rollout with GAE advantages, flattened to (n_steps * n_envs) rows."""
        r, p = self.rollout, self.params
        advantages, returns = gae(r.rewards, r.values, r.next_values(), r.ended, p.gamma, p.gae_lambda)
        rows = r.obs.shape[0] * r.obs.shape[1]
        arrays = (r.obs, r.actions, r.logp, r.values, advantages, returns)
        return Batch(*(self.tensor(a.reshape(rows, *a.shape[2:])) for a in arrays))


def minibatches(data: Batch, size: int, epochs: int) -> Iterator[Batch]:
    """``epochs`` shuffled passes over ``data``, ``size`` rows at a time.

    Each pass gathers one shuffled copy and slices it (views), rather than
    gathering every minibatch; a full-batch pass is not shuffled at all.
    """
    rows, on_torch = len(data.obs), isinstance(data.obs, torch.Tensor)
    for _ in range(epochs):
        if size >= rows:
            yield data
            continue
        order = torch.randperm(rows, device=data.obs.device if on_torch else "cpu")  # one stream either way
        shuffled = data.take(order if on_torch else order.numpy())
        for start in range(0, rows, size):
            yield shuffled.take(slice(start, start + size))


def set_learning_rate(optimizer: Any, lr: float) -> None:
    """Set the learning rate of every parameter group (torch optimisers, LeanAdam, numpy_update's)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> float:
    """1 - Var[returns - values] / Var[returns] (1 is perfect, 0 when returns are constant)."""
    var = float(returns.var())
    return 0.0 if var == 0 else 1.0 - float((returns - values).var()) / var
