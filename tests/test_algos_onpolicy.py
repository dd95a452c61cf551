"""Native on-policy algorithms (REINFORCE, A2C, PPO, TRPO): maths, learning, determinism, save/load."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from harness.api import RunContext
from harness.envs import SeedOnFirstReset
from harness.params import build_params, field_docs, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.seeding import seed_everything
from harness.testing import check_algorithm, train
from harness_algos import a2c, ppo, reinforce, trpo
from harness_algos.common import RewardScaler, RunningMeanStd
from harness_algos.kernels import LeanAdam, NumpyActor, clip_grad_norm
from harness_algos.nets import ActorCritic, CategoricalHead, GaussianHead
from harness_algos.onpolicy import Rollout, gae
from harness_algos.reinforce import discounted_returns
from harness_algos.trpo import conjugate_gradient, line_search

torch.set_num_threads(1)
MODULES = {"reinforce": reinforce, "a2c": a2c, "ppo": ppo, "trpo": trpo}
# Small rollouts so that a few thousand steps hold several updates.
QUICK = {
    "reinforce": {"n_envs": 16},
    "a2c": {"n_envs": 4, "n_steps": 8},
    "ppo": {"n_envs": 4, "n_steps": 64, "batch_size": 128, "n_epochs": 4},
    "trpo": {"n_envs": 4, "n_steps": 64, "batch_size": 128, "n_critic_updates": 4},
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    pm = make_plugin_manager(load_entrypoints=False, modules=["harness_algos"])
    return Registry(pm)


# ---------------------------------------------------------------- toy environments
class SignBandit(gym.Env):
    """One step: observe +1 or -1; reward 1 for action 1 on +1 and action 0 on -1."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.sign = float(self.np_random.choice([-1.0, 1.0]))
        return np.array([self.sign], np.float32), {}

    def step(self, action):
        return np.array([self.sign], np.float32), float(int(action) == int(self.sign > 0)), True, False, {}


