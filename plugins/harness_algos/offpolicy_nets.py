"""Small networks for the off-policy agents: an MLP, a tanh actor and a critic ensemble."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between them."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Deterministic policy ``obs -> action`` in the scaled box ``[-1, 1]^act_dim``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]):
        super().__init__()
        self.net = mlp([obs_dim, *hidden, act_dim])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


class EnsembleLinear(nn.Module):
    """``n`` independent linear layers applied in one batched matmul: ``(m, B, in) -> (m, B, out)``.

    An input with ``m < n`` leading entries goes through the first ``m`` members only.
    """

    def __init__(self, n: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(n, 1, out_features))
        bound = 1.0 / math.sqrt(in_features)  # the range nn.Linear's default init draws from
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members = len(x)
        return torch.baddbmm(self.bias[:members], x, self.weight[:members])


class Critics(nn.Module):
    """``n`` Q-functions ``Q_i(obs, action)`` evaluated together; returns shape ``(members, B)``.

    One batched network instead of ``n`` separate ones: TD3's twin critics cost
    the same number of kernel launches as DDPG's single critic.
    """

    def __init__(self, n: int, obs_dim: int, act_dim: int, hidden: Sequence[int]):
        super().__init__()
        sizes = [obs_dim + act_dim, *hidden, 1]
        self.n = n
        self.layers = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in itertools.pairwise(sizes))

    def forward(self, obs: torch.Tensor, action: torch.Tensor, members: int | None = None) -> torch.Tensor:
        """The first ``members`` Q-functions (all by default), shape ``(members, B)``."""
        x = torch.cat([obs, action], dim=-1).expand(members or self.n, -1, -1)
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x).squeeze(-1)


class NumpyMLP:
    """A numpy mirror of a ReLU :func:`mlp` for acting, one batch of envs at a time.

    A torch call costs ~40 us of Python and dispatch for a one-row batch; these
    few numpy ops cost ~9 us. On CPU the arrays share memory with the torch
    parameters, so they follow every (in-place) optimiser step; on other
    devices :meth:`refresh` copies them after updates.
    """

    def __init__(self, net: nn.Sequential, output: str = "identity"):
        self.linears = [m for m in net if isinstance(m, nn.Linear)]
        self.output = output
        self.shared = self.linears[0].weight.device.type == "cpu"
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Copy the weights again (a no-op on CPU, where they are shared)."""
        if force or not self.shared:
            self.layers = [(m.weight.detach().cpu().numpy().T, m.bias.detach().cpu().numpy()) for m in self.linears]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        last = len(self.layers) - 1
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if i < last:
                np.maximum(x, 0.0, out=x)
        return np.tanh(x) if self.output == "tanh" else x


def adam(params, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel (one op for all parameters; ~15% faster updates for small nets on CPU)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) * target + tau * source``, parameter by parameter (``tau=1``: copy)."""
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.lerp_(s, tau)
