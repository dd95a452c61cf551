"""Policy iteration on the environment's known transition model (Sutton & Barto, sec. 4.3).

Alternates policy evaluation with greedy policy improvement until the policy
is stable or the budget is spent.  Evaluation is exact by default (Howard's
policy iteration: solve ``(I - gamma P_pi) V = r_pi``, a sparse linear
system), or iterative (sweeps of ``V(s) <- sum p [r + gamma V(s')]`` under the
policy until no value changes by more than ``theta``).

One "step" is reading the model's outcomes of one state-action pair (see
:mod:`harness_tabular._dp`): an exact evaluation or an evaluation sweep costs
``n_states`` steps (one action per state), an improvement
``n_states * n_actions``.  The first policy takes action 0 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harness.api import RunContext, StepCallback
from harness_tabular._common import load_saved
from harness_tabular._dp import DPAgent, policy_values, q_values


@dataclass
class Params:
    gamma: float = field(default=0.99, metadata={"doc": "discount factor; < 1, or a policy that never ends an episode has no finite value",
                                                  "ge": 0, "lt": 1})
    evaluation: Literal["exact", "iterative"] = field(
        default="exact", metadata={"doc": "policy evaluation by a linear solve, or by sweeps until theta"}
    )
    theta: float = field(
        default=1e-8,
        metadata={"doc": "iterative evaluation stops when no value changes more; actions this close to the best are ties", "gt": 0},
    )


presets = {"default": {"*": {}}}


def improve(q: np.ndarray, policy: np.ndarray, tolerance: float) -> np.ndarray:
    """Greedy policy on ``q``; a state keeps its action when that is within ``tolerance`` of the best."""
    states = np.arange(len(policy))
    keep = q[states, policy] >= q.max(axis=1) - tolerance
    return np.where(keep, policy, q.argmax(axis=1))


class PolicyIterationAgent(DPAgent):
    algorithm = "policy_iteration"

    def __init__(self, params: Params, ctx: RunContext):
        super().__init__(params, ctx)
        self.policy = np.zeros(self.n_states, dtype=np.int64)

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        if self._iterate(total_steps, callback):
            self.idle_until(total_steps, callback)

    def _iterate(self, total_steps: int, callback: StepCallback) -> bool:
        """Evaluate and improve until stable or out of budget; False if told to stop."""
        improve_cost = self.n_states * self.n_actions
        while True:
            outcome, delta = self._evaluate(total_steps, callback)
            if outcome != "converged":
                return outcome == "budget"
            # policy improvement: greedy on a one-step lookahead
            if self.steps + improve_cost > total_steps:
                return True
            self.q = q_values(self.model, self.v, self.params.gamma)
            new_policy = improve(self.q, self.policy, self.params.theta)
            changed = int((new_policy != self.policy).sum())
            self.policy = new_policy
            self.steps += improve_cost
            if not self.report(callback, delta, **{"dp/policy_changes": float(changed)}):
                return False
            if changed == 0:
                return True

    def _evaluate(self, total_steps: int, callback: StepCallback) -> tuple[str, float]:
        """``V <- V_pi``; returns ``converged``, ``budget`` or ``stopped`` and the last value change."""
        p, states = self.params, np.arange(self.n_states)
        delta = np.inf
        while delta >= p.theta:
            if self.steps + self.n_states > total_steps:
                return "budget", delta
            if p.evaluation == "exact":
                new_v = policy_values(self.model, self.policy, p.gamma)
            else:
                new_v = q_values(self.model, self.v, p.gamma)[states, self.policy]
            delta = float(abs(new_v - self.v).max())
            self.v = new_v
            self.steps += self.n_states
            if p.evaluation == "exact":
                break
            if not self.report(callback, delta):
                return "stopped", delta
        return "converged", delta

    def act(self, obs: Any, deterministic: bool = True) -> int:
        return int(self.policy[int(obs)])

    def tables(self) -> dict[str, np.ndarray]:
        return {**super().tables(), "policy": self.policy}

    def restore(self, tables: dict[str, np.ndarray]) -> None:
        super().restore(tables)
        self.policy = np.array(tables["policy"], dtype=np.int64)


def make_agent(params: Params, ctx: RunContext) -> PolicyIterationAgent:
    return PolicyIterationAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> PolicyIterationAgent:
    return load_saved(PolicyIterationAgent(params, ctx), path)
