"""Mean return of a uniformly random policy on the harness_envs environments.

Usage: python bench/random_scores.py [--episodes 100] [ENV ...]

Episode i resets with seed i and samples actions from the action space seeded with i, so the
numbers are reproducible. Time limits are those the harness uses (gymnasium's, or the
``max_episode_steps`` of the harness_envs catalogue where gymnasium has none).
The measured values are stored in plugins/harness_envs/catalog.py.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from harness_envs.catalog import ENVIRONMENTS


def random_returns(env_id: str, episodes: int, max_episode_steps: int | None) -> np.ndarray:
    """Return of each of ``episodes`` random-policy episodes (seeds 0..episodes-1)."""
    extra = {"max_episode_steps": max_episode_steps} if max_episode_steps else {}
    env = gym.make(env_id, **extra)
    returns = np.empty(episodes)
    for seed in range(episodes):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns[seed] = total
    env.close()
    return returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("envs", nargs="*", help="environment names (default: all of harness_envs)")
    args = parser.parse_args()
    catalog = {spec.name: spec for spec in ENVIRONMENTS}
    print(f"{'environment':28s} {'mean':>10s} {'std':>9s} {'sem':>8s} {'seconds':>8s}")
    for name in args.envs or list(catalog):
        began = time.perf_counter()
        returns = random_returns(name, args.episodes, catalog[name].max_episode_steps)
        sem = returns.std(ddof=1) / np.sqrt(len(returns))
        seconds = time.perf_counter() - began
        print(f"{name:28s} {returns.mean():10.3f} {returns.std():9.3f} {sem:8.3f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
