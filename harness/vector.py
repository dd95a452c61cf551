"""Training-environment backends behind ``ctx.make_vec_env(n)``: gymnasium's numpy CartPole, EnvPool, SyncVectorEnv.

A suite picks the backend per environment (``vector = "auto" | "gymnasium" | "envpool" | "sync"``);
the choice is part of the run's spec (so of its run_key, tag ``harness.vector``), the
backend it resolved to on the worker is tagged ``harness.vector_resolved``.  A fast
backend is used only where its dynamics were checked against gymnasium's
(``VERIFIED``; the evidence is ``tests/test_vector.py`` and ``docs/vector.md``),
only for the plain environment: shapers wrap single
gymnasium envs, so a shaped run, a plugin's own ``make`` and environment kwargs
fall back to ``sync`` (``resolve_backend`` says why).

Contract of a fast backend (what ``SyncVectorEnv`` with same-step autoreset gives):
``reset()`` -> (obs, info); ``step(actions)`` -> (obs, reward, terminated, truncated,
info) with finished envs already reset and their last observation in
``info["final_obs"]`` (an object array, ``info["_final_obs"]`` the mask); every
finished episode goes to the run's sink like ``EpisodeRecorder``'s records.  The
reward is the environment's own, so the true return equals the shaped one.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from harness.api import EnvironmentSpec
from harness.envs import make_base_env, train_env_seeds

BACKENDS = ("auto", "gymnasium", "envpool", "sync")
#: Environments whose fast backend matched gymnasium (tests/test_vector.py, bench/vector_equivalence.py);
#: one that fails the check leaves this list, and docs/vector.md says why.  ``auto`` takes the first
#: usable backend in this order: the fastest (bench/bench_vector.py).
VERIFIED: dict[str, frozenset[str]] = {
    "gymnasium": frozenset({"CartPole-v1"}),
    "envpool": frozenset({"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
                          "LunarLander-v3", "LunarLanderContinuous-v3"}),
}


def installed(backend: str) -> bool:
    return backend == "sync" or importlib.util.find_spec(backend) is not None


def vector_problem(choice: str, env: str) -> str:
    """Why a suite's ``vector = choice`` cannot serve ``env`` ("" when it can; ``auto`` always can)."""
    return "" if choice in ("auto", "sync") else _unusable(choice, env)


def resolve_backend(choice: str, env: str, plain: bool) -> tuple[str, str]:
    """``(backend, note)``: what ``choice`` gives for ``env`` here; ``note`` says why it is sync.

    ``plain``: the run uses the environment as gymnasium makes it (no shapers,
    no kwargs, no plugin ``make``).  Raises ValueError for a pinned backend that
    cannot serve ``env`` (e.g. not installed on this worker).
    """
    if choice == "sync":
        return "sync", ""
    if problem := vector_problem(choice, env):
        raise ValueError(f"vector = {choice!r}: {problem}")
    usable = [b for b in VERIFIED if not _unusable(b, env)] if choice == "auto" else [choice]
    if not usable:
        return "sync", f"no fast backend is verified and installed for {env}"
    if not plain:
        return "sync", f"{usable[0]} runs only the plain environment (no shapers, kwargs or plugin make)"
    return usable[0], ""


def _unusable(backend: str, env: str) -> str:
    if backend not in VERIFIED:
        return f"unknown backend {backend!r} (allowed: {', '.join(BACKENDS)})"
    if env not in VERIFIED[backend]:
        allowed = ", ".join(sorted(VERIFIED[backend]))
        return f"{backend} is not used for {env}: not verified against gymnasium (verified: {allowed})"
    if not installed(backend):
        return f"{backend} is not installed (pip install 'harness[{backend}]')"
    return ""


class EpisodeTally:
    """Per-env running sums of a vector env; finished episodes go to ``sink`` as ``EpisodeRecorder``'s do."""

    def __init__(self, n: int, sink: Callable[[dict[str, Any]], None], counter: list[int]):
        self.sink, self.counter = sink, counter
        self.returns, self.lengths = np.zeros(n), np.zeros(n, np.int64)

    def reset(self) -> None:
        self.returns[:], self.lengths[:] = 0.0, 0

    def add(self, rewards: np.ndarray, ended: np.ndarray) -> None:
        self.returns += rewards
        self.lengths += 1
        base = self.counter[0]
        self.counter[0] += len(rewards)
        for i in np.flatnonzero(ended):  # env i's step within this vector step, as SyncVectorEnv counts
            total = float(self.returns[i])
            self.sink({"true_return": total, "shaped_return": total, "length": int(self.lengths[i]),
                       "components": {}, "step": base + int(i) + 1})
        self.returns[ended], self.lengths[ended] = 0.0, 0


# EnvPool builds its gymnasium spaces (at creation and on every reset) with float64 bounds on float32
# boxes; gymnasium's warning about that would print into every run's output. The spaces are not used.
warnings.filterwarnings("ignore", message=".*precision lowered by casting to float32")


