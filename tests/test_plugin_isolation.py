"""A broken plugin is reported, not fatal; a running suite keeps the plugin set it started with."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.registry import Registry, make_plugin_manager, snapshot_registry
from harness.tracking import Tracker
from tests.conftest import harness_env, pip_install_target, run_cli, toy_suite, write_suite

BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "harness-broken-plugin"
version = "0.0.1"

[project.entry-points.harness]
typo = "harness_broken_typo"
clash = "harness_clash"

[tool.setuptools]
py-modules = ["harness_clash"]
"""

# Registers a name the toy plugin already has: loading it in a worker would make every run fail.
CLASH = """
from harness.api import AlgorithmSpec
from harness.hookspecs import hookimpl

@hookimpl
def harness_register_algorithms(register):
    register(AlgorithmSpec("toy.search", "harness_clash:nothing"))
"""


def install_broken(site: Path, source: Path) -> None:
    """pip-install a package with a mistyped entry point and a clashing one into ``site``."""
    source.mkdir(exist_ok=True)
    (source / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (source / "harness_clash.py").write_text(textwrap.dedent(CLASH))
    pip_install_target(site, source)


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken")
    install_broken(folder / "site", folder / "src")
    env = harness_env(PYTHONPATH=str(folder / "site"))
    env.pop("HARNESS_PLUGINS")
    return env


def test_plugins_lists_the_broken_entry_point_and_everything_else(tmp_path, broken_env):
    result = run_cli("plugins", cwd=tmp_path, env=broken_env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    line = next(line for line in result.stdout.splitlines() if "typo" in line)
    assert "harness-broken-plugin" in line and "BROKEN: ModuleNotFoundError: No module named 'harness_broken_typo'" in line
    assert "sb3.ppo" in result.stdout and "local" in result.stdout

    rows = json.loads(run_cli("plugins", "--json", cwd=tmp_path, env=broken_env).stdout)
    broken = {r["name"]: r for r in rows if r["status"] == "broken"}
    assert broken["typo"]["distribution"] == "harness-broken-plugin" and "harness_broken_typo" in broken["typo"]["error"]
    assert any(r["name"] == "sb3.ppo" and r["status"] == "ok" for r in rows)


def test_a_suite_using_a_broken_plugin_fails_validation(tmp_path, broken_env):
    suite = write_suite(tmp_path, 'name = "b"\nseeds = 1\nbudget = 1000\n[[algorithms]]\nname = "typo.algo"\n'
                                  '[[environments]]\nname = "CartPole-v1"\n')
    result = run_cli("validate", str(suite), cwd=tmp_path, env=broken_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "algorithms[0].name: unknown algorithm 'typo.algo'" in result.stderr
    assert "not loaded: typo (harness-broken-plugin 0.0.1): ModuleNotFoundError" in result.stderr
    fine = write_suite(tmp_path, 'name = "f"\nseeds = 1\nbudget = 1000\n[[algorithms]]\nname = "sb3.ppo"\n'
                                 '[[environments]]\nname = "CartPole-v1"\n', name="fine.toml")
    assert run_cli("validate", str(fine), cwd=tmp_path, env=broken_env).returncode == 0


def test_a_hook_that_raises_marks_only_its_plugin_broken(make_registry):
    from harness.api import AlgorithmSpec, ShaperSpec
    from harness.hookspecs import hookimpl

    class Good:
        @hookimpl
        def harness_register_algorithms(self, register):
            register(AlgorithmSpec("good", "x:y"))

    class Bad:
        @hookimpl
        def harness_register_algorithms(self, register):
            register(AlgorithmSpec("half", "x:y"))
            raise KeyError("oops")

    class WrongType:
        @hookimpl
        def harness_register_shapers(self, register):
            register(AlgorithmSpec("nope", "x:y"))

    registry = make_registry(Good(), Bad(), WrongType())
    assert registry.names("algorithm") == ["good"] and registry.names("shaper") == []
    errors = sorted(b.error for b in registry.broken)
    assert errors == ["KeyError: 'oops'", "PluginError: registered a AlgorithmSpec as a shaper; expected ShaperSpec"]


def test_snapshot_ignores_plugins_installed_later(tmp_path, monkeypatch):
    before = Registry(make_plugin_manager())
    site = tmp_path / "site"
    install_broken(site, tmp_path / "src")
    monkeypatch.syspath_prepend(str(site))
    fresh = make_plugin_manager()
    assert "typo" in {b.plugin for b in fresh.broken}
    snapshot = snapshot_registry(before.snapshot())
    assert not snapshot.broken
    assert snapshot.names("algorithm") == before.names("algorithm")
    assert [e.provider for e in snapshot.entries()] == [e.provider for e in before.entries()]


def _started(tracker: Tracker) -> list:
    """Runs a worker has begun (it logs the params first; the driver's claims of waiting runs have none)."""
    return [run for run in tracker.runs(tracker.experiment_id("mid")) if run.data.params]


def test_installing_a_broken_plugin_mid_suite_changes_no_run(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    env = harness_env(PYTHONPATH=str(site))
    suite = toy_suite(tmp_path, name="mid", seeds=6, budget=1500, extra="params = { sleep_per_step = 0.002 }")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker(uri).experiment_id("mid")  # create the store now: polling one being migrated races the CLI
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(suite), "--workers", "2", "--no-report"],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    tracker = Tracker(uri)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not _started(tracker):
        time.sleep(0.3)
    install_broken(site, tmp_path / "src")
    started_after = 6 - len(_started(tracker))
    assert proc.wait(timeout=300) == 0, (tmp_path / "run.log").read_text()[-3000:]
    log.close()
    assert started_after >= 2, "the install should land before most runs start"
    runs = tracker.runs(tracker.experiment_id("mid"))
    assert len(runs) == 6 and all(r.info.status == "FINISHED" for r in runs)
    check = run_cli("plugins", cwd=tmp_path, env=env)  # a new command does see it
    assert check.returncode == 2 and "'toy.search' is registered twice" in check.stderr, check.stderr
