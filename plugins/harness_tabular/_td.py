"""The one-step temporal-difference loop shared by SARSA, expected SARSA and Q-learning.

They differ only in the value they bootstrap from at the next state (Sutton &
Barto, ch. 6): the next action's value (SARSA), its expectation under the
epsilon-greedy policy (expected SARSA) or the greedy value (Q-learning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.api import StepCallback
from harness_tabular._common import METRICS_EVERY, TabularAgent, epsilon_greedy, linear_schedule

#: The callback is called every this many steps (with metrics every METRICS_EVERY).
CALLBACK_EVERY = 100


@dataclass
class TDParams:
    gamma: float = field(default=0.99, metadata={"doc": "discount factor", "ge": 0, "le": 1})
    alpha: float = field(default=0.5, metadata={"doc": "step size of the TD update", "gt": 0, "le": 1})
    epsilon_start: float = field(default=1.0, metadata={"doc": "exploration rate at the first step", "ge": 0, "le": 1})
    epsilon_end: float = field(default=0.0, metadata={"doc": "exploration rate once the decay is over", "ge": 0, "le": 1})
    epsilon_decay: float = field(
        default=0.5, metadata={"doc": "fraction of the budget over which epsilon falls linearly to epsilon_end", "ge": 0, "le": 1}
    )
    q_init: float = field(default=0.0, metadata={"doc": "initial value of every Q(s, a)"})


def td_update(q: np.ndarray, state: int, action: int, target: float, alpha: float) -> float:
    """``Q(s,a) += alpha * (target - Q(s,a))``; returns the TD error."""
    error = target - q[state, action]
    q[state, action] += alpha * error
    return float(error)


class TDAgent(TabularAgent):
    """Epsilon-greedy one-step TD control on a single training env."""

    @staticmethod
    def target(reward: float, gamma: float, next_row: np.ndarray, next_action: int, epsilon: float,
               terminated: bool) -> float:
        """The TD target of one transition (method-specific)."""
        raise NotImplementedError

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        p, q, env, rng = self.params, self.q, self.env, self.rng
        state = int(env.reset()[0])
        self.epsilon = p.epsilon_start
        action = epsilon_greedy(q[state], self.epsilon, rng)
        abs_errors = 0.0
        for step in range(1, total_steps + 1):
            next_state, reward, terminated, truncated, _ = env.step(action)
            next_state = int(next_state)
            self.epsilon = linear_schedule(p.epsilon_start, p.epsilon_end, p.epsilon_decay, step, total_steps)
            next_action = epsilon_greedy(q[next_state], self.epsilon, rng)

            # TD update; a time-limit truncation still bootstraps, termination does not
            target = self.target(reward, p.gamma, q[next_state], next_action, self.epsilon, terminated)
            abs_errors += abs(td_update(q, state, action, target, p.alpha))

            if terminated or truncated:
                next_state = int(env.reset()[0])
                next_action = epsilon_greedy(q[next_state], self.epsilon, rng)
            state, action = next_state, next_action

            if step % CALLBACK_EVERY == 0 or step == total_steps:
                metrics: dict[str, Any] = {}
                if step % METRICS_EVERY == 0:
                    metrics = {"loss/td_abs": abs_errors / METRICS_EVERY, "policy/epsilon": self.epsilon}
                    abs_errors = 0.0
                if not callback(step, metrics):
                    return
