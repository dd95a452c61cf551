"""A tiny, fast, deterministic algorithm with fault injection, for harness's own tests.

Not registered by an entry point: enable it with ``HARNESS_PLUGINS=harness.testing.toy``.
It learns a linear policy by random search (good enough to improve on CartPole)
and can be told to raise, produce NaN, or stall, to exercise failure isolation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.api import AlgorithmSpec, RunContext, StepCallback
from harness.hookspecs import hookimpl


@hookimpl
def harness_register_algorithms(register):
    register(AlgorithmSpec("toy.search", "harness.testing.toy", "random-search linear policy (tests only)", ("Discrete",)))


@dataclass
class Params:
    noise: float = field(default=0.5, metadata={"doc": "std of the weight perturbation per episode"})
    fail_at_step: int | None = field(default=None, metadata={"doc": "raise RuntimeError at this step"})
    nan_at_step: int | None = field(default=None, metadata={"doc": "report a NaN loss at this step"})
    sleep_per_step: float = field(default=0.0, metadata={"doc": "seconds to sleep each step (timeouts)"})
    swallow_errors: bool = field(default=False, metadata={
        "doc": "misbehave: ignore the callback's False and catch every Exception inside learn"})
    bad_action: bool = field(default=False, metadata={"doc": "misbehave: act() returns an array of shape (3, 2)"})


presets = {"default": {"*": {}}, "noisy": {"*": {"noise": 1.0}}}


class ToyAgent:
    def __init__(self, params: Params, ctx: RunContext):
        self.params, self.ctx = params, ctx
        self.rng = np.random.default_rng(ctx.seed)
        self.env = ctx.make_env(0)
        obs_dim = int(np.prod(self.env.observation_space.shape))
        self.weights = np.zeros((self.env.action_space.n, obs_dim))

    def act(self, obs: np.ndarray, deterministic: bool = True) -> int | np.ndarray:
        if self.params.bad_action:
            return np.zeros((3, 2))
        return int(np.argmax(self.weights @ np.ravel(obs)))

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        p, step, best, empty, episode = self.params, 0, -np.inf, {}, 0
        while step < total_steps:
            candidate = self.weights + p.noise * self.rng.standard_normal(self.weights.shape)
            obs, _ = self.env.reset()
            total, done = 0.0, False
            while not done and step < total_steps:
                obs, reward, terminated, truncated, _ = self.env.step(int(np.argmax(candidate @ np.ravel(obs))))
                total, done, step = total + float(reward), terminated or truncated, step + 1
                metrics = {"loss/nan": float("nan")} if step == p.nan_at_step else empty
                try:
                    self._faults(step)
                    if callback(step, metrics) is False and not p.swallow_errors:
                        return
                except Exception:
                    if not p.swallow_errors:
                        raise
            if total >= best:
                best, self.weights = total, candidate
            if done:  # a gap-free counter of finished episodes lets tests prove no point was lost
                episode += 1
                callback(step, {"loss/best_return": best, "toy/episode": episode})

    def _faults(self, step: int) -> None:
        if step == self.params.fail_at_step:
            raise RuntimeError(f"injected failure at step {step}")
        if self.params.sleep_per_step:
            time.sleep(self.params.sleep_per_step)

    def save(self, path: Path) -> None:
        np.save(Path(path) / "weights.npy", self.weights)


def make_agent(params: Params, ctx: RunContext) -> ToyAgent:
    return ToyAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> ToyAgent:
    agent = ToyAgent(params, ctx)
    agent.weights = np.load(Path(path) / "weights.npy")
    return agent
