"""A separately packaged plugin, installed with pip, is listed and runs in a suite unchanged."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.tracking import Tracker
from tests.conftest import ROOT, harness_env, pip_install_target, run_cli, write_suite

PLUGIN = ROOT / "tests" / "third_party_plugin"

SUITE = """
name = "example"
seeds = 2
budget = 1500
[evaluation]
every = 500
episodes = 2
[[algorithms]]
name = "example.hill_climb"
preset = "bold"
[[environments]]
name = "example/Corridor-v0"
kwargs = { length = 4 }
[[shapers]]
label = "none"
[[shapers]]
label = "bonus"
steps = [{ name = "example.step_bonus", params = { bonus = 0.5 } }]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-install the example plugin into a private folder; return the env that sees it."""
    site = tmp_path_factory.mktemp("site")
    pip_install_target(site, PLUGIN)
    env = harness_env(PYTHONPATH=str(site))
    env.pop("HARNESS_PLUGINS")  # found through its entry point alone
    return env


def test_installed_plugin_is_listed(tmp_path, installed):
    result = run_cli("plugins", "--json", cwd=tmp_path, env=installed)
    assert result.returncode == 0, result.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    for key in [("algorithm", "example.hill_climb"), ("environment", "example/Corridor-v0"), ("shaper", "example.step_bonus")]:
        assert rows[key]["distribution"] == "harness-example-plugin" and rows[key]["version"] == "1.2.3"


def test_installed_plugin_runs_in_a_suite(tmp_path, installed):
    suite = write_suite(tmp_path, SUITE)
    result = run_cli("run", str(suite), "--no-report", cwd=tmp_path, env=installed)
    assert result.returncode == 0, result.stdout + result.stderr
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = tracker.runs(tracker.experiment_id("example"))
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    shaped = [r for r in runs if r.data.tags["harness.shaping"] == "bonus"]
    for run in shaped:  # the agent saw the bonus; evaluation and train/episode_return did not
        assert run.data.metrics["train/shaped_return"] > run.data.metrics["train/episode_return"]
    assert all(r.data.metrics["eval/return_mean"] >= -6.0 for r in runs)


def test_plugin_authors_tests_pass_with_the_conformance_kit(installed):
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGIN)],
                            cwd=PLUGIN, env=installed, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
