"""The seq/* verifiable-reward sequence environments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from harness_group.catalog import TASKS, grade, random_score, target_of, to_digits
from harness_group.seqenv import SequenceEnv, measure_random_score


def answer(env: SequenceEnv, tokens: list[int]) -> tuple[float, bool, bool]:
    reward, terminated, truncated = 0.0, False, False
    for token in tokens:
        _, reward, terminated, truncated, _ = env.step(token)
    return reward, terminated, truncated


@pytest.mark.parametrize("task", ["copy", "reverse", "sort", "sum"])
@pytest.mark.parametrize("reward", ["exact", "partial"])
def test_passes_gymnasium_env_checker(task, reward):
    check_env(SequenceEnv(task=task, length=3, reward=reward), skip_render_check=True)


def test_registered_ids_make_the_right_task():
    for task in TASKS[:4]:
        env = gym.make(task.env_id)
        assert env.unwrapped.task == task.task and env.unwrapped.reward == task.reward
    from harness_group import seqenv
    assert getattr(seqenv, TASKS[0].maker)().unwrapped.length == TASKS[0].length


def test_targets_and_grades_hand_computed():
    assert target_of("reverse", [1, 2, 3], 5) == [3, 2, 1]
    assert target_of("sort", [3, 0, 3], 5) == [0, 3, 3]
    assert target_of("sum", [4, 4, 3], 5) == [2, 1]  # 11 = 2*5 + 1
    assert to_digits(0, 5) == [0]
    assert grade([3, 2, 1], [3, 2, 1], "exact") == 1.0 and grade([3, 2], [3, 2, 1], "exact") == 0.0
    assert grade([3, 0, 1], [3, 2, 1], "partial") == pytest.approx(2 / 3)
    assert grade([3, 2, 1, 4], [3, 2, 1], "partial") == pytest.approx(3 / 4)  # rambling costs


def test_episode_reward_only_at_eos_and_truncation_scores_zero():
    env = SequenceEnv(task="reverse", length=3, base=5)
    _, info = env.reset(seed=7)
    target = target_of("reverse", info["prompt"], 5)
    reward, terminated, truncated = answer(env, [*target, env.eos])
    assert (reward, terminated, truncated) == (1.0, True, False)
    env.reset(seed=7)
    reward, terminated, truncated = answer(env, [0] * env.max_tokens)
    assert (reward, terminated, truncated) == (0.0, False, True)


def test_observation_is_one_hot_history_and_reset_is_seeded():
    env = SequenceEnv(task="copy", length=2, base=5)
    obs, info = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs, again)
    assert obs.shape == (2 + 1 + env.max_tokens, 7)
    assert obs[:2].argmax(1).tolist() == info["prompt"] and obs[2, env.sep] == 1 and obs[3:].sum() == 0
    obs, *_ = env.step(4)
    assert obs[3, 4] == 1 and obs[4:].sum() == 0


@pytest.mark.parametrize("env_id, task, length, reward", [
    ("seq/reverse-2", "reverse", 2, "exact"), ("seq/sum-2-partial", "sum", 2, "partial"),
])
def test_derived_random_score_matches_simulated_random_play(env_id, task, length, reward):
    derived = random_score(task, length, 5, reward)
    measured = measure_random_score(env_id, episodes=3000, seed=1)
    assert abs(measured - derived) < 0.02 + 3 * np.sqrt(derived / 3000)
    if reward == "exact":
        assert derived == pytest.approx((1 / 6) ** 3)  # two digits and EOS, each 1 in 6
