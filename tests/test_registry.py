"""Plugin discovery: listing, provenance, duplicate and unknown names."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from harness.api import AlgorithmSpec, EnvironmentSpec, ShaperSpec
from harness.hookspecs import hookimpl
from harness.registry import PluginError, default_registry
from tests.conftest import ROOT


def plugin(name: str, algorithms=(), environments=(), shapers=()) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def harness_register_algorithms(register):
        for spec in algorithms:
            register(spec)

    @hookimpl
    def harness_register_environments(register):
        for spec in environments:
            register(spec)

    @hookimpl
    def harness_register_shapers(register):
        for spec in shapers:
            register(spec)

    module.harness_register_algorithms = harness_register_algorithms
    module.harness_register_environments = harness_register_environments
    module.harness_register_shapers = harness_register_shapers
    return module


def test_registers_every_kind(make_registry):
    registry = make_registry(plugin(
        "p", [AlgorithmSpec("a", "x:y")], [EnvironmentSpec("E-v0", solved_threshold=1.0)], [ShaperSpec("s", "x:z")],
    ))
    assert registry.names("algorithm") == ["a"]
    assert registry.get("environment", "E-v0").solved_threshold == 1.0
    assert [e.kind for e in registry.entries()] == ["algorithm", "environment", "shaper"]


def test_duplicate_names_name_both_providers(make_registry):
    first = plugin("first_plugin", [AlgorithmSpec("same", "x:y")])
    second = plugin("second_plugin", [AlgorithmSpec("same", "x:z")])
    with pytest.raises(PluginError) as error:
        make_registry(first, second)
    message = str(error.value)
    assert "'same' is registered twice" in message
    assert "first_plugin" in message and "second_plugin" in message


def test_unknown_name_suggests_the_closest(make_registry):
    registry = make_registry(plugin("p", [AlgorithmSpec("sb3.ppo", "x:y"), AlgorithmSpec("sb3.a2c", "x:y")]))
    with pytest.raises(PluginError, match=r"unknown algorithm 'sb3.ppoo'; did you mean 'sb3.ppo'\?"):
        registry.get("algorithm", "sb3.ppoo")


def test_wrong_spec_type_marks_the_plugin_broken(make_registry):
    registry = make_registry(plugin("p", [ShaperSpec("s", "x:y")]), plugin("q", [AlgorithmSpec("a", "x:y")]))
    assert registry.names("algorithm") == ["a"] and registry.names("shaper") == []
    assert [b.plugin for b in registry.broken] == ["p"] and "expected AlgorithmSpec" in registry.broken[0].error


def test_builtins_come_through_entry_points():
    entries = {(e.kind, e.name): e for e in default_registry().entries()}
    assert ("executor", "local") in entries
    assert ("algorithm", "sb3.ppo") in entries
    assert entries[("algorithm", "sb3.ppo")].provider.distribution == "harness"


def test_plugins_json_lists_without_importing_torch():
    code = (
        "import sys, io, contextlib; from harness.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out): main(['plugins', '--json'])\n"
        "assert 'torch' not in sys.modules, 'harness plugins imported torch'\n"
        "assert 'stable_baselines3' not in sys.modules\n"
        "print(out.getvalue())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {"kind", "name", "distribution", "version"} <= set(rows[0])
    assert any(r["name"] == "sb3.ppo" and r["kind"] == "algorithm" for r in rows)
