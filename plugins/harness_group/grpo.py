"""GRPO (Shao et al. 2024, DeepSeekMath): PPO's clipped ratio per step on group-normalised
advantages, averaged per episode then over the batch, minus beta * k3 KL to a frozen reference."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness_group.core import GroupParams, StepBatch, agent_factories, doc
from harness_group.objectives import aggregate, clipped_objective, k3_kl
from harness_group.presets import group_presets


@dataclass
class Params(GroupParams):
    clip_eps: float = doc(0.2, "epsilon of the clipped ratio [1-eps, 1+eps]", gt=0)
    kl_coef: float = doc(0.04, "beta: weight of the k3 KL to the frozen reference policy (DeepSeekMath: 0.04)", ge=0)
    ref_update_every: int = doc(0, "copy the policy into the reference every this many updates (0 = never)", ge=0)


presets = group_presets()


def loss(p: Params, b: StepBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    ratio = torch.exp(b.logp - b.old_logp)
    surrogate, low, high = clipped_objective(ratio, b.adv, p.clip_eps, p.clip_eps)
    kl = k3_kl(b.logp, b.ref_logp) if b.ref_logp is not None else torch.zeros_like(b.logp)  # kl_coef = 0
    policy_loss = aggregate(-surrogate, b.ep, b.n_episodes, "sample")
    kl_term = aggregate(kl, b.ep, b.n_episodes, "sample")
    return policy_loss + p.kl_coef * kl_term, {
        "loss/policy": policy_loss, "loss/kl": kl_term,
        "loss/clip_fraction": (low | high).float().mean(),
    }


make_agent, load_agent = agent_factories(loss)
