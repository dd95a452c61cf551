"""The known transition model and the Bellman backups dynamic programming needs.

Gymnasium's toy-text environments (FrozenLake, CliffWalking, Taxi) expose
their model as ``env.unwrapped.P[state][action] = [(prob, next_state,
reward, terminated), ...]``.  It is flattened here into arrays, one entry per
possible transition, so that a backup of every state-action pair is a single
``np.bincount``.

"Steps" for DP methods: one step is using the model's outcomes of one
state-action pair once (one Bellman backup of it).  A value-iteration sweep or
a policy improvement costs ``n_states * n_actions`` steps; a policy-evaluation
sweep, or an exact evaluation (one linear solve over the policy's rows),
costs ``n_states`` (one action per state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from harness.api import RunContext, StepCallback
from harness_tabular._common import METRICS_EVERY, TabularAgent


@dataclass(frozen=True)
class TransitionModel:
    """All transitions ``(s, a) -> s'`` with their probability, reward and end flag."""

    n_states: int
    n_actions: int
    pair: np.ndarray
    """``s * n_actions + a`` of each transition."""
    prob: np.ndarray
    next_state: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray


def model_error(algorithm: str, env_name: str, problem: str) -> ValueError:
    return ValueError(
        f"{algorithm} needs a known transition model `env.unwrapped.P` "
        f"(P[state][action] = [(prob, next_state, reward, terminated), ...]); "
        f"environment {env_name!r} {problem}"
    )


def transition_model(env: gym.Env, n_states: int, n_actions: int, algorithm: str, env_name: str) -> TransitionModel:
    """The model of ``env`` as flat arrays; a ValueError naming the algorithm and env if it has none."""
    table = getattr(env.unwrapped, "P", None)
    if not isinstance(table, Mapping):
        raise model_error(algorithm, env_name, "has none")
    rows: list[tuple[int, float, int, float, float]] = []
    for s in range(n_states):
        for a in range(n_actions):
            try:
                outcomes = table[s][a]
                rows += [(s * n_actions + a, float(p), int(s2), float(r), float(bool(t))) for p, s2, r, t in outcomes]
            except (KeyError, IndexError, TypeError, ValueError):
                raise model_error(algorithm, env_name, f"has no valid entry P[{s}][{a}]") from None
    pair, prob, next_state, reward, terminated = (np.array(column) for column in zip(*rows, strict=True))
    totals = np.bincount(pair, weights=prob, minlength=n_states * n_actions)
    if not np.allclose(totals, 1.0, atol=1e-6):
        bad = int(np.argmax(np.abs(totals - 1.0)))
        raise model_error(algorithm, env_name, f"has probabilities summing to {totals[bad]:g} at P[{bad // n_actions}][{bad % n_actions}]")
    return TransitionModel(n_states, n_actions, pair.astype(np.int64), prob, next_state.astype(np.int64), reward, terminated)


def q_values(model: TransitionModel, v: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup of every pair: ``Q(s,a) = sum p * (r + gamma * V(s') * (1 - terminated))``."""
    backup = model.prob * (model.reward + gamma * (1.0 - model.terminated) * v[model.next_state])
    q = np.bincount(model.pair, weights=backup, minlength=model.n_states * model.n_actions)
    return q.reshape(model.n_states, model.n_actions)


def policy_values(model: TransitionModel, policy: np.ndarray, gamma: float) -> np.ndarray:
    """Exact ``V_pi``: solves ``(I - gamma P_pi) V = r_pi`` (sparse, so large models stay cheap)."""
    from scipy.sparse import csr_matrix, identity
    from scipy.sparse.linalg import spsolve

    n = model.n_states
    state = model.pair // model.n_actions
    chosen = model.pair % model.n_actions == policy[state]
    rows, cols = state[chosen], model.next_state[chosen]
    r_pi = np.bincount(rows, weights=(model.prob * model.reward)[chosen], minlength=n)
    p_pi = csr_matrix(((model.prob * (1.0 - model.terminated))[chosen], (rows, cols)), shape=(n, n))
    return np.asarray(spsolve((identity(n, format="csc") - gamma * p_pi).tocsc(), r_pi), dtype=np.float64).reshape(n)


class DPAgent(TabularAgent):
    """A tabular agent that plans on the env's model instead of stepping it."""

    def __init__(self, params: Any, ctx: RunContext):
        super().__init__(params, ctx)
        self.model = transition_model(self.env, self.n_states, self.n_actions, self.algorithm, ctx.env_name)
        self.v = np.zeros(self.n_states)
        self.steps = 0
        self._next_metrics = 0

    def tables(self) -> dict[str, np.ndarray]:
        return {"q": self.q, "v": self.v}

    def restore(self, tables: dict[str, np.ndarray]) -> None:
        super().restore(tables)
        self.v = np.array(tables["v"], dtype=np.float64)

    def report(self, callback: StepCallback, delta: float, **extra: float) -> bool:
        """Tell the harness about the steps spent; metrics at most every METRICS_EVERY steps."""
        metrics: dict[str, float] = {}
        if self.steps >= self._next_metrics:
            self._next_metrics = self.steps + METRICS_EVERY
            metrics = {"dp/delta": float(delta), **extra}
        return callback(self.steps, metrics)

    def idle_until(self, total_steps: int, callback: StepCallback) -> None:
        """After convergence: report the rest of the budget (no work) so evaluations line up."""
        while self.steps < total_steps:
            self.steps = min(self.steps + METRICS_EVERY, total_steps)
            if not callback(self.steps, {}):
                return
