"""Aggregate metrics and stratified-bootstrap interval estimates, rliable style.

Every metric is a pure function over a score matrix of shape
``(*batch, runs, tasks)`` and returns an array of shape ``(*batch,)``, so one
call evaluates all bootstrap replicates at once.  Point estimates equal
``rliable.metrics``; the bootstrap draws the same kind of resamples as
``rliable.library.StratifiedBootstrap`` (runs resampled with replacement,
independently within each task) and takes percentile intervals like it, but
from a seeded ``numpy.random.Generator`` so the same data gives the same
intervals.  ``tests/test_report_stats.py`` checks both against rliable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Metric = Callable[[np.ndarray], np.ndarray]

#: Bootstrap replicates for every interval in the report.
REPS = 2000
#: Two-sided coverage of every interval.
LEVEL = 0.95
#: Mixed into every per-estimate seed; change it and all intervals change.
REPORT_SEED = 20211020


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its percentile bootstrap interval."""

    point: float
    low: float
    high: float


def _flat(scores: np.ndarray) -> np.ndarray:
    """``(*batch, runs, tasks)`` -> ``(*batch, runs * tasks)``."""
    return scores.reshape(*scores.shape[:-2], -1)


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean over all runs and tasks: ``(*b, runs, tasks) -> (*b,)``.

    The 25% trimmed mean of ``scipy.stats.trim_mean`` (``int(0.25 n)`` cut from each end).
    """
    flat = _flat(scores)
    n = flat.shape[-1]
    cut = int(0.25 * n)
    if cut:
        flat = np.partition(flat, (cut, n - cut - 1), axis=-1)  # the middle block, unordered
    return flat[..., cut : n - cut].mean(axis=-1)


def mean(scores: np.ndarray) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs: ``(*b, runs, tasks) -> (*b,)``."""
    return scores.mean(axis=-2).mean(axis=-1)


def median(scores: np.ndarray) -> np.ndarray:
    """Median over tasks of the per-task mean over runs: ``(*b, runs, tasks) -> (*b,)``."""
    return np.median(scores.mean(axis=-2), axis=-1)


def run_median(scores: np.ndarray) -> np.ndarray:
    """Median over all runs and tasks pooled: ``(*b, runs, tasks) -> (*b,)``."""
    return np.median(_flat(scores), axis=-1)


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """How far scores fall short of ``gamma`` on average: ``(*b, runs, tasks) -> (*b,)``."""
    return gamma - np.minimum(_flat(scores), gamma).mean(axis=-1)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) per task (ties count half), averaged over tasks.

    ``x``: ``(*b, runs_x, tasks)``, ``y``: ``(*b, runs_y, tasks)`` -> ``(*b,)``;
    the Mann-Whitney U statistic of ``x`` over ``y`` divided by ``runs_x * runs_y``.
    """
    diff = x[..., :, None, :] - y[..., None, :, :]
    wins = (diff > 0).mean(axis=(-3, -2)) + 0.5 * (diff == 0).mean(axis=(-3, -2))
    return wins.mean(axis=-1)


def score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of runs scoring above each tau: ``(*b, runs, tasks), (k,) -> (*b, k)``."""
    return (_flat(scores)[..., None] > taus).mean(axis=-2)


