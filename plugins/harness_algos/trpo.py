"""TRPO: natural-gradient policy step inside a KL trust region (Schulman et al. 2015).

The step direction solves F x = g by conjugate gradient, where F is the Fisher
matrix (the KL's Hessian, used only through Fisher-vector products) and g the
surrogate's gradient; it is scaled to the KL limit and shrunk by backtracking
until the KL constraint holds and the surrogate improves.  The value function
is trained separately with Adam.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from harness.api import RunContext, StepCallback
from harness_algos.common import param
from harness_algos.kernels import LeanAdam
from harness_algos.onpolicy import Batch, RolloutParams, VecAgent, explained_variance, minibatches


@dataclass
class Params(RolloutParams):
    n_envs: int = param(2, "parallel training environments (one SyncVectorEnv)", ge=1)
    n_steps: int = param(1024, "steps per environment in each rollout", ge=1)
    max_kl: float = param(0.01, "trust region: KL(old || new) limit of one policy step", gt=0)
    cg_iters: int = param(15, "conjugate gradient iterations", ge=1)
    cg_damping: float = param(0.1, "damping added to the Fisher-vector products", ge=0)
    line_search_shrink: float = param(0.8, "step shrink factor of the backtracking line search", gt=0, lt=1)
    line_search_iters: int = param(10, "maximum backtracking steps", ge=1)
    normalize_advantage: bool = param(True, "standardise advantages over each rollout")
    learning_rate: float = param(1e-3, "Adam learning rate of the value function", gt=0)
    n_critic_updates: int = param(10, "value-function epochs per rollout", ge=1)
    batch_size: int = param(128, "value-function minibatch size", ge=1)


# rl-zoo3 hyperparams/trpo.yml (sb3-contrib TRPO); `normalize: true` = normalize_obs + scale_rewards.
ZOO = {
    "CartPole-v1": dict(n_envs=2, n_steps=512, batch_size=512, cg_damping=1e-3, gae_lambda=0.98, gamma=0.99,
                        learning_rate=1e-3, n_critic_updates=20),
    "Acrobot-v1": dict(normalize_obs=True, scale_rewards=True, n_envs=2, n_steps=1024),
    # zoo's Pendulum entry also uses gSDE, which this agent does not have.
    "Pendulum-v1": dict(n_envs=2, n_steps=1024, gamma=0.9, n_critic_updates=15),
    "LunarLander-v3": dict(n_envs=2, n_steps=512, cg_damping=0.01, gae_lambda=0.98, gamma=0.99,
                           learning_rate=1e-3, n_critic_updates=15),
}

presets = {"default": {"*": {}}, "zoo": ZOO}


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int,
                       tol: float = 1e-10) -> tuple[torch.Tensor, int, float]:
    """Approximately solve A x = b for symmetric positive definite A given as ``matvec``.

    Returns x, the iterations used and the final residual norm.
    """
    x = torch.zeros_like(b)
    r = b.clone()  # residual b - A x
    d = r.clone()  # search direction
    rr = r.dot(r)
    done = 0
    for done in range(1, iters + 1):
        ad = matvec(d)
        alpha = rr / d.dot(ad)
        x += alpha * d
        r -= alpha * ad
        rr_next = r.dot(r)
        if rr_next < tol:
            rr = rr_next
            break
        d = r + (rr_next / rr) * d
        rr = rr_next
    return x, done, float(rr.sqrt())


def line_search(evaluate: Callable[[float], tuple[float, float]], max_kl: float, shrink: float,
                iters: int) -> tuple[float, int, float, float]:
    """Backtrack the step fraction 1, shrink, shrink^2, ... until KL <= max_kl and the surrogate improves.

    ``evaluate(fraction) -> (improvement, kl)``.  Returns (fraction, tries,
    improvement, kl); fraction is 0.0 when no try was accepted.
    """
    improvement = kl = 0.0
    for tries in range(1, iters + 1):
        fraction = shrink ** (tries - 1)
        improvement, kl = evaluate(fraction)
        if kl <= max_kl and improvement > 0:
            return fraction, tries, improvement, kl
    return 0.0, iters, improvement, kl


def flat_grad(output: torch.Tensor, params: list[torch.Tensor], **kwargs) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(output, params, **kwargs)])


class TRPOAgent(VecAgent):
    params: Params

    def __init__(self, params: Params, ctx: RunContext):
        super().__init__(params, ctx)
        self.critic_optimizer = LeanAdam(self.model.critic.parameters(), lr=params.learning_rate)

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        for _ in self.budget(total_steps):
            # 1. rollout: n_steps vectorised steps with the current policy
            self.collect()
            # 2. advantage estimation: GAE(lambda), truncated episodes bootstrapped
            data = self.batch()
            # 3. update: trust-region policy step, then value-function regression
            metrics = self.policy_step(data)
            metrics.update(self.fit_values(data))
            # 4. logging
            if not callback(self.env_steps, metrics):
                return

    def policy_step(self, data: Batch) -> dict[str, float]:
        p, model, head = self.params, self.model, self.model.head
        params = model.policy_parameters()
        advantages = data.advantages
        if p.normalize_advantage:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        with torch.no_grad():
            old_dist = model.dist(data.obs)

        def surrogate() -> torch.Tensor:
            return (torch.exp(head.log_prob(model.dist(data.obs), data.actions) - data.logp) * advantages).mean()

        def kl() -> torch.Tensor:
            return head.kl(old_dist, model.dist(data.obs)).mean()

        old_surrogate = surrogate()
        gradient = flat_grad(old_surrogate, params)
        kl_grad = flat_grad(kl(), params, create_graph=True)

        def fisher_product(v: torch.Tensor) -> torch.Tensor:
            return flat_grad(kl_grad.dot(v), params, retain_graph=True) + p.cg_damping * v

        direction, cg_iters, cg_residual = conjugate_gradient(fisher_product, gradient, p.cg_iters)
        # Largest step along `direction` whose quadratic KL model equals max_kl.
        full_step = direction * torch.sqrt(2 * p.max_kl / (direction.dot(fisher_product(direction)) + 1e-12))
        start = parameters_to_vector(params).detach()

        def evaluate(fraction: float) -> tuple[float, float]:
            vector_to_parameters(start + fraction * full_step, params)
            with torch.no_grad():
                return float(surrogate() - old_surrogate), float(kl())

        fraction, tries, improvement, step_kl = line_search(evaluate, p.max_kl, p.line_search_shrink,
                                                            p.line_search_iters)
        if fraction == 0.0:
            vector_to_parameters(start, params)
            improvement = step_kl = 0.0
        with torch.no_grad():
            entropy = float(head.entropy(model.dist(data.obs)).mean())
        return {
            "loss/policy": -float(old_surrogate.detach()) - improvement,
            "loss/approx_kl": step_kl,
            "loss/surrogate_improvement": improvement,
            "loss/entropy": -entropy,
            "policy/entropy": entropy,
            "trpo/cg_iterations": float(cg_iters),
            "trpo/cg_residual": cg_residual,
            "trpo/line_search_tries": float(tries),
            "trpo/step_fraction": fraction,
        }

    def fit_values(self, data: Batch) -> dict[str, float]:
        p, losses = self.params, []
        for mb in minibatches(data, p.batch_size, p.n_critic_updates):
            loss = (self.model.value(mb.obs) - mb.returns).square().mean()
            self.critic_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.critic_optimizer.step()
            losses.append(loss.detach())
        return {
            "loss/value": float(torch.stack(losses).mean()),
            "value/explained_variance": explained_variance(data.values, data.returns),
        }


def make_agent(params: Params, ctx: RunContext) -> TRPOAgent:
    return TRPOAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> TRPOAgent:
    agent = TRPOAgent(params, ctx)
    agent.load(path)
    return agent
