"""Building blocks of the native on-policy agents: nets, action heads, normalisers, checkpoints.

Everything here is small and hot: the nets run once per vectorised env step, so
forward passes avoid per-layer ``nn.Module`` calls and ``torch.distributions``
(whose argument checking costs more than the maths on tiny batches).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
CHECKPOINT = "agent.pt"


def param(default: Any, doc: str, **bounds: float) -> Any:
    """A dataclass field with its documentation and range (``gt``/``ge``/``lt``/``le``, enforced by harness)."""
    return field(default=default, metadata={"doc": doc, **bounds})


# --- networks ---------------------------------------------------------------
class MLP(nn.Module):
    """Fully connected net with orthogonal init; ``out_gain`` scales the last layer."""

    def __init__(self, sizes: Sequence[int], activation: str = "tanh", out_gain: float = 1.0):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = ACTIVATIONS[activation]
        for i, layer in enumerate(self.layers):
            gain = out_gain if i == len(self.layers) - 1 else math.sqrt(2)
            nn.init.orthogonal_(layer.weight, gain)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, last = self.layers
        for layer in hidden:
            x = self.activation(F.linear(x, layer.weight, layer.bias))
        return F.linear(x, last.weight, last.bias)


# --- action distributions ---------------------------------------------------
# A head's ``dist(out)`` turns the policy net's output into distribution
# parameters (a tensor, so old and new distributions can be stored and compared);
# discrete actions are int64 tensors.
class CategoricalHead(nn.Module):
    """Discrete actions: ``dist`` holds the logits."""

    def __init__(self, n: int):
        super().__init__()
        self.net_out = n

    def dist(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def sample(self, logits: torch.Tensor) -> torch.Tensor:
        # Gumbel-max trick: argmax(logits + Gumbel noise) is a categorical sample.
        return (logits - torch.empty_like(logits).exponential_().log()).argmax(-1)

    def mode(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(-1)

    def log_prob(self, logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return logits.log_softmax(-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def entropy(self, logits: torch.Tensor) -> torch.Tensor:
        logp = logits.log_softmax(-1)
        return -(logp.exp() * logp).sum(-1)

    def kl(self, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """KL(old || new) per row."""
        old_logp, new_logp = old.log_softmax(-1), new.log_softmax(-1)
        return (old_logp.exp() * (old_logp - new_logp)).sum(-1)


class GaussianHead(nn.Module):
    """Box actions: diagonal Gaussian, state-independent log std; ``dist`` = [mean, log_std]."""

    def __init__(self, dim: int, init_log_std: float = 0.0):
        super().__init__()
        self.net_out = dim
        self.log_std = nn.Parameter(torch.full((dim,), float(init_log_std)))

    def dist(self, mean: torch.Tensor) -> torch.Tensor:
        return torch.cat([mean, self.log_std.expand_as(mean)], -1)

    def sample(self, dist: torch.Tensor) -> torch.Tensor:
        mean, log_std = dist.chunk(2, -1)
        return mean + log_std.exp() * torch.randn_like(mean)

    def mode(self, dist: torch.Tensor) -> torch.Tensor:
        return dist.chunk(2, -1)[0]

    def log_prob(self, dist: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        mean, log_std = dist.chunk(2, -1)
        z = (actions - mean) / log_std.exp()
        return (-0.5 * z.square() - log_std - LOG_SQRT_2PI).sum(-1)

    def entropy(self, dist: torch.Tensor) -> torch.Tensor:
        log_std = dist.chunk(2, -1)[1]
        return (log_std + 0.5 + LOG_SQRT_2PI).sum(-1)

    def kl(self, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """KL(old || new) per row."""
        (m0, s0), (m1, s1) = old.chunk(2, -1), new.chunk(2, -1)
        return (s1 - s0 + ((2 * s0).exp() + (m0 - m1).square()) / (2 * (2 * s1).exp()) - 0.5).sum(-1)


def make_head(space: gym.Space, init_log_std: float = 0.0) -> CategoricalHead | GaussianHead:
    if isinstance(space, gym.spaces.Discrete):
        return CategoricalHead(int(space.n))
    if isinstance(space, gym.spaces.Box):
        return GaussianHead(int(np.prod(space.shape)), init_log_std)
    raise TypeError(f"native on-policy agents support Discrete and Box actions, not {type(space).__name__}")


class ActorCritic(nn.Module):
    """Separate policy and value nets (no shared body), plus the action head."""

    def __init__(self, obs_dim: int, action_space: gym.Space, hidden: Sequence[int],
                 activation: str = "tanh", init_log_std: float = 0.0, critic_hidden: Sequence[int] | None = None):
        super().__init__()
        self.head = make_head(action_space, init_log_std)
        self.policy = MLP([obs_dim, *hidden, self.head.net_out], activation, out_gain=0.01)
        self.critic = MLP([obs_dim, *(hidden if critic_hidden is None else critic_hidden), 1], activation)

    def dist(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head.dist(self.policy(obs))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def step(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sampled actions, their log-probabilities and the state values."""
        dist = self.dist(obs)
        actions = self.head.sample(dist)
        return actions, self.head.log_prob(dist, actions), self.value(obs)

    def policy_parameters(self) -> list[nn.Parameter]:
        return [*self.policy.parameters(), *self.head.parameters()]


