"""Shared fixtures: temporary plugin registries and CLI runs in a scratch folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.registry import Registry, make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
TOY = "harness.testing.toy"
# The toy algorithm is available to in-process CLI calls and to every worker they start.
os.environ["HARNESS_PLUGINS"] = TOY
os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def make_registry(monkeypatch):
    """Build a registry from the given plugin modules/objects only (no autoload, no HARNESS_PLUGINS)."""
    monkeypatch.delenv("HARNESS_PLUGINS", raising=False)

    def build(*plugins: object) -> Registry:
        pm = make_plugin_manager(load_entrypoints=False)
        for plugin in plugins:
            pm.register(plugin)
        return Registry(pm)

    return build


def harness_env(**extra: str) -> dict[str, str]:
    """Environment for a `harness` subprocess: the toy plugin enabled, no inherited tracking URI."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["HARNESS_PLUGINS"] = TOY
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `harness ARGS` in ``cwd`` as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=cwd, env=env or harness_env(),
        capture_output=True, text=True, timeout=timeout,
    )


def pip_install_target(site: Path, *sources: Path) -> None:
    """``pip install --target site SOURCES`` without build isolation (no index), with the newest setuptools
    on the path (a venv's own bundled one may predate the built-in ``bdist_wheel``)."""
    import importlib.metadata

    newest = max(importlib.metadata.distributions(name="setuptools"),
                 key=lambda d: tuple(int(p) for p in d.version.split(".")[:2]))
    env = {**os.environ, "PYTHONPATH": str(newest.locate_file(""))}
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), *map(str, sources)], check=True, capture_output=True, timeout=300, env=env)


def write_suite(folder: Path, text: str, name: str = "suite.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


TOY_SUITE = """
name = "{name}"
seeds = {seeds}
budget = {budget}
timeout = 120
[evaluation]
every = 500
episodes = 3
[[algorithms]]
name = "toy.search"
{extra}
[[environments]]
name = "CartPole-v1"
"""


def toy_suite(folder: Path, name: str = "toy", seeds: int = 2, budget: int = 2000, extra: str = "") -> Path:
    return write_suite(folder, TOY_SUITE.format(name=name, seeds=seeds, budget=budget, extra=extra))

# The example plugin's own tests run inside test_third_party_plugin.py, once it is installed.
collect_ignore = ["third_party_plugin"]
