"""Conformance kit for plugin authors: check an algorithm in one test.

    from harness.testing import check_algorithm
    def test_my_algorithm():
        check_algorithm("my.algo", "CartPole-v1", steps=2_000)

It learns briefly, checks that one seed gives identical evaluation returns twice,
and that save + load_agent reproduces the same actions.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import RunContext
from harness.envs import eval_env_seeds, make_base_env, resolve_env, train_env_seeds, training_env_factory
from harness.evaluation import EvalResult, evaluate
from harness.params import build_params, preset_overrides
from harness.registry import Registry, default_registry
from harness.seeding import seed_everything
from harness.vector import training_vector_env


@dataclass
class Trained:
    agent: Any
    ctx: RunContext
    params: Any
    episodes: list[dict[str, Any]]
    evaluation: EvalResult


def make_context(env: str, seed: int = 0, shapers: list[dict[str, Any]] | None = None,
                 env_kwargs: dict[str, Any] | None = None, registry: Registry | None = None,
                 device: str = "cpu", vector: str = "sync") -> tuple[RunContext, list[dict[str, Any]]]:
    """A RunContext exactly as a harness worker builds it, and the list its episodes land in."""
    registry = registry or default_registry()
    episodes: list[dict[str, Any]] = []
    spec = resolve_env(registry, env)
    make_env = training_env_factory(registry, spec, env_kwargs or {}, shapers or [], seed, episodes.append)
    vector_env = training_vector_env(vector, spec, env_kwargs or {}, shapers or [], seed, episodes.append)[0]
    ctx = RunContext(env, seed, device, make_env, env_seeds=lambda n: train_env_seeds(seed, n), vector_env=vector_env)
    return ctx, episodes


def train(algorithm: str, env: str, steps: int, seed: int = 0, params: dict[str, Any] | None = None,
          preset: str | None = None, env_kwargs: dict[str, Any] | None = None, episodes: int = 3,
          registry: Registry | None = None, vector: str = "sync") -> Trained:
    """Learn ``steps`` env steps like a harness worker would, then evaluate."""
    registry = registry or default_registry()
    impl = registry.get("algorithm", algorithm).load()
    resolved = build_params(impl.Params, {**preset_overrides(impl.presets, preset, env), **(params or {})})
    seed_everything(seed)
    ctx, recorded = make_context(env, seed, env_kwargs=env_kwargs, registry=registry, vector=vector)
    agent = impl.make_agent(resolved, ctx)
    agent.learn(steps, lambda step, metrics: True)
    eval_env = make_base_env(resolve_env(registry, env), env_kwargs or {})
    result = evaluate(agent, eval_env, eval_env_seeds(seed, episodes))
    return Trained(agent, ctx, resolved, recorded, result)


def check_algorithm(algorithm: str, env: str, steps: int = 2_000, seed: int = 0,
                    params: dict[str, Any] | None = None, registry: Registry | None = None,
                    plays_episodes: bool = True) -> Trained:
    """Learns, is deterministic under a seed, saves and reloads to the same actions.

    ``plays_episodes=False`` for planners (e.g. dynamic programming) that learn from a model.
    """
    registry = registry or default_registry()
    first = train(algorithm, env, steps, seed, params, registry=registry)
    second = train(algorithm, env, steps, seed, params, registry=registry)
    assert first.episodes or not plays_episodes, f"{algorithm} finished no training episode in {steps} steps"
    np.testing.assert_array_equal(first.evaluation.returns, second.evaluation.returns,
                                  err_msg=f"{algorithm} is not deterministic under seed {seed}")
    impl = registry.get("algorithm", algorithm).load()
    with tempfile.TemporaryDirectory() as tmp:
        first.agent.save(Path(tmp))
        reloaded = impl.load_agent(first.params, first.ctx, Path(tmp))
    probe = make_base_env(resolve_env(registry, env), {})
    obs, _ = probe.reset(seed=eval_env_seeds(seed, 1)[0])
    seen, actions = [], []
    for _ in range(20):
        action = first.agent.act(obs, deterministic=True)
        np.testing.assert_array_equal(action, reloaded.act(obs, deterministic=True),
                                      err_msg=f"{algorithm}: reloaded agent acts differently")
        seen.append(obs)
        actions.append(action)
        obs, _, terminated, truncated, _ = probe.step(action)
        if terminated or truncated:
            obs, _ = probe.reset()
    if callable(getattr(first.agent, "act_batch", None)):  # optional: must agree with act, row by row
        np.testing.assert_allclose(first.agent.act_batch(np.stack(seen), True), np.stack(actions), rtol=1e-5,
                                   atol=1e-6, err_msg=f"{algorithm}: act_batch differs from act")
    return first
