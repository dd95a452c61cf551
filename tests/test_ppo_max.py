"""PPO-max's options on native PPO: the KL penalty in the reward and advantage clipping."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from harness.api import RunContext
from harness.params import build_params
from harness.seeding import seed_everything
from harness_algos import ppo

torch.set_num_threads(1)


def make(params: dict) -> ppo.PPOAgent:
    seed_everything(0)
    ctx = RunContext("CartPole-v1", 0, "cpu", lambda i: gym.make("CartPole-v1"))
    agent = ppo.make_agent(build_params(ppo.Params, {"n_envs": 2, "n_steps": 8, **params}), ctx)
    agent.start()
    return agent


def logp_under(model: torch.nn.Module, agent: ppo.PPOAgent) -> np.ndarray:
    r = agent.rollout
    with torch.no_grad():
        logp = model.head.log_prob(model.dist(torch.as_tensor(r.obs.reshape(16, -1))),
                                   torch.as_tensor(r.actions.reshape(16)))
    return logp.numpy().reshape(r.logp.shape)


@pytest.mark.parametrize("reference", ["initial", "previous"])
def test_kl_penalty_is_subtracted_from_each_reward(reference):
    agent = make({"kl_coef": 0.5, "kl_reference": reference})
    initial = agent.reference
    with torch.no_grad():  # move the policy away from its initial copy
        for p in agent.model.policy_parameters():
            p.add_(0.3 * torch.randn_like(p))
    agent.collect()
    rewards, behaviour = agent.rollout.rewards.copy(), agent.rollout.logp.copy()
    expected = rewards - 0.5 * (behaviour - logp_under(initial, agent))
    metrics = agent.penalise_kl()
    np.testing.assert_allclose(agent.rollout.rewards, expected, rtol=1e-5, atol=1e-6)
    assert abs(metrics["loss/kl_reference"]) > 1e-3
    np.testing.assert_allclose(behaviour, logp_under(agent.model, agent), rtol=1e-4, atol=1e-5)
    follows = all(torch.equal(p, q) for p, q in zip(agent.reference.parameters(), agent.model.parameters()))
    assert follows == (reference == "previous")  # "previous": the next rollout is measured against this policy


def test_no_kl_penalty_by_default_and_the_preset_switches_it_on():
    agent = make({})
    agent.collect()
    rewards = agent.rollout.rewards.copy()
    assert agent.reference is None and agent.penalise_kl() == {}
    np.testing.assert_array_equal(agent.rollout.rewards, rewards)
    preset = ppo.presets["ppo_max"]["*"]
    assert preset["kl_coef"] > 0 and preset["clip_advantage"] == 0.5 and "normalize_obs" not in preset


def test_advantages_are_clipped_after_standardising():
    agent = make({"clip_advantage": 0.5, "n_epochs": 1, "batch_size": 16})
    agent.collect()
    seen = []
    original = agent.loss
    agent.loss = lambda mb, clip: seen.append(mb.advantages.clone()) or original(mb, clip)
    data = agent.batch()
    agent.update(data, 1.0)
    adv = data.advantages
    standardised = (adv - adv.mean()) / (adv.std() + 1e-8)
    torch.testing.assert_close(seen[0], standardised.clamp(-0.5, 0.5))
    assert (standardised.abs() > 0.5).any()  # the clip did bind


def test_ppo_max_learns_and_logs_the_kl():
    agent = make({"kl_coef": 0.02, "clip_advantage": 0.5, "scale_rewards": True, "clip_value": 0.2})
    seen = {}
    agent.learn(64, lambda step, metrics: seen.update(metrics) or True)
    assert np.isfinite(seen["loss/kl_reference"]) and np.isfinite(seen["loss/policy"])