def stable_seed(*parts: object) -> int:
    """A seed that depends only on ``parts`` (not on Python's hash randomisation)."""
    text = "\x1f".join(str(p) for p in (REPORT_SEED, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def stratified_indices(rng: np.random.Generator, runs: int, tasks: int, reps: int) -> np.ndarray:
    """Row indices of ``reps`` stratified resamples: ``(reps, runs, tasks)``."""
    return rng.integers(0, runs, size=(reps, runs, tasks))


def resample(scores: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Apply ``(reps, runs, tasks)`` row indices to ``(runs, tasks)`` scores."""
    return scores[indices, np.arange(scores.shape[1])]


def resample_counts(indices: np.ndarray, runs: int) -> np.ndarray:
    """How often each run is drawn: ``(reps, draws, tasks)`` indices -> ``(reps, runs, tasks)`` counts."""
    reps, _, tasks = indices.shape
    cell = (np.arange(reps)[:, None, None] * tasks + np.arange(tasks)) * runs + indices
    return np.bincount(cell.ravel(), minlength=reps * tasks * runs).reshape(reps, tasks, runs).transpose(0, 2, 1)


def improvement_replicates(x: np.ndarray, y: np.ndarray, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """``probability_of_improvement`` of each resample pair, from draw counts: ``(reps,)``.

    Equal to ``probability_of_improvement(resample(x, ix), resample(y, iy))`` without
    building the ``(reps, runs_x, runs_y, tasks)`` comparison array.
    """
    wins = (x[:, None, :] > y[None, :, :]) + 0.5 * (x[:, None, :] == y[None, :, :])  # (runs_x, runs_y, tasks)
    cx = resample_counts(ix, x.shape[0]).transpose(2, 0, 1).astype(float)  # (tasks, reps, runs_x)
    cy = resample_counts(iy, y.shape[0]).transpose(2, 0, 1).astype(float)  # (tasks, reps, runs_y)
    per_task = ((cx @ wins.transpose(2, 0, 1)) * cy).sum(axis=-1) / (x.shape[0] * y.shape[0])  # (tasks, reps)
    return per_task.mean(axis=0)


def percentile_interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 of ``(reps, ...)`` replicates (linear interpolation)."""
    alpha = 100 * (1 - level) / 2
    low, high = np.percentile(replicates, [alpha, 100 - alpha], axis=0)
    return low, high


def _estimate(point: np.ndarray, replicates: np.ndarray, level: float) -> Estimate:
    low, high = percentile_interval(replicates, level)
    return Estimate(float(point), float(low), float(high))


def interval(scores: np.ndarray, metric: Metric, key: object, reps: int = REPS, level: float = LEVEL) -> Estimate:
    """``metric`` of ``(runs, tasks)`` scores with its stratified-bootstrap interval.

    ``key`` names the estimate; it seeds the resampling, so the same data and key
    always give the same interval.
    """
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(stable_seed("interval", key))
    indices = stratified_indices(rng, *scores.shape, reps)
    return _estimate(metric(scores), metric(resample(scores, indices)), level)


def _pair_indices(x: np.ndarray, y: np.ndarray, key: object, reps: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent stratified resampling indices for two score matrices."""
    rng = np.random.default_rng(stable_seed("pair", key))
    return stratified_indices(rng, *x.shape, reps), stratified_indices(rng, *y.shape, reps)


def difference(x: np.ndarray, y: np.ndarray, metric: Metric, key: object,
               reps: int = REPS, level: float = LEVEL) -> Estimate:
    """``metric(x) - metric(y)`` with an interval from independent stratified resamples."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ix, iy = _pair_indices(x, y, key, reps)
    return _estimate(metric(x) - metric(y), metric(resample(x, ix)) - metric(resample(y, iy)), level)


def improvement(x: np.ndarray, y: np.ndarray, key: object, reps: int = REPS, level: float = LEVEL) -> Estimate:
    """Probability of improvement of ``x`` over ``y`` with its bootstrap interval."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ix, iy = _pair_indices(x, y, key, reps)
    return _estimate(probability_of_improvement(x, y), improvement_replicates(x, y, ix, iy), level)


def iqm_of_counts(sorted_values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """IQM of resamples given as draw counts of already sorted values.

    ``sorted_values``: ``(*b, n)`` ascending; ``counts``: ``(reps, *b, n)``, each
    summing to ``n`` -> ``(reps, *b)``.  Equal to ``iqm`` of the resampled values,
    without sorting each resample: every value contributes the part of its
    block of positions that falls inside the middle half.
    """
    n = sorted_values.shape[-1]
    cut = int(0.25 * n)
    end = np.cumsum(counts, axis=-1)
    start = end - counts
    inside = np.clip(np.minimum(end, n - cut) - np.maximum(start, cut), 0, None)
    return (inside * sorted_values).sum(axis=-1) / (n - 2 * cut)


def curve_band(curves: np.ndarray, key: object, reps: int = 500,
               level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over seeds at each x and its bootstrap interval: ``(seeds, points) -> 3 x (points,)``."""
    curves = np.asarray(curves, dtype=float)
    seeds = curves.shape[0]
    order = np.argsort(curves, axis=0).T  # (points, seeds): seed order at each x
    ordered = np.take_along_axis(curves.T, order, axis=1)
    rng = np.random.default_rng(stable_seed("curve", key))
    counts = resample_counts(rng.integers(0, seeds, size=(reps, seeds, 1)), seeds)[..., 0]  # (reps, seeds)
    replicates = iqm_of_counts(ordered, counts[:, order])  # (reps, points)
    low, high = percentile_interval(replicates, level)
    return iqm(curves.T[:, :, None]), low, high


def profile(scores: np.ndarray, taus: np.ndarray, key: object,
            reps: int = REPS, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Performance profile (score distribution) and its interval at each tau: 3 x ``(k,)``."""
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(stable_seed("profile", key))
    counts = resample_counts(stratified_indices(rng, *scores.shape, reps), scores.shape[0])
    above = (scores.reshape(-1, 1) > taus).astype(float)  # (runs * tasks, k)
    replicates = counts.reshape(reps, -1) @ above / scores.size  # same as score_distribution of each resample
    low, high = percentile_interval(replicates, level)
    return score_distribution(scores, taus), low, high