class NumpyActor:
    """Rollout-time copy of an :class:`ActorCritic` (CPU) that runs in numpy.

    It reads the model's weights through numpy views (no copy), so build it
    right before a rollout.  For the 4-64-64 nets of classic control a numpy
    step takes about half the time of the same step through torch, whose
    per-op dispatch dominates at these sizes.
    """

    ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}

    def __init__(self, model: ActorCritic, activation: str, rng: np.random.Generator):
        self.policy = [(layer.weight.detach().numpy().T, layer.bias.detach().numpy()) for layer in model.policy.layers]
        self.critic = [(layer.weight.detach().numpy().T, layer.bias.detach().numpy()) for layer in model.critic.layers]
        self.activation, self.rng = self.ACTIVATIONS[activation], rng
        head = model.head
        self.log_std = head.log_std.detach().numpy() if isinstance(head, GaussianHead) else None

    def _mlp(self, x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        for weight, bias in layers[:-1]:
            x = self.activation(x @ weight + bias)
        weight, bias = layers[-1]
        return x @ weight + bias

    def values(self, obs: np.ndarray) -> np.ndarray:
        return self._mlp(obs, self.critic)[:, 0]

    def step(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sampled actions, their log-probabilities and the state values, like ``ActorCritic.step``."""
        out = self._mlp(obs, self.policy)
        if self.log_std is None:  # categorical, sampled with the Gumbel-max trick
            actions = (out + self.rng.gumbel(size=out.shape)).argmax(1)
            shifted = out - out.max(1, keepdims=True)
            logp = shifted[np.arange(len(out)), actions] - np.log(np.exp(shifted).sum(1))
        else:
            noise = self.rng.standard_normal(out.shape, np.float32)
            actions = out + np.exp(self.log_std) * noise
            logp = (-0.5 * noise**2 - self.log_std - LOG_SQRT_2PI).sum(1)
        return actions, logp, self.values(obs)


# --- optimisation -------------------------------------------------------------
class LeanAdam:
    """Adam with torch.optim.Adam's update (no weight decay), in six foreach calls.

    On a dozen tiny tensors ``torch.optim.Adam.step`` spends ~0.3 ms in Python
    bookkeeping, a sixth of a whole PPO minibatch step; this does the same maths
    without it.  ``param_groups[0]["lr"]`` may be changed between steps.
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float, eps: float = 1e-8,
                 betas: tuple[float, float] = (0.9, 0.999)):
        self.params = list(params)
        self.param_groups = [{"lr": lr}]
        self.eps, self.betas, self.steps = eps, betas, 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(1 - beta2**self.steps))
        torch._foreach_add_(denom, self.eps)
        step_size = self.param_groups[0]["lr"] / (1 - beta1**self.steps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, -step_size)


def clip_grad_norm(params: Sequence[nn.Parameter], max_norm: float) -> float:
    """Scale gradients so their global L2 norm is at most ``max_norm``; return the norm before.

    Same result as ``torch.nn.utils.clip_grad_norm_``, at half its cost on tiny nets.
    """
    grads = [p.grad for p in params if p.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))
    if norm > max_norm:
        torch._foreach_mul_(grads, max_norm / (norm + 1e-6))
    return norm


# --- spaces -----------------------------------------------------------------
def flat_dim(space: gym.Space) -> int:
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"native agents need a Box observation space, not {type(space).__name__}")
    return int(np.prod(space.shape))


def action_converter(space: gym.Space):
    """Numpy actions from the policy -> what the env accepts (Box actions are clipped)."""
    if isinstance(space, gym.spaces.Box):
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        shape = space.shape
        return lambda a: np.clip(a, low, high).reshape(*a.shape[:-1], *shape).astype(space.dtype)
    return lambda a: a


# --- normalisers --------------------------------------------------------------
class RunningMeanStd:
    """Running mean and variance over batches (Chan et al.'s parallel update)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4):
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = epsilon

    def update(self, batch: np.ndarray) -> None:
        n = batch.shape[0]
        batch_mean = np.add.reduce(batch, 0) / n  # np.mean/np.var add ~10 us of Python per call
        deviation = batch - batch_mean
        batch_var = np.add.reduce(deviation * deviation, 0) / n
        delta, total = batch_mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total

    def normalize(self, x: np.ndarray, clip: float = 10.0) -> np.ndarray:
        return np.clip((x - self.mean) / np.sqrt(self.var + 1e-8), -clip, clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = np.asarray(state["mean"], np.float64)
        self.var = np.asarray(state["var"], np.float64)
        self.count = float(state["count"])


class RewardScaler:
    """Divides rewards by the running std of each env's discounted return (PPO-max reward scaling)."""

    def __init__(self, n_envs: int, gamma: float):
        self.gamma = gamma
        self.returns = np.zeros(n_envs, np.float64)
        self.rms = RunningMeanStd(())

    def __call__(self, rewards: np.ndarray, ended: np.ndarray) -> np.ndarray:
        self.returns = self.returns * self.gamma + rewards
        self.rms.update(self.returns)
        self.returns[ended] = 0.0
        return rewards / np.sqrt(self.rms.var + 1e-8)


# --- checkpoints --------------------------------------------------------------
def save_checkpoint(path: Path, **state: Any) -> None:
    """Write ``state`` (state dicts, plain values) to ``path/agent.pt``."""
    torch.save(state, Path(path) / CHECKPOINT)


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(Path(path) / CHECKPOINT, map_location="cpu", weights_only=True)
