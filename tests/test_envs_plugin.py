"""harness_envs: every listed task is registered with sane, reproducible score metadata."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import pytest

from harness.registry import Registry, make_plugin_manager

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from random_scores import random_returns

LISTED = [
    "CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
    "LunarLander-v3", "LunarLanderContinuous-v3", "FrozenLake-v1", "CliffWalking-v1", "Taxi-v4",
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(make_plugin_manager(load_entrypoints=False, modules=["harness_envs"]))


def test_every_listed_environment_is_registered(registry):
    assert set(LISTED) <= set(registry.names("environment"))


@pytest.mark.parametrize("name", LISTED)
def test_metadata_is_consistent_with_gymnasium(registry, name):
    spec = registry.get("environment", name)
    gym_spec = gym.registry[name]  # a plain gymnasium id: make=None must work
    assert spec.make is None
    assert spec.random_score is not None and spec.solved_threshold is not None
    assert spec.random_score < spec.solved_threshold
    if gym_spec.reward_threshold is not None:
        assert spec.solved_threshold == gym_spec.reward_threshold
    if gym_spec.max_episode_steps is not None:
        assert spec.max_episode_steps == gym_spec.max_episode_steps
    assert spec.max_episode_steps is not None, "every task needs a time limit for evaluation"


@pytest.mark.parametrize("name", ["CartPole-v1", "FrozenLake-v1"])
def test_random_score_is_reproduced_by_the_benchmark(registry, name):
    spec = registry.get("environment", name)
    returns = random_returns(name, 1000, spec.max_episode_steps)
    assert round(float(returns.mean()), 3) == spec.random_score

