"""GPG (Chu et al. 2025): plain policy gradient -mean_t A log pi on group-normalised advantages;
no ratio, no clipping, no KL; one on-policy gradient step per batch by default."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness_group.core import GroupParams, StepBatch, agent_factories, doc
from harness_group.objectives import aggregate
from harness_group.presets import group_presets


@dataclass
class Params(GroupParams):
    update_epochs: int = doc(1, "passes over each batch (1: the gradient stays on-policy)", ge=1)
    minibatches: int = doc(1, "minibatches per pass", ge=1)
    valid_group_rescale: bool = doc(True, "GPG's alpha: scale the loss by B / (B - M), M = groups whose scores are all equal")
    min_inverse_alpha: float = doc(0.5, "cap: alpha <= 1 / min_inverse_alpha (GPG's reference code: 0.5, so alpha <= 2; 0 = no cap)",
                                   ge=0, le=1)


presets = group_presets(on_policy=True)


def loss(p: Params, b: StepBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    policy_loss = aggregate(-b.adv * b.logp, b.ep, b.n_episodes, "token")
    if p.valid_group_rescale:
        policy_loss = policy_loss / max(b.valid_fraction, p.min_inverse_alpha, 1e-8)
    return policy_loss, {}


make_agent, load_agent = agent_factories(loss)