class SameStepVectorEnv(gym.vector.VectorEnv):
    """A batched simulator behind the same-step contract: finished envs are reset at once.

    Subclasses give ``_step(actions)`` (obs, rewards, terminated, truncated of the batch),
    ``_reset_envs(ids)`` (fresh observations of those envs) and ``_reset_all()``; ``like`` is
    the gymnasium env of the task, whose spaces the vector env exposes.
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, n: int, like: gym.Env, tally: EpisodeTally):
        self.num_envs, self.tally = n, tally
        self.single_observation_space, self.single_action_space = like.observation_space, like.action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, n)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, n)

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Start every env anew; the seed was given at construction (later resets continue its stream)."""
        self.tally.reset()
        return self._reset_all(), {}

    def step(self, actions: np.ndarray):
        obs, rewards, terminated, truncated = self._step(np.asarray(actions))
        ended = terminated | truncated
        self.tally.add(rewards, ended)
        info: dict[str, Any] = {}
        if ended.any():
            ids = np.flatnonzero(ended)
            final = np.empty(self.num_envs, object)
            final[ids] = list(obs[ids])
            obs = obs.copy()
            obs[ids] = self._reset_envs(ids)
            info = {"final_obs": final, "_final_obs": ended}
        return obs, rewards, terminated, truncated, info


class EnvPoolVectorEnv(SameStepVectorEnv):
    """EnvPool's synchronous C++ pool (it resets a finished env in the next step; here at once)."""

    def __init__(self, env_id: str, n: int, seed: int, like: gym.Env, tally: EpisodeTally):
        import envpool

        super().__init__(n, like, tally)  # gymnasium's spaces: EnvPool's LunarLander declares odd bounds
        limit = like.spec.max_episode_steps if like.spec else None
        self.pool = envpool.make_gymnasium(env_id, num_envs=n, seed=seed, num_threads=1,
                                           **({"max_episode_steps": limit} if limit else {}))

    def _reset_all(self) -> np.ndarray:
        return self.pool.reset()[0]

    def _step(self, actions: np.ndarray):
        return self.pool.step(actions)[:4]

    def _reset_envs(self, ids: np.ndarray) -> np.ndarray:
        return self.pool.reset(ids.astype(np.int32))[0]

    def close_extras(self, **kwargs: Any) -> None:
        self.pool.close()


class GymnasiumCartPoleVectorEnv(SameStepVectorEnv):
    """gymnasium's numpy CartPole (``CartPoleVectorEnv``: one array op per step for all envs).

    It resets a finished env in the next step and has no per-env reset; ``_reset_envs``
    draws the fresh states from its generator and bounds as its own reset does
    (gymnasium 1.4's public ``state``/``steps``/``prev_done`` arrays; tests/test_vector.py
    checks the dynamics and the reset distribution against the single env's).
    """

    def __init__(self, n: int, seed: int, like: gym.Env, tally: EpisodeTally):
        from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

        super().__init__(n, like, tally)
        self.sim = CartPoleVectorEnv(num_envs=n, max_episode_steps=like.spec.max_episode_steps)
        self.sim.reset(seed=seed)

    def _reset_all(self) -> np.ndarray:
        return self.sim.reset()[0]

    def _step(self, actions: np.ndarray):
        return self.sim.step(actions)[:4]

    def _reset_envs(self, ids: np.ndarray) -> np.ndarray:
        sim = self.sim
        sim.state[:, ids] = sim.np_random.uniform(low=sim.low, high=sim.high, size=(4, len(ids)))
        sim.steps[ids], sim.prev_done[ids] = 0, False
        return sim.state[:, ids].T.astype(np.float32)

    def close_extras(self, **kwargs: Any) -> None:
        self.sim.close()


def fast_vector_env(backend: str, env_id: str, n: int, seed: int, like: gym.Env, tally: EpisodeTally) -> SameStepVectorEnv:
    """``n`` envs of ``env_id`` on the fast ``backend`` ("gymnasium" or "envpool")."""
    if backend == "gymnasium":
        return GymnasiumCartPoleVectorEnv(n, seed, like, tally)
    return EnvPoolVectorEnv(env_id, n, seed, like, tally)


VectorFactory = Callable[[int], gym.vector.VectorEnv]


def training_vector_env(choice: str, spec: EnvironmentSpec, kwargs: Mapping[str, Any], shapers: Sequence[Any],
                        run_seed: int, sink: Callable[[dict[str, Any]], None]) -> tuple[VectorFactory | None, str, str]:
    """``(n -> VectorEnv or None for sync, backend, note)`` for one run's training envs."""
    backend, note = resolve_backend(choice, spec.name, not kwargs and not shapers and spec.make is None)
    if backend == "sync":
        return None, backend, note
    seed, counter = train_env_seeds(run_seed, 1)[0], [0]

    def make(n: int) -> gym.vector.VectorEnv:
        probe = make_base_env(spec, {})
        probe.close()
        return fast_vector_env(backend, spec.name, n, seed, probe, EpisodeTally(n, sink, counter))

    return make, backend, note
