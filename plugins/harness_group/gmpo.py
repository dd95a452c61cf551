"""GMPO (Zhao et al. 2025): the geometric mean of per-step ratios, each clipped in log space
to [-eps_low, eps_high] on the side the advantage sign makes pessimistic; episodes averaged."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness_group.core import GroupParams, StepBatch, agent_factories, doc
from harness_group.objectives import episode_mean, geometric_mean_ratio
from harness_group.presets import group_presets


@dataclass
class Params(GroupParams):
    eps_low: float = doc(0.4, "log-space lower clip: log ratio >= -eps_low (GMPO paper: 0.4)", gt=0)
    eps_high: float = doc(0.4, "log-space upper clip: log ratio <= eps_high (GMPO paper: 0.4)", gt=0)


presets = group_presets()


def loss(p: Params, b: StepBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    log_ratio = b.logp - b.old_logp
    ratio = geometric_mean_ratio(log_ratio, b.adv, b.ep, b.n_episodes, p.eps_low, p.eps_high)
    adv = episode_mean(b.adv, b.ep, b.n_episodes)
    clipped = ((b.adv > 0) & (log_ratio > p.eps_high)) | ((b.adv < 0) & (log_ratio < -p.eps_low))
    return -(adv * ratio).mean(), {"loss/clip_fraction": clipped.float().mean()}


make_agent, load_agent = agent_factories(loss)
