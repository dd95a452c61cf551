"""Suite validation against the installed plugins, and expansion into RunSpecs.

Pure: nothing here starts a run or touches MLflow.  Every problem is collected
as a one-line :class:`ConfigError` naming the file and key.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import MAX_RUNS, AlgorithmEntry, SuiteConfig, parse_suite
from harness.errors import ConfigError, SuiteErrors
from harness.params import ParamsError, build_params, params_dict, preset_overrides
from harness.registry import PluginError, Registry
from harness.spec import RunSpec


@dataclass(frozen=True)
class Suite:
    path: Path
    config: SuiteConfig
    runs: list[RunSpec]
    file_hash: str

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def bank_files(self) -> list[Path]:
        """The suite's ``[bank] files``, resolved against the suite file's folder."""
        return [bank_path(self.path, name) for name in self.config.bank.files]


def bank_path(suite_path: Path, name: str) -> Path:
    """A ``[bank] files`` entry, resolved against the suite file's folder."""
    return Path(os.path.normpath(suite_path.parent / name))


def load_suite(path: Path | str, registry: Registry) -> Suite:
    """Parse, validate and expand a suite file; raise SuiteErrors listing every problem."""
    path = Path(path)
    config = parse_suite(path)
    checker = _Checker(path, config, registry)
    runs = checker.expand()
    if checker.errors:
        raise SuiteErrors(checker.errors)
    return Suite(path, config, runs, hashlib.sha256(path.read_bytes()).hexdigest()[:16])


