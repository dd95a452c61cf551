"""Do the fast backends' environments match gymnasium's?  The evidence table of docs/vector.md.

    python bench/vector_equivalence.py                  # --episodes 300 --alpha 0.01 --repeats 100

Part 1, per environment: random-policy episodes on gymnasium (one env, seeded per
episode) and on each verified backend (8 envs, same-step autoreset as the harness uses it);
Kolmogorov-Smirnov two-sample tests on return, length and each observation
component's episode mean, Bonferroni over those at ``alpha``.
Part 2, the procedure itself with known truth on CartPole: how often it rejects
gymnasium against gymnasium (false rejections, should be <= alpha) and against a
CartPole with a longer pole (power).
"""

from __future__ import annotations

import argparse

import gymnasium as gym

from harness.testing.equivalence import compare, gymnasium_sample, vector_sample
from harness.vector import VERIFIED, EpisodeTally, fast_vector_env


def backend_row(backend: str, env: str, episodes: int, alpha: float) -> str:
    reference = gymnasium_sample(gym.make(env), episodes, seed=10_000)
    envs = fast_vector_env(backend, env, 8, 3, gym.make(env), EpisodeTally(8, lambda record: None, [0]))
    fast = vector_sample(envs, episodes, seed=5)
    same, p = compare(reference, fast, alpha)
    worst = min(p, key=p.get)
    return (f"| {backend} | {env} | {len(reference.returns)} / {len(fast.returns)} | {reference.returns.mean():.1f} / "
            f"{fast.returns.mean():.1f} | {reference.lengths.mean():.1f} / {fast.lengths.mean():.1f} | "
            f"{worst} {p[worst]:.3f} | {'same' if same else 'DIFFERENT'} |")


def rejection_rate(repeats: int, episodes: int, alpha: float, pole: float) -> float:
    """Share of ``repeats`` comparisons of gymnasium CartPole vs one whose pole is ``pole`` (0.5 = same)."""
    rejected = 0
    for r in range(repeats):
        other = gym.make("CartPole-v1")
        other.unwrapped.length = pole
        a = gymnasium_sample(gym.make("CartPole-v1"), episodes, seed=2 * r * episodes)
        b = gymnasium_sample(other, episodes, seed=(2 * r + 1) * episodes)
        rejected += not compare(a, b, alpha)[0]
    return rejected / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=100, help="known-truth repeats (0: skip that part)")
    parser.add_argument("--backends", nargs="*", default=list(VERIFIED))
    args = parser.parse_args()
    print(f"alpha = {args.alpha} (Bonferroni over the statistics of one environment)\n")
    print("| backend | environment | episodes gym / backend | mean return | mean length | lowest p-value | verdict |")
    print("|---|---|---|---|---|---|---|")
    for backend in args.backends:
        for env in sorted(VERIFIED[backend]):
            print(backend_row(backend, env, args.episodes, args.alpha), flush=True)
    if not args.repeats:
        return
    print(f"\nCartPole, {args.repeats} repeats of {args.episodes} vs {args.episodes} episodes:")
    for pole in (0.5, 0.55, 0.6, 0.7):
        print(f"  pole {pole}: rejected in {rejection_rate(args.repeats, args.episodes, args.alpha, pole):.1%}", flush=True)


if __name__ == "__main__":
    main()
