"""harness.report.stats against rliable and against hand-computed cases."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
from rliable import metrics as rly_metrics

from harness.report import stats


def rliable_library():
    """``rliable.library``; with arch 7 + pandas 3 the package ``arch/__init__`` fails to import
    (its GARCH models use a pandas decorator pandas 3 changed), but ``arch.bootstrap``, the only
    part rliable uses, works: load it without running ``arch/__init__``."""
    try:
        return importlib.import_module("rliable.library")
    except TypeError:
        sys.modules.pop("arch", None)
        found = importlib.util.find_spec("arch")
        package = types.ModuleType("arch")
        package.__path__ = list(found.submodule_search_locations)
        sys.modules["arch"] = package
        return importlib.import_module("rliable.library")


@pytest.fixture(scope="module")
def rly():
    return rliable_library()


def matrices(seed: int, runs: int = 7, tasks: int = 3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(runs, tasks)), rng.normal(0.4, 1.0, size=(runs - 1, tasks))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_estimates_equal_rliable(seed):
    x, y = matrices(seed)
    np.testing.assert_allclose(stats.iqm(x), rly_metrics.aggregate_iqm(x), rtol=1e-12)
    np.testing.assert_allclose(stats.mean(x), rly_metrics.aggregate_mean(x), rtol=1e-12)
    np.testing.assert_allclose(stats.median(x), rly_metrics.aggregate_median(x), rtol=1e-12)
    np.testing.assert_allclose(stats.optimality_gap(x), rly_metrics.aggregate_optimality_gap(x), rtol=1e-12)
    np.testing.assert_allclose(stats.probability_of_improvement(x, y),
                               rly_metrics.probability_of_improvement(x, y), rtol=1e-12)


def test_ties_count_half_like_rliable():
    x = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 0.0]])
    y = np.array([[2.0, 2.0], [1.0, 2.0]])
    np.testing.assert_allclose(stats.probability_of_improvement(x, y),
                               rly_metrics.probability_of_improvement(x, y), rtol=1e-12)
    assert stats.probability_of_improvement(x, x) == 0.5


def test_hand_computed_iqm_and_batching():
    scores = np.arange(8.0)[:, None]  # 8 runs, 1 task: IQM drops 2 from each end -> mean(2..5)
    assert stats.iqm(scores) == 3.5
    batch = np.stack([scores, scores + 10])
    np.testing.assert_array_equal(stats.iqm(batch), [3.5, 13.5])


def _replay(state: int, shapes, reps: int) -> list[np.ndarray]:
    """The row indices rliable's bootstraps draw from numpy's global RandomState."""
    rs = np.random.RandomState(state)
    draws = [[rs.choice(shape[0], shape, replace=True) for shape in shapes] for _ in range(reps)]
    return [np.stack([d[i] for d in draws]) for i in range(len(shapes))]


@pytest.mark.parametrize("name", ["iqm", "mean", "median", "optimality_gap"])
def test_interval_equals_rliable_on_identical_resamples(rly, name):
    x, _ = matrices(5)
    ours = getattr(stats, name)
    theirs = {"iqm": rly_metrics.aggregate_iqm, "mean": rly_metrics.aggregate_mean,
              "median": rly_metrics.aggregate_median, "optimality_gap": rly_metrics.aggregate_optimality_gap}[name]
    reps = 300
    np.random.seed(11)  # rliable's StratifiedBootstrap resamples with np.random, not its random_state
    point, intervals = rly.get_interval_estimates({"x": x}, lambda s: np.array([theirs(s)]), reps=reps)
    (indices,) = _replay(11, [x.shape], reps)
    low, high = stats.percentile_interval(ours(stats.resample(x, indices)))
    np.testing.assert_allclose(point["x"][0], ours(x), rtol=1e-12)
    np.testing.assert_allclose(intervals["x"].ravel(), [low, high], rtol=1e-9)


def test_improvement_interval_equals_rliable_on_identical_resamples(rly):
    x, y = matrices(6)
    reps = 300
    np.random.seed(12)
    point, intervals = rly.get_interval_estimates(
        {"xy": [x, y]}, lambda a, b: np.array([rly_metrics.probability_of_improvement(a, b)]), reps=reps)
    ix, iy = _replay(12, [x.shape, y.shape], reps)
    replicates = stats.improvement_replicates(x, y, ix, iy)
    np.testing.assert_allclose(point["xy"][0], stats.probability_of_improvement(x, y), rtol=1e-12)
    np.testing.assert_allclose(intervals["xy"].ravel(), stats.percentile_interval(replicates), rtol=1e-9)


def test_count_based_replicates_equal_direct_resampling():
    x, y = matrices(9, runs=6, tasks=3)
    rng = np.random.default_rng(0)
    ix, iy = stats.stratified_indices(rng, *x.shape, 50), stats.stratified_indices(rng, *y.shape, 50)
    direct = stats.probability_of_improvement(stats.resample(x, ix), stats.resample(y, iy))
    np.testing.assert_allclose(stats.improvement_replicates(x, y, ix, iy), direct, rtol=1e-12)
    counts = stats.resample_counts(ix, x.shape[0])
    assert counts.shape == (50, 6, 3) and (counts.sum(axis=1) == 6).all()
    np.testing.assert_allclose((counts * x).sum(axis=1) / 6, stats.resample(x, ix).mean(axis=1), rtol=1e-12)


def test_seeded_intervals_agree_with_rliable_statistically(rly):
    """Our own generator vs rliable's: different resamples, same distribution."""
    x, y = matrices(7, runs=10, tasks=2)
    np.random.seed(0)
    _, theirs = rly.get_interval_estimates({"x": x}, lambda s: np.array([rly_metrics.aggregate_iqm(s)]), reps=2000)
    ours = stats.interval(x, stats.iqm, "agreement", reps=20000)
    width = theirs["x"][1, 0] - theirs["x"][0, 0]
    assert abs(ours.low - theirs["x"][0, 0]) < 0.1 * width
    assert abs(ours.high - theirs["x"][1, 0]) < 0.1 * width
    np.random.seed(0)
    _, theirs = rly.get_interval_estimates(
        {"xy": [x, y]}, lambda a, b: np.array([rly_metrics.probability_of_improvement(a, b)]), reps=600)
    poi = stats.improvement(x, y, "agreement", reps=20000)
    assert abs(poi.low - theirs["xy"][0, 0]) < 0.04
    assert abs(poi.high - theirs["xy"][1, 0]) < 0.04


