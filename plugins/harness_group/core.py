"""The group-rollout core shared by grpo, dapo, gspo, gmpo and gpg.

For each of B prompts (reset seeds drawn from a generator seeded by the run
seed) it samples G episodes from the same initial state with the current
policy, scores each episode by its undiscounted return, and gives every step of
episode i the advantage (R_i - mean_G) / (std_G + eps).  There is no critic.
A variant supplies only ``loss(params, batch)``; options that only some
variants have (a KL reference, dynamic sampling, overlong punishment) are
switched on by the variant's Params fields.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from harness.api import RunContext, StepCallback
from harness.envs import EVAL_SEED_BIT
from harness_group.objectives import all_equal, group_advantages, overlong_penalty
from harness_group.policy import act_one, distribution, make_policy
from harness_group.rollout import Episodes, collect_groups

#: Call the harness callback at least this often (env steps) while collecting.
TICK = 500


def doc(default: Any, text: str, **bounds: float) -> Any:
    """A dataclass field with its documentation and range (``gt``/``ge``/``lt``/``le``, enforced by harness)."""
    return field(default=default, metadata={"doc": text, **bounds})


@dataclass
class GroupParams:
    """Hyperparameters every group-relative variant shares."""

    prompts_per_batch: int = doc(8, "B: prompts (reset seeds) per update", ge=1)
    group_size: int = doc(8, "G: episodes sampled from each prompt's initial state", ge=1)
    learning_rate: float = doc(1e-3, "Adam step size", gt=0)
    update_epochs: int = doc(4, "passes over each batch", ge=1)
    minibatches: int = doc(4, "minibatches per pass (split by episode, never inside one)", ge=1)
    max_grad_norm: float = doc(0.5, "global gradient-norm clip", gt=0)
    adv_eps: float = doc(1e-4, "eps in (R - mean) / (std + eps)", gt=0)
    scale_by_std: bool = doc(True, "divide by the group std (False: only subtract the group mean)")
    ent_coef: float = doc(0.0, "entropy bonus coefficient (0 = none, as in the papers)", ge=0)
    policy: Literal["auto", "mlp", "gru"] = doc("auto", "network: gru for token-matrix observations, else mlp")
    hidden: int = doc(64, "hidden units per layer", ge=1)


@dataclass
class StepBatch:
    """One minibatch as a variant's loss sees it (all per-step tensors are ``[N]``)."""

    logp: torch.Tensor
    """log pi_theta(a_t | s_t), with gradient."""
    old_logp: torch.Tensor
    """log pi_old(a_t | s_t) of the behaviour policy."""
    adv: torch.Tensor
    """group-normalised advantage of the step's episode."""
    ep: torch.Tensor
    """episode index (0..n_episodes-1) of each step."""
    n_episodes: int
    ref_logp: torch.Tensor | None = None
    """log pi_ref(a_t | s_t) of the frozen reference policy (variants with a KL term)."""
    valid_fraction: float = 1.0
    """(B - M) / B: share of the whole batch's groups whose scores are not all equal (GPG's 1/alpha)."""


Loss = Callable[[Any, StepBatch], tuple[torch.Tensor, dict[str, torch.Tensor]]]


