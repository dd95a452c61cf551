"""Bad suites: one clear line naming file and key, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main

from tests.conftest import harness_env, run_cli, write_suite

GOOD = """
name = "ok"
seeds = [0, 1]
budget = 1000
[[algorithms]]
name = "toy.search"
[[environments]]
name = "CartPole-v1"
"""

CASES = [
    ("malformed", 'name = "x\nseeds = 2', "invalid TOML"),
    ("unknown key", GOOD.replace("budget", "colour = 'blue'\nbudget"), "colour: unknown key 'colour' (allowed: algorithms,"),
    ("unknown nested key", GOOD + "colour = 'blue'\n",
     "environments[0].colour: unknown key 'colour' (allowed: budget, kwargs, label, name, vector)"),
    ("wrong type", GOOD.replace("budget = 1000", 'budget = "lots"'), "budget: Input should be a valid integer"),
    ("non-positive budget", GOOD.replace("budget = 1000", "budget = 0"), "budget: Input should be greater than 0"),
    ("duplicate seeds", GOOD.replace("[0, 1]", "[3, 1, 3]"), "seeds: duplicate seeds [3]"),
    ("unknown algorithm", GOOD.replace('"toy.search"', '"toy.serch"'),
     "algorithms[0].name: unknown algorithm 'toy.serch'; did you mean 'toy.search'?"),
    ("unknown environment", GOOD.replace('"CartPole-v1"', '"CartPol-v1"'),
     "environments[0].name: unknown environment 'CartPol-v1'; did you mean 'CartPole-v1'?"),
    ("action space", GOOD.replace('"CartPole-v1"', '"Pendulum-v1"'),
     "algorithms[0].name: toy.search cannot handle Pendulum-v1's Box action space (it handles: Discrete)"),
    ("unknown param", GOOD.replace('name = "toy.search"', 'name = "toy.search"\nparams = {noize = 1.0}'),
     "algorithms[0].params.noize: unknown parameter 'noize' (allowed: noise,"),
    ("param type", GOOD.replace('name = "toy.search"', 'name = "toy.search"\nparams = {noise = "loud"}'),
     "algorithms[0].params.noise: Input should be a valid number"),
    ("unknown preset", GOOD.replace('name = "toy.search"', 'name = "toy.search"\npreset = "zoo"'),
     "algorithms[0].preset: unknown preset 'zoo' (allowed: default, noisy)"),
    ("bad env kwargs", GOOD + "kwargs = {wind = 3}\n", "environments[0].kwargs: cannot make 'CartPole-v1'"),
    ("unknown shaper", GOOD + '[[shapers]]\nlabel = "s"\nsteps = [{name = "nope"}]\n', "shapers[0].steps[0].name: unknown shaper 'nope'"),
    ("shaper check", GOOD + '[[shapers]]\nlabel = "s"\nsteps = [{name = "scale", params = {factor = 0.0}}]\n',
     "shapers[0].steps[0].params: factor must not be 0"),
    ("unsafe name", GOOD.replace('name = "ok"', 'name = "../../etc"'), "name: must be 1-100 letters"),
    ("device", GOOD.replace('budget = 1000', 'budget = 1000\ndevice = "tpu"'), "device: invalid device 'tpu' (allowed: auto, cpu, cuda, cuda:N)"),
    ("unknown baseline", GOOD.replace('budget = 1000', 'budget = 1000\nbaseline = "sb3.ppo"'),
     "baseline: 'sb3.ppo' is not an algorithm label of this suite (allowed: toy.search)"),
    ("missing key", GOOD.replace("budget = 1000\n", ""), "budget: required key is missing"),
    ("twice the same label", GOOD + '[[environments]]\nname = "CartPole-v1"\n', "label(s) ['CartPole-v1'] appear twice"),
]


@pytest.mark.parametrize("case,text,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_suite_is_rejected_with_one_clear_line(tmp_path, capsys, case, text, expected):
    path = write_suite(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    stderr = capsys.readouterr().err
    lines = stderr.strip().splitlines()
    assert lines and all(line.startswith(f"error: {path}: ") for line in lines), stderr
    assert expected in stderr


def test_run_with_bad_suite_creates_no_mlflow_state(tmp_path):
    path = write_suite(tmp_path, GOOD.replace('"toy.search"', '"nope"'))
    result = run_cli("run", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "mlartifacts").exists()


def test_good_suite_validates(tmp_path):
    path = write_suite(tmp_path, GOOD)
    result = run_cli("validate", str(path), cwd=tmp_path, env=harness_env())
    assert result.returncode == 0, result.stderr
    assert "2 runs" in result.stdout


@pytest.mark.parametrize("suite", sorted(p.name for p in (Path(__file__).parents[1] / "suites").glob("*.toml")))
def test_every_shipped_suite_validates(suite, capsys):
    assert main(["validate", str(Path(__file__).parents[1] / "suites" / suite)]) == 0, capsys.readouterr().err


def test_run_rejects_a_bad_suite_before_starting_the_executor(tmp_path, monkeypatch, capsys):
    from harness.executors.local import LocalExecutor

    started = []
    monkeypatch.setattr(LocalExecutor, "prestart", classmethod(lambda cls, *a, **k: started.append(a)))
    path = write_suite(tmp_path, GOOD.replace('"toy.search"', '"nope"'))
    assert main(["run", str(path), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]) == 2
    assert "unknown algorithm 'nope'" in capsys.readouterr().err
    assert started == [] and not (tmp_path / "mlflow.db").exists()
