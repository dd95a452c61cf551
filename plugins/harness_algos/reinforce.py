"""REINFORCE with a learned value baseline (Williams 1992; Sutton & Barto ch. 13.4).

Each update uses ``n_envs`` complete episodes, one per environment, run side by
side with batched forward passes.  The policy follows the Monte Carlo return
minus the baseline V(s); V regresses on the same returns.  An episode cut by a
time limit is bootstrapped with V(final obs) (the only use of V besides the baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from harness.api import RunContext, StepCallback
from harness_algos.common import param
from harness_algos.kernels import LeanAdam
from harness_algos.onpolicy import Agent, NetParams, explained_variance


@dataclass
class Params(NetParams):
    n_envs: int = param(8, "environments = complete episodes per update", ge=1)
    gamma: float = param(0.99, "discount factor", ge=0, le=1)
    learning_rate: float = param(1e-3, "Adam learning rate (policy and baseline)", gt=0)
    ent_coef: float = param(0.0, "entropy bonus coefficient", ge=0)
    vf_coef: float = param(0.5, "baseline (value) loss coefficient", ge=0)
    max_grad_norm: float | None = param(0.5, "clip the global gradient norm to this (None: off)", gt=0)
    normalize_advantage: bool = param(True, "standardise returns-minus-baseline over each batch")


presets = {
    "default": {"*": {}},
    "zoo": {"*": {}},  # rl-zoo3 has no tuned REINFORCE for these envs; the defaults stand in
}


def discounted_returns(rewards: np.ndarray, gamma: float, bootstrap: float = 0.0) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1} for one episode, with G_T = ``bootstrap``."""
    returns = np.empty(len(rewards), np.float32)
    running = bootstrap
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


class ReinforceAgent(Agent):
    params: Params

    def __init__(self, params: Params, ctx: RunContext):
        super().__init__(params, ctx)
        self.optimizer = LeanAdam(self.parameters, lr=params.learning_rate)
        self.envs: list | None = None

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        if self.envs is None:
            self.envs = [self.ctx.make_env(i) for i in range(self.params.n_envs)]
        begin = self.env_steps
        while self.env_steps - begin < total_steps:
            # 1. rollout: one complete episode in every env
            obs, actions, returns = self.collect_episodes()
            # 2. update: policy gradient with baseline, baseline regression
            metrics = self.update(obs, actions, returns)
            # 3. logging
            if not callback(self.env_steps, metrics):
                return

    def collect_episodes(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run every env to the end of one episode; return stacked obs, actions and returns."""
        n = len(self.envs)
        raw = [env.reset()[0] for env in self.envs]
        traces: list[list[tuple[np.ndarray, np.ndarray, float]]] = [[] for _ in range(n)]
        results: list[np.ndarray | None] = [None] * n
        active = list(range(n))
        while active:
            x = self.observe(np.stack([raw[i] for i in active]), update=True)
            with torch.inference_mode():
                dist = self.model.dist(self.tensor(x))
                sampled = self.model.head.sample(dist).cpu().numpy()
            still = []
            for row, i in enumerate(active):
                raw[i], reward, terminated, truncated, info = self.envs[i].step(self.to_env(sampled[row]))
                traces[i].append((x[row], sampled[row], float(reward)))
                if not (terminated or truncated):
                    still.append(i)
                    continue
                tail = 0.0 if terminated else float(self.values(self.observe(np.asarray(raw[i])[None]))[0])
                results[i] = discounted_returns(np.array([r for _, _, r in traces[i]]), self.params.gamma, tail)
            self.env_steps += len(active)
            active = still
        steps = [step for trace in traces for step in trace]
        obs = self.tensor(np.stack([s[0] for s in steps]))
        actions = self.tensor(np.stack([s[1] for s in steps]))
        return obs, actions, self.tensor(np.concatenate(results))

    def values(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.model.value(self.tensor(x)).cpu().numpy()

    def update(self, obs: torch.Tensor, actions: torch.Tensor, returns: torch.Tensor) -> dict[str, float]:
        p, model, head = self.params, self.model, self.model.head
        values = model.value(obs)
        advantages = returns - values.detach()
        if p.normalize_advantage:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        dist = model.dist(obs)
        policy_loss = -(advantages * head.log_prob(dist, actions)).mean()
        v_loss = F.mse_loss(values, returns)
        entropy = head.entropy(dist).mean()
        loss = policy_loss + p.vf_coef * v_loss - p.ent_coef * entropy

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm(p.max_grad_norm)
        self.optimizer.step()

        policy_loss, v_loss, entropy = torch.stack([policy_loss, v_loss, entropy]).tolist()
        return {
            "loss/policy": policy_loss,
            "loss/value": v_loss,
            "loss/entropy": -entropy,
            "policy/entropy": entropy,
            "policy/batch_steps": float(len(obs)),
            "value/explained_variance": explained_variance(values.detach(), returns),
        }


def make_agent(params: Params, ctx: RunContext) -> ReinforceAgent:
    return ReinforceAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> ReinforceAgent:
    agent = ReinforceAgent(params, ctx)
    agent.load(path)
    return agent
