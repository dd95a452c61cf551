"""AdaStop's group-sequential permutation test (Mathieu et al. 2023), vectorised.

Each configuration ("agent") gets ``n`` new seeds per interim, at most ``K``
interims.  At interim ``k`` the statistic of a comparison is the sum over
blocks of the block's mean difference; its null distribution is built from
permutations of the seeds within each block, conditioned on not having crossed
an earlier boundary.  Level ``alpha * (k + 1) / K`` is spent by interim ``k``
and the family is handled by step-down on the maximum statistic (closed
testing).  This follows ``adastop.MultipleAgentsComparator.partial_compare``
(0.1.3) step by step, with two differences:

* the boundary is the upper tail of the permutation maximum of ``|T|``; the
  package takes the tail of the signed maximum but compares ``|T|`` with it,
  which makes its two-sided test reject a true null about twice as often as
  ``alpha``.  With ``package_boundary=True`` decisions equal the package's
  wherever it enumerates permutations exactly (``tests/test_sequential.py``);
* with random permutations it draws its own, from a fixed seed, and where the
  package normalises by 1 (a first block with more permutations than ``B``)
  it normalises by ``B``, the number of draws.

Pure: scores in, decisions out.  Replaying the same scores gives the same
decisions, which is what makes an adaptive suite resumable.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.decide import BETTER, UNDECIDED, WORSE

CONTINUE = "continue"


@dataclass(frozen=True)
class SequentialRule:
    seeds_per_round: int
    max_rounds: int
    alpha: float = 0.05
    permutations: int = 10_000
    seed: int = 20231006
    package_boundary: bool = False
    """Compare |T| with the upper tail of the *signed* permutation maximum, as ``adastop`` 0.1.3 does.

    That boundary is one-sided while the test is two-sided, so the package rejects
    a true null about twice as often as ``alpha`` (bench/bench_decisions.py measures
    it); harness uses the maximum of |T| instead.  True only to check equality with
    the package.
    """

    def describe(self) -> str:
        return (f"AdaStop group-sequential permutation test on the mean, alpha={self.alpha:g}, "
                f"{self.seeds_per_round} seeds per round, at most {self.max_rounds} rounds")


@dataclass
class SequentialResult:
    decisions: list[str]
    """Per comparison: ``better``, ``worse``, ``continue`` (still open) or ``undecided`` (K reached)."""
    decided_at: list[int | None]
    """Interim (0-based) at which each comparison was decided."""
    interims: int = 0
    """Interims completed with the scores given."""
    boundaries: list[float] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return CONTINUE not in self.decisions


def _block_masks(n: int, count: int | None, rng: np.random.Generator) -> np.ndarray:
    """Index rows ``(P, 2n)``: the first ``n`` of each row form the candidate side.

    ``count=None``: all ``C(2n, n)`` splits in ``itertools.combinations`` order; else the
    observed split and ``count - 1`` random ones.
    """
    if count is None:
        combos = itertools.combinations(range(2 * n), n)
        return np.array([[*c, *sorted(set(range(2 * n)) - set(c))] for c in combos])
    rows = rng.random((count, 2 * n)).argsort(axis=1)
    rows[0] = np.arange(2 * n)
    rows[:, :n].sort(axis=1)
    rows[:, n:].sort(axis=1)
    return rows


def _block_means(block: np.ndarray, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the first ``n`` and of the rest, for every row of ``rows``: 2 x ``(P,)``."""
    values = block[rows]
    return values[:, :n].mean(axis=1), values[:, n:].mean(axis=1)


