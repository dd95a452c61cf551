"""Group rollouts: G episodes from each prompt (reset seed), stepped in lockstep."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch.distributions import Categorical


@dataclass(frozen=True)
class Episodes:
    """Finished episodes, stored episode after episode; groups are ``G`` consecutive episodes."""

    obs: np.ndarray
    """``[N, *obs_shape]`` observations the actions were taken in."""
    actions: np.ndarray
    """``[N]`` sampled actions."""
    logp: np.ndarray
    """``[N]`` log-probabilities of the actions under the behaviour policy."""
    lengths: np.ndarray
    """``[E]`` steps per episode."""
    returns: np.ndarray
    """``[E]`` undiscounted sum of the rewards the agent saw."""
    truncated: np.ndarray
    """``[E]`` True where the episode hit its step limit."""
    group_size: int
    scores: np.ndarray | None = None
    """``[E]`` what advantages are computed from (returns plus any length penalty)."""

    @property
    def n_groups(self) -> int:
        return len(self.lengths) // self.group_size

    @property
    def steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def episode_ids(self) -> np.ndarray:
        """``[N]`` episode index of every step."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    def score_table(self) -> np.ndarray:
        """``[B, G]`` scores (returns when no score was set)."""
        scores = self.returns if self.scores is None else self.scores
        return scores.reshape(self.n_groups, self.group_size)

    def return_table(self) -> np.ndarray:
        """``[B, G]`` returns (the environment's reward alone, without any length penalty)."""
        return self.returns.reshape(self.n_groups, self.group_size)

    def select_groups(self, keep: np.ndarray) -> Episodes:
        """The episodes of the groups where ``keep`` (``[B]`` bool or indices) holds."""
        groups = np.arange(self.n_groups)[keep]
        episodes = (groups[:, None] * self.group_size + np.arange(self.group_size)).ravel()
        steps = np.isin(self.episode_ids, episodes)
        pick = lambda a: None if a is None else a[episodes]
        return Episodes(self.obs[steps], self.actions[steps], self.logp[steps], self.lengths[episodes],
                        self.returns[episodes], self.truncated[episodes], self.group_size, pick(self.scores))

    @staticmethod
    def concat(parts: Sequence[Episodes]) -> Episodes:
        join = lambda name: np.concatenate([getattr(p, name) for p in parts])
        scores = None if parts[0].scores is None else join("scores")
        return Episodes(join("obs"), join("actions"), join("logp"), join("lengths"), join("returns"),
                        join("truncated"), parts[0].group_size, scores)

    def with_scores(self, scores: np.ndarray) -> Episodes:
        return replace(self, scores=np.asarray(scores, np.float64))


@torch.no_grad()
def collect_groups(envs: Sequence[Any], policy: torch.nn.Module, prompt_seeds: Sequence[int],
                   group_size: int, on_steps: Callable[[int], bool] | None = None,
                   device: str = "cpu") -> Episodes | None:
    """Reset ``group_size`` envs per prompt seed, run them all to the end with the policy.

    ``on_steps(steps_so_far)`` is called after every lockstep; when it returns
    False collection stops and None is returned.
    """
    n = len(prompt_seeds) * group_size
    if len(envs) < n:
        raise ValueError(f"need {n} envs for {len(prompt_seeds)} prompts x {group_size}, have {len(envs)}")
    current = [envs[i].reset(seed=int(prompt_seeds[i // group_size]))[0] for i in range(n)]
    obs: list[list[np.ndarray]] = [[] for _ in range(n)]
    actions: list[list[int]] = [[] for _ in range(n)]
    logps: list[list[float]] = [[] for _ in range(n)]
    returns, truncated = np.zeros(n), np.zeros(n, bool)
    active, steps = list(range(n)), 0
    while active:
        batch = torch.as_tensor(np.stack([current[i] for i in active]), dtype=torch.float32, device=device)
        dist = Categorical(logits=policy(batch))
        sampled = dist.sample()
        logp = dist.log_prob(sampled).cpu().numpy()
        sampled = sampled.cpu().numpy()
        still = []
        for j, i in enumerate(active):
            obs[i].append(current[i])
            actions[i].append(int(sampled[j]))
            logps[i].append(float(logp[j]))
            current[i], reward, term, trunc, _ = envs[i].step(int(sampled[j]))
            returns[i] += float(reward)
            if term or trunc:
                truncated[i] = bool(trunc) and not term
            else:
                still.append(i)
        steps += len(active)
        active = still
        if on_steps is not None and not on_steps(steps):
            return None
    return Episodes(
        obs=np.asarray([o for ep in obs for o in ep], np.float32),
        actions=np.asarray([a for ep in actions for a in ep], np.int64),
        logp=np.asarray([lp for ep in logps for lp in ep], np.float32),
        lengths=np.asarray([len(ep) for ep in actions], np.int64),
        returns=returns,
        truncated=truncated,
        group_size=group_size,
    )
