"""Group-relative algorithms, DPO and the reward-model shaper: rollouts, sampling, determinism."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch
from harness.seeding import seed_everything
from harness_group import dapo, dpo, reward_model
from harness_group.policy import make_policy
from harness_group.preferences import collect_pairs
from harness_group.report import entropy_plot, summarise
from harness_group.rollout import Episodes, collect_groups
from harness_group.seqenv import SequenceEnv

from harness.api import TRUE_REWARD_KEY, RunContext
from harness.params import build_params, params_dict
from harness.testing import check_algorithm, make_context

TINY = {"prompts_per_batch": 2, "group_size": 3, "hidden": 16, "update_epochs": 2, "minibatches": 2}


class ConstantEnv(gym.Env):
    """Three steps, reward 1 each: every group is all-equal."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), 1.0, self.t >= 3, False, {}


def test_groups_share_their_prompt_and_groups_differ():
    envs = [SequenceEnv("reverse", 3) for _ in range(6)]
    policy = make_policy(envs[0].observation_space.shape, 6, "gru", 8)
    episodes = collect_groups(envs, policy, [11, 12], group_size=3)
    first = episodes.obs[np.concatenate([[0], np.cumsum(episodes.lengths)[:-1]])]
    assert all((first[i] == first[0]).all() for i in range(3))
    assert all((first[i] == first[3]).all() for i in range(3, 6))
    assert not (first[0] == first[3]).all()
    assert episodes.steps == len(episodes.actions) == int(episodes.lengths.sum())


def test_dynamic_sampling_drops_all_equal_groups_and_counts_every_step():
    params = build_params(dapo.Params, {**TINY, "max_resamples": 2, "overlong_buffer": 0})
    ctx = RunContext("const", 0, "cpu", lambda i: ConstantEnv())
    agent = dapo.make_agent(params, ctx)
    seen = []
    agent.learn(60, lambda step, metrics: seen.append((step, dict(metrics))) or True)
    step, metrics = next((s, m) for s, m in seen if m)
    assert step == 3 * 2 * 3 * 3  # 3 rounds x 2 prompts x 3 episodes x 3 steps, all spent
    assert metrics["group/all_equal_fraction"] == 1.0 and metrics["group/kept_groups"] == 0.0
    assert "loss/policy" not in metrics  # nothing informative was left to learn from


class AlwaysWrongEnv(ConstantEnv):
    """Reward 0 whatever happens; action 0 ends the episode, else it is cut at 4 steps."""

    max_tokens = 4

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), 0.0, int(action) == 0, self.t >= self.max_tokens, {}


@pytest.mark.parametrize(("filter_on", "trained"), [("return", False), ("score", True)])
def test_dynamic_sampling_filters_on_the_return_not_the_length_penalty(filter_on, trained):
    """All-wrong groups of different lengths differ only by the overlong penalty: DAPO's rule
    (filter_on = "return", 0 < #correct < G) drops them, the score rule trains on the penalty."""
    seed_everything(0)  # the policy samples from torch's global generator: not whatever earlier tests left
    params = build_params(dapo.Params, {**TINY, "max_resamples": 2, "filter_on": filter_on})
    agent = dapo.make_agent(params, RunContext("wrong", 0, "cpu", lambda i: AlwaysWrongEnv()))
    batch, metrics, _ = agent.sample_batch(lambda n: True)
    assert (batch.n_groups > 0) == trained
    assert metrics["group/all_equal_fraction"] < 1.0  # in both: the scores differ, by the penalty alone


def test_dynamic_sampling_rule_on_hand_made_groups():
    ctx = RunContext("seq", 0, "cpu", lambda i: SequenceEnv("reverse", 2))  # limit 6, buffer 1 step
    lengths = np.array([1, 3, 6, 1, 3, 6])
    episodes = Episodes(np.zeros((20, 1)), np.zeros(20, int), np.zeros(20), lengths,
                        np.array([0.0, 0.0, 0.0, 0.0, 1.0, 0.0]), lengths == 6, 3)
    for rule, keep in [("return", [False, True]), ("score", [True, True])]:
        agent = dapo.make_agent(build_params(dapo.Params, {**TINY, "filter_on": rule}), ctx)
        scored = episodes.with_scores(agent.score(episodes))
        np.testing.assert_array_equal(agent.informative(scored), keep)


@pytest.mark.parametrize("name", ["grpo", "dapo", "gspo", "gmpo", "gpg"])
def test_group_variant_is_deterministic_and_reloads(name):
    trained = check_algorithm(name, "CartPole-v1", steps=300, params=TINY)
    assert trained.episodes


def test_gru_policy_on_the_sequence_task_is_deterministic():
    check_algorithm("grpo", "seq/reverse-2", steps=120, params={**TINY, "policy": "gru"})


def test_dpo_is_deterministic_and_reloads():
    check_algorithm("dpo", "CartPole-v1", steps=400,
                    params={"pairs_per_round": 4, "updates_per_round": 2, "batch_pairs": 4, "hidden": 16})


