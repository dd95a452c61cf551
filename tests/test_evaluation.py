"""Batched evaluation: same seeds, same returns as the one-episode-at-a-time loop, fewer forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.envs import eval_env_seeds, make_base_env, resolve_env
from harness.evaluation import evaluate, evaluation_envs
from harness.registry import default_registry
from harness.testing import train

torch.set_num_threads(1)
SEEDS = eval_env_seeds(7, 8)


def envs(name: str, n: int) -> list:
    spec = resolve_env(default_registry(), name)
    return [make_base_env(spec, {}) for _ in range(n)]


# Discrete actions: an argmax over logits, identical episode by episode.
# Box actions: a batched matrix product may round the last bit differently, so
# returns agree to float precision (lengths exactly).
@pytest.mark.parametrize(("algorithm", "env", "steps"), [
    ("ppo", "CartPole-v1", 1024),
    ("dqn", "CartPole-v1", 500),
    ("sb3.ppo", "CartPole-v1", 512),
    ("sb3.dqn", "MountainCar-v0", 300),
    ("ppo", "Pendulum-v1", 1024),
    ("td3", "Pendulum-v1", 100),
    ("sb3.ppo", "Pendulum-v1", 512),
])
def test_batched_evaluation_matches_sequential_episode_by_episode(algorithm, env, steps):
    agent = train(algorithm, env, steps, seed=3, episodes=1, params={"n_steps": 256} if algorithm == "sb3.ppo" else None).agent
    sequential = evaluate(agent, envs(env, 1)[0], SEEDS)
    for pool in (len(SEEDS), 3):  # one env per episode, or fewer envs taking the next seed in turn
        batched = evaluate(agent, envs(env, pool), SEEDS)
        np.testing.assert_array_equal(batched.lengths, sequential.lengths)
        if "Pendulum" in env or "Continuous" in env:
            np.testing.assert_allclose(batched.returns, sequential.returns, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(batched.returns, sequential.returns)


class CountingAgent:
    """Pushes the cart towards where the pole leans; counts forward passes."""

    def __init__(self):
        self.calls, self.rows = 0, 0

    def act(self, obs, deterministic=True):
        return int(self.act_batch(np.asarray(obs)[None])[0])

    def act_batch(self, obs, deterministic=True):
        self.calls, self.rows = self.calls + 1, self.rows + len(obs)
        return (obs[:, 2] > 0).astype(np.int64)


def test_one_forward_pass_per_step_over_the_running_episodes():
    agent = CountingAgent()
    result = evaluate(agent, envs("CartPole-v1", len(SEEDS)), SEEDS)
    assert agent.calls == result.lengths.max()
    assert agent.rows == result.lengths.sum()
    assert len(set(result.lengths.tolist())) > 1  # episodes end at different steps


def test_stochastic_or_single_env_evaluation_keeps_the_sequential_loop():
    agent = CountingAgent()
    result = evaluate(agent, envs("CartPole-v1", 4), SEEDS, deterministic=False)
    assert agent.calls == agent.rows == result.lengths.sum()  # act() per step, one episode at a time
    make = lambda: envs("CartPole-v1", 1)[0]  # noqa: E731
    assert len(evaluation_envs(make, agent, 5, deterministic=False)) == 1
    assert len(evaluation_envs(make, agent, 5, deterministic=True)) == 5
    assert len(evaluation_envs(make, object(), 5, deterministic=True)) == 1  # no act_batch
