"""Categorical policies: an MLP for vector observations, a GRU for token histories."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical


def _orthogonal(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class MLPPolicy(nn.Module):
    """Flattened observation -> two tanh layers -> action logits."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            _orthogonal(nn.Linear(obs_dim, hidden), math.sqrt(2)), nn.Tanh(),
            _orthogonal(nn.Linear(hidden, hidden), math.sqrt(2)), nn.Tanh(),
            _orthogonal(nn.Linear(hidden, n_actions), 0.01),
        )

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.flatten(1))


class GRUPolicy(nn.Module):
    """Reads a one-hot token matrix ``[slots, kinds]`` row by row; acts from the last written row.

    Rows are written contiguously from the start (prompt, separator, answer so
    far); all-zero rows are empty slots, so the last written row is where the
    next token goes.
    """

    def __init__(self, n_kinds: int, n_actions: int, hidden: int):
        super().__init__()
        self.embed = nn.Linear(n_kinds, hidden, bias=False)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head = _orthogonal(nn.Linear(hidden, n_actions), 0.01)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        last = (obs.sum(-1) > 0).sum(-1).clamp(min=1) - 1
        width = int(last.max()) + 1 if len(last) else 1  # later rows cannot matter: the GRU is causal
        states, _ = self.gru(self.embed(obs[:, :width]))
        return self.head(states[torch.arange(obs.shape[0]), last])


def make_policy(obs_shape: tuple[int, ...], n_actions: int, kind: str, hidden: int) -> nn.Module:
    """``kind`` is ``mlp``, ``gru`` or ``auto`` (GRU for 2-D token matrices, else MLP)."""
    if kind == "auto":
        kind = "gru" if len(obs_shape) == 2 else "mlp"
    if kind == "gru":
        if len(obs_shape) != 2:
            raise ValueError(f"the gru policy needs [slots, kinds] observations, got shape {obs_shape}")
        return GRUPolicy(obs_shape[1], n_actions, hidden)
    return MLPPolicy(int(np.prod(obs_shape)), n_actions, hidden)


def distribution(policy: nn.Module, obs: torch.Tensor) -> Categorical:
    return Categorical(logits=policy(obs))


@torch.no_grad()
def act_one(policy: nn.Module, obs: np.ndarray, deterministic: bool, device: str = "cpu") -> int:
    """Action for one raw observation."""
    logits = policy(torch.as_tensor(np.asarray(obs, np.float32), device=device).unsqueeze(0))[0]
    if deterministic:
        return int(torch.argmax(logits))
    return int(Categorical(logits=logits).sample())
