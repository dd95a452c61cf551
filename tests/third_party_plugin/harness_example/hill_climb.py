"""Hill climbing over a linear policy: perturb the weights, keep them if an episode got better."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Params:
    step_size: float = field(default=0.5, metadata={"doc": "std of the weight perturbation"})


presets = {"default": {"*": {}}, "bold": {"*": {"step_size": 2.0}}}


class HillClimber:
    def __init__(self, params: Params, ctx):
        self.params = params
        self.env = ctx.make_env(0)  # harness-made: shaped, seeded, recorded
        self.rng = np.random.default_rng(ctx.seed)
        n_obs = self.env.observation_space.shape[0]
        self.weights = np.zeros((self.env.action_space.n, n_obs))

    def act(self, obs, deterministic: bool = True) -> int:
        return int(np.argmax(self.weights @ obs))

    def learn(self, total_steps: int, callback) -> None:
        steps, best = 0, -np.inf
        while steps < total_steps:
            candidate = self.weights + self.params.step_size * self.rng.standard_normal(self.weights.shape)
            obs, _ = self.env.reset()
            episode_return, done = 0.0, False
            while not done and steps < total_steps:
                obs, reward, terminated, truncated, _ = self.env.step(int(np.argmax(candidate @ obs)))
                episode_return += reward
                steps += 1
                done = terminated or truncated
                if callback(steps, {}) is False:
                    return
            if episode_return >= best:
                best, self.weights = episode_return, candidate
            callback(steps, {"loss/best_return": best})

    def save(self, path: Path) -> None:
        np.save(Path(path) / "weights.npy", self.weights)


def make_agent(params: Params, ctx) -> HillClimber:
    return HillClimber(params, ctx)


def load_agent(params: Params, ctx, path: Path) -> HillClimber:
    agent = HillClimber(params, ctx)
    agent.weights = np.load(Path(path) / "weights.npy")
    return agent
