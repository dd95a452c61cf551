"""``reward_model``: replace the reward with a Bradley-Terry model learned from synthetic preferences.

The RLHF pipeline in miniature.  At the first reset the wrapper fits a reward
model r(s, a, s') on ``n_pairs`` preference pairs collected from a uniformly
random reference policy on a COPY of the environment, so the agent's own
episodes and budget are untouched.  The fit is deterministic under ``seed``
(its own generators; the global torch RNG is left as it was) and cached per
process for identical (environment, params), so the many envs of one run share
one model.  Afterwards every step's reward is the model's output, scaled to a
root-mean-square of 1 over the training steps (sign and offset kept); the true reward stays in
``info`` and is what harness evaluates.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from harness.api import REWARD_COMPONENTS_KEY

CACHE: dict[str, RewardModel] = {}


@dataclass
class Params:
    n_pairs: int = field(default=500, metadata={"doc": "preference pairs (two episodes from one reset seed) to fit on", "ge": 1})
    label_noise: float = field(default=0.0, metadata={"doc": "probability of flipping a non-tied preference label", "ge": 0, "le": 1})
    hidden: int = field(default=64, metadata={"doc": "hidden units of the two-layer reward network", "ge": 1})
    train_steps: int = field(default=300, metadata={"doc": "Adam steps on the Bradley-Terry loss", "ge": 1})
    batch_pairs: int = field(default=64, metadata={"doc": "preference pairs per Adam step", "ge": 1})
    learning_rate: float = field(default=3e-3, metadata={"doc": "Adam step size", "gt": 0})
    seed: int = field(default=0, metadata={"doc": "seed of the pair collection and the fit (not the run seed)", "ge": 0})
    scale: float = field(default=1.0, metadata={"doc": "multiply the learned reward (RMS 1 on the training steps) by this"})


presets = {"default": {}, "noisy": {"label_noise": 0.1}, "few_pairs": {"n_pairs": 100}}


class RewardModel:
    """A fitted r(s, a, s') evaluated in numpy (fast per-step inference)."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], n_actions: int | None, scale: float,
                 accuracy: float):
        self.layers, self.n_actions, self.scale, self.accuracy = layers, n_actions, scale, accuracy

    def features(self, obs: np.ndarray, action: Any, next_obs: np.ndarray) -> np.ndarray:
        """``[S, F]`` inputs from batched ``obs``, ``action`` and ``next_obs``."""
        obs, next_obs = np.asarray(obs, np.float32), np.asarray(next_obs, np.float32)
        action = np.asarray(action)
        if self.n_actions is not None:
            action = np.eye(self.n_actions, dtype=np.float32)[action.astype(np.int64)]
        rows = len(obs)
        return np.concatenate([obs.reshape(rows, -1), action.reshape(rows, -1).astype(np.float32),
                               next_obs.reshape(rows, -1)], axis=1)

    def reward(self, obs: np.ndarray, action: Any, next_obs: np.ndarray) -> np.ndarray:
        x = self.features(obs, action, next_obs)
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if i < len(self.layers) - 1:
                x = np.tanh(x)
        return x[:, 0] * self.scale


def fit(env: gym.Env, p: Params) -> RewardModel:
    """Collect pairs on a copy of ``env`` and fit the Bradley-Terry reward model."""
    import torch

    from harness_group.preferences import collect_pairs, random_policy

    rng = np.random.default_rng(p.seed)
    probe = copy.deepcopy(env)
    pairs, _ = collect_pairs(probe, random_policy(probe.action_space, rng), p.n_pairs, rng, p.label_noise)
    probe.close()
    n_actions = int(env.action_space.n) if hasattr(env.action_space, "n") else None
    shell = RewardModel([], n_actions, 1.0, 0.0)
    features = [torch.as_tensor(shell.features(t.obs, t.actions, t.next_obs)) for pair in pairs for t in (pair.a, pair.b)]
    prefer_a = torch.tensor([pair.prefer_a for pair in pairs], dtype=torch.float32)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # the agent may be sampling under no_grad
        torch.manual_seed(p.seed)
        net = torch.nn.Sequential(torch.nn.Linear(features[0].shape[1], p.hidden), torch.nn.Tanh(),
                                  torch.nn.Linear(p.hidden, p.hidden), torch.nn.Tanh(),
                                  torch.nn.Linear(p.hidden, 1))
        _train(net, features, prefer_a, p, rng)
    with torch.no_grad():
        returns, step_rewards = _returns(net, features)
        returns = returns.view(-1, 2)
    decided = prefer_a != 0.5
    agree = ((returns[:, 0] > returns[:, 1]).float() == prefer_a)[decided].float()
    layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
              for m in net if isinstance(m, torch.nn.Linear)]
    scale = p.scale / max(float(step_rewards.square().mean().sqrt()), 1e-8)
    return RewardModel(layers, n_actions, scale, float(agree.mean()) if len(agree) else float("nan"))


