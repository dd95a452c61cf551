"""Group-relative and preference objectives against hand-computed numbers."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from harness_group import dapo, gmpo, gpg, grpo, gspo
from harness_group.core import GroupAgent, StepBatch
from harness_group.objectives import (
    aggregate,
    bradley_terry_loss,
    clipped_objective,
    dpo_loss,
    episode_mean,
    geometric_mean_ratio,
    group_advantages,
    k3_kl,
    overlong_penalty,
    sequence_ratio,
)
from harness_group.rollout import Episodes

from harness.api import RunContext

t = torch.tensor


def test_group_advantages_hand_computed():
    # mean 2, population std sqrt(2/3) = 0.816497
    adv = group_advantages(np.array([[1.0, 2.0, 3.0]]), eps=0.0)
    np.testing.assert_allclose(adv, [[-1.224745, 0.0, 1.224745]], atol=1e-6)
    np.testing.assert_allclose(group_advantages(np.array([[1.0, 3.0]]), eps=1.0), [[-0.5, 0.5]])
    np.testing.assert_allclose(group_advantages(np.array([[1.0, 3.0]]), scale_by_std=False), [[-1.0, 1.0]])


def test_all_equal_groups_give_exactly_zero_and_no_nan():
    scores = np.array([[0.1, 0.1, 0.1], [5.0, 5.0, 5.0], [0.0, 1.0, 0.0]])
    adv = group_advantages(scores, eps=0.0)  # eps = 0: a naive division would give NaN
    assert np.isfinite(adv).all()
    assert (adv[:2] == 0.0).all()
    assert adv[2, 1] > 0 > adv[2, 0]


def test_clip_higher_is_asymmetric():
    ratio = t([1.25, 1.25, 0.75, 0.75], requires_grad=True)
    adv = t([1.0, -1.0, 1.0, -1.0])
    objective, low, high = clipped_objective(ratio, adv, eps_low=0.2, eps_high=0.28)
    np.testing.assert_allclose(objective.detach(), [1.25, -1.25, 0.75, -0.8])
    assert low.tolist() == [False, False, False, True] and high.tolist() == [False] * 4
    objective.sum().backward()
    assert ratio.grad.tolist() == [1.0, -1.0, 1.0, 0.0]  # r=1.25, A>0 still learns under eps_high = 0.28
    symmetric, _, high = clipped_objective(ratio, adv, eps_low=0.2, eps_high=0.2)
    assert float(symmetric[0].detach()) == pytest.approx(1.2) and high.tolist() == [True, False, False, False]


def test_token_level_and_sample_level_weighting_differ_for_unequal_lengths():
    x, ep = t([1.0, 1.0, 1.0, 5.0]), t([0, 0, 0, 1])  # a 3-step episode and a 1-step one
    assert float(aggregate(x, ep, 2, "token")) == pytest.approx(2.0)  # 8 / 4 steps
    assert float(aggregate(x, ep, 2, "sample")) == pytest.approx(3.0)  # (1 + 5) / 2 episodes
    np.testing.assert_allclose(episode_mean(x, ep, 2), [1.0, 5.0])


def test_gspo_sequence_ratio_is_the_length_normalised_product():
    log_ratio, ep = t([0.1, 0.3, -0.2]), t([0, 0, 1])
    np.testing.assert_allclose(sequence_ratio(log_ratio, ep, 2), [math.exp(0.2), math.exp(-0.2)], rtol=1e-6)
    ratios = [2.0, 0.5, 1.5]
    got = sequence_ratio(torch.log(t(ratios)), t([0, 0, 0]), 1)
    assert float(got) == pytest.approx((2.0 * 0.5 * 1.5) ** (1 / 3), rel=1e-6)


def test_gmpo_geometric_mean_and_log_space_clipping():
    ratios = t([2.0, 0.5, 1.0])
    unclipped = geometric_mean_ratio(torch.log(ratios), t([1.0] * 3), t([0, 0, 0]), 1, 10.0, 10.0)
    assert float(unclipped) == pytest.approx(1.0, abs=1e-6)  # arithmetic mean would be 1.1667
    log_ratio, ep = t([0.1, 0.5, -0.6]), t([0, 0, 0])
    positive = geometric_mean_ratio(log_ratio, t([1.0] * 3), ep, 1, 0.4, 0.4)
    assert float(positive) == pytest.approx(math.exp((0.1 + 0.4 - 0.6) / 3), rel=1e-6)
    negative = geometric_mean_ratio(log_ratio, t([-1.0] * 3), ep, 1, 0.4, 0.4)
    assert float(negative) == pytest.approx(math.exp((0.1 + 0.5 - 0.4) / 3), rel=1e-6)


def test_k3_kl_estimate():
    assert float(k3_kl(t(math.log(0.5)), t(math.log(0.25)))) == pytest.approx(0.5 - math.log(0.5) - 1)
    assert float(k3_kl(t(-1.3), t(-1.3))) == 0.0
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])  # E_p[k3] is exactly KL(p || q)
    expected = float(np.sum(p * k3_kl(torch.log(t(p)), torch.log(t(q))).numpy()))
    assert expected == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-6)


def test_overlong_penalty_ramps_inside_the_buffer():
    np.testing.assert_allclose(overlong_penalty(np.array([3, 4, 5, 6, 8]), 8, 4), [0, 0, -0.25, -0.5, -1.0])
    assert (overlong_penalty(np.array([8]), 8, 0) == 0).all()


def test_dpo_loss_for_a_known_pair():
    # margin = (-1 - -1.5) - (-2 - -1.5) = 1; loss = -log sigmoid(0.5 * 1) = log(1 + e^-0.5)
    loss = dpo_loss(t([-1.0]), t([-2.0]), t([-1.5]), t([-1.5]), beta=0.5)
    assert float(loss) == pytest.approx(math.log1p(math.exp(-0.5)), rel=1e-6)
    assert float(dpo_loss(t([-1.0]), t([-2.0]), t([-1.0]), t([-2.0]), beta=0.1)) == pytest.approx(math.log(2))


def test_bradley_terry_loss():
    assert float(bradley_terry_loss(t([2.0]), t([1.0]), t([1.0]))) == pytest.approx(math.log1p(math.exp(-1)))
    tie = bradley_terry_loss(t([2.0]), t([1.0]), t([0.5]))
    assert float(tie) == pytest.approx(0.5 * math.log1p(math.exp(-1)) + 0.5 * math.log1p(math.exp(1)))


def _batch(logp_shift: float = 0.0, ref: bool = False) -> StepBatch:
    old = torch.log(t([0.5, 0.25, 0.5, 0.5]))
    return StepBatch(logp=(old + logp_shift).requires_grad_(), old_logp=old, adv=t([1.0, 1.0, 1.0, -1.0]),
                     ep=t([0, 0, 0, 1]), n_episodes=2, ref_logp=old.clone() if ref else None)


@pytest.mark.parametrize("module, expected", [
    (grpo, -(1.0 - 1.0) / 2),   # sample level: (mean of ep0 = 1, ep1 = -1) / 2 = 0
    (dapo, -(3.0 - 1.0) / 4),   # token level: (1 + 1 + 1 - 1) / 4
    (gspo, -(1.0 - 1.0) / 2),   # one ratio per episode: (1 * 1 + 1 * -1) / 2
    (gmpo, -(1.0 - 1.0) / 2),
])
def test_each_variant_loss_at_ratio_one(module, expected):
    loss, _ = module.loss(module.Params(), _batch(ref=module is grpo))
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-6)


def test_grpo_without_kl_needs_no_reference():
    loss, metrics = grpo.loss(grpo.Params(kl_coef=0.0), _batch(ref=False))
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6) and float(metrics["loss/kl"]) == 0.0


def test_gpg_is_plain_policy_gradient_on_advantages():
    batch = _batch()
    loss, _ = gpg.loss(gpg.Params(valid_group_rescale=False), batch)
    assert float(loss.detach()) == pytest.approx(-float((batch.adv * batch.logp).mean().detach()))
    loss.backward()
    np.testing.assert_allclose(batch.logp.grad, -batch.adv / 4)  # d/dlogp of -mean(A logp)



@pytest.mark.parametrize("valid_fraction, alpha", [(1.0, 1.0), (0.75, 4 / 3), (0.5, 2.0), (0.25, 2.0)])
def test_gpg_alpha_counts_all_equal_groups_and_is_capped(valid_fraction, alpha):
    """alpha = B / (B - M) from the batch's share of informative groups, capped at 1 / min_inverse_alpha = 2;
    an episode whose advantage happens to be 0 inside an informative group does not count."""
    batch = _batch()
    batch.adv = t([1.0, 1.0, 1.0, 0.0])  # episode 1 sits at its group's mean
    batch.valid_fraction = valid_fraction
    unscaled, _ = gpg.loss(gpg.Params(valid_group_rescale=False), batch)
    scaled, _ = gpg.loss(gpg.Params(), batch)
    assert float(scaled.detach()) == pytest.approx(alpha * float(unscaled.detach()))


def test_gpg_without_a_cap_and_without_signal_is_zero_not_nan():
    batch = _batch()
    batch.adv, batch.valid_fraction = torch.zeros(4), 0.0
    loss, _ = gpg.loss(gpg.Params(min_inverse_alpha=0.0), batch)
    assert float(loss.detach()) == 0.0


def test_group_update_passes_the_share_of_informative_groups():
    seen = []

    def spy(p, b):
        seen.append(b.valid_fraction)
        return (b.logp * 0).sum(), {}

    ctx = RunContext("c", 0, "cpu", lambda i: gym.make("CartPole-v1"))
    agent = GroupAgent(gpg.Params(prompts_per_batch=3, group_size=2, hidden=8), ctx, spy)
    returns = np.array([1.0, 1.0, 0.5, 0.7, 2.0, 0.0])  # group 0 all-equal, groups 1 and 2 not
    agent.update(Episodes(np.zeros((6, 4), np.float32), np.zeros(6, int), np.zeros(6, np.float32),
                          np.ones(6, int), returns, np.zeros(6, bool), 2))
    assert seen == [pytest.approx(2 / 3)]
