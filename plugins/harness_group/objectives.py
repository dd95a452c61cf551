"""The group-relative and preference objectives as small pure functions.

Shapes: ``B`` prompts (groups), ``G`` episodes per group, ``E`` episodes, ``N``
steps; per-step tensors carry ``ep`` (the episode index of each step, 0..E-1).
Each function is checked against hand-computed numbers in tests/test_group_objectives.py
and mapped to its paper's formula in docs/algorithms/group.md.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


# --- advantages -------------------------------------------------------------
def group_advantages(scores: np.ndarray, eps: float = 1e-4, scale_by_std: bool = True) -> np.ndarray:
    """``[B, G]`` episode scores -> ``(R_i - mean_G) / (std_G + eps)``; all-equal groups give exactly 0.

    ``std`` is the population standard deviation (ddof=0) of the group.
    """
    scores = np.asarray(scores, np.float64)
    flat = all_equal(scores)[:, None]
    centred = np.where(flat, 0.0, scores - scores.mean(axis=1, keepdims=True))
    if not scale_by_std:
        return centred
    scale = scores.std(axis=1, keepdims=True) + eps
    return np.divide(centred, scale, out=np.zeros_like(centred), where=~flat)


def all_equal(scores: np.ndarray) -> np.ndarray:
    """``[B, G]`` -> ``[B]``: True where every episode of the group scored the same."""
    return np.ptp(np.asarray(scores), axis=1) == 0


def overlong_penalty(lengths: np.ndarray, limit: int, buffer: int) -> np.ndarray:
    """DAPO's soft overlong punishment: 0 up to ``limit - buffer`` steps, then linear down to -1 at ``limit``."""
    lengths = np.asarray(lengths, np.float64)
    if buffer <= 0:
        return np.zeros_like(lengths)
    start = limit - buffer
    return np.where(lengths <= start, 0.0, np.maximum((start - lengths) / buffer, -1.0))


# --- aggregation ------------------------------------------------------------
def episode_mean(x: torch.Tensor, ep: torch.Tensor, n_episodes: int) -> torch.Tensor:
    """``[N]`` per-step values -> ``[E]`` per-episode means."""
    sums = torch.zeros(n_episodes, dtype=x.dtype, device=x.device).index_add_(0, ep, x)
    counts = torch.bincount(ep, minlength=n_episodes).clamp(min=1)
    return sums / counts


def aggregate(x: torch.Tensor, ep: torch.Tensor, n_episodes: int, level: str) -> torch.Tensor:
    """``sample``: mean over steps within each episode, then over episodes (GRPO);
    ``token``: one mean over all steps of the batch, so long episodes weigh more (DAPO)."""
    if level == "token":
        return x.mean()
    return episode_mean(x, ep, n_episodes).mean()


# --- ratios and clipping ----------------------------------------------------
def clipped_objective(ratio: torch.Tensor, adv: torch.Tensor, eps_low: float, eps_high: float):
    """PPO's ``min(r A, clip(r, 1-eps_low, 1+eps_high) A)`` and where each clip bound binds.

    Returns ``(objective, clipped_low, clipped_high)``; ``clipped_high`` marks
    positive-advantage entries held at ``1+eps_high`` (the bound DAPO raises),
    ``clipped_low`` negative-advantage entries held at ``1-eps_low``.
    """
    objective = torch.min(ratio * adv, ratio.clamp(1 - eps_low, 1 + eps_high) * adv)
    clipped_high = (adv > 0) & (ratio > 1 + eps_high)
    clipped_low = (adv < 0) & (ratio < 1 - eps_low)
    return objective, clipped_low, clipped_high


def sequence_ratio(log_ratio: torch.Tensor, ep: torch.Tensor, n_episodes: int) -> torch.Tensor:
    """GSPO's length-normalised sequence ratio ``exp(mean_t log(pi/pi_old))`` per episode."""
    return torch.exp(episode_mean(log_ratio, ep, n_episodes))


def geometric_mean_ratio(log_ratio: torch.Tensor, adv: torch.Tensor, ep: torch.Tensor, n_episodes: int,
                         eps_low: float, eps_high: float) -> torch.Tensor:
    """GMPO: per-step ratios clipped in log space (one-sided by the sign of A), then their geometric mean.

    Returns ``[E]``: ``exp(mean_t s_t)`` with ``s_t = sgn(A) min(sgn(A) l_t, sgn(A) clip(l_t, -eps_low, eps_high))``.
    """
    sign = torch.sign(adv)
    clipped = log_ratio.clamp(-eps_low, eps_high)
    pessimistic = sign * torch.min(sign * log_ratio, sign * clipped)
    return torch.exp(episode_mean(pessimistic, ep, n_episodes))


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-step k3 estimate of KL(pi || pi_ref) from samples of pi: ``q/p - log(q/p) - 1``, q = pi_ref."""
    log_q_over_p = ref_logp - logp
    return torch.exp(log_q_over_p) - log_q_over_p - 1


# --- preferences ------------------------------------------------------------
def bradley_terry_loss(return_a: torch.Tensor, return_b: torch.Tensor, prefer_a: torch.Tensor) -> torch.Tensor:
    """Mean of ``-[y log s(Ra - Rb) + (1-y) log s(Rb - Ra)]``; ``y`` = P(a preferred), 0.5 for ties."""
    return F.binary_cross_entropy_with_logits(return_a - return_b, prefer_a)


def dpo_loss(logp_chosen: torch.Tensor, logp_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean of ``-log s(beta [(log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))])``."""
    margin = (logp_chosen - ref_chosen) - (logp_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()
