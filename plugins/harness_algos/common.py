"""What the native agents share besides nets and kernels: parameter docs, spaces, normalisers, metric means, checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

CHECKPOINT = "agent.pt"


def param(default: Any, doc: str, **bounds: float) -> Any:
    """A dataclass field with its documentation and range (``gt``/``ge``/``lt``/``le``, enforced by harness)."""
    return field(default=default, metadata={"doc": doc, **bounds})


#: Documentation of the ``update_kernel`` parameter of the agents that have one (PPO, A2C, DQN).
KERNEL_DOC = ("how gradient steps are computed: torch autograd, or the same maths in numpy (numpy_update.py; "
              "CPU only, several times faster on small nets, equal up to float rounding)")


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


# --- training metrics ----------------------------------------------------------
#: Env steps between two reports of training metrics (means over the updates in between):
#: an agent that updates every few steps would otherwise log tens of thousands of rows per run.
LOG_EVERY = 1000


class MetricMeans:
    """Averages training scalars (floats, or tensors without a device sync per update) between two reports."""

    def __init__(self) -> None:
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            value = value.detach() if isinstance(value, torch.Tensor) else value
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.counts[key] = self.counts.get(key, 0) + 1

    def pop(self) -> dict[str, float]:
        """The means since the last call; empty when nothing was added."""
        means = {key: float(value) / self.counts[key] for key, value in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means


# --- checkpoints --------------------------------------------------------------
def save_checkpoint(path: Path, **state: Any) -> None:
    """Write ``state`` (state dicts, plain values) to ``path/agent.pt``."""
    torch.save(state, Path(path) / CHECKPOINT)


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(Path(path) / CHECKPOINT, map_location="cpu", weights_only=True)
