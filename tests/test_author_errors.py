"""Author mistakes get one clear line: Params without defaults, wrong actions, the stopping contract, failures."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from gymnasium import spaces

from harness.api import AlgorithmSpec
from harness.contract import ActionError, check_action
from harness.errors import SuiteErrors
from harness.hookspecs import hookimpl
from harness.suite import load_suite
from harness.testing import check_algorithm
from harness.tracking import Tracker
from tests.conftest import run_cli, write_suite


@dataclass
class Params:
    lr: float = field(metadata={"doc": "learning rate (no default: the suite must set it)"})
    width: int = field(default=8, metadata={"doc": "hidden units"})


presets = {"fast": {"CartPole-v1": {"lr": 0.1}}}


class Strict:
    @hookimpl
    def harness_register_algorithms(self, register):
        register(AlgorithmSpec("strict", "tests.test_author_errors", action_spaces=("Discrete",)))


def strict_suite(tmp_path, params: str = "", preset: str = ""):
    return write_suite(tmp_path, f'name = "s"\nseeds = 1\nbudget = 100\n[[algorithms]]\nname = "strict"\n'
                                 f'{params}\n{preset}\n[[environments]]\nname = "CartPole-v1"\n')


def test_a_params_field_without_default_must_be_set_by_the_suite(tmp_path, make_registry):
    registry = make_registry(Strict())
    with pytest.raises(SuiteErrors) as errors:
        load_suite(strict_suite(tmp_path), registry)
    assert [str(e).split(": ", 1)[1] for e in errors.value.errors] == [
        "algorithms[0].params.lr: required parameter (no default in Params): set lr in params or in a preset"]
    assert load_suite(strict_suite(tmp_path, "params = { lr = 0.5 }"), registry).runs[0].params == {"lr": 0.5, "width": 8}
    assert load_suite(strict_suite(tmp_path, preset='preset = "fast"'), registry).runs[0].params["lr"] == 0.1


@pytest.mark.parametrize(("action", "space", "message"), [
    (np.zeros((3, 2)), spaces.Discrete(2), "act() returned ndarray shape (3, 2) dtype float64; expected an int in Discrete(2)"),
    (2, spaces.Discrete(2), "act() returned int 2; expected an int in Discrete(2)"),
    (0.5, spaces.Discrete(2), "act() returned float 0.5; expected an int in Discrete(2)"),
    (np.zeros(2), spaces.Box(-1, 1, (1,)), "act() returned ndarray shape (2,) dtype float64; expected an array of shape (1,)"),
    (np.array([3, 0]), spaces.MultiDiscrete([3, 2]), "expected an int array of shape (2,) in MultiDiscrete([3 2])"),
])
def test_a_wrong_action_is_named(action, space, message):
    with pytest.raises(ActionError) as error:
        check_action(action, space)
    assert message in str(error.value)


@pytest.mark.parametrize(("action", "space"), [
    (1, spaces.Discrete(2)), (np.int64(0), spaces.Discrete(2)), (np.array(1), spaces.Discrete(2)),
    (np.array([5.0], np.float32), spaces.Box(-1, 1, (1,))),  # bounds are the environment's business
    (np.array([2, 1]), spaces.MultiDiscrete([3, 2])), (np.array([1, 0, 1]), spaces.MultiBinary(3)),
])
def test_a_fitting_action_passes(action, space):
    check_action(action, space)


def test_the_kit_names_a_wrong_action():
    with pytest.raises(ActionError, match=r"act\(\) returned ndarray shape \(3, 2\)"):
        check_algorithm("toy.search", "CartPole-v1", steps=300, params={"bad_action": True})


MISBEHAVING = """
name = "misbehaving"
seeds = 1
budget = 30000
timeout = 3
[evaluation]
every = 10000
episodes = 2
[[algorithms]]
name = "toy.search"
label = "ignores-stop"
params = {{ swallow_errors = true, sleep_per_step = 0.002 }}
[[algorithms]]
name = "toy.search"
label = "nan-swallowed"
params = {{ swallow_errors = true, nan_at_step = 300 }}
[[algorithms]]
name = "toy.search"
label = "bad-action"
params = {{ bad_action = true }}
[[environments]]
name = "CartPole-v1"
[[shapers]]
label = "scaled"
steps = [{{ name = "scale", params = {{ factor = 2.0 }} }}]
"""


def test_misbehaving_agents_fail_alone_with_one_line_each(tmp_path):
    """learn() that ignores False and catches Exception still stops; a wrong action is named;
    each failure line gives the run id and where its traceback is; the shaping label in brackets survives."""
    result = run_cli("run", str(write_suite(tmp_path, MISBEHAVING.format())), "--no-report", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = {r.data.tags["harness.algorithm_label"]: r for r in tracker.runs(tracker.experiment_id("misbehaving"))}
    errors = {label: run.data.tags["harness.error"] for label, run in runs.items()}
    assert errors["ignores-stop"].startswith("RunFailure: timeout: run exceeded 3 s at step")
    assert int(errors["ignores-stop"].rsplit(" ", 1)[1]) < 5000, "stopped at the first check after the timeout"
    assert errors["nan-swallowed"] == "RunFailure: non-finite training metric loss/nan=nan at step 300"
    assert errors["bad-action"] == ("ActionError: act() returned ndarray shape (3, 2) dtype float64; "
                                     "expected an int in Discrete(2)")
    for label, run in runs.items():
        assert run.info.status == "FAILED"
        artifacts = run.info.artifact_uri.rstrip("/")
        title = f"{label} / CartPole-v1 [scaled] / seed 0"  # "[scaled]" is text, not rich markup
        line = f"failed: {title}: {errors[label]} (run {run.info.run_id}; traceback: {artifacts}/error.txt)"
        assert line in result.stdout, result.stdout
        assert f"{title}: FAILED ({errors[label]})  run {run.info.run_id}" in result.stderr, result.stderr


class NoReload:
    """The toy algorithm without the optional load_agent."""

    from harness.testing.toy import Params, make_agent, presets


def test_the_kit_works_without_load_agent(make_registry):
    class Plugin:
        @hookimpl
        def harness_register_algorithms(self, register):
            register(AlgorithmSpec("no-reload", "tests.test_author_errors:NoReload", action_spaces=("Discrete",)))

    assert not hasattr(NoReload, "load_agent")
    trained = check_algorithm("no-reload", "CartPole-v1", steps=500, registry=make_registry(Plugin()))
    assert trained.episodes
