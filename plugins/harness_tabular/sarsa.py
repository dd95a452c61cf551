"""SARSA: on-policy one-step TD control (Sutton & Barto, sec. 6.4).

``Q(s,a) += alpha * (r + gamma * Q(s',a') - Q(s,a))`` with ``a'`` the action
the epsilon-greedy behaviour policy actually takes next.  With epsilon decaying
to 0 it learns the greedy-optimal policy; with a fixed epsilon it learns the
best epsilon-greedy one (the safe path on CliffWalking).
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
    """SARSA hyperparameters."""


presets = {
    "default": {
        "*": {},
        # the slippery lake's noisy returns want small steps (the deterministic lake learns as fast)
        "FrozenLake-v1": {"alpha": 0.1},
        # epsilon-greedy dithering makes on-policy TD prefer the safe path (return -17); acting
        # greedily on Q = 0, optimistic as every reward is negative, explores and finds the optimum -13
        "CliffWalking-v1": {"epsilon_start": 0.0},
    }
}


def target(reward: float, gamma: float, next_row: np.ndarray, next_action: int, epsilon: float,
           terminated: bool) -> float:
    """``r + gamma * Q(s', a')``, or ``r`` when the episode terminated."""
    if terminated:
        return float(reward)
    return float(reward + gamma * next_row[next_action])


class SarsaAgent(TDAgent):
    algorithm = "sarsa"
    target = staticmethod(target)


def make_agent(params: Params, ctx: RunContext) -> SarsaAgent:
    return SarsaAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> SarsaAgent:
    return load_saved(SarsaAgent(params, ctx), path)