def test_dpo_puts_its_policies_and_every_input_on_the_run_device(monkeypatch):
    """``meta`` stands in for ``cuda`` on a CPU-only machine: a tensor left on the CPU that meets
    a parameter raises, and every result must come out on ``ctx.device``."""
    monkeypatch.setattr(torch.distributions.Distribution, "_validate_args", False)  # no .item() on meta
    acted_on = []
    monkeypatch.setattr(dpo, "act_one", lambda policy, obs, deterministic, device="cpu": acted_on.append(device))
    ctx = RunContext("CartPole-v1", 0, "meta", lambda i: gym.make("CartPole-v1"))
    agent = dpo.make_agent(build_params(dpo.Params, {"hidden": 8}), ctx)
    assert {p.device.type for p in agent.policy.parameters()} == {"meta"}
    pairs, _ = collect_pairs(gym.make("CartPole-v1"), agent._uniform, 3, np.random.default_rng(0))
    chosen, rejected = [p.a for p in pairs], [p.b for p in pairs]
    for reference in (None, copy.deepcopy(agent.policy)):  # uniform, then a trained ("gpg") reference
        agent.reference = reference
        loss, margin = agent._loss(chosen, rejected)
        loss.backward()
        assert loss.device.type == margin.device.type == "meta"
        assert {p.grad.device.type for p in agent.policy.parameters()} == {"meta"}
        agent._reference_act(np.zeros(4, np.float32))
    agent.act(np.zeros(4, np.float32))
    assert acted_on == ["meta", "meta"]  # the trained reference and the policy act on ctx.device


def test_reward_model_fit_is_deterministic_and_leaves_global_rng_alone():
    params = build_params(reward_model.Params, {"n_pairs": 40, "train_steps": 40, "hidden": 16})
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = reward_model.fit(gym.make("CartPole-v1"), params)
    assert torch.equal(before, torch.get_rng_state())
    torch.manual_seed(999)
    second = reward_model.fit(gym.make("CartPole-v1"), params)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(first.reward(x, np.ones(5, int), x), second.reward(x, np.ones(5, int), x))
    assert first.accuracy > 0.8  # longer CartPole episodes are preferred and the model ranks them so


def test_reward_model_replaces_the_reward_and_keeps_the_true_one():
    shaper = {"name": "reward_model", "params": params_dict(build_params(reward_model.Params, {
        "n_pairs": 40, "train_steps": 40, "hidden": 8, "seed": 5}))}
    ctx, _ = make_context("CartPole-v1", seed=0, shapers=[shaper])
    env_a, env_b = ctx.make_env(0), ctx.make_env(1)
    env_a.reset()
    env_b.reset()
    assert env_a.unwrapped is not env_b.unwrapped
    assert len({id(m) for m in reward_model.CACHE.values()}) >= 1
    _, reward, *_, info = env_a.step(0)
    assert info[TRUE_REWARD_KEY] == 1.0 and reward != 1.0
    assert info["harness/reward_components"]["learned"] == reward


def test_report_section_counts_collapsed_seeds(tmp_path):
    runs = pd.DataFrame({
        "run_id": ["a", "b", "c"], "env_label": ["E"] * 3, "algorithm_label": ["grpo", "grpo", "dapo"],
        "final": [0.0, 1.0, 0.0], "steps_to_threshold": [float("nan"), 500.0, float("nan")],
    })
    rows = [("a", "entropy", 0, 1.0), ("a", "entropy", 9, 0.05),   # collapsed, never solved
            ("b", "entropy", 0, 1.0), ("b", "entropy", 9, 0.01),   # deterministic but solved: not collapsed
            ("c", "entropy", 0, 1.0), ("c", "entropy", 9, 0.5), ("c", "all_equal", 9, 0.25)]
    history = pd.DataFrame(rows, columns=["run_id", "metric", "step", "value"])
    table = summarise(runs, history).set_index("algorithm")
    assert table.loc["grpo", "collapsed seeds"] == 1 and table.loc["dapo", "collapsed seeds"] == 0
    assert table.loc["grpo", "entropy end"] == pytest.approx(0.03)
    assert table.loc["dapo", "all-equal groups"] == pytest.approx(0.25)
    assert entropy_plot(runs, history, tmp_path / "e.png").stat().st_size > 1000


def test_dapo_overlong_buffer_is_a_fraction_of_the_step_limit():
    ctx = RunContext("seq", 0, "cpu", lambda i: SequenceEnv("reverse", 2))  # step limit 6 tokens
    agent = dapo.make_agent(build_params(dapo.Params, TINY), ctx)
    lengths = np.array([1, 3, 5, 6, 1, 3])
    episodes = Episodes(np.zeros((19, 1)), np.zeros(19, int), np.zeros(19), lengths,
                        np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0]), lengths == 6, 3)
    # round(0.2 * 6) = 1 step of buffer: only the truncated 6-token answer is punished
    np.testing.assert_allclose(agent.score(episodes), [0.0, 1.0, 0.0, -1.0, 0.0, 0.0])
