"""The native on-policy agents' networks and action distributions.

Forward passes avoid per-layer ``nn.Module`` calls and ``torch.distributions``
(whose argument checking costs more than the maths on tiny batches).  The
faster-than-torch pieces (numpy acting, a lean Adam) are in :mod:`harness_algos.kernels`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


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
