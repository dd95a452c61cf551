"""PPO: clipped surrogate, GAE, value loss, entropy bonus, minibatch epochs (Schulman et al. 2017).

The PPO-max stabilisers of MOSS-RLHF (Zheng et al. 2023) are options, all on in the
``ppo_max`` preset: reward scaling, advantage normalisation and clipping, value
clipping, gradient clipping, and the KL penalty to a reference policy subtracted
from every step's reward.  Also options, not part of PPO-max: observation
normalisation, learning-rate / clip-range annealing and a target-KL early stop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from harness.api import RunContext, StepCallback
from harness_algos import numpy_update
from harness_algos.common import KERNEL_DOC, param
from harness_algos.kernels import LeanAdam
from harness_algos.onpolicy import (
    Batch,
    RolloutParams,
    VecAgent,
    explained_variance,
    minibatches,
    set_learning_rate,
)


@dataclass
class Params(RolloutParams):
    learning_rate: float = param(3e-4, "Adam learning rate", gt=0)
    anneal_lr: bool = param(False, "decay the learning rate linearly to 0 over the budget")
    adam_eps: float = param(1e-5, "Adam epsilon", gt=0)
    n_epochs: int = param(10, "passes over each rollout", ge=1)
    batch_size: int = param(256, "minibatch size (rows of n_steps * n_envs)", ge=1)
    clip_range: float = param(0.2, "policy ratio clip range epsilon", gt=0)
    anneal_clip: bool = param(False, "decay the clip range linearly to 0 over the budget")
    clip_value: float | None = param(None, "value clipping range around the rollout's values (None: off)", gt=0)
    ent_coef: float = param(0.0, "entropy bonus coefficient", ge=0)
    vf_coef: float = param(0.5, "value loss coefficient", ge=0)
    max_grad_norm: float | None = param(0.5, "clip the global gradient norm to this (None: off)", gt=0)
    normalize_advantage: bool = param(True, "standardise advantages over each rollout")
    clip_advantage: float = param(0.0, "clip the (standardised) advantages to [-c, c] (0: off; PPO-max: 0.5)", ge=0)
    kl_coef: float = param(0.0, "beta: each step's reward minus beta * (log pi(a|s) - log pi_ref(a|s)) (0: off; PPO-max: 0.02)",
                           ge=0)
    kl_reference: Literal["initial", "previous"] = param(
        "initial", "pi_ref of the KL penalty: the initial policy (PPO-max's SFT model) or the previous rollout's policy")
    target_kl: float | None = param(None, "stop the epochs of an update once approx KL exceeds this", gt=0)
    update_kernel: Literal["torch", "numpy"] = param("torch", KERNEL_DOC)


# rl-zoo3 hyperparams/ppo.yml; its `normalize: true` (VecNormalize) = normalize_obs + scale_rewards.
ZOO = {
    "CartPole-v1": dict(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                        ent_coef=0.0, learning_rate=1e-3, anneal_lr=True, clip_range=0.2, anneal_clip=True),
    "Acrobot-v1": dict(normalize_obs=True, scale_rewards=True, n_envs=16, n_steps=256, batch_size=64,
                       gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0),
    "Pendulum-v1": dict(n_envs=4, n_steps=1024, batch_size=64, gae_lambda=0.95, gamma=0.9, n_epochs=10,
                        ent_coef=0.0, learning_rate=1e-3, clip_range=0.2),
    "LunarLander-v3": dict(n_envs=16, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4,
                           ent_coef=0.01),
}

# Tuned here for throughput at zoo-level returns on CartPole (bench/bench_ppo_speed.py, bench/README.md):
# many small rollouts of many envs, 3 full-batch epochs (585 gradient steps per 100k env steps against the
# zoo's 7,800), a higher annealed learning rate, gamma 0.99, observation normalisation + reward scaling,
# gradient steps in numpy (1.9x faster than torch's on these 512-row batches; torch on a GPU).
# Fewer epochs, smaller nets or ReLU cost return on some seeds (bench/README.md).
FAST = {
    "CartPole-v1": dict(n_envs=64, n_steps=8, batch_size=512, n_epochs=3, gae_lambda=0.95, gamma=0.99,
                        learning_rate=2.5e-3, anneal_lr=True, clip_range=0.2, anneal_clip=True,
                        normalize_obs=True, scale_rewards=True, update_kernel="numpy"),
}

# The PPO-max stabilisers (MOSS-RLHF, Zheng et al. 2023, with its code's values) on top of the defaults:
# reward scaling, advantage normalisation + clipping, value clipping, gradient clipping, KL penalty to
# the initial policy.  Not in its set: observation normalisation and annealing (so both stay off).
PPO_MAX = {
    "*": dict(scale_rewards=True, normalize_advantage=True, clip_advantage=0.5, clip_value=0.2,
              max_grad_norm=0.5, kl_coef=0.02, kl_reference="initial"),
}

presets = {"default": {"*": {}}, "zoo": ZOO, "fast": FAST, "ppo_max": PPO_MAX}


def clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's policy loss: -mean(min(r A, clip(r, 1-eps, 1+eps) A))."""
    return -torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               clip: float | None) -> torch.Tensor:
    """Squared error to the returns; with ``clip``, the worse of clipped and unclipped (PPO-max)."""
    if clip is None:
        return (values - returns).square().mean()
    clipped = old_values + (values - old_values).clamp(-clip, clip)
    return torch.max((values - returns).square(), (clipped - returns).square()).mean()