class _Checker:
    def __init__(self, path: Path, config: SuiteConfig, registry: Registry):
        self.path, self.config, self.registry = path, config, registry
        self.errors: list[ConfigError] = []
        self._spaces: dict[str, tuple[str, str] | None] = {}

    def error(self, key: str, message: str) -> None:
        self.errors.append(ConfigError(self.path, key, message))

    def expand(self) -> list[RunSpec]:
        cfg = self.config
        if not self._check_size():
            return []
        self._check_references()
        self._check_device()
        self._check_bank_files()
        shapings = [(s.label, self._shaping(i)) for i, s in enumerate(cfg.shapers)]
        envs = [(i, e, self._env_spaces(i, shapings)) for i, e in enumerate(cfg.environments)]
        runs: list[RunSpec] = []
        for a_index, entry in enumerate(cfg.algorithms):
            loaded = self._algorithm(a_index, entry)
            if loaded is None:
                continue
            algorithm = loaded[0]
            for e_index, env, spaces in envs:
                if entry.environments is not None and env.key not in entry.environments:
                    continue
                params = self._params(a_index, entry, loaded, env.name, spaces)
                if params is None:
                    continue
                vector = env.vector if algorithm.uses_vector_env else "sync"
                for label, steps in shapings:
                    for seed in cfg.seeds:
                        runs.append(self._run_spec(entry, params, env, label, steps or [], seed, vector))
        self._check_distinct(runs)
        return runs

    def _check_bank_files(self) -> None:
        for index, name in enumerate(self.config.bank.files):
            if not (path := bank_path(self.path, name)).is_file():
                self.error(f"bank.files[{index}]", f"no such file: {path}")

    def _check_size(self) -> bool:
        """Refuse a suite that would expand beyond MAX_RUNS runs, before building any of them."""
        cfg = self.config
        pairs = sum(len(cfg.environments) if a.environments is None else len(set(a.environments))
                    for a in cfg.algorithms)
        count = pairs * len(cfg.shapers) * len(cfg.seeds)
        if count > MAX_RUNS:
            self.error("", f"the suite expands to {count:,} runs (algorithms x environments x shapings x seeds); "
                           f"the limit is {MAX_RUNS:,}")
        return count <= MAX_RUNS

    def _check_distinct(self, runs: list[RunSpec]) -> None:
        """Labels stay out of the run_key, so two entries that train the same thing would collide."""
        seen: dict[str, RunSpec] = {}
        for run in runs:
            other = seen.setdefault(run.run_key, run)
            if other is not run:
                self.error("algorithms", f"{other.title!r} and {run.title!r} are the same run (same algorithm, "
                           "parameters, environment, shaping and seed); drop one or change its parameters")
                return

    def _run_spec(self, entry: AlgorithmEntry, params, env, shaping, steps, seed, vector: str) -> RunSpec:
        cfg = self.config
        return RunSpec(
            suite=cfg.name,
            algorithm=entry.name,
            algorithm_label=entry.key,
            params=params,
            env=env.name,
            env_label=env.key,
            env_kwargs=dict(env.kwargs),
            shaping=shaping,
            shapers=steps,
            seed=seed,
            budget=env.budget or cfg.budget,
            evaluation=cfg.evaluation.model_dump(),
            device=cfg.device,
            timeout=cfg.timeout,
            baseline=entry.baseline or (cfg.baseline if cfg.baseline != entry.key else None),
            baseline_shaping=cfg.baseline_shaping,
            vector=vector,
        )

    def _check_references(self) -> None:
        cfg = self.config
        algorithm_keys = [a.key for a in cfg.algorithms]
        env_keys = [e.key for e in cfg.environments]
        if cfg.baseline is not None and cfg.baseline not in algorithm_keys:
            self.error("baseline", f"{cfg.baseline!r} is not an algorithm label of this suite (allowed: {', '.join(algorithm_keys)})")
        labels = [s.label for s in cfg.shapers]
        if cfg.baseline_shaping is not None and cfg.baseline_shaping not in labels:
            self.error("baseline_shaping", f"{cfg.baseline_shaping!r} is not a shaping label (allowed: {', '.join(labels)})")
        if not self.registry.has("executor", cfg.executor) and self.registry.names("executor"):
            self._lookup("executor", "executor", cfg.executor)
        for i, entry in enumerate(cfg.algorithms):
            if entry.baseline is not None and entry.baseline not in algorithm_keys:
                self.error(f"algorithms[{i}].baseline", f"{entry.baseline!r} is not an algorithm label (allowed: {', '.join(algorithm_keys)})")
            for name in entry.environments or []:
                if name not in env_keys:
                    self.error(f"algorithms[{i}].environments", f"{name!r} is not an environment label (allowed: {', '.join(env_keys)})")

    def _check_device(self) -> None:
        device = self.config.device
        if device.startswith("cuda"):
            import torch

            index = int(device.partition(":")[2] or 0)
            if not torch.cuda.is_available() or index >= torch.cuda.device_count():
                self.error("device", f"{device!r} requested but no such CUDA device is available (allowed here: auto, cpu)")

    def _lookup(self, key: str, kind: str, name: str) -> Any:
        try:
            return self.registry.get(kind, name)
        except PluginError as error:
            self.error(key, str(error))
            return None

    def _algorithm(self, index: int, entry: AlgorithmEntry):
        spec = self._lookup(f"algorithms[{index}].name", "algorithm", entry.name)
        if spec is None:
            return None
        try:
            impl = spec.load()
        except Exception as error:  # a broken plugin is a user-facing problem, not a crash
            self.error(f"algorithms[{index}].name", f"cannot load {spec.impl}: {type(error).__name__}: {error}")
            return None
        return spec, impl

    def _env_spaces(self, index: int, shapings) -> tuple[str, str] | None:
        from harness.envs import make_base_env, resolve_env
        from harness.vector import vector_problem

        entry = self.config.environments[index]
        try:
            spec = resolve_env(self.registry, entry.name)
        except PluginError as error:
            self.error(f"environments[{index}].name", str(error))
            return None
        try:
            env = make_base_env(spec, dict(entry.kwargs))
        except Exception as error:
            self.error(f"environments[{index}].kwargs", f"cannot make {entry.name!r}: {type(error).__name__}: {error}")
            return None
        spaces = (type(env.observation_space).__name__, type(env.action_space).__name__)
        if problem := vector_problem(entry.vector, entry.name):
            self.error(f"environments[{index}].vector", problem)
        self._probe_shapers(entry.key, env, shapings)
        env.close()
        return spaces

    def _probe_shapers(self, env_label: str, env: Any, shapings) -> None:
        """Wrap the env once with every shaping, so a shaper that cannot fit it fails now."""
        from harness.envs import apply_shapers

        for s_index, (_, steps) in enumerate(shapings):
            try:
                apply_shapers(self.registry, env, steps or [])
            except Exception as error:
                self.error(f"shapers[{s_index}]", f"cannot shape {env_label!r}: {type(error).__name__}: {error}")

    def _shaping(self, index: int) -> list[dict[str, Any]] | None:
        steps = []
        for j, step in enumerate(self.config.shapers[index].steps):
            key = f"shapers[{index}].steps[{j}]"
            spec = self._lookup(f"{key}.name", "shaper", step.name)
            if spec is None:
                return None
            try:
                impl = spec.load()
            except Exception as error:  # a broken plugin is a user-facing problem, not a crash
                self.error(f"{key}.name", f"cannot load {spec.impl}: {type(error).__name__}: {error}")
                return None
            try:
                overrides = preset_overrides({k: {"*": v} for k, v in impl.presets.items()}, step.preset, "*")
                params = build_params(impl.Params, {**overrides, **step.params})
            except ParamsError as error:
                self.error(f"{key}.{_params_key(error)}", str(error))
                return None
            steps.append({"name": step.name, "params": params_dict(params)})
        return steps

    def _params(self, index: int, entry: AlgorithmEntry, loaded, env_name: str, spaces) -> dict | None:
        spec, impl = loaded
        key = f"algorithms[{index}]"
        if spaces is not None:
            obs_space, action_space = spaces
            if action_space not in spec.action_spaces:
                self.error(f"{key}.name", f"{spec.name} cannot handle {env_name}'s {action_space} action space (it handles: {', '.join(spec.action_spaces)})")
                return None
            if obs_space not in spec.observation_spaces:
                self.error(f"{key}.name", f"{spec.name} cannot handle {env_name}'s {obs_space} observation space (it handles: {', '.join(spec.observation_spaces)})")
                return None
        try:
            overrides = preset_overrides(impl.presets, entry.preset, env_name)
            return params_dict(build_params(impl.Params, {**overrides, **entry.params}))
        except ParamsError as error:
            self.error(f"{key}.{_params_key(error)}", str(error))
            return None


def _params_key(error: ParamsError) -> str:
    """Where a ParamsError points: ``preset``, ``params`` or ``params.<field>``."""
    if error.key == "preset":
        return "preset"
    return f"params.{error.key}" if error.key else "params"
