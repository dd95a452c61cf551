"""The sequence tasks: their rules and the registered env ids (pure Python, read by ``__init__``).

``random_score`` is DERIVED exactly (no sampling): a uniformly random policy
emits EOS with probability 1/(base+1) per step and otherwise a uniform digit,
so the answer length L is geometric (cut at ``max_tokens``: a truncated answer
scores 0) and each emitted digit matches the target with probability 1/base;
the expectation is then averaged over all base**length prompts.
tests/test_group_seqenv.py checks it against simulated random play.
``solved_threshold`` follows from the reward: returns lie in [0, 1] and a task
counts as solved when the greedy policy averages 0.9 (answers ~90 % of prompts).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

SOLVED = 0.9
TASK_NAMES = ("copy", "reverse", "sort", "sum")
BASE = 5


def to_digits(value: int, base: int) -> list[int]:
    """``value`` written in ``base``, most significant digit first."""
    digits = [value % base]
    while value >= base:
        value //= base
        digits.append(value % base)
    return digits[::-1]


def target_of(task: str, prompt: list[int], base: int) -> list[int]:
    """The answer that earns full reward for ``prompt``."""
    if task == "copy":
        return list(prompt)
    if task == "reverse":
        return list(prompt[::-1])
    if task == "sort":
        return sorted(prompt)
    if task == "sum":
        return to_digits(sum(prompt), base)
    raise ValueError(f"unknown task {task!r} (allowed: {', '.join(TASK_NAMES)})")


def grade(answer: list[int], target: list[int], reward: str) -> float:
    """1.0 for the exact target; with ``partial``, matching positions / the longer of the two."""
    if reward == "exact":
        return float(answer == target)
    matches = sum(a == t for a, t in zip(answer, target))
    return matches / max(len(answer), len(target))


def default_max_tokens(task: str, length: int, base: int) -> int:
    """Twice the longest answer plus EOS: room to ramble, so truncation can happen."""
    return 2 * (len(target_of(task, [base - 1] * length, base)) + 1)


def random_score(task: str, length: int, base: int, reward: str, max_tokens: int | None = None) -> float:
    """Exact expected return of a uniformly random policy (see the module docstring)."""
    max_tokens = max_tokens or default_max_tokens(task, length, base)
    stop, go = 1 / (base + 1), base / (base + 1)
    total = 0.0
    prompts = list(itertools.product(range(base), repeat=length))
    for prompt in prompts:
        m = len(target_of(task, list(prompt), base))
        if reward == "exact":
            total += (1 / (base + 1)) ** (m + 1)
            continue
        for answer_length in range(1, max_tokens):  # EOS as token answer_length + 1 <= max_tokens
            expected = min(answer_length, m) / base / max(answer_length, m)
            total += go**answer_length * stop * expected
    return total / len(prompts)


@dataclass(frozen=True)
class SeqTask:
    """One registered sequence task: ``seq/<task>-<length>[-partial]``."""

    task: str
    length: int
    reward: str
    base: int = BASE

    @property
    def env_id(self) -> str:
        suffix = "-partial" if self.reward == "partial" else ""
        return f"seq/{self.task}-{self.length}{suffix}"

    @property
    def maker(self) -> str:
        """Name of the module-level ``make_...`` function in :mod:`harness_group.seqenv`."""
        return "make_" + self.env_id.removeprefix("seq/").replace("-", "_")

    @property
    def kwargs(self) -> dict:
        return {"task": self.task, "length": self.length, "reward": self.reward, "base": self.base}

    @property
    def random_score(self) -> float:
        return random_score(self.task, self.length, self.base, self.reward)


TASKS: tuple[SeqTask, ...] = tuple(
    SeqTask(task, length, reward)
    for task, length in (("copy", 2), ("copy", 3), ("reverse", 2), ("reverse", 3), ("reverse", 4),
                         ("sort", 3), ("sort", 4), ("sum", 2), ("sum", 3))
    for reward in ("exact", "partial")
)