class PPOAgent(VecAgent):
    params: Params

    def __init__(self, params: Params, ctx: RunContext):
        super().__init__(params, ctx)
        self.kernel = self.numpy_grads(params.update_kernel)
        if self.kernel is None:
            self.optimizer = LeanAdam(self.parameters, lr=params.learning_rate, eps=params.adam_eps)
        else:
            self.optimizer = numpy_update.Adam(self.kernel.flat, lr=params.learning_rate, eps=params.adam_eps)
        self.reference = copy.deepcopy(self.model).requires_grad_(False) if params.kl_coef else None

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        for progress in self.budget(total_steps):
            # 1. rollout: n_steps vectorised steps with the current policy
            self.collect()
            kl = self.penalise_kl()
            # 2. advantage estimation: GAE(lambda), truncated episodes bootstrapped
            data = self.batch()
            # 3. update: n_epochs of minibatch steps on the clipped surrogate
            metrics = {**self.update(data, 1.0 - progress), **kl}
            # 4. logging (the harness adds time/* and episode returns)
            if not callback(self.env_steps, metrics):
                return

    def penalise_kl(self) -> dict[str, float]:
        """PPO-max's KL penalty: r_t -= kl_coef * (log pi(a_t|s_t) - log pi_ref(a_t|s_t)) on the rollout."""
        if self.reference is None:
            return {}
        r, rows = self.rollout, self.rollout.logp.size
        obs, actions = self.tensor(r.obs.reshape(rows, -1)), self.tensor(r.actions.reshape(rows, *r.actions.shape[2:]))
        with torch.no_grad():
            ref_logp = self.reference.head.log_prob(self.reference.dist(obs), actions)
        log_ratio = r.logp - ref_logp.cpu().numpy().reshape(r.logp.shape)
        r.rewards -= self.params.kl_coef * log_ratio
        if self.params.kl_reference == "previous":  # the next rollout is penalised against this one's policy
            self.reference.load_state_dict(self.model.state_dict())
        return {"loss/kl_reference": float(log_ratio.mean())}

    def update(self, data: Batch, remaining: float) -> dict[str, float]:
        p = self.params
        lr = p.learning_rate * (remaining if p.anneal_lr else 1.0)
        clip = p.clip_range * (remaining if p.anneal_clip else 1.0)
        set_learning_rate(self.optimizer, lr)
        if p.normalize_advantage:
            adv = data.advantages
            data = data._replace(advantages=(adv - adv.mean()) / (adv.std() + 1e-8))
        if p.clip_advantage > 0:
            data = data._replace(advantages=data.advantages.clamp(-p.clip_advantage, p.clip_advantage))
        stats = []
        rows = data if self.kernel is None else data.numpy()  # the numpy kernel steps on numpy arrays
        for mb in minibatches(rows, p.batch_size, p.n_epochs):
            mb_stats = self.step(mb, clip)
            stats.append(mb_stats)
            if p.target_kl is not None and mb_stats[2].item() > p.target_kl:
                break  # the policy moved far enough for this rollout
        # entropy: the mean over the minibatches before their steps (as SB3 logs it; no extra forward pass)
        policy_loss, v_loss, approx_kl, clipped, entropy = torch.stack(stats).mean(0).tolist()
        return {
            "loss/policy": policy_loss,
            "loss/value": v_loss,
            "loss/entropy": -entropy,
            "loss/approx_kl": approx_kl,
            "loss/clip_fraction": clipped,
            "policy/entropy": entropy,
            "policy/learning_rate": lr,
            "policy/clip_range": clip,
            "policy/minibatches": float(len(stats)),
            "value/explained_variance": explained_variance(data.values, data.returns),
        }

    def step(self, mb: Batch, clip: float) -> torch.Tensor:
        """One gradient step on a minibatch; returns its [policy loss, value loss, approx KL, clip fraction, entropy]."""
        p = self.params
        if self.kernel is not None:  # the same step, differentiated by hand in numpy (numpy_update.py)
            return torch.from_numpy(numpy_update.ppo_step(self.kernel, self.optimizer, mb, clip, p.vf_coef,
                                                          p.ent_coef, p.clip_value, p.max_grad_norm))
        loss, stats = self.loss(mb, clip)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm(p.max_grad_norm)
        self.optimizer.step()
        return stats

    def loss(self, mb: Batch, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch's PPO loss and its detached [policy loss, value loss, approx KL, clip fraction, entropy]."""
        p, model, head = self.params, self.model, self.model.head
        dist = model.dist(mb.obs)
        log_ratio = head.log_prob(dist, mb.actions) - mb.logp
        ratio = log_ratio.exp()
        policy_loss = clipped_surrogate(ratio, mb.advantages, clip)
        v_loss = value_loss(model.value(mb.obs), mb.values, mb.returns, p.clip_value)
        entropy = head.entropy(dist).mean()
        loss = policy_loss + p.vf_coef * v_loss - p.ent_coef * entropy
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean()  # the k3 estimator of KL(old || new)
            clipped = ((ratio - 1).abs() > clip).float().mean()
            stats = torch.stack([policy_loss, v_loss, approx_kl, clipped, entropy])
        return loss, stats


def make_agent(params: Params, ctx: RunContext) -> PPOAgent:
    return PPOAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> PPOAgent:
    agent = PPOAgent(params, ctx)
    agent.load(path)
    return agent
