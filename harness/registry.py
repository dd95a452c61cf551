"""Plugin discovery (pluggy, entry-point group ``harness``) and lookup by name."""

from __future__ import annotations

import difflib
import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pluggy

from harness import hookspecs
from harness.api import AlgorithmSpec, EnvironmentSpec, ExecutorSpec, ReportSectionSpec, ShaperSpec, load_object
from harness.errors import short

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


@dataclass(frozen=True)
class PluginRef:
    """How to load one plugin again in another process: ``module`` or ``module:attribute``."""

    name: str
    value: str
    distribution: str = "(not installed)"
    version: str = "-"


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed to load or to register; the others work without it."""

    plugin: str
    distribution: str
    version: str
    error: str
    """One line: ``ExceptionType: message``."""

    def __str__(self) -> str:
        return f"{self.plugin} ({self.distribution} {self.version}): {self.error}"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager that loads each plugin on its own and keeps the ones that failed aside."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.refs: dict[int, PluginRef] = {}
        self.broken: list[BrokenPlugin] = []

    def load(self, ref: PluginRef) -> None:
        """Import and register one plugin; a failure is recorded in ``broken``, never raised."""
        if self.get_plugin(ref.name) is not None or self.is_blocked(ref.name):
            return
        try:
            plugin = load_object(ref.value)
            if self.is_registered(plugin):
                return
            self.register(plugin, name=ref.name)
        except Exception as error:  # any import-time error of a third-party package
            self.broken.append(BrokenPlugin(ref.name, ref.distribution, ref.version, one_line(error)))
            return
        self.refs[id(plugin)] = ref


def one_line(error: BaseException) -> str:
    """``Type: first line of the message``."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def entry_point_refs() -> list[PluginRef]:
    """Every installed entry point of the ``harness`` group, with its distribution."""
    refs = []
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == hookspecs.PROJECT:
                refs.append(PluginRef(ep.name, ep.value, dist.metadata["name"], dist.version))
    return refs


def make_plugin_manager(
    load_entrypoints: bool | None = None, modules: Iterable[str] = ()
) -> PluginManager:
    """A plugin manager with entry-point plugins and ``modules`` registered, each loaded on its own."""
    pm = PluginManager()
    if load_entrypoints is None:
        load_entrypoints = os.environ.get(DISABLE_AUTOLOAD_ENV, "") not in ("1", "true")
    refs = entry_point_refs() if load_entrypoints else []
    extra = [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    refs += [PluginRef(name, name) for name in [*extra, *(m.strip() for m in modules)]]
    for ref in refs:
        pm.load(ref)
    return pm


class Registry:
    """Everything the plugins registered, by kind and name; ``broken`` lists the plugins that failed."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        self.broken: list[BrokenPlugin] = list(getattr(pm, "broken", []))
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        for kind, (hook_name, spec_class) in KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                provider = _provider(pm, impl.plugin)
                if any(b.plugin == provider.plugin for b in self.broken):
                    continue
                self._call_hook(kind, spec_class, provider, impl)

    def _call_hook(self, kind: str, spec_class: type, provider: Provider, impl: Any) -> None:
        """Collect one plugin's registrations; if its hook raises, none of them count."""
        collected: list[Any] = []
        try:
            impl.function(*([collected.append] if impl.argnames else []))
            for spec in collected:
                if not isinstance(spec, spec_class):
                    raise PluginError(f"registered a {type(spec).__name__} as a {kind}; expected {spec_class.__name__}")
        except Exception as error:
            self.broken.append(BrokenPlugin(provider.plugin, provider.distribution, provider.version, one_line(error)))
            for entries in self._entries.values():  # drop what it registered through other hooks
                for name in [n for n, e in entries.items() if e.provider == provider]:
                    del entries[name]
            return
        for spec in collected:
            self._add(kind, spec, provider)

    def _add(self, kind: str, spec: Any, provider: Provider) -> None:
        taken = self._entries[kind].get(spec.name)
        if taken is not None:
            raise PluginError(
                f"{kind} {spec.name!r} is registered twice: by {taken.provider} and by {provider}"
            )
        self._entries[kind][spec.name] = Entry(kind, spec, provider)

    def snapshot(self) -> tuple[PluginRef, ...]:
        """The plugins this registry loaded, for workers to load exactly these (and no newly installed ones)."""
        refs = getattr(self.pm, "refs", {})
        return tuple(refs[id(plugin)] for _, plugin in self.pm.list_name_plugin()
                     if id(plugin) in refs and not any(b.plugin == refs[id(plugin)].name for b in self.broken))

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
            raise PluginError(unknown_name_message(kind, name, self.names(kind)) + self.broken_hint()) from None

    def broken_hint(self) -> str:
        """``; not loaded: ...`` naming the broken plugins (empty when none), for unknown-name errors."""
        return "; not loaded: " + "; ".join(map(str, self.broken)) if self.broken else ""

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).spec


def unknown_name_message(kind: str, name: str, allowed: list[str]) -> str:
    """``unknown algorithm 'x'; did you mean 'y'? (allowed: ...)``."""
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5) if len(name) <= 200 else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(allowed[:30]) + (", ..." if len(allowed) > 30 else "")
    return f"unknown {kind} {short(name)}{hint} (allowed: {shown or 'none registered'})"


def _provider(pm: pluggy.PluginManager, plugin: object) -> Provider:
    name = pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))
    ref = getattr(pm, "refs", {}).get(id(plugin))
    if ref is None:
        return Provider(name, "(not installed)", "-")
    return Provider(name, ref.distribution, ref.version)


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of installed plugins (plus ``HARNESS_PLUGINS`` modules)."""
    return Registry(make_plugin_manager())


@lru_cache(maxsize=4)
def snapshot_registry(refs: tuple[PluginRef, ...]) -> Registry:
    """The registry of exactly these plugins (a driver's :meth:`Registry.snapshot`), ignoring what is installed now."""
    pm = PluginManager()
    for ref in refs:
        pm.load(ref)
    return Registry(pm)
