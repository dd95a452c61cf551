"""Error rates and power of harness's decisions, on synthetic suites with known truth.

Each simulated suite has m comparisons (m drawn from 1..8), each a candidate
against its own reference, every candidate shifted by the same effect (in
standard deviations of the score distribution).  Per scenario
(distribution x effect) it decides ``--suites`` suites

* with the fixed-seed report rule (:func:`harness.decide.fixed`: IQM
  permutation test, Holm over the suite) at several seed counts, and
* adaptively (:func:`harness.sequential.sequential`: AdaStop, n seeds per round,
  at most K rounds),

and prints the family-wise rate of false decisions (any ``better``/``worse``
when there is no effect; any ``worse`` when the candidates are better), power
(share of comparisons decided ``better``), and seeds used per configuration.

    python bench/bench_decisions.py                 # 2,000 suites per scenario, all 12 scenarios
    python bench/bench_decisions.py --effects 0     # only the error-rate scenarios
    python bench/bench_decisions.py --suites 200    # a quick look

Rows print as they finish; the fixed-seed columns at effect 0 use 5 and 10 seeds.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from harness.decide import Comparison, Rule, fixed
from harness.sequential import SequentialRule, sequential

ALPHA = 0.05
EFFECTS = (0.0, 0.5, 1.0, 2.0)
FIXED_SEEDS = (5, 10, 20)
ROUND, ROUNDS = 5, 4


def normal(rng: np.random.Generator, size: tuple) -> np.ndarray:
    return rng.normal(0.0, 1.0, size)


def bimodal(rng: np.random.Generator, size: tuple) -> np.ndarray:
    """Like CartPole at short budgets: 60% of seeds near the cap, the rest spread far below."""
    solved = rng.random(size) < 0.6
    scores = np.where(solved, rng.normal(1.0, 0.05, size), rng.normal(-1.5, 0.4, size))
    mean, var = 0.6 * 1.0 + 0.4 * -1.5, 0.6 * (1.0 + 0.05**2) + 0.4 * (1.5**2 + 0.4**2)
    return (scores - mean) / math.sqrt(var - mean**2)


def heavy(rng: np.random.Generator, size: tuple) -> np.ndarray:
    """Student t with 3 degrees of freedom, scaled to standard deviation 1."""
    return rng.standard_t(3, size) / math.sqrt(3.0)


DISTRIBUTIONS: dict[str, Callable] = {"normal": normal, "bimodal": bimodal, "heavy-tailed (t3)": heavy}


def suites(rng: np.random.Generator, draw: Callable, effect: float, count: int, seeds: int) -> list[np.ndarray]:
    """``count`` suites: each ``(m, 2, seeds)`` scores, candidate first, m in 1..8."""
    sizes = rng.integers(1, 9, count)
    out = []
    for m in sizes:
        scores = draw(rng, (m, 2, seeds))
        scores[:, 0] += effect
        out.append(scores)
    return out


def fixed_mode(data: list[np.ndarray], seeds: int) -> tuple[float, float, float]:
    """Family-wise false-decision rate, power, wrong-sign rate with ``seeds`` per side."""
    rule = Rule(alpha=ALPHA, statistic="iqm", permutations=10_000 if seeds <= 5 else 2_000)
    families, power, total = [], 0, 0
    for s, scores in enumerate(data):
        comps = [Comparison(c[0, :seeds, None], c[1, :seeds, None], (s, i)) for i, c in enumerate(scores)]
        outcomes = [o.outcome for o in fixed(comps, rule)]
        families.append(outcomes)
        power += outcomes.count("better")
        total += len(outcomes)
    any_false = np.mean([any(o in ("better", "worse") for o in f) for f in families])
    wrong = np.mean([any(o == "worse" for o in f) for f in families])
    return float(any_false), power / total, float(wrong)


def adaptive_mode(data: list[np.ndarray], package: bool = False) -> tuple[float, float, float, float]:
    """Family-wise any-decision rate, power, wrong-sign rate, mean seeds per configuration.

    ``package``: with adastop 0.1.3's one-sided boundary (for comparison only).
    """
    rule = SequentialRule(ROUND, ROUNDS, alpha=ALPHA, package_boundary=package)
    any_decision, wrong, power, total, seeds = [], [], 0, 0, []
    for scores in data:
        m = len(scores)
        agents = [scores[i, side] for i in range(m) for side in (0, 1)]
        result = sequential(agents, [(2 * i, 2 * i + 1) for i in range(m)], rule)
        any_decision.append(any(d in ("better", "worse") for d in result.decisions))
        wrong.append("worse" in result.decisions)
        power += result.decisions.count("better")
        total += m
        seeds += [ROUND * (at + 1) if at is not None else ROUND * ROUNDS for at in result.decided_at]
    return float(np.mean(any_decision)), power / total, float(np.mean(wrong)), float(np.mean(seeds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--effects", type=float, nargs="+", default=EFFECTS)
    parser.add_argument("--distributions", nargs="+", choices=list(DISTRIBUTIONS), default=list(DISTRIBUTIONS))
    args = parser.parse_args()
    mc = 2 * math.sqrt(ALPHA * (1 - ALPHA) / args.suites)
    print(f"{args.suites} suites per scenario, 1-8 comparisons each, alpha={ALPHA}; "
          f"Monte-Carlo 2 s.e. at alpha: {mc:.3f}")
    header = ["distribution", "effect (sd)"] + [f"fixed n={n}: FWER / power" for n in FIXED_SEEDS]
    header += [f"adaptive n={ROUND}xK={ROUNDS}: FWER / power", "adaptive seeds per config", "fixed n with >= power",
               "adastop 0.1.3 boundary: FWER"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    start = time.perf_counter()
    for name in args.distributions:
        draw = DISTRIBUTIONS[name]
        for effect in args.effects:
            rng = np.random.default_rng([args.seed, list(DISTRIBUTIONS).index(name), int(effect * 10)])
            data = suites(rng, draw, effect, args.suites, max(max(FIXED_SEEDS), ROUND * ROUNDS))
            cells, powers = [], {}
            for n in FIXED_SEEDS:
                if effect == 0 and n > 10:
                    cells.append("–")  # the error rate at 5 and 10 seeds says it; 20 costs most
                    continue
                rate, power, wrong = fixed_mode(data, n)
                powers[n] = power
                cells.append(f"{rate if effect == 0 else wrong:.3f} / {power:.3f}")
            rate, power, wrong, used = adaptive_mode(data)
            cells.append(f"{rate if effect == 0 else wrong:.3f} / {power:.3f}")
            same = next((str(n) for n in FIXED_SEEDS if powers.get(n, 0) >= power), f"> {max(FIXED_SEEDS)}")
            cells += [f"{used:.1f}", same if effect else "–"]
            cells.append(f"{adaptive_mode(data, package=True)[0]:.3f}" if effect == 0 else "–")
            print(f"| {name} | {effect:g} | " + " | ".join(cells) + " |", flush=True)
    print(f"({time.perf_counter() - start:.0f} s; FWER at effect 0 = any better/worse in a suite, "
          f"at effect > 0 = any worse)")


if __name__ == "__main__":
    main()
