"""A2C: synchronous advantage actor-critic (Mnih et al. 2016), one gradient step per short rollout.

With ``gae_lambda = 1`` the advantages are n-step returns minus the value
(bootstrapped at the rollout's end); smaller lambdas give GAE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.nn import functional as F

from harness.api import RunContext, StepCallback
from harness_algos import numpy_update
from harness_algos.common import KERNEL_DOC, LOG_EVERY, MetricMeans, param
from harness_algos.kernels import LeanAdam
from harness_algos.onpolicy import Batch, RolloutParams, VecAgent, explained_variance, set_learning_rate


@dataclass
class Params(RolloutParams):
    n_steps: int = param(5, "steps per environment in each rollout (the n of n-step returns)", ge=1)
    gae_lambda: float = param(1.0, "GAE lambda (1.0 gives n-step returns)", ge=0, le=1)
    optimizer: Literal["rmsprop", "adam"] = param("rmsprop", "optimiser")
    learning_rate: float = param(7e-4, "learning rate", gt=0)
    anneal_lr: bool = param(False, "decay the learning rate linearly to 0 over the budget")
    rms_alpha: float = param(0.99, "RMSprop smoothing constant", ge=0, le=1)
    eps: float = param(1e-5, "optimiser epsilon", gt=0)
    ent_coef: float = param(0.0, "entropy bonus coefficient", ge=0)
    vf_coef: float = param(0.5, "value loss coefficient", ge=0)
    max_grad_norm: float | None = param(0.5, "clip the global gradient norm to this (None: off)", gt=0)
    normalize_advantage: bool = param(False, "standardise advantages over each rollout")
    update_kernel: Literal["torch", "numpy"] = param("torch", KERNEL_DOC)


# rl-zoo3 hyperparams/a2c.yml; its `normalize: true` (VecNormalize) = normalize_obs + scale_rewards.
ZOO = {
    "CartPole-v1": dict(n_envs=8, ent_coef=0.0),
    "Acrobot-v1": dict(normalize_obs=True, scale_rewards=True, n_envs=16, ent_coef=0.0),
    "LunarLander-v3": dict(n_envs=8, gamma=0.995, n_steps=5, learning_rate=0.00083, anneal_lr=True, ent_coef=1e-5),
    # zoo's Pendulum entry also uses gSDE, which this agent does not have.
    "Pendulum-v1": dict(normalize_obs=True, scale_rewards=True, n_envs=8, n_steps=8, gae_lambda=0.9, vf_coef=0.4,
                        learning_rate=7e-4, anneal_lr=True, init_log_std=-2.0),
}

presets = {"default": {"*": {}}, "zoo": ZOO}


class A2CAgent(VecAgent):
    params: Params

    def __init__(self, params: Params, ctx: RunContext):
        super().__init__(params, ctx)
        self.kernel = self.numpy_grads(params.update_kernel)
        if self.kernel is not None:  # numpy twins of the optimisers below (numpy_update.py)
            flat = self.kernel.flat
            if params.optimizer == "rmsprop":
                self.optimizer = numpy_update.RMSprop(flat, params.learning_rate, params.rms_alpha, params.eps)
            else:
                self.optimizer = numpy_update.Adam(flat, params.learning_rate, params.eps)
        elif params.optimizer == "rmsprop":
            self.optimizer = torch.optim.RMSprop(self.parameters, lr=params.learning_rate, alpha=params.rms_alpha,
                                                 eps=params.eps, foreach=True)
        else:
            self.optimizer = LeanAdam(self.parameters, lr=params.learning_rate, eps=params.eps)

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        means, next_log = MetricMeans(), self.env_steps + LOG_EVERY
        for progress in self.budget(total_steps):
            # 1. rollout: n_steps vectorised steps with the current policy
            self.collect()
            # 2. advantage estimation: n-step returns / GAE, truncated episodes bootstrapped
            data = self.batch()
            # 3. update: one gradient step on policy gradient + value + entropy losses
            means.add(self.update(data, 1.0 - progress))
            # 4. logging: the means over the updates since the last report, every LOG_EVERY env steps
            metrics = {}
            if self.env_steps >= next_log:
                metrics, next_log = means.pop(), self.env_steps + LOG_EVERY
            if not callback(self.env_steps, metrics):
                return
        if rest := means.pop():
            callback(self.env_steps, rest)

    def update(self, data: Batch, remaining: float) -> dict[str, float]:
        p, model, head = self.params, self.model, self.model.head
        lr = p.learning_rate * (remaining if p.anneal_lr else 1.0)
        set_learning_rate(self.optimizer, lr)
        advantages = data.advantages
        if p.normalize_advantage:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        if self.kernel is not None:  # the same step, differentiated by hand in numpy (numpy_update.py)
            stats = numpy_update.a2c_step(self.kernel, self.optimizer, data._replace(advantages=advantages).numpy(),
                                          p.vf_coef, p.ent_coef, p.max_grad_norm)
            return self.metrics(*stats.tolist(), lr, data)

        dist = model.dist(data.obs)
        policy_loss = -(advantages * head.log_prob(dist, data.actions)).mean()
        v_loss = F.mse_loss(model.value(data.obs), data.returns)
        entropy = head.entropy(dist).mean()
        loss = policy_loss + p.vf_coef * v_loss - p.ent_coef * entropy

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm(p.max_grad_norm)
        self.optimizer.step()

        return self.metrics(*torch.stack([policy_loss, v_loss, entropy]).tolist(), lr, data)

    @staticmethod
    def metrics(policy_loss: float, v_loss: float, entropy: float, lr: float, data: Batch) -> dict[str, float]:
        return {
            "loss/policy": policy_loss,
            "loss/value": v_loss,
            "loss/entropy": -entropy,
            "policy/entropy": entropy,
            "policy/learning_rate": lr,
            "value/explained_variance": explained_variance(data.values, data.returns),
        }


def make_agent(params: Params, ctx: RunContext) -> A2CAgent:
    return A2CAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> A2CAgent:
    agent = A2CAgent(params, ctx)
    agent.load(path)
    return agent
