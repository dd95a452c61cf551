"""What every tabular method shares: space checks, the Q-table agent, schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from harness.api import RunContext

#: File an agent's tables are saved to inside the model directory.
TABLE_FILE = "tabular.npz"
#: Metrics (losses, epsilon) are reported at most once per this many steps.
METRICS_EVERY = 1000


def discrete_sizes(env: gym.Env, algorithm: str, env_name: str) -> tuple[int, int]:
    """``(n_states, n_actions)`` of an env with Discrete spaces; a clear ValueError otherwise."""
    spaces = {"observation": env.observation_space, "action": env.action_space}
    for kind, space in spaces.items():
        if not isinstance(space, gym.spaces.Discrete):
            raise ValueError(  # noqa: TRY004 (a user-facing configuration problem, like every other)
                f"{algorithm} is a tabular method and needs Discrete observation and action spaces; "
                f"{env_name!r} has {kind} space {space}"
            )
        if int(space.start) != 0:
            raise ValueError(f"{algorithm} needs Discrete spaces starting at 0; {env_name!r} has {kind} space {space}")
    return int(env.observation_space.n), int(env.action_space.n)


def exploration_rng(seed: int) -> np.random.Generator:
    """The generator for exploration and tie-breaking, derived from the run seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0x7AB]))


def linear_schedule(start: float, end: float, fraction: float, step: int, total: int) -> float:
    """``start`` moving linearly to ``end`` over the first ``fraction`` of ``total`` steps."""
    horizon = max(fraction * total, 1.0)
    return end + (start - end) * max(0.0, 1.0 - step / horizon)


def greedy_action(q_row: np.ndarray) -> int:
    """The best action; ties go to the lowest index, so acting is deterministic."""
    return int(np.argmax(q_row))


def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """Random with probability ``epsilon``, else greedy with ties broken at random.

    Works on a Python list: for a handful of actions that is several times faster than numpy.
    """
    values = q_row.tolist()
    u = rng.random()
    if u < epsilon:
        return int(u / epsilon * len(values))  # given u < epsilon, u / epsilon is uniform on [0, 1)
    best = max(values)
    ties = [a for a, v in enumerate(values) if v == best]
    return ties[0] if len(ties) == 1 else ties[int(rng.random() * len(ties))]


def epsilon_greedy_value(q_row: np.ndarray, epsilon: float) -> float:
    """``E[Q(s, A)]`` for ``A`` drawn by :func:`epsilon_greedy` (tied best actions share one value)."""
    values = q_row.tolist()
    return epsilon * sum(values) / len(values) + (1.0 - epsilon) * max(values)


class TabularAgent:
    """An agent whose knowledge is a Q table; acts greedily on it.

    Subclasses implement ``learn``; ``epsilon`` is the exploration rate used
    when asked to act stochastically (the behaviour policy at its last step).
    """

    algorithm = "tabular"

    def __init__(self, params: Any, ctx: RunContext):
        self.params, self.ctx = params, ctx
        self.env = ctx.make_env(0)
        self.n_states, self.n_actions = discrete_sizes(self.env, self.algorithm, ctx.env_name)
        self.q = np.full((self.n_states, self.n_actions), self.initial_q(), dtype=np.float64)
        self.rng = exploration_rng(ctx.seed)
        self.act_rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, 0xAC7]))
        self.epsilon = 0.0

    def initial_q(self) -> float:
        return float(getattr(self.params, "q_init", 0.0))

    def act(self, obs: Any, deterministic: bool = True) -> int:
        row = self.q[int(obs)]
        if deterministic:
            return greedy_action(row)
        return epsilon_greedy(row, self.epsilon, self.act_rng)

    def tables(self) -> dict[str, np.ndarray]:
        """The arrays written by :meth:`save` (subclasses may add their own)."""
        return {"q": self.q}

    def restore(self, tables: dict[str, np.ndarray]) -> None:
        if tables["q"].shape != self.q.shape:
            raise ValueError(f"saved Q table has shape {tables['q'].shape}; {self.ctx.env_name!r} needs {self.q.shape}")
        self.q = np.array(tables["q"], dtype=np.float64)

    def save(self, path: Path) -> None:
        np.savez(Path(path) / TABLE_FILE, **self.tables())

    def load(self, path: Path) -> None:
        with np.load(Path(path) / TABLE_FILE) as data:
            self.restore({key: data[key] for key in data.files})


def load_saved(agent: TabularAgent, path: Path) -> TabularAgent:
    """``agent`` with the tables saved under ``path`` (``load_agent`` of every method)."""
    agent.load(path)
    return agent
