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
#: The stopping contract: it returns ``False`` when the harness wants training to stop (timeout,
#: non-finite metric, failed evaluation); ``learn`` should then return.  If ``learn`` calls it
#: again anyway, it raises :class:`StopTraining`.
StepCallback = Callable[[int, Mapping[str, float]], bool]


class StopTraining(BaseException):
    """Raised by the harness's callback when ``learn`` goes on after the callback returned ``False``.

    A ``BaseException``, so that an ``except Exception`` inside ``learn`` does not swallow it.
    """

SPACE_NAMES = ("Discrete", "Box", "MultiDiscrete", "MultiBinary")


#: Report-section types, importable from here but loaded on first use (they import pandas).
_REPORT_TYPES = {"SectionData": "harness.report.extra", "ReportSection": "harness.report.extra",
                 "Heading": "harness.report.render", "Text": "harness.report.render",
                 "Table": "harness.report.render", "Image": "harness.report.render"}


def __getattr__(name: str) -> Any:
    if name in _REPORT_TYPES:
        return getattr(importlib.import_module(_REPORT_TYPES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    """The name suites use (``[[algorithms]] name``), unique across plugins; e.g. ``example.cem``."""
    impl: str
    """Dotted ``module:attribute`` of the implementation (imported lazily)."""
    summary: str = ""
    """One line shown by ``harness plugins``."""
    action_spaces: tuple[str, ...] = ("Discrete", "Box")
    """Gymnasium action-space classes the algorithm handles."""
    observation_spaces: tuple[str, ...] = ("Box",)
    """Gymnasium observation-space classes the algorithm handles."""
    baseline: str | None = None
    """Informational: the SB3 algorithm this one is meant to be compared with (shown by ``harness describe``;
    the suite's ``baseline`` key decides what a report compares against)."""
    prefers_gpu: bool = False
    """True when ``device = "auto"`` should pick a GPU (e.g. image policies)."""
    uses_vector_env: bool = True
    """False when the algorithm never calls ``ctx.make_vec_env``: an environment's ``vector`` setting cannot
    change its results, so its runs keep ``sync`` (and the run keys they have without it)."""

    def load(self) -> AlgorithmImpl:
        return load_object(self.impl)


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an environment plugin registers.

    ``make`` is a dotted ``module:callable`` returning a ``gymnasium.Env``;
    ``None`` means ``gymnasium.make(name, **kwargs)``.
    """

    name: str
    """The name suites use (``[[environments]] name``)."""
    make: str | None = None
    """Dotted ``module:callable``; ``make(**kwargs) -> gymnasium.Env`` (``None``: ``gymnasium.make(name)``)."""
    summary: str = ""
    """One line shown by ``harness plugins``."""
    random_score: float | None = None
    """Mean return of a uniformly random policy (0 on the normalised scale)."""
    solved_threshold: float | None = None
    """Return at which the task counts as solved (1 on the normalised scale)."""
    max_episode_steps: int | None = None
    """Time limit added to ``gymnasium.make`` when ``make`` is ``None`` and the suite gives none
    (for gymnasium ids without one, e.g. CliffWalking)."""


@dataclass(frozen=True)
class ShaperSpec:
    """What a reward-shaper plugin registers."""

    name: str
    """The name suites use in ``[[shapers]] steps``."""
    impl: str
    """Dotted ``module:attribute`` of the implementation (imported lazily)."""
    summary: str = ""
    """One line shown by ``harness plugins``."""

    def load(self) -> ShaperImpl:
        return load_object(self.impl)


@dataclass(frozen=True)
class ExecutorSpec:
    """What an executor plugin registers: something that runs run specs.

    ``impl`` points to a class built as ``cls(workers=..., **options)`` with a
    ``run(tasks, on_event) -> None`` method; see :mod:`harness.executors`.
    """

    name: str
    """The name suites use (``executor = "..."``) and ``harness run --executor`` takes."""
    impl: str
    """Dotted ``module:attribute`` of the executor class."""
    summary: str = ""
    """One line shown by ``harness plugins``."""

    def load(self) -> Any:
        return load_object(self.impl)


@dataclass(frozen=True)
class ReportSectionSpec:
    """What a report-section plugin registers.

    ``impl`` points to ``section(data: SectionData) -> ReportSection | None``; both types, and the
    blocks ``Heading``, ``Text``, ``Table``, ``Image``, are importable from :mod:`harness.api`.
    """

    name: str
    """Name of the section (sections appear in name order)."""
    impl: str
    """Dotted ``module:callable`` of the section function."""
    summary: str = ""
    """One line shown by ``harness plugins``."""

    def load(self) -> Any:
        return load_object(self.impl)


@runtime_checkable
class Agent(Protocol):
    """A learning agent, as the harness drives it."""

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        """Train for ``total_steps`` environment steps, calling ``callback`` regularly."""

    def act(self, obs: np.ndarray, deterministic: bool = True) -> int | np.ndarray:
        """Action for one raw (unnormalised) observation of a single environment: an ``int`` (or numpy
        integer) for ``Discrete``, an ndarray of the space's shape for ``Box``, ``MultiDiscrete`` and
        ``MultiBinary`` (checked in evaluation: a wrong type or shape fails the run with ``ActionError``)."""

    def save(self, path: Path) -> None:
        """Write everything needed to act again into the directory ``path``."""

    # Optional, for batched evaluation (see harness.evaluation):
    # def act_batch(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
    #     """Actions for a batch of raw observations, one row per environment."""


class AlgorithmImpl(Protocol):
    """The implementation object an :class:`AlgorithmSpec` points to (usually the module itself).

    Optional: ``load_agent(params, ctx, path) -> Agent`` rebuilds what ``Agent.save`` wrote into
    ``path``; ``harness replay`` needs it, and the conformance kit checks it when present.
    """

    Params: type
    """A dataclass, one field per hyperparameter with ``field(default=..., metadata={"doc": "..."})``; a field
    without a default must be set by every suite (or preset)."""
    presets: Mapping[str, Mapping[str, Mapping[str, Any]]]
    """``preset name -> environment name (or "*" for any) -> parameter overrides``; a suite's
    ``preset = "zoo"`` on an environment the preset does not list (and without ``"*"``) is an error."""

    def make_agent(self, params: Any, ctx: RunContext) -> Agent:
        """A new agent for ``params`` (an instance of ``Params``) that trains on ``ctx.make_env`` environments."""


class ShaperImpl(Protocol):
    """The implementation object a :class:`ShaperSpec` points to."""

    Params: type
    """A dataclass of the shaper's parameters, documented like an algorithm's."""
    presets: Mapping[str, Mapping[str, Any]]
    """``preset name -> parameter overrides``: no environment level, unlike an algorithm's presets."""

    def wrap(self, env: Any, params: Any) -> Any:
        """``env`` wrapped in a ``gymnasium.Wrapper`` that changes only the reward the agent sees."""


@dataclass
class RunContext:
    """What an agent gets from the harness besides its hyperparameters."""

    env_name: str
    """The environment's name as the suite gives it."""
    seed: int
    """The run's seed; python, numpy and torch are seeded with it before ``make_agent``."""
    device: str
    """Resolved torch device (``cpu``, ``cuda:0``, ...)."""
    make_env: Callable[[int], Any]
    """``make_env(i)``: a new training environment, shaped, recording true returns, seeded with
    ``env_seeds(n)[i]`` on its first ``reset()`` (call ``reset()`` without a seed). Use ``i = 0..n-1`` for
    ``n`` parallel envs; the same ``i`` gives the same seed, so two envs need two indices."""
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
