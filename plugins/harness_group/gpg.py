"""GPG (Chu et al. 2025): plain policy gradient -mean_t A log pi on group-normalised advantages;
no ratio, no clipping, no KL; one on-policy gradient step per batch by default."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness_group.core import GroupParams, StepBatch, agent_factories, doc
from harness_group.objectives import aggregate, episode_mean
from harness_group.presets import group_presets


@dataclass
class Params(GroupParams):
    update_epochs: int = doc(1, "passes over each batch (1: the gradient stays on-policy)", ge=1)
    minibatches: int = doc(1, "minibatches per pass", ge=1)
    valid_group_rescale: bool = doc(True, "GPG's alpha: scale the loss by E / (episodes with a nonzero advantage)")


presets = group_presets(on_policy=True)


def loss(p: Params, b: StepBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    policy_loss = aggregate(-b.adv * b.logp, b.ep, b.n_episodes, "token")
    if p.valid_group_rescale:
        informative = (episode_mean(b.adv, b.ep, b.n_episodes) != 0).float().mean()
        policy_loss = policy_loss / informative.clamp(min=1e-8)
    return policy_loss, {}


make_agent, load_agent = agent_factories(loss)
