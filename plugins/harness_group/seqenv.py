"""A verifiable-reward sequence environment: the LLM setting in miniature.

The reset seed draws a *prompt* (a short digit string); the agent then emits one
token per step from ``base`` digits (default 5: 0-4) plus an end token (EOS).  The episode ends
when the agent emits EOS (terminated, graded) or after ``max_tokens`` tokens
(truncated, graded 0: an unfinished answer earns nothing, which is what DAPO's
overlong punishment is about).  The grade is 1 when the answer has the checked
property (``copy``, ``reverse``, ``sort`` of the prompt, or the digits of its
``sum``) and 0 otherwise; ``reward="partial"`` gives the fraction of correct
positions instead (divided by the longer of answer and target).

The observation is one fixed-size array that carries the whole token history,
so a single observation is enough to act: a one-hot matrix with one row per
slot (prompt digits, a separator, then the answer slots) and one column per
token kind; slots not yet written are all-zero rows.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from harness_group.catalog import (
    TASK_NAMES,
    TASKS,
    default_max_tokens,
    grade,
    target_of,
)


class SequenceEnv(gym.Env):
    """Emit the answer to a digit prompt, one token per step, then EOS."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(self, task: str = "reverse", length: int = 3, base: int = 5, reward: str = "exact",
                 max_tokens: int | None = None, render_mode: str | None = None):
        if task not in TASK_NAMES:
            raise ValueError(f"unknown task {task!r} (allowed: {', '.join(TASK_NAMES)})")
        if reward not in ("exact", "partial"):
            raise ValueError(f"unknown reward {reward!r} (allowed: exact, partial)")
        if length < 1 or base < 2:
            raise ValueError("length must be >= 1 and base >= 2")
        self.task, self.length, self.base, self.reward = task, length, base, reward
        self.max_tokens = max_tokens or default_max_tokens(task, length, base)
        self.eos, self.sep = base, base + 1
        self.render_mode = render_mode
        self.action_space = gym.spaces.Discrete(base + 1)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (length + 1 + self.max_tokens, base + 2), np.float32)
        self.prompt: list[int] = []
        self.answer: list[int] = []

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.observation_space.shape, np.float32)
        tokens = [*self.prompt, self.sep, *self.answer]
        obs[np.arange(len(tokens)), tokens] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.prompt = [int(d) for d in self.np_random.integers(0, self.base, self.length)]
        self.answer = []
        return self._obs(), {"prompt": list(self.prompt)}

    def step(self, action: Any):
        token = int(action)
        if not 0 <= token <= self.eos:
            raise ValueError(f"action {action!r} outside Discrete({self.eos + 1})")
        info: dict[str, Any] = {}
        if token == self.eos:
            target = target_of(self.task, self.prompt, self.base)
            info = {"answer": list(self.answer), "target": target}
            return self._obs(), grade(self.answer, target, self.reward), True, False, info
        self.answer.append(token)
        truncated = len(self.answer) >= self.max_tokens
        return self._obs(), 0.0, False, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        answer = " ".join(map(str, self.answer))
        return f"{self.task} {' '.join(map(str, self.prompt))} -> {answer}"


def _register_gymnasium_ids() -> None:
    """Register every catalog task as a gymnasium id and a ``make_...`` function here."""
    for task in TASKS:
        if task.env_id not in gym.registry:
            gym.register(task.env_id, entry_point=SequenceEnv, kwargs=task.kwargs, disable_env_checker=True)
        globals()[task.maker] = functools.partial(gym.make, task.env_id)


_register_gymnasium_ids()


def measure_random_score(env_id: str, episodes: int = 20_000, seed: int = 0) -> float:
    """Mean return of a uniformly random policy on ``env_id``."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    total = 0.0
    for i in range(episodes):
        env.reset(seed=seed * episodes + i)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
    return total / episodes


if __name__ == "__main__":
    import sys

    if "--measure" in sys.argv:
        for t in TASKS:
            print(f"{t.env_id:24s} derived={t.random_score:.5f} measured={measure_random_score(t.env_id):.5f}")