def test_fixed_seed_gives_identical_intervals_and_keys_differ():
    x, y = matrices(8)
    assert stats.interval(x, stats.iqm, "k") == stats.interval(x.copy(), stats.iqm, "k")
    assert stats.difference(x, y, stats.iqm, "k") == stats.difference(x, y, stats.iqm, "k")
    assert stats.interval(x, stats.iqm, "k") != stats.interval(x, stats.iqm, "other key")


def test_interval_contains_point_and_shrinks_with_more_runs():
    rng = np.random.default_rng(3)
    small = stats.interval(rng.normal(size=(5, 1)), stats.mean, "a")
    large = stats.interval(rng.normal(size=(200, 1)), stats.mean, "a")
    assert small.low <= small.point <= small.high
    assert large.high - large.low < (small.high - small.low) / 3


def test_clear_difference_is_detected_and_null_is_not():
    rng = np.random.default_rng(4)
    base = rng.normal(0, 1, size=(10, 1))
    better = rng.normal(3, 1, size=(10, 1))
    same = rng.normal(0, 1, size=(10, 1))
    assert stats.difference(better, base, stats.iqm, "d").low > 0
    assert stats.difference(base, better, stats.iqm, "d").high < 0
    same_diff = stats.difference(same, base, stats.iqm, "d")
    assert same_diff.low < 0 < same_diff.high
    assert stats.improvement(better, base, "p").low > 0.5


def test_profile_and_curve_band_shapes():
    scores = np.array([[0.1, 0.5], [0.9, 1.2], [0.4, 0.7]])
    taus = np.array([0.0, 0.5, 1.0])
    point, low, high = stats.profile(scores, taus, "p", reps=200)
    np.testing.assert_allclose(point, [1.0, 3 / 6, 1 / 6])
    assert point.shape == low.shape == high.shape == (3,)
    assert np.all(low <= point + 1e-12) and np.all(point <= high + 1e-12)
    curves = np.array([[0.0, 1.0, 2.0], [0.0, 2.0, 4.0], [0.0, 3.0, 6.0]])
    mid, lo, hi = stats.curve_band(curves, "c", reps=200)
    np.testing.assert_allclose(mid, [0.0, 2.0, 4.0])
    assert lo[0] == hi[0] == 0.0 and lo[2] < 4.0 < hi[2]


@pytest.mark.parametrize("runs", [3, 4, 8, 13])
def test_iqm_of_counts_equals_iqm_of_resamples(runs):
    rng = np.random.default_rng(runs)
    values = rng.normal(size=(5, runs)).round(1)  # 5 independent points; rounding makes ties
    indices = rng.integers(0, runs, size=(40, 5, runs))
    direct = stats.iqm(np.take_along_axis(np.broadcast_to(values, (40, 5, runs)), indices, axis=2)[..., None])
    order = np.argsort(values, axis=1)
    counts = stats.resample_counts(indices.reshape(40 * 5, runs, 1), runs)[..., 0].reshape(40, 5, runs)
    via_counts = stats.iqm_of_counts(np.take_along_axis(values, order, axis=1),
                                     np.take_along_axis(counts, np.broadcast_to(order, counts.shape), axis=2))
    np.testing.assert_allclose(via_counts, direct, rtol=1e-12, atol=1e-12)
