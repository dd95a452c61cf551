"""`harness new` -> pip install (temporary folder) -> the package's own pytest -> its suite against sb3.ppo -> report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.scaffold import ScaffoldError, new_plugin
from tests.conftest import harness_env, pip_install_target, run_cli

NEW = {"algorithm": "my.cem", "environment": "my/Corridor-v0", "shaper": "my.bonus"}


def test_new_packages_install_pass_their_tests_and_run_their_suites(tmp_path):
    folders = {}
    for kind, name in NEW.items():
        result = run_cli("new", kind, name, "--dir", str(tmp_path / kind), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        folders[kind] = tmp_path / kind
    site = tmp_path / "site"
    pip_install_target(site, *folders.values())
    env = harness_env(PYTHONPATH=str(site))
    env.pop("HARNESS_PLUGINS")  # found through their entry points alone

    listed = {r["name"]: r for r in json.loads(run_cli("plugins", "--json", cwd=tmp_path, env=env).stdout)}
    assert listed["my.cem"]["distribution"] == "harness-my-cem" and listed["my.cem"]["status"] == "ok"
    assert listed["my/Corridor-v0"]["kind"] == "environment" and listed["my.bonus"]["kind"] == "shaper"
    assert run_cli("plugins", "--check", cwd=tmp_path, env=env).returncode == 0

    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            *(str(f / "tests") for f in folders.values())],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert tests.returncode == 0 and "5 passed" in tests.stdout, tests.stdout + tests.stderr

    for folder in folders.values():  # every suite resolves against sb3.ppo; the algorithm's runs, with its report
        assert run_cli("validate", "suite.toml", cwd=folder, env=env).returncode == 0
    result = run_cli("run", "suite.toml", cwd=folders["algorithm"], env=env, timeout=600)
    assert result.returncode == 0 and "0 failed" in result.stdout, result.stdout + result.stderr
    report = (folders["algorithm"] / "reports" / "harness_my_cem" / "index.md").read_text()
    assert "my.cem" in report and "sb3.ppo" in report


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["environment", "shaper"])
def test_the_environment_and_shaper_suites_run(tmp_path, kind):
    folder = new_plugin(kind, NEW[kind], tmp_path / kind)
    site = tmp_path / "site"
    pip_install_target(site, folder)
    env = harness_env(PYTHONPATH=str(site))
    env.pop("HARNESS_PLUGINS")
    result = run_cli("run", "suite.toml", "--no-report", cwd=folder, env=env, timeout=600)
    assert result.returncode == 0 and "0 failed" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("planner", "x", "unknown kind 'planner' (allowed: algorithm, environment, shaper)"),
    ("algorithm", "9lives", "name '9lives': use letters"),
])
def test_bad_kind_or_name_writes_nothing(tmp_path, kind, name, message):
    with pytest.raises(ScaffoldError, match=message.replace("(", r"\(").replace(")", r"\)")):
        new_plugin(kind, name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_is_left_alone(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    result = run_cli("new", "shaper", "x.y", "--dir", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]