class GroupAgent:
    """Samples groups, normalises their returns within each group, updates with a variant's loss."""

    def __init__(self, params: Any, ctx: RunContext, loss: Loss):
        self.params, self.ctx, self.loss = params, ctx, loss
        p = params
        self.envs = [ctx.make_env(i) for i in range(p.prompts_per_batch * p.group_size)]
        space = self.envs[0].action_space
        if not hasattr(space, "n"):
            raise ValueError(f"group methods need a Discrete action space, got {space}")
        self.device = ctx.device
        self.policy = make_policy(self.envs[0].observation_space.shape, int(space.n), p.policy, p.hidden).to(ctx.device)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=p.learning_rate, eps=1e-5)
        self.reference = self._frozen_copy() if getattr(p, "kl_coef", 0.0) > 0 else None
        self.prompt_rng = np.random.default_rng(ctx.seed)
        self.shuffle_rng = np.random.default_rng([ctx.seed, 1])
        self.step_limit = _step_limit(self.envs[0])
        self.updates = 0

    # --- acting -------------------------------------------------------------
    def act(self, obs: np.ndarray, deterministic: bool = True) -> int:
        return act_one(self.policy, obs, deterministic, self.device)

    # --- training loop ------------------------------------------------------
    def learn(self, total_steps: int, callback: StepCallback) -> None:
        steps = 0
        while steps < total_steps:
            ticker = _Ticker(callback, steps, total_steps)
            batch, metrics, used = self.sample_batch(ticker)
            steps += used
            if batch is None:  # the budget ran out or the harness asked to stop mid-collection
                callback(ticker.seen, {})
                return
            if batch.n_groups:
                metrics.update(self.update(batch))
            if not callback(steps, metrics):
                return

    def sample_batch(self, tick: Callable[[int], bool]) -> tuple[Episodes | None, dict[str, float], int]:
        """B groups; with dynamic sampling, groups that carry no verifier signal are dropped and refilled."""
        p = self.params
        dynamic = getattr(p, "dynamic_sampling", False)
        kept: list[Episodes] = []
        used = sampled = equal = 0
        for _ in range(1 + (getattr(p, "max_resamples", 0) if dynamic else 0)):
            seeds = self.prompt_rng.integers(0, EVAL_SEED_BIT, p.prompts_per_batch)
            episodes = collect_groups(self.envs, self.policy, seeds, p.group_size,
                                      lambda n, offset=used: tick(offset + n), self.device)
            if episodes is None:
                return None, {}, used
            used += episodes.steps
            episodes = episodes.with_scores(self.score(episodes))
            flat = all_equal(episodes.score_table())
            sampled, equal = sampled + len(flat), equal + int(flat.sum())
            kept.append(episodes.select_groups(self.informative(episodes)) if dynamic else episodes)
            if sum(k.n_groups for k in kept) >= p.prompts_per_batch:
                break
        batch = Episodes.concat(kept)
        batch = batch.select_groups(np.arange(min(batch.n_groups, p.prompts_per_batch)))
        metrics = {
            "group/all_equal_fraction": equal / sampled,
            "group/return_mean": float(np.mean(batch.returns)) if batch.n_groups else float("nan"),
            "group/length_mean": float(np.mean(batch.lengths)) if batch.n_groups else float("nan"),
            "group/truncated_fraction": float(np.mean(batch.truncated)) if batch.n_groups else 0.0,
            "group/kept_groups": float(batch.n_groups),
        }
        return batch, {k: v for k, v in metrics.items() if np.isfinite(v)}, used

    def informative(self, episodes: Episodes) -> np.ndarray:
        """``[B]``: the groups dynamic sampling keeps.  ``filter_on = "return"`` (DAPO's rule,
        0 < #correct < G on a 0/1 verifier): returns not all equal; ``"score"``: scores (with
        the overlong penalty) not all equal."""
        table = episodes.score_table() if self.params.filter_on == "score" else episodes.return_table()
        return ~all_equal(table)

    def score(self, episodes: Episodes) -> np.ndarray:
        """Episode scores: the return, plus DAPO's overlong penalty when that is switched on."""
        fraction = getattr(self.params, "overlong_buffer", 0.0)
        if fraction <= 0 or self.step_limit is None:
            return episodes.returns
        buffer = max(1, round(fraction * self.step_limit))
        factor = getattr(self.params, "overlong_factor", 1.0)
        return episodes.returns + factor * overlong_penalty(episodes.lengths, self.step_limit, buffer)

    def update(self, batch: Episodes) -> dict[str, float]:
        """``update_epochs`` passes of minibatch steps on the variant's loss."""
        p = self.params
        adv_ep = group_advantages(batch.score_table(), p.adv_eps, p.scale_by_std).ravel()
        valid_fraction = 1.0 - float(all_equal(batch.score_table()).mean())
        ep = batch.episode_ids
        as_t = lambda a, dt=torch.float32: torch.as_tensor(a, dtype=dt, device=self.device)
        obs, actions, old_logp = as_t(batch.obs), as_t(batch.actions, torch.int64), as_t(batch.logp)
        adv = as_t(adv_ep[ep])
        ref_logp = self._reference_logp(obs, actions)
        starts = np.concatenate([[0], np.cumsum(batch.lengths)])
        sums: dict[str, float] = {}
        count = 0
        for _ in range(p.update_epochs):
            order = self.shuffle_rng.permutation(len(batch.lengths))
            for episodes in np.array_split(order, min(p.minibatches, len(order))):
                idx = np.concatenate([np.arange(starts[e], starts[e + 1]) for e in episodes])
                local = as_t(np.repeat(np.arange(len(episodes)), batch.lengths[episodes]), torch.int64)
                dist = distribution(self.policy, obs[idx])
                metrics = self._step(dist.entropy().mean(), StepBatch(
                    logp=dist.log_prob(actions[idx]), old_logp=old_logp[idx], adv=adv[idx], ep=local,
                    n_episodes=len(episodes), ref_logp=None if ref_logp is None else ref_logp[idx],
                    valid_fraction=valid_fraction))
                for key, value in metrics.items():
                    sums[key] = sums.get(key, 0.0) + value
                count += 1
        self._maybe_refresh_reference()
        return {key: value / count for key, value in sums.items()}

    def _step(self, entropy: torch.Tensor, batch: StepBatch) -> dict[str, float]:
        """One gradient step on the variant's loss (minus the optional entropy bonus)."""
        loss, metrics = self.loss(self.params, batch)
        total = loss - self.params.ent_coef * entropy
        self.optimizer.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.params.max_grad_norm)
        self.optimizer.step()
        log_ratio = (batch.logp - batch.old_logp).detach()
        metrics = {"loss/policy": loss, "policy/entropy": entropy,
                   "loss/approx_kl": ((log_ratio.exp() - 1) - log_ratio).mean(), **metrics}
        return {key: float(value.detach()) if torch.is_tensor(value) else float(value)
                for key, value in metrics.items()}

    # --- reference policy (GRPO's KL term) -----------------------------------
    def _frozen_copy(self) -> torch.nn.Module:
        ref = copy.deepcopy(self.policy)
        ref.requires_grad_(False)
        return ref

    @torch.no_grad()
    def _reference_logp(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor | None:
        if self.reference is None:
            return None
        return distribution(self.reference, obs).log_prob(actions)

    def _maybe_refresh_reference(self) -> None:
        self.updates += 1
        every = getattr(self.params, "ref_update_every", 0)
        if self.reference is not None and every > 0 and self.updates % every == 0:
            self.reference.load_state_dict(self.policy.state_dict())

    # --- persistence ----------------------------------------------------------
    def save(self, path: Path) -> None:
        torch.save(self.policy.state_dict(), Path(path) / "policy.pt")
        (Path(path) / "params.json").write_text(json.dumps(asdict(self.params), indent=1))

    def load(self, path: Path) -> GroupAgent:
        state = torch.load(Path(path) / "policy.pt", map_location=self.device, weights_only=True)
        self.policy.load_state_dict(state)
        return self


class _Ticker:
    """Called with the steps collected so far in a batch: reports to the harness every TICK
    steps and says stop (False) when the harness does or the budget is spent."""

    def __init__(self, callback: StepCallback, base: int, total: int):
        self.callback, self.base, self.total = callback, base, total
        self.next_report = (base // TICK + 1) * TICK
        self.seen = base

    def __call__(self, done: int) -> bool:
        now = self.seen = self.base + done
        if now >= self.total:
            return False
        if now >= self.next_report:
            self.next_report = (now // TICK + 1) * TICK
            return self.callback(now, {}) is not False
        return True


def _step_limit(env: Any) -> int | None:
    """The most steps an episode can take: the env's own token limit or its TimeLimit."""
    limit = getattr(env.unwrapped, "max_tokens", None)
    if limit is None and env.spec is not None:
        limit = env.spec.max_episode_steps
    return limit


def agent_factories(loss: Loss) -> tuple[Callable, Callable]:
    """``make_agent`` and ``load_agent`` for a variant module."""

    def make_agent(params: Any, ctx: RunContext) -> GroupAgent:
        return GroupAgent(params, ctx, loss)

    def load_agent(params: Any, ctx: RunContext, path: Path) -> GroupAgent:
        return GroupAgent(params, ctx, loss).load(path)

    return make_agent, load_agent
