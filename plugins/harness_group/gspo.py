"""GSPO (Zheng et al. 2025): one importance ratio per episode, exp(mean_t log ratio),
clipped at the sequence level; episodes averaged."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness_group.core import GroupParams, StepBatch, agent_factories, doc
from harness_group.objectives import clipped_objective, episode_mean, sequence_ratio
from harness_group.presets import group_presets


@dataclass
class Params(GroupParams):
    eps_low: float = doc(3e-4, "lower clip of the sequence ratio (GSPO paper: 3e-4)", gt=0)
    eps_high: float = doc(4e-4, "upper clip of the sequence ratio (GSPO paper: 4e-4)", gt=0)


presets = group_presets()


def loss(p: Params, b: StepBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    ratio = sequence_ratio(b.logp - b.old_logp, b.ep, b.n_episodes)
    adv = episode_mean(b.adv, b.ep, b.n_episodes)
    surrogate, low, high = clipped_objective(ratio, adv, p.eps_low, p.eps_high)
    return -surrogate.mean(), {"loss/clip_fraction": (low | high).float().mean()}


make_agent, load_agent = agent_factories(loss)