class _Replay:
    def __init__(self, scores: Sequence[np.ndarray], comparisons: Sequence[tuple[int, int]], rule: SequentialRule):
        self.z = [np.asarray(s, float) for s in scores]
        self.comps = list(comparisons)
        self.rule, self.n = rule, rule.seeds_per_round
        self.rng = np.random.default_rng(rule.seed)
        self.per_block = math.comb(2 * self.n, self.n)
        self.exact_levels = math.floor(math.log(rule.permutations) / math.log(self.per_block))
        self.diffs: dict[int, np.ndarray] = {}
        self.level_spent = 0.0
        self.result = SequentialResult([CONTINUE] * len(self.comps), [None] * len(self.comps))

    def open(self) -> list[int]:
        return [i for i, d in enumerate(self.result.decisions) if d == CONTINUE]

    def ready(self, k: int) -> bool:
        needed = (k + 1) * self.n
        return all(len(self.z[a]) >= needed and len(self.z[b]) >= needed
                   for a, b in (self.comps[i] for i in self.open()))

    def _extend(self, k: int) -> None:
        """Permutation statistics of the open comparisons after adding block ``k``."""
        n, rule = self.n, self.rule
        open_now = self.open()
        if k:
            stacked = np.stack([self.diffs[i] for i in self.diffs])
            keep = np.abs(stacked).max(axis=0) <= self.result.boundaries[-1]
            kept = {i: self.diffs[i][keep] for i in open_now}
        exact = rule.permutations > self.per_block ** (k + 1)
        for i in open_now:
            a, b = self.comps[i]
            block = np.concatenate([self.z[a][k * n:(k + 1) * n], self.z[b][k * n:(k + 1) * n]])
            # (before + mean_in) - mean_out: the package's order of operations, bit for bit
            if k == 0:
                inside, outside = _block_means(block, _block_masks(n, None if exact else rule.permutations,
                                                                   self.rng), n)
                self.diffs[i] = inside - outside
            elif exact:
                inside, outside = _block_means(block, _block_masks(n, None, self.rng), n)
                self.diffs[i] = ((kept[i][None, :] + inside[:, None]) - outside[:, None]).ravel()
            else:
                inside, outside = _block_means(block, _block_masks(n, len(kept[i]), self.rng), n)
                self.diffs[i] = (kept[i] + inside) - outside
        self.diffs = {i: self.diffs[i] for i in open_now}
        if exact:
            self.normalization = self.per_block ** (k + 1)
        elif self.exact_levels >= 1:
            self.normalization = self.per_block ** self.exact_levels
        else:
            self.normalization = rule.permutations

    def _observed(self, i: int, k: int) -> float:
        a, b = self.comps[i]
        m = (k + 1) * self.n
        return (k + 1) * (np.mean(self.z[a][:m]) - np.mean(self.z[b][:m]))

    def interim(self, k: int) -> None:
        """Decide what interim ``k`` can decide (the step-down loop of ``partial_compare``)."""
        self._extend(k)
        level = self.rule.alpha * (k + 1) / self.rule.max_rounds
        current = self.open()
        bound, level_to_add = np.inf, 0.0
        while current:
            stacked = np.stack([self.diffs[i] for i in current])
            values = np.sort(stacked.max(axis=0) if self.rule.package_boundary else np.abs(stacked).max(axis=0))
            tail = np.arange(len(values))[::-1] / self.normalization  # P(T > t)
            admissible = self.level_spent + tail <= level
            bound, level_to_add = (values[admissible][0], tail[admissible][0]) if admissible.any() else (np.inf, 0.0)
            observed = np.array([self._observed(i, k) for i in current])
            top = int(np.argmax(np.abs(observed)))
            if not (abs(observed[top]) > bound and abs(observed[top]) > 0):
                break
            chosen = current.pop(top)
            self.result.decisions[chosen] = BETTER if observed[top] > 0 else WORSE
            self.result.decided_at[chosen] = k
        self.result.boundaries.append(float(bound))
        self.level_spent += level_to_add
        self.diffs = {i: self.diffs[i] for i in current}
        if k == self.rule.max_rounds - 1:
            self.result.decisions = [UNDECIDED if d == CONTINUE else d for d in self.result.decisions]
        self.result.interims = k + 1


def sequential(scores: Sequence[np.ndarray], comparisons: Sequence[tuple[int, int]],
               rule: SequentialRule) -> SequentialResult:
    """Replay every interim the scores allow.

    ``scores[a]``: agent ``a``'s scores in seed order (1-D; extra ones are ignored);
    ``comparisons``: ``(candidate, reference)`` agent indices.  An interim runs
    when every agent of an open comparison has ``(k + 1) * n`` scores.
    """
    replay = _Replay(scores, comparisons, rule)
    for k in range(rule.max_rounds):
        if replay.result.finished or not replay.ready(k):
            break
        replay.interim(k)
    return replay.result


def agents_needed(result: SequentialResult, comparisons: Sequence[tuple[int, int]]) -> set[int]:
    """Agents that take part in a comparison still open (they get the next round)."""
    return {agent for i, comp in enumerate(comparisons) if result.decisions[i] == CONTINUE for agent in comp}
