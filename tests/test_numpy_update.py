"""The numpy update kernel (harness_algos.numpy_update) equals the torch code it replaces."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from harness.params import build_params, preset_overrides
from harness.seeding import seed_everything
from harness.testing import make_context
from harness_algos.numpy_update import Adam, FlatParams
from harness_algos.onpolicy import Batch, minibatches
from harness_algos.offpolicy_nets import polyak_update

CASES = [
    ("ppo", "Acrobot-v1", {}),  # the zoo preset: categorical, 64-row minibatches, normalised obs and rewards
    ("ppo", "Pendulum-v1", {}),  # Gaussian head
    ("ppo", "Pendulum-v1", {"clip_value": 0.2, "ent_coef": 0.01, "activation": "relu", "anneal_clip": True}),
    ("ppo", "CartPole-v1", {"ent_coef": 0.05, "max_grad_norm": None, "clip_value": 0.1}),
    ("a2c", "CartPole-v1", {}),  # RMSprop
    ("a2c", "Acrobot-v1", {"ent_coef": 0.01, "normalize_advantage": True, "gae_lambda": 0.9}),
    ("a2c", "Pendulum-v1", {"optimizer": "adam", "ent_coef": 0.01, "max_grad_norm": None}),
]


def make(algo: str, env: str, kernel: str, overrides: dict):
    module = importlib.import_module(f"harness_algos.{algo}")
    values = {**preset_overrides(module.presets, "zoo", env), "n_envs": 4, "n_steps": 64, **overrides}
    if algo == "ppo":
        values.update(n_epochs=3, batch_size=64)
    params = build_params(module.Params, {**values, "update_kernel": kernel})
    seed_everything(0)
    return module.make_agent(params, make_context(env, 0, vector="sync")[0])


@pytest.mark.parametrize("algo,env,overrides", CASES, ids=[f"{a}-{e}-{i}" for i, (a, e, _) in enumerate(CASES)])
def test_numpy_update_gives_torchs_losses_and_weights(algo, env, overrides):
    reference, fast = make(algo, env, "torch", overrides), make(algo, env, "numpy", overrides)
    assert fast.kernel is not None and reference.kernel is None
    for remaining in (1.0, 0.6):  # two rollouts' updates from the same data, annealed values included
        reference.start()
        reference.collect()
        data = reference.batch()
        torch.manual_seed(7)
        expected = reference.update(data, remaining)
        torch.manual_seed(7)
        got = fast.update(data, remaining)
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key
        for ours, theirs in zip(fast.parameters, reference.parameters):
            np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-4, atol=2e-6)


def test_flat_params_keep_the_torch_parameters_and_checkpoints_working(tmp_path):
    agent = make("ppo", "Acrobot-v1", "numpy", {})
    flat = agent.kernel.flat
    assert sum(p.numel() for p in agent.parameters) == flat.data.size
    flat.data += 1.0  # the torch model sees the change: its parameters are views of the flat array
    first = agent.parameters[0]
    assert np.shares_memory(first.detach().numpy(), flat.data)
    obs = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    before = agent.act_batch(obs)
    agent.save(tmp_path)
    other = make("ppo", "Acrobot-v1", "numpy", {})
    other.load(tmp_path)
    np.testing.assert_array_equal(other.act_batch(obs), before)
    np.testing.assert_array_equal(other.kernel.flat.data, flat.data)  # load_state_dict wrote into the views


def test_flat_params_clip_the_global_norm_like_torch():
    layer = torch.nn.Linear(3, 2)
    flat = FlatParams(list(layer.parameters()))
    flat.grad[:] = np.arange(flat.grad.size, dtype=np.float32)
    for p in layer.parameters():
        p.grad = torch.from_numpy(flat.of(p)[1].copy())
    torch.nn.utils.clip_grad_norm_(layer.parameters(), 1.5)
    flat.clip_grad_norm(1.5)
    np.testing.assert_allclose(flat.grad, np.concatenate([p.grad.numpy().ravel() for p in layer.parameters()]),
                               rtol=1e-6)


DQN_CASES = [
    ("Acrobot-v1", "fast", {}),  # 128x128, batch 128: the preset control.toml runs
    ("CartPole-v1", "zoo", {"double_q": False, "batch_size": 32, "max_grad_norm": 0.5}),  # plain DQN, clipping on
]


def make_dqn(env: str, preset: str, kernel: str, overrides: dict):
    module = importlib.import_module("harness_algos.dqn")
    values = {**preset_overrides(module.presets, preset, env), "learning_starts": 10_000, **overrides}
    seed_everything(0)
    return module.make_agent(build_params(module.Params, {**values, "update_kernel": kernel}),
                             make_context(env, 0)[0])


@pytest.mark.parametrize("env,preset,overrides", DQN_CASES, ids=[c[0] for c in DQN_CASES])
def test_numpy_dqn_step_gives_torchs_losses_and_weights(env, preset, overrides):
    reference, fast = make_dqn(env, preset, "torch", overrides), make_dqn(env, preset, "numpy", overrides)
    assert fast.kernel is not None and reference.kernel is None
    for agent in (reference, fast):  # the same random transitions (no update before learning_starts)
        agent.learn(3000, lambda step, metrics: True)
    np.testing.assert_array_equal(fast.buffer.obs, reference.buffer.obs)
    for update in range(300):
        if update == 150:  # the target net moves too, and the numpy kernel reads it through its views
            for agent in (reference, fast):
                polyak_update(agent.q_target, agent.q, 1.0)
        expected, got = reference._update(), fast._update()
        for key in expected:
            assert float(got[key]) == pytest.approx(expected[key].item(), rel=1e-4, abs=1e-5), (update, key)
    for ours, theirs in zip(fast.q.parameters(), reference.q.parameters()):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-5)
    obs = fast.buffer.obs[:64]
    np.testing.assert_array_equal(fast.act_batch(obs), reference.act_batch(obs))  # acting sees the new weights


def test_numpy_dqn_checkpoints_load_into_either_kernel(tmp_path):
    fast = make_dqn("Acrobot-v1", "fast", "numpy", {"learning_starts": 0})
    fast.learn(500, lambda step, metrics: True)
    fast.save(tmp_path)
    for kernel in ("torch", "numpy"):
        other = make_dqn("Acrobot-v1", "fast", kernel, {})
        other.load(tmp_path)
        for ours, theirs in zip(other.q.parameters(), fast.q.parameters()):
            np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
        np.testing.assert_array_equal(other.act_batch(fast.buffer.obs[:32]), fast.act_batch(fast.buffer.obs[:32]))


def test_numpy_minibatches_are_the_tensor_ones():
    """The numpy kernel's minibatches (numpy views, shuffled by the same torch stream) hold the same rows."""
    data = Batch(*(torch.arange(40 * width, dtype=torch.float32).reshape(40, width) for width in (3, 1, 1, 1, 1, 1)))
    torch.manual_seed(3)
    expected = list(minibatches(data, 16, 2))
    torch.manual_seed(3)
    got = list(minibatches(data.numpy(), 16, 2))
    assert len(got) == len(expected) == 6
    for ours, theirs in zip(got, expected):
        for a, b in zip(ours, theirs):
            assert isinstance(a, np.ndarray)
            np.testing.assert_array_equal(a, b.numpy())


def test_numpy_adam_follows_torchs_adam():
    """Adam on a FlatParams (in its two scratch buffers) moves the weights as torch.optim.Adam does."""
    layer, reference = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    reference.load_state_dict(layer.state_dict())
    flat = FlatParams(list(layer.parameters()))
    ours, theirs = Adam(flat, lr=3e-3, eps=1e-5), torch.optim.Adam(reference.parameters(), lr=3e-3, eps=1e-5)
    rng = np.random.default_rng(0)
    for _ in range(20):
        flat.grad[:] = rng.normal(size=flat.grad.size).astype(np.float32)
        for p in reference.parameters():
            p.grad = torch.from_numpy(flat.of(layer.weight if p.shape == layer.weight.shape else layer.bias)[1].copy())
        ours.step()
        theirs.step()
    for mine, torchs in zip(layer.parameters(), reference.parameters()):
        np.testing.assert_allclose(mine.detach().numpy(), torchs.detach().numpy(), rtol=1e-5, atol=1e-7)
