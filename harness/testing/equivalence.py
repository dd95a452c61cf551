"""Do a vector backend's dynamics match gymnasium's?  Random-policy samples and two-sample tests.

A sample is ``n`` episodes of a uniformly random policy: per episode its return,
its length and the mean of every observation component over the episode.  Two
samples are compared with Kolmogorov-Smirnov two-sample tests, one per statistic
(return, length, each observation mean), Bonferroni-corrected so that the whole
family is rejected with probability at most ``alpha`` when the dynamics are the
same.  ``bench/vector_equivalence.py`` runs it per backend and environment, with
a known-different environment next to it as a check of power.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Sample:
    returns: np.ndarray
    lengths: np.ndarray
    obs_means: np.ndarray
    """(episodes, obs_dim): each episode's mean observation."""

    def columns(self) -> dict[str, np.ndarray]:
        out = {"return": self.returns, "length": self.lengths.astype(float)}
        out.update({f"obs[{i}]": self.obs_means[:, i] for i in range(self.obs_means.shape[1])})
        return out


def gymnasium_sample(env: gym.Env, episodes: int, seed: int) -> Sample:
    """``episodes`` random-policy episodes on one gymnasium env, each reset with its own seed."""
    env.action_space.seed(seed)
    returns, lengths, means = [], [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        seen, total, done = [obs], 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            seen.append(obs)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        lengths.append(len(seen) - 1)
        means.append(np.mean(seen, axis=0))
    return Sample(np.array(returns), np.array(lengths), np.array(means))


def vector_sample(envs: gym.vector.VectorEnv, episodes: int, seed: int) -> Sample:
    """Random-policy episodes of a same-step-autoreset vector env: the first ``episodes / n`` of each env.

    (Taking the first episodes to finish overall would favour short ones.)
    """
    envs.single_action_space.seed(seed)
    obs, _ = envs.reset()
    n = envs.num_envs
    per_env = -(-episodes // n)
    sums, counts, totals, done = obs.astype(np.float64), np.ones(n), np.zeros(n), np.zeros(n, int)
    returns, lengths, means = [], [], []
    while done.min() < per_env:
        actions = np.stack([envs.single_action_space.sample() for _ in range(n)])
        obs, rewards, terminated, truncated, info = envs.step(actions)
        ended = terminated | truncated
        last = np.stack([info["final_obs"][i] if ended[i] else obs[i] for i in range(n)])
        sums, counts, totals = sums + last, counts + 1, totals + rewards
        for i in np.flatnonzero(ended):
            if done[i] < per_env:
                returns.append(totals[i])
                lengths.append(int(counts[i]) - 1)
                means.append(sums[i] / counts[i])
                done[i] += 1
            sums[i], counts[i], totals[i] = obs[i], 1, 0.0
    return Sample(np.array(returns), np.array(lengths), np.array(means))


def compare(a: Sample, b: Sample, alpha: float = 0.01) -> tuple[bool, dict[str, float]]:
    """``(same, p_values)``: same unless some statistic's KS p-value is below ``alpha / tests``."""
    left, right = a.columns(), b.columns()
    p_values = {}
    for name, x in left.items():
        y = right[name]
        # constant and equal on both sides (e.g. every episode truncated at the same length): no evidence
        p_values[name] = 1.0 if np.ptp(x) == np.ptp(y) == 0 and x[0] == y[0] else float(stats.ks_2samp(x, y).pvalue)
    return min(p_values.values()) >= alpha / len(p_values), p_values
