"""The fixed-seed decision rule: permutation p-values by hand, Holm, too few seeds, equivalence, error rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import decide
from harness.decide import Comparison, Rule


def col(*values: float) -> np.ndarray:
    return np.array(values, float)[:, None]


def test_complete_separation_gives_the_smallest_exact_p():
    x, y = col(10, 11, 12, 13), col(0, 1, 2, 3)
    diff, p, p_equal = decide.p_values(Comparison(x, y), Rule(statistic="mean"))
    assert diff == 10 and np.isnan(p_equal)
    assert p == pytest.approx(2 / math.comb(8, 4))  # the observed split and its mirror image


def test_p_value_counts_assignments_by_hand():
    # x = {0, 1, 3}, y = {2, 4}: a split with x-sum S has difference (5S - 30) / 6, observed S = 4 -> -5/3.
    # Of the C(5,3) = 10 splits, |difference| >= 5/3 for S <= 4 ({0,1,2}, {0,1,3}) and S >= 8 ({1,3,4}, {2,3,4}).
    x, y = col(0, 1, 3), col(2, 4)
    diff, p, _ = decide.p_values(Comparison(x, y), Rule(statistic="mean"))
    assert diff == pytest.approx(-5 / 3)
    assert p == pytest.approx(4 / 10)


def test_stratified_permutations_stay_within_each_environment():
    orders = decide.assignments(2, 2, 2, limit=10_000, key="k")
    assert orders.shape == (36, 4, 2)  # C(4,2) ** 2 exact assignments
    assert all(sorted(orders[i, :, t]) == [0, 1, 2, 3] for i in range(36) for t in range(2))
    assert (orders[0] == np.arange(4)[:, None]).all()
    random = decide.assignments(10, 10, 1, limit=500, key="k")
    assert random.shape == (500, 20, 1) and (random[0, :, 0] == np.arange(20)).all()
    assert (decide.assignments(10, 10, 1, limit=500, key="k") == random).all()  # seeded by the key


def test_holm_matches_the_textbook_adjustment():
    adjusted = decide.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_three_seeds_a_side_cannot_reject_and_say_so():
    assert not decide.testable(3, 3, 1, 0.05) and decide.testable(4, 4, 1, 0.05)
    assert decide.testable(3, 3, 2, 0.05)  # two environments: C(6,3)**2 = 400 assignments
    far = Comparison(col(100, 101, 102), col(0, 1, 2))
    [outcome] = decide.fixed([far])
    assert outcome.outcome == "too few seeds (n=3)" and outcome.difference == 100


def test_family_of_clear_and_null_comparisons():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, (10, 1))
    comps = [Comparison(base + 3 + rng.normal(0, 0.1, (10, 1)), base, "up"),
             Comparison(base - 3 + rng.normal(0, 0.1, (10, 1)), base, "down"),
             Comparison(rng.normal(0, 1, (10, 1)), base, "null")]
    up, down, null = decide.fixed(comps)
    assert (up.outcome, down.outcome) == ("better", "worse")
    assert null.outcome == "undecided" and null.p_value > 0.05
    assert up.p_value <= 0.05 / 3 * 3  # Holm-adjusted


def test_equal_needs_a_margin_and_a_difference_shown_within_it():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, (12, 1)), rng.normal(0, 1, (12, 1))
    assert decide.fixed([Comparison(x, y)], Rule(statistic="mean"))[0].outcome == "undecided"
    wide = decide.fixed([Comparison(x, y)], Rule(statistic="mean", margin=3.0))[0]
    assert wide.outcome == "equal" and wide.p_equal <= 0.05
    narrow = decide.fixed([Comparison(x, y)], Rule(statistic="mean", margin=0.05))[0]
    assert narrow.outcome == "undecided"
    unequal = decide.fixed([Comparison(x, y, equivalence=False)], Rule(statistic="mean", margin=3.0))[0]
    assert unequal.outcome == "undecided" and np.isnan(unequal.p_equal)


def test_family_wise_false_decisions_stay_below_alpha_under_no_effect():
    """Known truth: 300 families of 4 null comparisons (5 seeds, heavy tails); bench/ does 2,000+ per scenario."""
    rng = np.random.default_rng(7)
    false = 0
    for family in range(300):
        scores = rng.standard_t(2, size=(5, 5, 1))
        comps = [Comparison(scores[i], scores[0], (family, i)) for i in range(1, 5)]
        false += any(o.outcome in ("better", "worse") for o in decide.fixed(comps))
    rate = false / 300
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 300)


def test_iqm_resists_an_outlier_that_moves_the_mean():
    x = col(1, 1.1, 0.9, 1.05, 0.95, 1000)
    y = col(1, 1.1, 0.9, 1.05, 0.95, 1.02)
    iqm_diff, *_ = decide.p_values(Comparison(x, y), Rule(statistic="iqm"))
    mean_diff, *_ = decide.p_values(Comparison(x, y), Rule(statistic="mean"))
    assert abs(iqm_diff) < 0.1 < mean_diff
