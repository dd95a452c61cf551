"""``harness plugins --check``: import every implementation, build its parameters and presets, check specs.

Each problem is one line ``kind name (distribution): what is wrong``; with ``kit=True`` every
algorithm also runs the conformance kit briefly on an environment it supports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from harness.api import SPACE_NAMES, load_object
from harness.params import ParamsError, build_params, field_docs, required_fields
from harness.registry import Entry, Registry

#: Environments tried, in order, for an algorithm's conformance check (the first whose spaces it handles).
KIT_ENVS = ("CartPole-v1", "Pendulum-v1", "FrozenLake-v1")


def check_plugins(registry: Registry, kit: bool = False, kit_steps: int = 500) -> list[str]:
    """Every problem found, one line each (empty: all good)."""
    problems = [f"plugin {b.plugin} ({b.distribution} {b.version}): failed to load: {b.error}" for b in registry.broken]
    checks: dict[str, Callable[[Registry, Any], Iterator[str]]] = {
        "algorithm": _algorithm, "shaper": _shaper, "environment": _environment,
        "executor": _loads, "report_section": _loads,
    }
    for entry in registry.entries():
        found = list(_guarded(checks[entry.kind], registry, entry.spec))
        if kit and entry.kind == "algorithm" and not found:
            found = list(_guarded(lambda r, s: _kit(r, s, kit_steps), registry, entry.spec))
        problems += [f"{entry.kind} {entry.name} ({entry.provider.distribution}): {p}" for p in found]
    return problems


def _guarded(check: Callable[[Registry, Any], Iterator[str]], registry: Registry, spec: Any) -> Iterator[str]:
    try:
        yield from check(registry, spec)
    except Exception as error:  # whatever a plugin does wrong becomes one line
        yield f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"


def _algorithm(registry: Registry, spec: Any) -> Iterator[str]:
    for field, spaces in (("action_spaces", spec.action_spaces), ("observation_spaces", spec.observation_spaces)):
        unknown = [s for s in spaces if s not in SPACE_NAMES]
        if unknown:
            yield f"{field} {unknown} are not gymnasium spaces (allowed: {', '.join(SPACE_NAMES)})"
    impl = spec.load()
    missing = [m for m in ("Params", "presets", "make_agent") if not hasattr(impl, m)]
    if missing:
        yield f"{spec.impl} has no {', '.join(missing)}"
        return
    yield from _params(impl.Params)
    for preset, table in impl.presets.items():
        if not isinstance(table, Mapping) or not all(isinstance(v, Mapping) for v in table.values()):
            yield f"preset {preset!r} must map environment names (or '*') to parameter tables"
            continue
        for env, values in table.items():
            yield from _builds(impl.Params, {**table.get("*", {}), **values}, f"preset {preset!r} for {env!r}")


def _shaper(registry: Registry, spec: Any) -> Iterator[str]:
    impl = spec.load()
    missing = [m for m in ("Params", "presets", "wrap") if not hasattr(impl, m)]
    if missing:
        yield f"{spec.impl} has no {', '.join(missing)}"
        return
    yield from _params(impl.Params)
    for preset, values in impl.presets.items():
        if not isinstance(values, Mapping) or any(isinstance(v, Mapping) for v in values.values()):
            yield f"preset {preset!r} must map parameter names to values (shaper presets have no environment level)"
            continue
        yield from _builds(impl.Params, values, f"preset {preset!r}")


def _params(params_class: Any) -> Iterator[str]:
    if not dataclasses.is_dataclass(params_class):
        yield "Params is not a dataclass"
        return
    undocumented = [name for name, doc in field_docs(params_class).items() if not doc]
    if undocumented:
        yield f"Params fields without a doc: {', '.join(undocumented)} (field(..., metadata={{'doc': ...}}))"
    yield from _builds(params_class, {}, "Params()")


def _builds(params_class: Any, values: Mapping[str, Any], what: str) -> Iterator[str]:
    """Build ``Params`` from ``values``; with required fields unset, check only the names."""
    if set(required_fields(params_class)) - set(values):
        names = {f.name for f in dataclasses.fields(params_class)}
        unknown = sorted(set(values) - names)
        if unknown:
            yield f"{what}: unknown parameter(s) {', '.join(unknown)}"
        return
    try:
        build_params(params_class, values)
    except ParamsError as error:
        yield f"{what}: {error.key + ': ' if error.key else ''}{error}"


def _environment(registry: Registry, spec: Any) -> Iterator[str]:
    if spec.make is not None and not callable(load_object(spec.make)):
        yield f"make {spec.make!r} is not callable"
    for field in ("random_score", "solved_threshold"):
        if getattr(spec, field) is not None and not isinstance(getattr(spec, field), (int, float)):
            yield f"{field} must be a number"


def _loads(registry: Registry, spec: Any) -> Iterator[str]:
    spec.load()
    return iter(())


def _kit(registry: Registry, spec: Any, steps: int) -> Iterator[str]:
    from harness.envs import make_base_env, resolve_env
    from harness.testing import check_algorithm

    for env_name in KIT_ENVS:
        env = make_base_env(resolve_env(registry, env_name), {})
        fits = (type(env.action_space).__name__ in spec.action_spaces
                and type(env.observation_space).__name__ in spec.observation_spaces)
        env.close()
        if fits:
            check_algorithm(spec.name, env_name, steps=steps, registry=registry, plays_episodes=False)
            return
    yield f"conformance kit skipped: none of {', '.join(KIT_ENVS)} fits its spaces"
