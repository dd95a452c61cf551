"""DQN: experience replay, a target network, double-DQN targets and a Huber loss.

Mnih et al. 2015 (Nature) and van Hasselt et al. 2016 (double DQN). Written only
against ``harness.api``: the module is the algorithm implementation object.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from harness.api import RunContext, StepCallback
from harness_algos import numpy_update
from harness_algos.common import KERNEL_DOC, LOG_EVERY, MetricMeans, param
from harness_algos.offpolicy_nets import NumpyMLP, adam, mlp, polyak_update
from harness_algos.replay import (
    EnvBatch,
    OffPolicyParams,
    ReplayBuffer,
    UpdateClock,
    linear_schedule,
)


@dataclass
class Params(OffPolicyParams):
    """DQN hyperparameters (defaults follow stable-baselines3's DQN, except ``double_q``)."""

    # SB3's DQN defaults where they differ from the shared (TD3/DDPG) ones
    learning_rate: float = param(1e-4, "Adam step size.", gt=0)
    batch_size: int = param(32, "Transitions per gradient step.", ge=1)
    tau: float = param(1.0, "Target update weight: 1 copies the online net, < 1 is a Polyak average.", gt=0, le=1)
    train_freq: int = param(4, "Env steps (summed over envs) between two rounds of updates.", ge=1)
    hidden_sizes: tuple[int, ...] = param((64, 64), "Hidden layer widths of the Q-network.")
    # DQN's own
    target_update_interval: int = param(10_000, "Env steps between target-network updates.", ge=1)
    exploration_fraction: float = param(0.1, "Fraction of the budget over which epsilon decays linearly.", ge=0, le=1)
    exploration_initial_eps: float = param(1.0, "Epsilon at the start of training.", ge=0, le=1)
    exploration_final_eps: float = param(0.05, "Epsilon after the decay (also used by act(deterministic=False)).",
                                         ge=0, le=1)
    double_q: bool = param(True, "Double DQN: the online net picks the next action, the target net values it.")
    max_grad_norm: float = param(10.0, "Gradient norm clip.", gt=0)
    update_kernel: Literal["torch", "numpy"] = param("torch", KERNEL_DOC)


#: Hand-picked CartPole / Acrobot values of the ``default`` preset (not rl-baselines3-zoo's).
_CLASSIC = {"learning_rate": 2.5e-4, "batch_size": 512, "buffer_size": 100_000, "learning_starts": 0, "gamma": 0.99,
            "target_update_interval": 5000, "train_freq": 16, "gradient_steps": 4,
            "exploration_fraction": 0.06, "exploration_final_eps": 0.11}
#: rl-baselines3-zoo hyperparams/dqn.yml (rl-zoo3 2.9.2), as in harness_sb3's sb3.dqn ``zoo`` preset;
#: SB3's ``gradient_steps = -1`` (one per env step collected) is ``train_freq`` here with one env.
_ZOO = {
    "CartPole-v1": {"learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1000,
                    "gamma": 0.99, "target_update_interval": 10, "train_freq": 256, "gradient_steps": 128,
                    "exploration_fraction": 0.16, "exploration_final_eps": 0.04, "hidden_sizes": (256, 256)},
    "Acrobot-v1": {"learning_rate": 6.3e-4, "batch_size": 128, "buffer_size": 50_000, "learning_starts": 0,
                   "gamma": 0.99, "target_update_interval": 250, "train_freq": 4, "gradient_steps": 4,
                   "exploration_fraction": 0.12, "exploration_final_eps": 0.1, "hidden_sizes": (256, 256)},
}
#: The zoo's settings with a smaller Q-network and fewer gradient steps, at a fraction of the compute: SB3-zoo
#: final returns on CartPole, maybe a few units below on Acrobot (bench/bench_offpolicy.py, bench/README.md).
#: At the zoo's own settings an update is as many 256x256 matrix products as SB3's, so no implementation can be
#: much faster there; this preset is.
_FAST = {
    "CartPole-v1": {**_ZOO["CartPole-v1"], "hidden_sizes": (64, 64), "gradient_steps": 32, "batch_size": 256},
    "Acrobot-v1": {**_ZOO["Acrobot-v1"], "hidden_sizes": (128, 128), "gradient_steps": 1},
}
presets = {"default": {"*": {}, "CartPole-v1": _CLASSIC, "Acrobot-v1": _CLASSIC}, "zoo": _ZOO, "fast": _FAST}


def td_target(rewards: torch.Tensor, terminated: torch.Tensor, gamma: float,
              q_next_target: torch.Tensor, q_next_online: torch.Tensor | None = None) -> torch.Tensor:
    """``r + gamma * (1 - terminated) * Q_target(s', a*)``; shapes ``(B,)`` and ``(B, n_actions)``.

    ``a*`` is the argmax of ``q_next_online`` (double DQN) or, when that is
    None, of ``q_next_target`` itself. Truncated episodes have
    ``terminated = 0`` and so still bootstrap.
    """
    chooser = q_next_target if q_next_online is None else q_next_online
    best = chooser.argmax(dim=1, keepdim=True)
    return rewards + gamma * (1.0 - terminated) * q_next_target.gather(1, best).squeeze(1)


class DQNAgent:
    """Epsilon-greedy Q-learning from a replay buffer, over ``n_envs`` vectorised envs."""

    def __init__(self, params: Params, ctx: RunContext):
        self.p, self.device = params, torch.device(ctx.device)
        self.envs = EnvBatch(ctx.make_env, params.n_envs)
        action_space, obs_dim = self.envs.action_space, self.envs.obs_dim
        if not hasattr(action_space, "n"):
            raise TypeError(f"dqn needs a Discrete action space; {ctx.env_name} has {action_space}")
        self.n_actions = int(action_space.n)
        self.q = mlp([obs_dim, *params.hidden_sizes, self.n_actions]).to(self.device)
        self.kernel = None  # with update_kernel = "numpy" on CPU: the same step in numpy (numpy_update.py)
        if params.update_kernel == "numpy" and self.device.type == "cpu":
            self.kernel = numpy_update.QNetGrads(self.q, params.learning_rate)  # moves q's weights: before q_numpy
        else:
            self.optimizer = adam(self.q.parameters(), params.learning_rate)
        self.q_numpy = NumpyMLP(self.q)  # for acting: far less overhead than a torch call per step
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.q_target_numpy = NumpyMLP(self.q_target)
        self.rng = np.random.default_rng(ctx.seed)  # exploration and replay sampling
        self.act_rng = np.random.default_rng([ctx.seed, 1])  # act(deterministic=False) during evaluation
        self.buffer = ReplayBuffer(params.buffer_size, (obs_dim,), (), np.int64, self.rng, self.device)
        self.epsilon = params.exploration_initial_eps
        self.steps = 0
        self._obs: np.ndarray | None = None

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        """Train for ``total_steps`` env steps, reporting to ``callback`` after every vector step."""
        p, n = self.p, self.p.n_envs
        obs = self._obs if self._obs is not None else self.envs.reset()
        clock = UpdateClock(p.train_freq, p.gradient_steps, p.learning_starts)
        means, no_metrics = MetricMeans(), {}
        start, end = self.steps, self.steps + total_steps
        next_target_update, next_log = start + p.target_update_interval, start + LOG_EVERY
        while self.steps < end:
            # act: epsilon-greedy, uniformly random until learning starts
            progress = (self.steps - start) / total_steps
            self.epsilon = linear_schedule(p.exploration_initial_eps, p.exploration_final_eps,
                                           p.exploration_fraction, progress)
            actions = self._explore(obs)

            # step; store the observation each env reached (the last one of a finished episode)
            next_obs, reached, rewards, terminated = self.envs.step(actions)
            self.buffer.add(obs, actions, rewards, reached, terminated)
            obs = next_obs
            self.steps += n

            # update the online net, then the target net on its own clock
            updates = clock.due(self.steps, n)
            for _ in range(updates):
                means.add(self._update())
            if updates:
                self.q_numpy.refresh()
            if self.steps >= next_target_update:
                polyak_update(self.q_target, self.q, p.tau)
                next_target_update += p.target_update_interval

            # log
            metrics = no_metrics
            if self.steps >= next_log or self.steps >= end:
                metrics = {**means.pop(), "policy/epsilon": self.epsilon}
                next_log += LOG_EVERY
            if not callback(self.steps, metrics):
                break
        self._obs = obs

    def _explore(self, obs: np.ndarray) -> np.ndarray:
        """One action per env: random with probability epsilon (always before learning starts)."""
        n = len(obs)
        random_actions = self.rng.integers(self.n_actions, size=n)
        use_random = self.rng.random(n) < self.epsilon
        if self.steps < self.p.learning_starts or use_random.all():
            return random_actions
        return np.where(use_random, random_actions, self.q_numpy(obs).argmax(axis=1))

    def _update(self) -> dict[str, torch.Tensor]:
        """One gradient step on the Huber TD error of a sampled batch."""
        p, batch = self.p, self.buffer.sample(self.p.batch_size)
        if self.kernel is not None:
            loss, q_mean = numpy_update.dqn_step(self.kernel, self.q_numpy, self.q_target_numpy, batch, p.gamma,
                                                 p.double_q, p.max_grad_norm)
            return {"loss/td": loss, "q/mean": q_mean}
        with torch.no_grad():
            q_next_online = self.q(batch.next_obs) if p.double_q else None
            target = td_target(batch.rewards, batch.terminated, p.gamma, self.q_target(batch.next_obs), q_next_online)
        q = self.q(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(q, target)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.q.parameters(), p.max_grad_norm)
        self.optimizer.step()
        return {"loss/td": loss, "q/mean": q.mean()}

    def act(self, obs: np.ndarray, deterministic: bool = True) -> int:
        """Greedy action for one observation (epsilon-greedy with the final epsilon if not deterministic)."""
        if not deterministic and self.act_rng.random() < self.p.exploration_final_eps:
            return int(self.act_rng.integers(self.n_actions))
        return int(self.act_batch(np.asarray(obs)[None])[0])

    def act_batch(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Greedy actions for a batch of observations (epsilon-greedy per row if not deterministic)."""
        greedy = self.q_numpy(np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)).argmax(1)
        if deterministic:
            return greedy
        explore = self.act_rng.random(len(greedy)) < self.p.exploration_final_eps
        return np.where(explore, self.act_rng.integers(self.n_actions, size=len(greedy)), greedy)

    def save(self, path: Path) -> None:
        torch.save({"q": self.q.state_dict(), "q_target": self.q_target.state_dict()}, Path(path) / "dqn.pt")

    def load(self, path: Path) -> None:
        state = torch.load(Path(path) / "dqn.pt", map_location=self.device)
        self.q.load_state_dict(state["q"])
        self.q_target.load_state_dict(state["q_target"])
        self.q_numpy.refresh()


def make_agent(params: Params, ctx: RunContext) -> DQNAgent:
    return DQNAgent(params, ctx)


def load_agent(params: Params, ctx: RunContext, path: Path) -> DQNAgent:
    agent = DQNAgent(params, ctx)
    agent.load(path)
    return agent



