"""The public plugin API: everything a plugin author imports from harness.

Plugins register light *specs* (names, metadata, and a dotted path to the
implementation) so that `harness plugins` never imports torch or an RL
library.  The implementation is imported only when a run needs it.

Contracts, in one place:

* An **algorithm** implementation (often simply a module) provides ``Params``
  (a dataclass with a docstring per field), ``presets`` and
  ``make_agent(params, ctx) -> Agent``; optionally
  ``load_agent(params, ctx, path) -> Agent`` to reload what ``Agent.save`` wrote.
* An **environment** spec names a ``make(**kwargs) -> gymnasium.Env`` and
  optional score metadata used for normalised scores.
* A **shaper** implementation provides ``Params`` and
  ``wrap(env, params) -> gymnasium.Wrapper``.  It changes only the reward the
  agent sees; harness keeps the true reward and evaluates on it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: ``info`` key under which shapers may report per-step reward components.
REWARD_COMPONENTS_KEY = "harness/reward_components"
#: ``info`` key holding the environment's true (unshaped) reward of a step.
TRUE_REWARD_KEY = "harness/true_reward"

#: Called by an agent while learning: ``callback(env_steps, metrics)``.
#: ``metrics`` holds training scalars such as ``loss/policy``; it may be empty.
#: Returns ``False`` when the harness wants training to stop early.
StepCallback = Callable[[int, Mapping[str, float]], bool]

SPACE_NAMES = ("Discrete", "Box", "MultiDiscrete", "MultiBinary")


def load_object(path: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module_name, _, attribute = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split(".") if attribute else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class AlgorithmSpec:
    """What an algorithm plugin registers."""

    name: str
    impl: str
    """Dotted ``module:attribute`` of the implementation (imported lazily)."""
    summary: str = ""
    action_spaces: tuple[str, ...] = ("Discrete", "Box")
    """Gymnasium action-space classes the algorithm handles."""
    observation_spaces: tuple[str, ...] = ("Box",)
    """Gymnasium observation-space classes the algorithm handles."""
    baseline: str | None = None
    """Name of the SB3 algorithm this one is compared against by default."""
    prefers_gpu: bool = False
    """True when ``device = "auto"`` should pick a GPU (e.g. image policies)."""

    def load(self) -> AlgorithmImpl:
        return load_object(self.impl)


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an environment plugin registers.

    ``make`` is a dotted ``module:callable`` returning a ``gymnasium.Env``;
    ``None`` means ``gymnasium.make(name, **kwargs)``.
    """

    name: str
    make: str | None = None
    summary: str = ""
    random_score: float | None = None
    """Mean return of a uniformly random policy (0 on the normalised scale)."""
    solved_threshold: float | None = None
    """Return at which the task counts as solved (1 on the normalised scale)."""
    max_episode_steps: int | None = None


@dataclass(frozen=True)
class ShaperSpec:
    """What a reward-shaper plugin registers."""

    name: str
    impl: str
    """Dotted ``module:attribute`` of the implementation (imported lazily)."""
    summary: str = ""

    def load(self) -> ShaperImpl:
        return load_object(self.impl)


@dataclass(frozen=True)
class ExecutorSpec:
    """What an executor plugin registers: something that runs run specs.

    ``impl`` points to a class built as ``cls(workers=..., **options)`` with a
    ``run(tasks, on_event) -> None`` method; see :mod:`harness.executors`.
    """

    name: str
    impl: str
    summary: str = ""

    def load(self) -> Any:
        return load_object(self.impl)


@dataclass(frozen=True)
class ReportSectionSpec:
    """What a report-section plugin registers.

    ``impl`` points to ``section(data) -> ReportSection`` (see :mod:`harness.report`).
    """

    name: str
    impl: str
    summary: str = ""

    def load(self) -> Any:
        return load_object(self.impl)


@runtime_checkable
class Agent(Protocol):
    """A learning agent, as the harness drives it."""

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        """Train for ``total_steps`` environment steps, calling ``callback`` regularly."""

    def act(self, obs: np.ndarray, deterministic: bool = True) -> Any:
        """Action for one raw (unnormalised) observation of a single environment."""

    def save(self, path: Path) -> None:
        """Write everything needed to act again into the directory ``path``."""

    # Optional, for batched evaluation (see harness.evaluation):
    # def act_batch(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
    #     """Actions for a batch of raw observations, one row per environment."""


class AlgorithmImpl(Protocol):
    """The implementation object an :class:`AlgorithmSpec` points to."""

    Params: type
    presets: Mapping[str, Mapping[str, Mapping[str, Any]]]
    """``preset name -> environment name (or "*") -> parameter overrides``."""

    def make_agent(self, params: Any, ctx: RunContext) -> Agent: ...

    # Optional, for `harness replay` and reloading stored models:
    # def load_agent(self, params: Any, ctx: RunContext, path: Path) -> Agent: ...


class ShaperImpl(Protocol):
    """The implementation object a :class:`ShaperSpec` points to."""

    Params: type
    presets: Mapping[str, Mapping[str, Any]]

    def wrap(self, env: Any, params: Any) -> Any: ...


@dataclass
class RunContext:
    """What an agent gets from the harness besides its hyperparameters."""

    env_name: str
    seed: int
    device: str
    make_env: Callable[[int], Any]
    """``make_env(index)``: a fresh, shaped, seeded training environment."""
    env_seeds: Callable[[int], list[int]] = field(repr=False, default=lambda n: list(range(n)))
    """``env_seeds(n)``: the reset seeds the harness derived for ``n`` envs."""
    vector_env: Callable[[int], Any] | None = field(repr=False, default=None)
    """``vector_env(n)``: a fast backend's vector env (see harness.vector); None: SyncVectorEnv."""

    def make_vec_env(self, n: int) -> Any:
        """``n`` training environments in one in-process vector env (the suite's ``vector`` backend).

        Autoreset happens in the same step (the final observation is in
        ``info["final_obs"]``), the convention SB3 and most algorithms use.
        """
        import gymnasium as gym

        if self.vector_env is not None:
            return self.vector_env(n)
        return gym.vector.SyncVectorEnv(
            [lambda i=i: self.make_env(i) for i in range(n)],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )
