"""Making environments: plugin or gymnasium id, shapers, true-reward bookkeeping, seeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from harness.api import REWARD_COMPONENTS_KEY, TRUE_REWARD_KEY, EnvironmentSpec, load_object
from harness.registry import PluginError, Registry, unknown_name_message

#: Training reset seeds live below this bit, evaluation seeds at or above it.
EVAL_SEED_BIT = 2**30


def resolve_env(registry: Registry, name: str) -> EnvironmentSpec:
    """The environment plugin's spec, or a bare spec for a registered gymnasium id."""
    if registry.has("environment", name):
        return registry.get("environment", name)
    if name in gym.registry:
        return EnvironmentSpec(name=name)
    allowed = sorted({*registry.names("environment"), *gym.registry.keys()})
    raise PluginError(unknown_name_message("environment", name, allowed))


def make_base_env(spec: EnvironmentSpec, kwargs: dict[str, Any], render_mode: str | None = None) -> gym.Env:
    """The plain environment, with no shaping and no harness wrappers."""
    extra = {"render_mode": render_mode} if render_mode else {}
    if spec.make is None:
        if spec.max_episode_steps is not None and "max_episode_steps" not in kwargs:
            extra["max_episode_steps"] = spec.max_episode_steps  # e.g. CliffWalking has no time limit
        return gym.make(spec.name, **kwargs, **extra)
    return load_object(spec.make)(**kwargs, **extra)


def apply_shapers(registry: Registry, env: gym.Env, shapers: Sequence[dict[str, Any]]) -> gym.Env:
    """Wrap ``env`` with each shaper in order (first given = innermost)."""
    from harness.params import build_params

    for step in shapers:
        impl = registry.get("shaper", step["name"]).load()
        env = impl.wrap(env, build_params(impl.Params, step["params"]))
    return env


class TrueRewardTap(gym.Wrapper):
    """Innermost wrapper: copies the environment's own reward into ``info``."""

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info[TRUE_REWARD_KEY] = float(reward)
        return obs, reward, terminated, truncated, info


class EpisodeRecorder(gym.Wrapper):
    """Outermost wrapper: sums true and shaped reward (and components) per episode.

    Finished episodes go to ``sink(record)``; records hold ``true_return``,
    ``shaped_return``, ``length``, ``components`` and ``step``: the env steps
    taken by all training envs sharing ``counter`` when the episode ended
    (distinct steps matter: MLflow stores one point per key, step and value).
    """

    def __init__(self, env: gym.Env, sink: Callable[[dict[str, Any]], None], counter: list[int] | None = None):
        super().__init__(env)
        self._sink = sink
        self._counter = counter if counter is not None else [0]
        self._reset_sums()

    def _reset_sums(self) -> None:
        self._true = self._shaped = 0.0
        self._length = 0
        self._components: dict[str, float] = {}

    def reset(self, **kwargs: Any):
        self._reset_sums()
        return self.env.reset(**kwargs)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._true += info.get(TRUE_REWARD_KEY, float(reward))
        self._shaped += float(reward)
        self._length += 1
        self._counter[0] += 1
        for name, value in info.get(REWARD_COMPONENTS_KEY, {}).items():
            self._components[name] = self._components.get(name, 0.0) + float(value)
        if terminated or truncated:
            self._sink(
                {
                    "true_return": self._true,
                    "shaped_return": self._shaped,
                    "length": self._length,
                    "components": dict(self._components),
                    "step": self._counter[0],
                }
            )
            self._reset_sums()
        return obs, reward, terminated, truncated, info


class SeedOnFirstReset(gym.Wrapper):
    """Uses ``seed`` for the first ``reset()`` that does not pass one itself."""

    def __init__(self, env: gym.Env, seed: int):
        super().__init__(env)
        self._pending_seed: int | None = seed

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._pending_seed is not None:
            seed = self._pending_seed
        self._pending_seed = None
        return self.env.reset(seed=seed, options=options)


def train_env_seeds(run_seed: int, n: int) -> list[int]:
    """Reset seeds for ``n`` training envs: derived from the run seed, below EVAL_SEED_BIT."""
    state = np.random.SeedSequence([run_seed, 0]).generate_state(n, dtype=np.uint32)
    return [int(s) % EVAL_SEED_BIT for s in state]


def eval_env_seeds(run_seed: int, n: int) -> list[int]:
    """Reset seeds for ``n`` evaluation episodes: disjoint from every training seed."""
    state = np.random.SeedSequence([run_seed, 1]).generate_state(n, dtype=np.uint32)
    return [EVAL_SEED_BIT + int(s) % EVAL_SEED_BIT for s in state]


def training_env_factory(
    registry: Registry,
    spec: EnvironmentSpec,
    kwargs: dict[str, Any],
    shapers: Sequence[dict[str, Any]],
    run_seed: int,
    sink: Callable[[dict[str, Any]], None],
) -> Callable[[int], gym.Env]:
    """``make_env(index)``: base env -> true-reward tap -> shapers -> recorder -> seeding."""
    counter = [0]  # env steps taken by all training envs of this run

    def make_env(index: int = 0) -> gym.Env:
        seed = train_env_seeds(run_seed, index + 1)[index]
        env = TrueRewardTap(make_base_env(spec, kwargs))
        env = EpisodeRecorder(apply_shapers(registry, env, shapers), sink, counter)
        env.action_space.seed(seed)
        env.observation_space.seed(seed)
        return SeedOnFirstReset(env, seed)

    return make_env