class TargetBandit(gym.Env):
    """One step: observe x in {-1, 1}; reward -(a - x)^2 for an action a in [-2, 2]."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Box(-2.0, 2.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = float(self.np_random.choice([-1.0, 1.0]))
        return np.array([self.x], np.float32), {}

    def step(self, action):
        return np.array([self.x], np.float32), -float((np.ravel(action)[0] - self.x) ** 2), True, False, {}


class Counter(gym.Env):
    """Observation = steps taken; reward 1 per step; never terminates (wrap in a TimeLimit)."""

    observation_space = spaces.Box(0.0, 100.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([float(self.t)], np.float32), 1.0, False, False, {}


def toy_context(make, seed: int = 0) -> RunContext:
    return RunContext("toy", seed, "cpu", lambda i: SeedOnFirstReset(make(), seed * 100 + i))


# ---------------------------------------------------------------- maths
def test_gae_matches_hand_computed_case_with_truncation_and_termination():
    # env 0 is truncated after step 1 (V(final obs) = 2.0); env 1 terminates at step 2.
    rollout = Rollout(3, 2, obs_dim=1, action_shape=(), discrete=True)
    rollout.rewards[:] = [[1, 0], [1, 0], [1, 1]]
    rollout.values[:] = [[0.5, 1.0], [0.4, 1.0], [0.3, 1.0]]
    rollout.ended[:] = [[False, False], [True, False], [False, True]]
    rollout.boot[1, 0] = 2.0
    rollout.last_values[:] = [0.6, 5.0]
    next_values = rollout.next_values()
    np.testing.assert_allclose(next_values, [[0.4, 1.0], [2.0, 1.0], [0.6, 0.0]])

    advantages, returns = gae(rollout.rewards, rollout.values, next_values, rollout.ended, gamma=0.9, lam=0.8)
    # deltas: env 0 = [1 + .9*.4 - .5, 1 + .9*2 - .4, 1 + .9*.6 - .3] = [.86, 2.4, 1.24]
    #         env 1 = [.9 - 1, .9 - 1, 1 - 1] = [-.1, -.1, 0]; gamma * lam = .72
    expected = [[0.86 + 0.72 * 2.4, -0.1 + 0.72 * -0.1], [2.4, -0.1], [1.24, 0.0]]
    np.testing.assert_allclose(advantages, expected, rtol=1e-6)
    np.testing.assert_allclose(returns, advantages + rollout.values, rtol=1e-6)


def test_gae_with_lambda_one_is_the_bootstrapped_discounted_return():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=(5, 1)), rng.normal(size=(5, 1))
    last = 0.7
    next_values = np.concatenate([values[1:], [[last]]])
    _, returns = gae(rewards, values, next_values, np.zeros((5, 1), bool), gamma=0.95, lam=1.0)
    expected = sum(0.95**k * rewards[k, 0] for k in range(5)) + 0.95**5 * last
    assert returns[0, 0] == pytest.approx(expected)
    np.testing.assert_allclose(discounted_returns(rewards[:, 0], 0.95, bootstrap=last), returns[:, 0], rtol=1e-5)


def test_rollout_bootstraps_time_limit_cuts_from_the_final_observation():
    ctx = toy_context(lambda: gym.wrappers.TimeLimit(Counter(), max_episode_steps=3))
    seed_everything(0)
    agent = ppo.make_agent(build_params(ppo.Params, {"n_envs": 2, "n_steps": 4}), ctx)
    agent.start()
    agent.collect()
    r = agent.rollout
    np.testing.assert_array_equal(r.ended[:, 0], [False, False, True, False])
    np.testing.assert_array_equal(r.obs[:, 0, 0], [0, 1, 2, 0])  # reset in the same step
    with torch.no_grad():
        final_value = agent.model.value(torch.tensor([[3.0]])).item()
    np.testing.assert_allclose(r.boot[2], final_value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.next_values()[2], final_value, rtol=1e-5, atol=1e-6)
    assert agent.env_steps == 8


def test_clipped_surrogate_on_hand_picked_ratios():
    ratio = torch.tensor([0.5, 1.0, 1.5, 1.5, 0.5], requires_grad=True)
    advantages = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0])
    loss = ppo.clipped_surrogate(ratio, advantages, clip=0.2)
    # min(rA, clip(r)A) = [0.5, 1.0, 1.2, -1.5, -0.8]
    assert loss.item() == pytest.approx(-(0.5 + 1.0 + 1.2 - 1.5 - 0.8) / 5)
    loss.backward()
    # Clipped terms (r=1.5 with A>0, r=0.5 with A<0) pass no gradient.
    np.testing.assert_allclose(ratio.grad.numpy(), [-0.2, -0.2, 0.0, 0.2, 0.0])


def test_value_clipping_takes_the_worse_of_clipped_and_unclipped():
    values, old, returns = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([3.0, 3.0])
    # row 0: unclipped (2-3)^2 = 1, clipped 1.5 -> 2.25; row 1: (0-3)^2 = 9, clipped 0.5 -> 6.25
    assert ppo.value_loss(values, old, returns, clip=0.5).item() == pytest.approx((2.25 + 9) / 2)
    assert ppo.value_loss(values, old, returns, clip=None).item() == pytest.approx((1 + 9) / 2)


def test_conjugate_gradient_solves_a_small_spd_system():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(6, 6))
    a, b = m @ m.T + 0.5 * np.eye(6), rng.normal(size=6)
    matrix = torch.tensor(a)
    x, iterations, residual = conjugate_gradient(lambda v: matrix @ v, torch.tensor(b), iters=20)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b), rtol=1e-6, atol=1e-8)
    assert iterations <= 20 and residual < 1e-4


def test_line_search_backtracks_until_the_kl_constraint_holds():
    tried = []

    def evaluate(fraction):
        tried.append(fraction)
        return fraction, 0.05 * fraction**2  # improvement, KL

    fraction, tries, improvement, kl = line_search(evaluate, max_kl=0.01, shrink=0.5, iters=10)
    assert tried == [1.0, 0.5, 0.25] and (fraction, tries) == (0.25, 3)
    assert kl == pytest.approx(0.003125) and improvement == 0.25


def test_line_search_rejects_steps_that_do_not_improve():
    fraction, tries, _, _ = line_search(lambda f: (-f, 0.0), max_kl=0.01, shrink=0.8, iters=4)
    assert (fraction, tries) == (0.0, 4)


def test_trpo_step_stays_inside_the_trust_region(registry):
    ctx = toy_context(SignBandit)
    params = build_params(trpo.Params, {"n_envs": 4, "n_steps": 64, "max_kl": 0.005})
    seed_everything(0)
    agent = trpo.make_agent(params, ctx)
    seen = []
    agent.learn(512, lambda step, metrics: seen.append(dict(metrics)) or True)
    assert len(seen) == 2
    for metrics in seen:
        assert 0 < metrics["loss/approx_kl"] <= 0.005
        assert metrics["loss/surrogate_improvement"] > 0
        assert metrics["trpo/cg_iterations"] >= 1


def test_heads_agree_with_torch_distributions():
    torch.manual_seed(0)
    logits, other = torch.randn(5, 3), torch.randn(5, 3)
    actions = torch.tensor([0, 1, 2, 1, 0])
    head = CategoricalHead(3)
    ref, ref2 = torch.distributions.Categorical(logits=logits), torch.distributions.Categorical(logits=other)
    torch.testing.assert_close(head.log_prob(logits, actions), ref.log_prob(actions))
    torch.testing.assert_close(head.entropy(logits), ref.entropy())
    torch.testing.assert_close(head.kl(logits, other), torch.distributions.kl_divergence(ref, ref2))

    gauss = GaussianHead(2, init_log_std=-0.5)
    mean, mean2 = torch.randn(5, 2), torch.randn(5, 2)
    dist, dist2 = gauss.dist(mean), torch.cat([mean2, torch.full((5, 2), 0.3)], -1)
    ref = torch.distributions.Normal(mean, torch.full((5, 2), -0.5).exp())
    ref2 = torch.distributions.Normal(mean2, torch.full((5, 2), 0.3).exp())
    a = torch.randn(5, 2)
    torch.testing.assert_close(gauss.log_prob(dist, a), ref.log_prob(a).sum(-1))
    torch.testing.assert_close(gauss.entropy(dist), ref.entropy().sum(-1))
    torch.testing.assert_close(gauss.kl(dist, dist2), torch.distributions.kl_divergence(ref, ref2).sum(-1))


@pytest.mark.parametrize("space", [spaces.Discrete(3), spaces.Box(-1.0, 1.0, (2,), np.float32)])
def test_numpy_actor_matches_the_torch_model(space):
    torch.manual_seed(0)
    model = ActorCritic(4, space, (16, 16), init_log_std=-0.3)
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    actions, logp, values = NumpyActor(model, "tanh", np.random.default_rng(1)).step(obs)
    with torch.no_grad():
        x = torch.as_tensor(obs)
        expected_logp = model.head.log_prob(model.dist(x), torch.as_tensor(actions))
        np.testing.assert_allclose(values, model.value(x).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logp, expected_logp.numpy(), rtol=1e-5, atol=1e-5)
    if isinstance(space, spaces.Box):
        assert actions.shape == (64, 2) and actions.dtype == np.float32
    else:
        assert actions.shape == (64,) and set(actions.tolist()) <= {0, 1, 2}


def test_gumbel_sampling_follows_the_softmax():
    torch.manual_seed(0)
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3]])).expand(20_000, 3)
    counts = torch.bincount(CategoricalHead(3).sample(logits), minlength=3).float() / 20_000
    torch.testing.assert_close(counts, torch.tensor([0.2, 0.5, 0.3]), atol=0.015, rtol=0)


def test_lean_adam_and_clipping_match_torch():
    torch.manual_seed(0)
    target = torch.randn(3, 4)
    ours, theirs = [torch.nn.Parameter(torch.randn(3, 4)) for _ in range(2)]
    theirs.data.copy_(ours.data)
    lean, ref = LeanAdam([ours], lr=0.1, eps=1e-5), torch.optim.Adam([theirs], lr=0.1, eps=1e-5)
    for step in range(5):
        lean.param_groups[0]["lr"] = ref.param_groups[0]["lr"] = 0.1 / (step + 1)
        for param, optimizer in ((ours, lean), (theirs, ref)):
            optimizer.zero_grad()
            (10 * (param - target) ** 2).sum().backward()
            if optimizer is lean:
                norm = clip_grad_norm([param], 1.0)
            else:
                expected = torch.nn.utils.clip_grad_norm_([param], 1.0)
            optimizer.step()
        assert norm == pytest.approx(expected.item(), rel=1e-5)
        torch.testing.assert_close(ours, theirs)


def test_running_mean_std_and_reward_scaling():
    rng = np.random.default_rng(2)
    batches = [rng.normal(3.0, 2.0, size=(n, 2)) for n in (5, 17, 40)]
    rms = RunningMeanStd((2,), epsilon=1e-12)
    for batch in batches:
        rms.update(batch)
    data = np.concatenate(batches)
    np.testing.assert_allclose(rms.mean, data.mean(0), rtol=1e-9)
    np.testing.assert_allclose(rms.var, data.var(0), rtol=1e-9)

    scaler = RewardScaler(n_envs=1, gamma=0.5)
    scaler(np.array([2.0]), np.array([False]))
    assert scaler.returns[0] == 2.0
    scaled = scaler(np.array([2.0]), np.array([True]))  # discounted return 3.0, then reset
    assert scaler.returns[0] == 0.0
    assert scaled[0] == pytest.approx(2.0 / np.sqrt(scaler.rms.var + 1e-8))


# ---------------------------------------------------------------- parameters
@pytest.mark.parametrize("name", MODULES)
def test_every_parameter_is_documented_and_every_preset_builds(name):
    module = MODULES[name]
    assert all(field_docs(module.Params).values())
    for preset, table in module.presets.items():
        for env in table:
            build_params(module.Params, preset_overrides(module.presets, preset, env))
    assert {"default", "zoo"} <= set(module.presets)


# ---------------------------------------------------------------- learning
@pytest.mark.parametrize("name", MODULES)
def test_learns_a_one_step_bandit(name):
    module = MODULES[name]
    params = build_params(module.Params, {**QUICK[name], "learning_rate": 3e-3})
    seed_everything(0)
    agent = module.make_agent(params, toy_context(SignBandit))
    agent.learn(3_000, lambda step, metrics: True)
    assert agent.act(np.array([1.0], np.float32)) == 1
    assert agent.act(np.array([-1.0], np.float32)) == 0
    # The stochastic policy is nearly sure, too.
    picks = [agent.act(np.array([1.0], np.float32), deterministic=False) for _ in range(50)]
    assert sum(picks) >= 45


@pytest.mark.parametrize("name", ["ppo", "a2c"])
def test_learns_a_continuous_target(name):
    module = MODULES[name]
    params = build_params(module.Params, {**QUICK[name], "learning_rate": 3e-3, "n_envs": 8})
    seed_everything(0)
    agent = module.make_agent(params, toy_context(TargetBandit))
    agent.learn(4_000, lambda step, metrics: True)
    for x in (-1.0, 1.0):
        action = agent.act(np.array([x], np.float32))
        assert action.shape == (1,) and action.dtype == np.float32
        assert abs(float(action[0]) - x) < 0.3


@pytest.mark.slow
def test_fast_preset_solves_cartpole(registry):
    trained = train("ppo", "CartPole-v1", 100_000, seed=1, preset="fast", registry=registry, episodes=5)
    assert trained.evaluation.mean >= 475  # 500 is the maximum; a random policy scores about 22


# ---------------------------------------------------------------- conformance
@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("env", ["CartPole-v1", "Pendulum-v1"])
def test_deterministic_and_reloads_identically(registry, name, env):
    params = dict(QUICK[name])
    if name in ("ppo", "trpo"):
        params.update(normalize_obs=True, scale_rewards=True)  # saved normaliser must be reloaded
    trained = check_algorithm(name, env, steps=800, registry=registry, params=params)
    space = gym.make(env).action_space
    obs = gym.make(env).observation_space.sample()
    for deterministic in (True, False):
        action = trained.agent.act(obs, deterministic=deterministic)
        assert space.contains(action if isinstance(space, spaces.Box) else np.int64(action))


def test_learn_stops_when_the_callback_says_so():
    params = build_params(ppo.Params, {"n_envs": 2, "n_steps": 16})
    agent = ppo.make_agent(params, toy_context(SignBandit))
    calls = []
    agent.learn(10_000, lambda step, metrics: calls.append(step) or len(calls) < 3)
    assert calls == [32, 64, 96]
    seen = {}
    agent.learn(32, lambda step, metrics: seen.update(metrics) or True)
    assert {"loss/policy", "loss/value", "loss/entropy", "loss/approx_kl", "loss/clip_fraction",
            "policy/entropy"} <= set(seen)
    assert not any(key.startswith("time/") for key in seen)


def test_a2c_reports_metric_means_once_per_log_interval():
    """A2C updates every n_envs * n_steps = 8 env steps; logging each update would write a row per
    metric every 8 steps (75,000 rows in a 500k CartPole run), so it reports means every LOG_EVERY."""
    from harness_algos.common import LOG_EVERY

    params = build_params(a2c.Params, {"n_envs": 2, "n_steps": 4})
    agent = a2c.make_agent(params, toy_context(SignBandit))
    reports = []
    agent.learn(5 * LOG_EVERY + 16, lambda step, metrics: (metrics and reports.append((step, dict(metrics)))) or True)
    steps = [step for step, _ in reports]
    assert steps == [LOG_EVERY * k for k in range(1, 6)] + [5 * LOG_EVERY + 16]  # the rest after the last update
    assert all(set(metrics) >= {"loss/policy", "loss/value", "policy/entropy"} for _, metrics in reports)


def test_save_and_load_round_trip_keeps_normaliser(tmp_path: Path):
    params = build_params(ppo.Params, {"n_envs": 2, "n_steps": 16, "normalize_obs": True})
    seed_everything(3)
    ctx = toy_context(SignBandit)
    agent = ppo.make_agent(params, ctx)
    agent.learn(64, lambda step, metrics: True)
    agent.save(tmp_path)
    reloaded = ppo.load_agent(params, ctx, tmp_path)
    np.testing.assert_array_equal(reloaded.obs_rms.mean, agent.obs_rms.mean)
    assert reloaded.env_steps == agent.env_steps == 64
    for p, q in zip(agent.model.parameters(), reloaded.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_critic_hidden_sizes_the_value_net_alone():
    model = ActorCritic(4, spaces.Discrete(2), hidden=(64, 64), critic_hidden=(32,))
    assert [layer.out_features for layer in model.policy.layers] == [64, 64, 2]
    assert [layer.out_features for layer in model.critic.layers] == [32, 1]
    same = ActorCritic(4, spaces.Discrete(2), hidden=(16,))
    assert [layer.out_features for layer in same.critic.layers] == [16, 1]
