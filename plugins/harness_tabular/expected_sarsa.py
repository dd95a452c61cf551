"""Expected SARSA: TD control bootstrapping from the policy's expected next value
(van Seijen et al. 2009; Sutton & Barto, sec. 6.6).

``Q(s,a) += alpha * (r + gamma * sum_a' pi(a'|s') Q(s',a') - Q(s,a))`` with
``pi`` the epsilon-greedy behaviour policy, so the update does not depend on
which next action happens to be sampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.api import RunContext
from harness_tabular._common import epsilon_greedy_value, load_saved
from harness_tabular._td import TDAgent, TDParams


@dataclass
class Params(TDParams):
    """Expected SARSA hyperparameters."""


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
    """``r + gamma * E_pi[Q(s', .)]`` under epsilon-greedy ``pi``, or ``r`` when terminated."""
    if terminated:
        return float(reward)
    return float(reward + gamma * epsilon_greedy_value(next_row, epsilon))


class ExpectedSarsaAgent(TDAgent):
    algorithm = "expected_sarsa"
    target = staticmethod(target)


def make_agent(params: Params, ctx: RunContext) -> ExpectedSarsaAgent:
    return ExpectedSarsaAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> ExpectedSarsaAgent:
    return load_saved(ExpectedSarsaAgent(params, ctx), path)
