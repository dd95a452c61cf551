"""Value iteration on the environment's known transition model (Sutton & Barto, sec. 4.4).

Sweeps ``V(s) <- max_a sum_s' p(s'|s,a) [r + gamma V(s')]`` over all states
until the largest change is below ``theta`` or the budget is spent.  One
"step" is one backup of one state-action pair (see :mod:`harness_tabular._dp`),
so a sweep costs ``n_states * n_actions`` steps.  After convergence the rest
of the budget is reported without work, so evaluations happen on the same
step grid as for the model-free methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.api import RunContext, StepCallback
from harness_tabular._common import load_saved
from harness_tabular._dp import DPAgent, q_values


@dataclass
class Params:
    gamma: float = field(default=0.99, metadata={"doc": "discount factor", "ge": 0, "le": 1})
    theta: float = field(default=1e-8, metadata={"doc": "stop when no state value changes by more than this in a sweep", "gt": 0})


presets = {"default": {"*": {}}}


class ValueIterationAgent(DPAgent):
    algorithm = "value_iteration"

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        if self._iterate(total_steps, callback):
            self.idle_until(total_steps, callback)

    def _iterate(self, total_steps: int, callback: StepCallback) -> bool:
        """Sweep until converged or out of budget; False if told to stop."""
        p, sweep_cost = self.params, self.n_states * self.n_actions
        while self.steps + sweep_cost <= total_steps:
            # one synchronous sweep of Bellman optimality backups
            self.q = q_values(self.model, self.v, p.gamma)
            new_v = self.q.max(axis=1)
            delta = float(abs(new_v - self.v).max())
            self.v = new_v
            self.steps += sweep_cost
            if not self.report(callback, delta):
                return False
            if delta < p.theta:
                return True
        return True


def make_agent(params: Params, ctx: RunContext) -> ValueIterationAgent:
    return ValueIterationAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> ValueIterationAgent:
    return load_saved(ValueIterationAgent(params, ctx), path)
