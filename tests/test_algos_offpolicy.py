"""Off-policy algorithms (DQN, DDPG, TD3): target maths, replay buffer, learning, determinism, save/load."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import harness_algos
import numpy as np
import pytest
import torch
from gymnasium import spaces
from harness_algos import ddpg, dqn, td3
from harness_algos.offpolicy_nets import Critics, NumpyMLP, mlp, polyak_update
from harness_algos.common import MetricMeans
from harness_algos.replay import (
    EnvBatch,
    ReplayBuffer,
    UpdateClock,
    linear_schedule,
)

from harness.api import EnvironmentSpec, RunContext
from harness.envs import eval_env_seeds, make_base_env
from harness.evaluation import evaluate
from harness.params import build_params, field_docs, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.seeding import seed_everything
from harness.testing import check_algorithm, make_context

torch.set_num_threads(1)


# ---------------------------------------------------------------- toy environments


class SignBandit(gym.Env):
    """One-step episodes: observe +1 or -1, reward 1 for action 1 on +1 and action 0 on -1."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._sign = self.np_random.choice([-1.0, 1.0])
        return np.array([self._sign], np.float32), {}

    def step(self, action):
        reward = float(int(action) == int(self._sign > 0))
        return np.array([self._sign], np.float32), reward, True, False, {}


