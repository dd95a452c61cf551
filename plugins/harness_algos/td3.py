"""TD3: twin critics, target policy smoothing and delayed policy updates.

Fujimoto et al. 2018, "Addressing Function Approximation Error in Actor-Critic
Methods". With one critic, no smoothing and no delay this is DDPG, which is how
:mod:`harness_algos.ddpg` uses this agent. Actions live in the scaled box
``[-1, 1]``; noise scales are fractions of the half-range of each action bound.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.api import RunContext, StepCallback
from harness_algos.offpolicy_nets import Actor, Critics, NumpyMLP, adam, polyak_update
from harness_algos.common import LOG_EVERY, MetricMeans, param
from harness_algos.replay import (
    EnvBatch,
    OffPolicyParams,
    ReplayBuffer,
    UpdateClock,
)


@dataclass
class Params(OffPolicyParams):
    """TD3 hyperparameters (defaults follow stable-baselines3's TD3)."""

    policy_delay: int = param(2, "Critic steps per actor step (and target update).", ge=1)
    target_policy_noise: float = param(0.2, "Std of the smoothing noise on target actions (0 disables).", ge=0)
    target_noise_clip: float = param(0.5, "Clip of the smoothing noise.", ge=0)
    exploration_noise: float = param(0.1, "Std of the Gaussian noise added to actions while training.", ge=0)
    n_critics: int = param(2, "Q-functions; the TD target takes their minimum.", ge=1)


#: Pendulum values from rl-baselines3-zoo hyperparams/td3.yml and ddpg.yml ("tuned" there); the zoo
#: updates once per episode with as many gradient steps as env steps, the same 1:1 ratio as here.
PENDULUM = {"gamma": 0.98, "buffer_size": 200_000, "learning_starts": 10_000, "exploration_noise": 0.1,
                "learning_rate": 1e-3, "hidden_sizes": (400, 300)}
#: The zoo's Pendulum values with 64x64 networks: the zoo's final return at a fraction of the compute
#: (bench/bench_offpolicy.py, bench/README.md); the 400x300 critics make every update arithmetic-bound.
FAST_PENDULUM = {**PENDULUM, "hidden_sizes": (64, 64)}
presets = {"default": {"*": {}, "Pendulum-v1": PENDULUM}, "fast": {"Pendulum-v1": FAST_PENDULUM}}


def smoothed_target_action(action: torch.Tensor, noise: torch.Tensor, noise_clip: float) -> torch.Tensor:
    """TD3's target policy smoothing: ``clip(action + clip(noise, -c, c), -1, 1)``."""
    return (action + noise.clamp(-noise_clip, noise_clip)).clamp(-1.0, 1.0)


class TD3Agent:
    """A deterministic actor with ``n_critics`` Q-functions, over ``n_envs`` vectorised envs."""

    def __init__(self, params: Params, ctx: RunContext, name: str = "td3"):
        self.p, self.device, self.name = params, torch.device(ctx.device), name
        self.envs = EnvBatch(ctx.make_env, params.n_envs)
        action_space = self.envs.action_space
        if not (hasattr(action_space, "low") and np.all(np.isfinite(action_space.low))
                and np.all(np.isfinite(action_space.high))):
            raise TypeError(f"{name} needs a bounded Box action space; {ctx.env_name} has {action_space}")
        self.action_shape = action_space.shape
        self.low = action_space.low.astype(np.float32).reshape(-1)
        self.high = action_space.high.astype(np.float32).reshape(-1)
        obs_dim, act_dim = self.envs.obs_dim, int(np.prod(action_space.shape))
        self.act_dim = act_dim
        self.actor = Actor(obs_dim, act_dim, params.hidden_sizes).to(self.device)
        self.actor_numpy = NumpyMLP(self.actor.net, output="tanh")  # for acting: no torch call per step
        self.critics = Critics(params.n_critics, obs_dim, act_dim, params.hidden_sizes).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critics_target = copy.deepcopy(self.critics).requires_grad_(False)
        self.actor_optimizer = adam(self.actor.parameters(), params.learning_rate)
        self.critic_optimizer = adam(self.critics.parameters(), params.learning_rate)
        self.rng = np.random.default_rng(ctx.seed)  # exploration and replay sampling
        self.act_rng = np.random.default_rng([ctx.seed, 1])  # act(deterministic=False) during evaluation
        self.noise_rng = torch.Generator(self.device).manual_seed(ctx.seed)  # target policy smoothing
        self.buffer = ReplayBuffer(params.buffer_size, (obs_dim,), (act_dim,), np.float32, self.rng, self.device)
        self.steps = self.updates = 0
        self._obs: np.ndarray | None = None

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        """Train for ``total_steps`` env steps, reporting to ``callback`` after every vector step."""
        p, n = self.p, self.p.n_envs
        obs = self._obs if self._obs is not None else self.envs.reset()
        clock = UpdateClock(p.train_freq, p.gradient_steps, p.learning_starts)
        means, no_metrics = MetricMeans(), {}
        end, next_log = self.steps + total_steps, self.steps + LOG_EVERY
        while self.steps < end:
            # act: uniform random until learning starts, then the actor plus Gaussian noise
            if self.steps < p.learning_starts:
                actions = self.rng.uniform(-1.0, 1.0, (n, self.act_dim)).astype(np.float32)
            else:
                actions = self._noisy(self.actor_numpy(obs), p.exploration_noise, self.rng)

            # step; store the observation each env reached (the last one of a finished episode)
            next_obs, reached, rewards, terminated = self.envs.step(self._to_env(actions))
            self.buffer.add(obs, actions, rewards, reached, terminated)
            obs = next_obs
            self.steps += n

            # update
            updates = clock.due(self.steps, n)
            for _ in range(updates):
                means.add(self._update())
            if updates:
                self.actor_numpy.refresh()

            # log
            metrics = no_metrics
            if self.steps >= next_log or self.steps >= end:
                metrics = means.pop()
                next_log += LOG_EVERY
            if not callback(self.steps, metrics):
                break
        self._obs = obs

    def _update(self) -> dict[str, torch.Tensor]:
        """One critic step; every ``policy_delay``-th call also an actor step and target updates."""
        p, batch = self.p, self.buffer.sample(self.p.batch_size)

        # critics: regress on r + gamma * min_i Q_i'(s', smoothed pi'(s')), bootstrapping unless terminated
        with torch.no_grad():
            next_actions = self.actor_target(batch.next_obs)
            if p.target_policy_noise > 0:
                noise = torch.randn(next_actions.shape, generator=self.noise_rng, device=self.device)
                noise = noise * p.target_policy_noise
                next_actions = smoothed_target_action(next_actions, noise, p.target_noise_clip)
            q_next = self.critics_target(batch.next_obs, next_actions).min(dim=0).values
            target = batch.rewards + p.gamma * (1.0 - batch.terminated) * q_next
        q = self.critics(batch.obs, batch.actions)
        critic_loss = (q - target).pow(2).mean(dim=1).sum()
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        metrics = {"loss/critic": critic_loss, "q/mean": q[0].mean()}

        # actor (delayed): ascend Q_1(s, pi(s)); then move the targets
        self.updates += 1
        if self.updates % p.policy_delay == 0:
            self.critics.requires_grad_(False)
            actor_loss = -self.critics(batch.obs, self.actor(batch.obs), members=1)[0].mean()
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            self.critics.requires_grad_(True)
            polyak_update(self.critics_target, self.critics, p.tau)
            polyak_update(self.actor_target, self.actor, p.tau)
            metrics["loss/actor"] = actor_loss
        return metrics

    def _noisy(self, actions: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
        noise = rng.normal(0.0, std, actions.shape).astype(np.float32)
        return np.clip(actions + noise, -1.0, 1.0)

    def _to_env(self, actions: np.ndarray) -> np.ndarray:
        """Scaled actions in ``[-1, 1]`` -> the env's own bounds."""
        scaled = self.low + (actions + 1.0) * 0.5 * (self.high - self.low)
        return scaled.reshape(len(actions), *self.action_shape)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """The actor's action for one observation (plus exploration noise if not deterministic)."""
        return self.act_batch(np.asarray(obs)[None], deterministic)[0]

    def act_batch(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """The actor's actions for a batch of observations (plus exploration noise if not deterministic)."""
        action = self.actor_numpy(np.asarray(obs, dtype=np.float32).reshape(len(obs), -1))
        if not deterministic:
            action = self._noisy(action, self.p.exploration_noise, self.act_rng)
        return self._to_env(action)

    def save(self, path: Path) -> None:
        state = {key: getattr(self, key).state_dict() for key in ("actor", "critics", "actor_target", "critics_target")}
        torch.save(state, Path(path) / f"{self.name}.pt")

    def load(self, path: Path) -> None:
        state = torch.load(Path(path) / f"{self.name}.pt", map_location=self.device)
        for key, value in state.items():
            getattr(self, key).load_state_dict(value)
        self.actor_numpy.refresh()


def make_agent(params: Params, ctx: RunContext) -> TD3Agent:
    return TD3Agent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> TD3Agent:
    agent = TD3Agent(params, ctx)
    agent.load(path)
    return agent
