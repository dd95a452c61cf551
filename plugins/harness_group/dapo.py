"""DAPO (Yu et al. 2025): no KL; clip-higher (eps_low < eps_high); dynamic sampling that drops
groups whose returns are all equal (all correct or all wrong); token-level loss; soft overlong
punishment (dynamic sampling and the punishment run in the core, switched on by Params)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from harness_group.core import GroupParams, StepBatch, agent_factories, doc
from harness_group.objectives import aggregate, clipped_objective
from harness_group.presets import group_presets


@dataclass
class Params(GroupParams):
    eps_low: float = doc(0.2, "lower clip: ratio >= 1 - eps_low for negative advantages (DAPO: 0.2)", gt=0)
    eps_high: float = doc(0.28, "upper clip: ratio <= 1 + eps_high for positive advantages (DAPO: 0.28; seed 000 quotes 0.8)", gt=0)
    dynamic_sampling: bool = doc(True, "drop groups without signal (see filter_on) and sample more prompts")
    filter_on: Literal["return", "score"] = doc(
        "return", "what dynamic sampling keeps a group on: returns not all equal (DAPO: 0 < #correct < G; the "
                  "overlong penalty is not looked at) or scores (return + overlong penalty) not all equal")
    max_resamples: int = doc(3, "extra rounds of B prompts dynamic sampling may draw per batch", ge=0)
    overlong_buffer: float = doc(0.2, "L_cache as a fraction of the env's step limit: the penalty ramps from 0 to -1 over "
                                      "the last max(1, round(fraction * limit)) steps (DAPO: 4096 of 20480 = 0.2; 0 = off)", ge=0, le=1)
    overlong_factor: float = doc(1.0, "weight of the overlong penalty added to the episode score", ge=0)


presets = group_presets(dapo=True)


def loss(p: Params, b: StepBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    ratio = torch.exp(b.logp - b.old_logp)
    surrogate, low, high = clipped_objective(ratio, b.adv, p.eps_low, p.eps_high)
    policy_loss = aggregate(-surrogate, b.ep, b.n_episodes, "token")
    return policy_loss, {
        "loss/clip_fraction": (low | high).float().mean(),
        "loss/clip_low_fraction": low.float().mean(),
        "loss/clip_high_fraction": high.float().mean(),
    }


make_agent, load_agent = agent_factories(loss)
