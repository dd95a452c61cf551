"""Decisions: is a configuration better than, worse than, or equal to its reference?

Pure functions from score arrays to outcomes; the report and the adaptive
scheduler both call them and nothing else decides.

* :func:`fixed` -- a family of comparisons on a fixed set of seeds: a two-sided
  permutation test on the IQM (or mean) difference per comparison, permuting
  seeds within each environment (stratified), exact when the permutations are
  few and a seeded random subset otherwise, then Holm's step-down over the whole
  family.  With an equivalence ``margin`` each comparison also gets a test of
  "the difference lies within +-margin" (two one-sided permutation tests on
  shifted scores), and Holm runs over both kinds of hypotheses.
* :mod:`harness.sequential` -- AdaStop's group-sequential test for adaptive seeding.

The guarantee: under the null hypotheses, the chance that *any* outcome of one
family is a false ``better``/``worse``/``equal`` is at most ``alpha``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.report import stats

BETTER, WORSE, EQUAL, UNDECIDED = "better", "worse", "equal", "undecided"
STATISTICS = {"iqm": stats.iqm, "mean": stats.mean}
#: Exact enumeration up to this many permutations, else this many random ones.
PERMUTATIONS = 10_000


@dataclass(frozen=True)
class Rule:
    """How comparisons are decided (the suite's ``[decision]`` table)."""

    alpha: float = 0.05
    statistic: str = "iqm"
    margin: float | None = None
    permutations: int = PERMUTATIONS

    def describe(self) -> str:
        margin = f", equivalence margin {self.margin:g}" if self.margin else ""
        return f"{self.statistic} permutation test, Holm over the family, alpha={self.alpha:g}{margin}"


@dataclass(frozen=True)
class Comparison:
    """Scores of a candidate ``x`` and its reference ``y``: ``(seeds, tasks)`` each, same tasks."""

    x: np.ndarray
    y: np.ndarray
    key: object = ""
    """Names the comparison; seeds its random permutations so results are reproducible."""
    equivalence: bool = True
    """Test equivalence within the rule's margin (off where the margin's units do not apply)."""


@dataclass(frozen=True)
class Outcome:
    outcome: str
    """``better``, ``worse``, ``equal``, ``undecided`` or ``too few seeds (n=...)``."""
    difference: float
    p_value: float
    """Holm-adjusted p-value of "no difference" (nan when not tested)."""
    p_equal: float = float("nan")
    """Holm-adjusted p-value of "not within the margin" (nan without a margin)."""


def too_few(n_x: int, n_y: int) -> str:
    return f"too few seeds (n={min(n_x, n_y)})" if n_x == n_y else f"too few seeds (n={n_x} vs {n_y})"


def smallest_p(n_x: int, n_y: int, tasks: int) -> float:
    """The smallest two-sided p-value any data can give with these sample sizes.

    Every one of the ``C(n_x + n_y, n_x) ** tasks`` assignments is equally likely
    under no difference; with equal sizes the mirror image of the observed one is
    at least as extreme too.
    """
    total = math.comb(n_x + n_y, n_x) ** tasks
    return (2 if n_x == n_y else 1) / total


def testable(n_x: int, n_y: int, tasks: int, alpha: float) -> bool:
    """Can a comparison of these sizes reject at ``alpha`` at all?"""
    return n_x >= 1 and n_y >= 1 and smallest_p(n_x, n_y, tasks) <= alpha


def assignments(n_x: int, n_y: int, tasks: int, limit: int, key: object) -> np.ndarray:
    """Pooled-row orders ``(P, n_x + n_y, tasks)``: the first ``n_x`` rows of each go to ``x``.

    Row 0 is the observed assignment.  All ``C(n_x + n_y, n_x) ** tasks`` assignments (the observed one among them)
    when that is at most ``limit``; else the observed one and ``limit - 1``
    seeded random ones, drawn independently in each task.
    """
    n = n_x + n_y
    per_task = math.comb(n, n_x)
    if per_task ** tasks <= limit:
        combos = np.array([[*c, *sorted(set(range(n)) - set(c))] for c in itertools.combinations(range(n), n_x)])
        grid = np.array(list(itertools.product(range(per_task), repeat=tasks)))  # (P, tasks)
        return combos[grid].transpose(0, 2, 1)
    rng = np.random.default_rng(stats.stable_seed("permutation", key))
    orders = rng.random((limit, tasks, n)).argsort(axis=-1).transpose(0, 2, 1)
    orders[0] = np.arange(n)[:, None]
    return orders


def _statistics(x: np.ndarray, y: np.ndarray, orders: np.ndarray, statistic: str) -> np.ndarray:
    """``statistic(x') - statistic(y')`` for every assignment: ``(P,)``."""
    pooled = np.concatenate([x, y])
    permuted = pooled[orders, np.arange(pooled.shape[1])]
    metric = STATISTICS[statistic]
    return metric(permuted[:, : len(x)]) - metric(permuted[:, len(x):])


def p_values(comp: Comparison, rule: Rule) -> tuple[float, float, float]:
    """Observed difference, two-sided p of no difference, p of "outside +-margin" (nan without margin).

    The equivalence p is the larger of two one-sided permutation p-values on
    scores shifted by the margin (a location-shift model).
    """
    x, y = np.asarray(comp.x, float), np.asarray(comp.y, float)
    orders = assignments(len(x), len(y), x.shape[1], rule.permutations, comp.key)
    null = _statistics(x, y, orders, rule.statistic)
    observed = null[0]  # row 0 is always the observed assignment
    tol = 1e-9 * max(1.0, abs(float(observed)))
    p_diff = float(np.mean(np.abs(null) >= abs(observed) - tol))
    if not rule.margin or not comp.equivalence:
        return float(observed), p_diff, float("nan")
    # H0: d >= margin, shown false when x - margin looks smaller than y; likewise for d <= -margin.
    upper = _statistics(x - rule.margin, y, orders, rule.statistic)
    lower = _statistics(x + rule.margin, y, orders, rule.statistic)
    p_upper = float(np.mean(upper <= upper[0] + tol))
    p_lower = float(np.mean(lower >= lower[0] - tol))
    return float(observed), p_diff, max(p_upper, p_lower)


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (reject where ``<= alpha``)."""
    p = np.asarray(p, float)
    if p.size == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def fixed(comparisons: Sequence[Comparison], rule: Rule = Rule()) -> list[Outcome]:
    """Decide a family of comparisons on fixed seeds (see the module docstring).

    Comparisons whose sizes make a rejection impossible at ``alpha`` get
    ``too few seeds (n=...)`` and stay out of the family.
    """
    outcomes: list[Outcome | None] = [None] * len(comparisons)
    tested, family = [], []  # family: (comparison index, kind, raw p)
    for i, comp in enumerate(comparisons):
        n_x, n_y = len(comp.x), len(comp.y)
        if not testable(n_x, n_y, np.shape(comp.x)[1], rule.alpha):
            diff = float(STATISTICS[rule.statistic](np.asarray(comp.x, float)) -
                         STATISTICS[rule.statistic](np.asarray(comp.y, float))) if n_x and n_y else float("nan")
            outcomes[i] = Outcome(too_few(n_x, n_y), diff, float("nan"))
            continue
        diff, p_diff, p_equal = p_values(comp, rule)
        tested.append((i, diff))
        family.append((i, "diff", p_diff))
        if not np.isnan(p_equal):
            family.append((i, "equal", p_equal))
    adjusted = dict(zip([(i, kind) for i, kind, _ in family], holm([p for *_, p in family]), strict=True))
    for i, diff in tested:
        p_diff, p_equal = adjusted[(i, "diff")], adjusted.get((i, "equal"), float("nan"))
        if p_diff <= rule.alpha:
            outcome = BETTER if diff > 0 else WORSE
        elif p_equal <= rule.alpha:
            outcome = EQUAL
        else:
            outcome = UNDECIDED
        outcomes[i] = Outcome(outcome, diff, float(p_diff), float(p_equal))
    return outcomes  # type: ignore[return-value]