class ContinuousIdentity(gym.Env):
    """One-step episodes: observe x in [-1, 1], reward -(a - x)^2 for action a in [-2, 2]."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Box(-2.0, 2.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._x = np.float32(self.np_random.uniform(-1.0, 1.0))
        return np.array([self._x], np.float32), {}

    def step(self, action):
        reward = -float((np.asarray(action).reshape(-1)[0] - self._x) ** 2)
        return np.array([self._x], np.float32), reward, True, False, {}


class Counter(gym.Env):
    """Observes ``t / 10``; never terminates unless ``terminate_at`` is reached (time limit truncates)."""

    observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)

    def __init__(self, discrete: bool = True, terminate_at: int | None = None):
        self.action_space = spaces.Discrete(2) if discrete else spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.terminate_at = terminate_at

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        return np.array([self.t / 10], np.float32), 0.0, terminated, False, {}


TOY_ENVS = {
    "test/SignBandit-v0": {"entry_point": SignBandit},
    "test/ContinuousIdentity-v0": {"entry_point": ContinuousIdentity},
    "test/CounterTruncated-v0": {"entry_point": Counter, "max_episode_steps": 3},
    "test/CounterTerminated-v0": {"entry_point": Counter, "kwargs": {"terminate_at": 3}, "max_episode_steps": 50},
    "test/BoxCounterTruncated-v0": {"entry_point": Counter, "kwargs": {"discrete": False}, "max_episode_steps": 3},
}
for _env_id, _kwargs in TOY_ENVS.items():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, **_kwargs)


def make_ctx(env_id: str, seed: int = 0) -> RunContext:
    """A seeded RunContext built the way a harness worker builds one (no plugins needed)."""
    seed_everything(seed)
    return make_context(env_id, seed, registry=Registry(make_plugin_manager(load_entrypoints=False)))[0]


def train(algo, env_id: str, steps: int, seed: int = 0, **overrides):
    """An agent of ``algo`` trained for ``steps``; also returns the metrics the callback saw."""
    agent = algo.make_agent(build_params(algo.Params, overrides), make_ctx(env_id, seed))
    seen: list[tuple[int, dict]] = []
    agent.learn(steps, lambda step, metrics: seen.append((step, dict(metrics))) or True)
    return agent, seen


def eval_returns(agent, env_id: str, episodes: int = 20, seed: int = 0) -> np.ndarray:
    env = make_base_env(EnvironmentSpec(env_id), {})
    return evaluate(agent, env, eval_env_seeds(seed, episodes)).returns


TINY_DQN = {"hidden_sizes": (16,), "batch_size": 32, "learning_starts": 64, "train_freq": 1, "buffer_size": 1000,
                "target_update_interval": 50, "exploration_fraction": 0.3, "learning_rate": 3e-3}
TINY_AC = {"hidden_sizes": (32, 32), "batch_size": 64, "learning_starts": 100, "buffer_size": 2000, "learning_rate": 3e-3}


# ---------------------------------------------------------------- target maths


def test_dqn_td_target_terminal_truncated_and_double():
    rewards = torch.tensor([1.0, 1.0])
    terminated = torch.tensor([1.0, 0.0])  # the second transition was truncated: it bootstraps
    q_next_online = torch.tensor([[1.0, 5.0], [3.0, 2.0]])
    q_next_target = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    double = dqn.td_target(rewards, terminated, 0.9, q_next_target, q_next_online)
    # online argmax picks actions (1, 0); the target net values them (20, 30)
    assert torch.allclose(double, torch.tensor([1.0, 1.0 + 0.9 * 30.0]))
    plain = dqn.td_target(rewards, terminated, 0.9, q_next_target)
    assert torch.allclose(plain, torch.tensor([1.0, 1.0 + 0.9 * 40.0]))


def test_td3_target_smoothing_clips_noise_then_action():
    action = torch.tensor([0.9, -0.9, 0.0, 0.2])
    noise = torch.tensor([0.7, -0.2, -0.6, 0.1])
    smoothed = td3.smoothed_target_action(action, noise, noise_clip=0.5)
    assert torch.allclose(smoothed, torch.tensor([1.0, -1.0, -0.5, 0.3]))


def test_polyak_update_math():
    target, source = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    for t, s in zip(target.parameters(), source.parameters()):
        torch.nn.init.zeros_(t)
        torch.nn.init.ones_(s)
    polyak_update(target, source, 0.1)
    polyak_update(target, source, 0.1)
    assert torch.allclose(target.weight, torch.full((2, 2), 0.19))  # 0.1, then 0.1 + 0.1 * 0.9
    polyak_update(target, source, 1.0)
    assert torch.equal(target.bias, source.bias)


def test_numpy_mirror_matches_torch_and_follows_updates():
    net = mlp([3, 8, 2])
    mirror = NumpyMLP(net, output="tanh")
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    with torch.no_grad():
        assert np.allclose(mirror(x), torch.tanh(net(torch.from_numpy(x))).numpy(), atol=1e-6)
        for param in net.parameters():
            param.add_(0.5)  # in place, like an optimiser step
        assert np.allclose(mirror(x), torch.tanh(net(torch.from_numpy(x))).numpy(), atol=1e-6)


def test_critic_ensemble_members_are_independent():
    critics = Critics(2, 3, 1, (8,))
    obs, action = torch.randn(5, 3), torch.randn(5, 1)
    q = critics(obs, action)
    assert q.shape == (2, 5)
    q[0].sum().backward()
    assert critics.layers[0].weight.grad[1].abs().sum() == 0  # member 1 gets no gradient from Q_0
    assert critics.layers[0].weight.grad[0].abs().sum() > 0
    assert torch.allclose(critics(obs, action, members=1), q[:1])


# ---------------------------------------------------------------- replay and bookkeeping


def test_replay_buffer_shapes_and_wraparound():
    buffer = ReplayBuffer(5, (3,), (2,), np.float32, np.random.default_rng(0))
    for start in (0, 2, 4):  # three batches of two transitions: the third wraps around
        ids = np.array([start, start + 1], np.float32)
        buffer.add(np.repeat(ids[:, None], 3, 1), np.repeat(ids[:, None], 2, 1), ids, ids[:, None] + np.zeros(3),
                   np.array([0.0, 1.0]))
    assert buffer.size == 5 and buffer.pos == 1
    assert buffer.rewards.tolist() == [5.0, 1.0, 2.0, 3.0, 4.0]  # transition 0 overwritten by 5
    batch = buffer.sample(7)
    assert batch.obs.shape == (7, 3) and batch.actions.shape == (7, 2) and batch.rewards.shape == (7,)
    assert batch.next_obs.shape == (7, 3) and batch.terminated.shape == (7,)
    assert batch.obs.dtype == torch.float32
    assert torch.equal(batch.obs[:, 0], batch.rewards)  # fields of one sample stay aligned
    assert set(batch.rewards.tolist()) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_env_batch_returns_reached_and_reset_observations():
    envs = EnvBatch(make_ctx("test/CounterTerminated-v0").make_env, 2)
    assert envs.reset().tolist() == [[0.0], [0.0]]
    for _ in range(2):
        next_obs, reached, _, terminated = envs.step(np.zeros(2, np.int64))
        assert next_obs is reached and not terminated.any()
    next_obs, reached, rewards, terminated = envs.step(np.zeros(2, np.int64))  # both end at t = 3
    assert reached[:, 0] == pytest.approx([0.3, 0.3]) and next_obs.tolist() == [[0.0], [0.0]]
    assert terminated.tolist() == [1.0, 1.0] and rewards.shape == (2,)


def test_update_clock_keeps_the_ratio_across_env_counts():
    clock = UpdateClock(train_freq=16, gradient_steps=4, learning_starts=30)
    due = [clock.due(step, 3) for step in range(3, 3 * 33 + 1, 3)]
    assert sum(due[:9]) == 0  # steps 3..27 are before learning starts
    assert sum(due) == (99 - 30 + 1) // 16 * 4  # 70 env steps after the start -> 4 rounds -> 16 updates


def test_linear_schedule_and_metric_means():
    assert linear_schedule(1.0, 0.1, 0.5, 0.0) == 1.0
    assert linear_schedule(1.0, 0.1, 0.5, 0.25) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 0.5, 0.9) == pytest.approx(0.1)
    means = MetricMeans()
    means.add({"a": torch.tensor(1.0), "b": torch.tensor(4.0)})
    means.add({"a": torch.tensor(3.0)})
    assert means.pop() == {"a": 2.0, "b": 4.0}
    assert means.pop() == {}


@pytest.mark.parametrize("algo, prefix", [(dqn, "Counter"), (td3, "BoxCounter")])
def test_truncation_bootstraps_and_stores_the_last_observation(algo, prefix):
    agent, _ = train(algo, f"test/{prefix}Truncated-v0", 30, learning_starts=100)
    buffer = agent.buffer
    assert buffer.terminated[:30].sum() == 0  # time-limit truncation is not termination
    assert np.allclose(buffer.next_obs[:30, 0], buffer.obs[:30, 0] + 0.1)  # not the reset observation


def test_termination_is_stored():
    agent, _ = train(dqn, "test/CounterTerminated-v0", 30, learning_starts=100)
    terminal = agent.buffer.terminated[:30] == 1.0
    assert terminal.sum() == 10
    assert np.allclose(agent.buffer.next_obs[:30][terminal, 0], 0.3)


# ---------------------------------------------------------------- learning, determinism, save/load


def test_dqn_learns_the_sign_bandit():
    agent, seen = train(dqn, "test/SignBandit-v0", 800, **TINY_DQN)
    assert eval_returns(agent, "test/SignBandit-v0").mean() == 1.0  # random play scores 0.5
    keys = set().union(*(m.keys() for _, m in seen))
    assert {"loss/td", "q/mean", "policy/epsilon"} <= keys
    assert seen[-1][0] == 800


@pytest.mark.parametrize("algo", [td3, ddpg])
def test_actor_critic_learns_continuous_identity(algo):
    agent, seen = train(algo, "test/ContinuousIdentity-v0", 800, **TINY_AC)
    assert eval_returns(agent, "test/ContinuousIdentity-v0").mean() > -0.05  # random play: about -1.7
    keys = set().union(*(m.keys() for _, m in seen))
    assert {"loss/actor", "loss/critic", "q/mean"} <= keys


@pytest.mark.parametrize("algo, env_id, overrides", [
    (dqn, "CartPole-v1", {**TINY_DQN, "n_envs": 2}),
    (td3, "Pendulum-v1", {**TINY_AC, "n_envs": 2, "hidden_sizes": (16,)}),
])
def test_same_seed_same_result(algo, env_id, overrides):
    runs = [train(algo, env_id, 400, seed=seed, **overrides)[0] for seed in (3, 3, 4)]
    returns = [eval_returns(agent, env_id, episodes=3) for agent in runs]
    assert np.array_equal(returns[0], returns[1])
    weights = [_weights(agent) for agent in runs]
    assert torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2])  # another seed gives another run


def _weights(agent) -> torch.Tensor:
    module = agent.q if hasattr(agent, "q") else agent.actor
    return torch.cat([p.detach().flatten() for p in module.parameters()])


@pytest.mark.parametrize("name, env_id, overrides", [
    ("dqn", "CartPole-v1", TINY_DQN),
    ("ddpg", "Pendulum-v1", {**TINY_AC, "hidden_sizes": (16,)}),
    ("td3", "Pendulum-v1", {**TINY_AC, "hidden_sizes": (16,)}),
])
def test_conformance_kit(make_registry, name, env_id, overrides):
    """harness.testing: learns, same seed -> same eval returns, save + load_agent -> same actions."""
    trained = check_algorithm(name, env_id, steps=400, params=overrides, registry=make_registry(harness_algos))
    space = gym.make(env_id).action_space
    action = trained.agent.act(gym.make(env_id).observation_space.sample(), deterministic=False)
    assert space.contains(np.int64(action) if name == "dqn" else action)


# ---------------------------------------------------------------- contract details


def test_callback_false_stops_learning():
    agent = dqn.make_agent(build_params(dqn.Params, TINY_DQN), make_ctx("CartPole-v1"))
    agent.learn(10_000, lambda step, metrics: step < 50)
    assert agent.steps == 50


def test_wrong_action_space_is_a_clear_error():
    with pytest.raises(TypeError, match="Discrete"):
        dqn.make_agent(dqn.Params(), make_ctx("Pendulum-v1"))
    with pytest.raises(TypeError, match="Box"):
        td3.make_agent(td3.Params(), make_ctx("CartPole-v1"))


@pytest.mark.parametrize("algo", [dqn, ddpg, td3])
def test_params_documented_and_presets_valid(algo):
    assert all(field_docs(algo.Params).values())
    for preset, table in algo.presets.items():
        for env_name in table:
            params = build_params(algo.Params, preset_overrides(algo.presets, preset, env_name))
            assert dataclasses.is_dataclass(params)


@pytest.mark.parametrize("env", ["CartPole-v1", "Acrobot-v1"])
def test_dqn_zoo_preset_matches_the_sb3_zoo_preset(env):
    from harness_sb3 import dqn as sb3_dqn

    native = preset_overrides(dqn.presets, "zoo", env)
    zoo = preset_overrides(sb3_dqn.presets, "zoo", env)
    assert native["hidden_sizes"] == tuple(zoo["policy_kwargs"]["net_arch"])
    expected_steps = zoo["train_freq"] if zoo["gradient_steps"] == -1 else zoo["gradient_steps"]  # one env
    assert native["gradient_steps"] == expected_steps
    shared = set(native) - {"hidden_sizes", "gradient_steps"}
    assert {key: native[key] for key in shared} == {key: zoo[key] for key in shared}
