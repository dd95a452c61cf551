"""harness.sequential decides like the reference implementation, the ``adastop`` package (0.1.3),
apart from the two-sided boundary (``package_boundary``), whose effect on the error rate is checked here."""

from __future__ import annotations

import numpy as np
import pytest
from adastop import MultipleAgentsComparator

from harness.sequential import CONTINUE, SequentialRule, agents_needed, sequential

TO_PACKAGE = {"better": "larger", "worse": "smaller", "undecided": "equal"}


def package_decisions(scores, comparisons, n, K, alpha, B=10_000):
    comparator = MultipleAgentsComparator(n=n, K=K, B=B, comparisons=np.array(comparisons), alpha=alpha, seed=1)
    names = [f"agent{i}" for i in range(len(scores))]
    for k in range(K):
        comparator.partial_compare({names[i]: scores[i][: (k + 1) * n] for i in range(len(scores))}, verbose=False)
        if comparator.is_finished:
            break
    return [comparator.decisions[str(np.array(c))] for c in comparisons]


@pytest.mark.parametrize("n,K", [(2, 4), (3, 3)])
def test_decisions_equal_the_package_where_it_enumerates_permutations(n, K):
    """Random families (against one baseline and all pairs), effects 0 to 3 sd, several alphas."""
    rng = np.random.default_rng(n)
    seen = set()
    for _ in range(6):
        agents = int(rng.integers(2, 5))
        scores = [rng.normal(effect, 1, size=n * K) for effect in rng.choice([0, 0.5, 1.5, 3], size=agents)]
        if rng.random() < 0.5:
            comparisons = [(a, 0) for a in range(1, agents)]
        else:
            comparisons = [(a, b) for a in range(agents) for b in range(a + 1, agents)]
        alpha = float(rng.choice([0.05, 0.1, 0.2]))
        ours = sequential(scores, comparisons, SequentialRule(n, K, alpha=alpha, package_boundary=True)).decisions
        theirs = package_decisions(scores, comparisons, n, K, alpha)
        assert [TO_PACKAGE[d] for d in ours] == theirs
        seen |= set(theirs)
    assert {"larger", "smaller", "equal"} <= seen or {"larger", "equal"} <= seen, "the data must exercise rejections"


def test_clear_differences_agree_with_random_permutations():
    """n=5: exact first interim, random ones later; a clear winner and a clear loser are found by both."""
    rng = np.random.default_rng(3)
    scores = [rng.normal(0, 1, 15), rng.normal(4, 1, 15), rng.normal(-4, 1, 15), rng.normal(0, 1, 15)]
    comparisons = [(1, 0), (2, 0), (3, 0)]
    result = sequential(scores, comparisons, SequentialRule(5, 3, alpha=0.05))
    assert result.decisions[:2] == ["better", "worse"]
    assert sequential(scores, comparisons, SequentialRule(5, 3, alpha=0.05, package_boundary=True)).decisions[:2] \
        == ["better", "worse"]
    assert [TO_PACKAGE[d] for d in result.decisions[:2]] == package_decisions(scores, comparisons, 5, 3, 0.05)[:2]


def test_replay_stops_where_the_scores_stop_and_frees_decided_agents():
    rng = np.random.default_rng(5)
    base, winner, twin = rng.normal(0, 1, 9), rng.normal(10, 1, 9), rng.normal(0, 1, 9)
    rule = SequentialRule(3, 3, alpha=0.05)
    partial = sequential([base[:6], winner[:6], twin[:4]], [(1, 0), (2, 0)], rule)
    assert partial.interims == 1  # twin lacks seeds 4-5: interim 2 waits
    full = sequential([base, winner, twin], [(1, 0), (2, 0)], rule)
    assert full.decisions[0] == "better" and full.decided_at[0] == 1
    after_round_2 = sequential([base[:6], winner[:6], twin[:6]], [(1, 0), (2, 0)], rule)
    assert after_round_2.decisions == ["better", CONTINUE]
    assert agents_needed(after_round_2, [(1, 0), (2, 0)]) == {0, 2}  # the baseline keeps running


def test_the_two_sided_boundary_keeps_the_error_rate_and_the_package_boundary_doubles_it():
    """Known truth: no difference, one comparison, rounds of 3 seeds (exact permutations), K=2, alpha=0.1.

    Exact rejection probabilities depend only on ranks: simulated on 3,000 null datasets the
    harness boundary stays at or below alpha, the package's lands near 2 * alpha.
    """
    rng = np.random.default_rng(11)
    ours = package = 0
    trials = 3000
    for _ in range(trials):
        scores = [rng.normal(size=6), rng.normal(size=6)]
        ours += sequential(scores, [(0, 1)], SequentialRule(3, 2, alpha=0.1)).decisions[0] != "undecided"
        package += sequential(scores, [(0, 1)], SequentialRule(3, 2, alpha=0.1, package_boundary=True)
                              ).decisions[0] != "undecided"
    se = np.sqrt(0.1 * 0.9 / trials)
    assert ours / trials <= 0.1 + 2 * se
    assert package / trials > 0.1 + 4 * se
