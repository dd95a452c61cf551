"""DPO (Rafailov et al. 2023) on synthetic preference pairs; evaluated online on the true return.

Offline: every pair comes from the frozen reference policy, never from the
policy being trained.  The budget is the env steps spent on preference data:
each round collects ``pairs_per_round`` labelled pairs (two episodes from one
reset seed, preferred by true return, ties dropped), adds them to the dataset,
and takes ``updates_per_round`` minibatch steps on the DPO loss over all data
so far; so the learning curve shows performance against the amount of data.

The reference is a uniform random policy (``reference = "random"``; the
policy starts exactly uniform, as DPO starts from pi_ref) or a policy briefly
trained with GPG on the true reward (``reference = "gpg"``, the "SFT" stage,
its env steps counted in the budget; the DPO policy starts as its copy).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from harness.api import RunContext, StepCallback
from harness_group.core import doc
from harness_group.objectives import dpo_loss
from harness_group.policy import act_one, distribution, make_policy
from harness_group.preferences import (
    Pair,
    collect_pairs,
    per_trajectory_sum,
    random_policy,
    stack_steps,
)


@dataclass
class Params:
    beta: float = doc(0.1, "beta: strength of the implicit KL to the reference (DPO paper: 0.1)", gt=0)
    reference: Literal["random", "gpg"] = doc("random", "reference policy: uniform random, or briefly GPG-trained")
    reference_steps: int = doc(20_000, "env steps of GPG training for reference = gpg (counted in the budget)", ge=0)
    pairs_per_round: int = doc(32, "preference pairs collected per round", ge=1)
    updates_per_round: int = doc(16, "minibatch steps on the DPO loss per round", ge=1)
    batch_pairs: int = doc(64, "pairs per minibatch", ge=1)
    label_noise: float = doc(0.0, "probability of flipping a preference label", ge=0, le=1)
    learning_rate: float = doc(1e-3, "Adam step size", gt=0)
    max_grad_norm: float = doc(0.5, "global gradient-norm clip", gt=0)
    policy: Literal["auto", "mlp", "gru"] = doc("auto", "network: gru for token-matrix observations, else mlp")
    hidden: int = doc(64, "hidden units per layer", ge=1)


presets = {"paper": {"*": {}}, "tuned": {"*": {}}}


class DPOAgent:
    def __init__(self, params: Params, ctx: RunContext):
        self.params, self.ctx, self.device = params, ctx, ctx.device
        self.env = ctx.make_env(0)
        self.n_actions = int(self.env.action_space.n)
        self.policy = make_policy(self.env.observation_space.shape, self.n_actions, params.policy, params.hidden)
        self.policy.to(ctx.device)
        self.reference: torch.nn.Module | None = None
        self.rng = np.random.default_rng(ctx.seed)
        self.pairs: list[Pair] = []
        self._uniform = random_policy(self.env.action_space, self.rng)
        if params.reference == "random":  # start exactly at pi_ref = uniform
            last = [m for m in self.policy.modules() if isinstance(m, torch.nn.Linear)][-1]
            torch.nn.init.zeros_(last.weight)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> int:
        return act_one(self.policy, obs, deterministic, self.device)

    def _reference_act(self, obs: np.ndarray) -> int:
        if self.reference is None:
            return self._uniform(obs)
        return act_one(self.reference, obs, deterministic=False, device=self.device)

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        p = self.params
        steps = self._train_reference(callback) if p.reference == "gpg" else 0
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=p.learning_rate)
        while steps < total_steps:
            pairs, used = collect_pairs(self.env, self._reference_act, p.pairs_per_round, self.rng, p.label_noise)
            steps += used
            self.pairs += [pair for pair in pairs if pair.prefer_a != 0.5]
            metrics: dict[str, float] = {"dpo/pairs": float(len(self.pairs))}
            for _ in range(p.updates_per_round if self.pairs else 0):
                metrics.update(self._update())
            if not callback(steps, metrics):
                return

    def _train_reference(self, callback: StepCallback) -> int:
        """The SFT stage: GPG on the true reward for ``reference_steps``; then freeze it."""
        from harness_group import gpg

        reached = [0]

        def relay(step: int, metrics: dict) -> bool:
            reached[0] = step
            return callback(step, {f"reference/{k.split('/')[-1]}": v for k, v in metrics.items()})

        trainer = gpg.make_agent(gpg.Params(policy=self.params.policy, hidden=self.params.hidden), self.ctx)
        trainer.learn(self.params.reference_steps, relay)
        self.reference = copy.deepcopy(trainer.policy).requires_grad_(False)
        self.policy.load_state_dict(trainer.policy.state_dict())
        return reached[0]

    def _logp(self, policy: torch.nn.Module | None, trajectories: list) -> torch.Tensor:
        """``[n]`` log pi(trajectory) = sum_t log pi(a_t | s_t); uniform when ``policy`` is None."""
        actions, index = stack_steps(trajectories, "actions", self.device)
        if policy is None:
            per_step = torch.full((len(actions),), -math.log(self.n_actions), device=self.device)
        else:
            obs, _ = stack_steps(trajectories, "obs", self.device)
            per_step = distribution(policy, obs).log_prob(actions.long())
        return per_trajectory_sum(per_step, index, len(trajectories))

    def _loss(self, chosen: list, rejected: list) -> tuple[torch.Tensor, torch.Tensor]:
        """The DPO loss on pairs (chosen[i], rejected[i]) and each pair's log-ratio margin (no gradient)."""
        logp = self._logp(self.policy, chosen + rejected)
        with torch.no_grad():
            ref = self._logp(self.reference, chosen + rejected)
        n = len(chosen)
        margin = ((logp[:n] - ref[:n]) - (logp[n:] - ref[n:])).detach()
        return dpo_loss(logp[:n], logp[n:], ref[:n], ref[n:], self.params.beta), margin

    def _update(self) -> dict[str, float]:
        chosen_idx = self.rng.choice(len(self.pairs), min(self.params.batch_pairs, len(self.pairs)), replace=False)
        batch = [self.pairs[i] for i in chosen_idx]
        chosen = [pair.a if pair.prefer_a == 1.0 else pair.b for pair in batch]
        rejected = [pair.b if pair.prefer_a == 1.0 else pair.a for pair in batch]
        loss, margin = self._loss(chosen, rejected)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.params.max_grad_norm)
        self.optimizer.step()
        obs, _ = stack_steps(chosen, "obs", self.device)
        with torch.no_grad():
            entropy = distribution(self.policy, obs).entropy().mean()
        return {"loss/policy": float(loss.detach()), "dpo/reward_margin": float(self.params.beta * margin.mean()),
                "dpo/accuracy": float((margin > 0).float().mean()), "policy/entropy": float(entropy)}

    def save(self, path: Path) -> None:
        torch.save(self.policy.state_dict(), Path(path) / "policy.pt")
        (Path(path) / "params.json").write_text(json.dumps(asdict(self.params), indent=1))


def make_agent(params: Params, ctx: RunContext) -> DPOAgent:
    return DPOAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> DPOAgent:
    agent = DPOAgent(params, ctx)
    agent.policy.load_state_dict(torch.load(Path(path) / "policy.pt", map_location=ctx.device, weights_only=True))
    return agent