def _returns(net: Any, features: list) -> tuple[Any, Any]:
    """Predicted return of each trajectory (``features[k]`` is ``[T_k, F]``) and all step rewards."""
    import torch

    from harness_group.preferences import per_trajectory_sum

    lengths = torch.tensor([len(f) for f in features])
    step_rewards = net(torch.cat(features))[:, 0]
    index = torch.repeat_interleave(torch.arange(len(features)), lengths)
    return per_trajectory_sum(step_rewards, index, len(features)), step_rewards


def _train(net: Any, features: list, prefer_a: Any, p: Params, rng: np.random.Generator) -> None:
    """``train_steps`` Adam steps on the Bradley-Terry loss of ``batch_pairs`` random pairs each."""
    import torch

    from harness_group.objectives import bradley_terry_loss

    optimizer = torch.optim.Adam(net.parameters(), lr=p.learning_rate)
    n_pairs = len(prefer_a)
    for _ in range(p.train_steps):
        chosen = rng.choice(n_pairs, min(p.batch_pairs, n_pairs), replace=False)
        returns, _ = _returns(net, [features[2 * i + side] for i in chosen for side in (0, 1)])
        returns = returns.view(-1, 2)
        loss = bradley_terry_loss(returns[:, 0], returns[:, 1], prefer_a[chosen])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def env_key(env: gym.Env, p: Params) -> str:
    """What identifies a fitted model: the environment's id, kwargs and spaces, and the params."""
    spec = env.unwrapped.spec
    ident = {"id": spec.id, "kwargs": spec.kwargs} if spec is not None else {"type": type(env.unwrapped).__qualname__}
    ident.update(obs=repr(env.observation_space), action=repr(env.action_space), params=asdict(p))
    return json.dumps(ident, sort_keys=True, default=repr)


class RewardModelWrapper(gym.Wrapper):
    """Fits (or reuses) the model at the first reset, then rewards every step with it."""

    def __init__(self, env: gym.Env, params: Params):
        super().__init__(env)
        space = env.action_space
        if not isinstance(space, (gym.spaces.Discrete, gym.spaces.Box)):
            raise TypeError(f"reward_model handles Discrete or Box actions, not {type(space).__name__}")
        if not isinstance(env.observation_space, gym.spaces.Box):
            raise TypeError(f"reward_model needs Box observations, not {type(env.observation_space).__name__}")
        self.params = params
        self.model: RewardModel | None = None
        self._obs: np.ndarray | None = None

    def reset(self, **kwargs: Any):
        if self.model is None:
            key = env_key(self.env, self.params)
            if key not in CACHE:
                CACHE[key] = fit(self.env, self.params)
            self.model = CACHE[key]
        obs, info = self.env.reset(**kwargs)
        self._obs = obs
        return obs, info

    def step(self, action: Any):
        obs, _, terminated, truncated, info = self.env.step(action)
        learned = float(self.model.reward(self._obs[None], np.asarray(action)[None], obs[None])[0])
        self._obs = obs
        info[REWARD_COMPONENTS_KEY] = {**info.get(REWARD_COMPONENTS_KEY, {}), "learned": learned}
        return obs, learned, terminated, truncated, info


def wrap(env: gym.Env, params: Params) -> gym.Wrapper:
    return RewardModelWrapper(env, params)
