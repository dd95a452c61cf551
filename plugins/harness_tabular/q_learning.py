"""Q-learning: off-policy one-step TD control (Watkins 1989; Sutton & Barto, sec. 6.5).

``Q(s,a) += alpha * (r + gamma * max_a' Q(s',a') - Q(s,a))`` while acting
epsilon-greedily; it learns the greedy-optimal values whatever the exploration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.api import RunContext
from harness_tabular._common import load_saved
from harness_tabular._td import TDAgent, TDParams


@dataclass
class Params(TDParams):
    """Q-learning hyperparameters."""


presets = {
    "default": {
        "*": {},
        # the slippery lake's noisy returns want small steps (the deterministic lake learns as fast)
        "FrozenLake-v1": {"alpha": 0.1},
    }
}


def target(reward: float, gamma: float, next_row: np.ndarray, next_action: int, epsilon: float,
           terminated: bool) -> float:
    """``r + gamma * max_a' Q(s', a')``, or ``r`` when the episode terminated."""
    if terminated:
        return float(reward)
    return float(reward + gamma * max(next_row.tolist()))


class QLearningAgent(TDAgent):
    algorithm = "q_learning"
    target = staticmethod(target)


def make_agent(params: Params, ctx: RunContext) -> QLearningAgent:
    return QLearningAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> QLearningAgent:
    return load_saved(QLearningAgent(params, ctx), path)
