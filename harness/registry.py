"""Plugin discovery (pluggy, entry-point group ``harness``) and lookup by name."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from typing import Any

import pluggy

from harness import hookspecs
from harness.api import AlgorithmSpec, EnvironmentSpec, ExecutorSpec, ReportSectionSpec, ShaperSpec

#: kind -> (hook name, spec class)
KINDS: dict[str, tuple[str, type]] = {
    "algorithm": ("harness_register_algorithms", AlgorithmSpec),
    "environment": ("harness_register_environments", EnvironmentSpec),
    "shaper": ("harness_register_shapers", ShaperSpec),
    "executor": ("harness_register_executors", ExecutorSpec),
    "report_section": ("harness_register_report_sections", ReportSectionSpec),
}

#: Extra plugin modules to register, comma separated (like ``PYTEST_PLUGINS``).
PLUGINS_ENV = "HARNESS_PLUGINS"
#: Set to ``1`` to skip entry-point discovery (tests register plugins themselves).
DISABLE_AUTOLOAD_ENV = "HARNESS_DISABLE_PLUGIN_AUTOLOAD"


class PluginError(Exception):
    """A plugin problem the user must fix (duplicate or unknown name)."""


@dataclass(frozen=True)
class Provider:
    """Who registered a plugin: module, distribution and its version."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.plugin} ({self.distribution} {self.version})"


@dataclass(frozen=True)
class Entry:
    kind: str
    spec: Any
    provider: Provider

    @property
    def name(self) -> str:
        return self.spec.name


def make_plugin_manager(
    load_entrypoints: bool | None = None, modules: Iterable[str] = ()
) -> pluggy.PluginManager:
    """A plugin manager with entry-point plugins and ``modules`` registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if load_entrypoints is None:
        load_entrypoints = os.environ.get(DISABLE_AUTOLOAD_ENV, "") not in ("1", "true")
    if load_entrypoints:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    extra = [m for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    for name in [*extra, *modules]:
        module = import_module(name.strip())
        if not pm.is_registered(module):
            pm.register(module, name=name.strip())
    return pm


class Registry:
    """Everything the plugins registered, by kind and name."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        for kind, (hook_name, spec_class) in KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                provider = _provider(pm, impl.plugin, dists.get(id(impl.plugin)))
                register = self._register_callback(kind, spec_class, provider)
                impl.function(*([register] if impl.argnames else []))

    def _register_callback(self, kind: str, spec_class: type, provider: Provider):
        def register(spec: Any) -> None:
            if not isinstance(spec, spec_class):
                raise PluginError(
                    f"{provider} registered a {type(spec).__name__} as a {kind}; "
                    f"expected {spec_class.__name__}"
                )
            taken = self._entries[kind].get(spec.name)
            if taken is not None:
                raise PluginError(
                    f"{kind} {spec.name!r} is registered twice: by {taken.provider} "
                    f"and by {provider}"
                )
            self._entries[kind][spec.name] = Entry(kind, spec, provider)

        return register

    def entries(self, kind: str | None = None) -> list[Entry]:
        kinds = [kind] if kind else list(KINDS)
        return [e for k in kinds for e in sorted(self._entries[k].values(), key=lambda e: e.name)]

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def has(self, kind: str, name: str) -> bool:
        return name in self._entries[kind]

    def entry(self, kind: str, name: str) -> Entry:
        try:
            return self._entries[kind][name]
        except KeyError:
            raise PluginError(unknown_name_message(kind, name, self.names(kind))) from None

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).spec


def unknown_name_message(kind: str, name: str, allowed: list[str]) -> str:
    """``unknown algorithm 'x'; did you mean 'y'? (allowed: ...)``."""
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(allowed[:30]) + (", ..." if len(allowed) > 30 else "")
    return f"unknown {kind} {name!r}{hint} (allowed: {shown or 'none registered'})"


def _provider(pm: pluggy.PluginManager, plugin: object, dist: Any) -> Provider:
    name = pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))
    if dist is None:
        return Provider(name, "(not installed)", "-")
    return Provider(name, dist.metadata["name"], dist.version)


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of installed plugins (plus ``HARNESS_PLUGINS`` modules)."""
    return Registry(make_plugin_manager())
