"""`harness plugins --check`: one line per plugin problem, exit 1; the built-ins pass."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.api import AlgorithmSpec, EnvironmentSpec, ShaperSpec
from harness.check import check_plugins
from harness.hookspecs import hookimpl
from tests.conftest import harness_env, run_cli


class Sloppy:
    """An algorithm with an undocumented field, a preset naming an unknown parameter and a mistyped one."""

    @dataclass
    class Params:
        lr: float = field(default=0.1, metadata={"doc": "learning rate"})
        width: int = 8

    presets = {"zoo": {"CartPole-v1": {"lr": "fast"}, "Acrobot-v1": {"depth": 2}}}

    @staticmethod
    def make_agent(params, ctx):
        raise NotImplementedError


class FlatShaper:
    """A shaper whose preset has an environment level (algorithm-style): wrong shape for shapers."""

    @dataclass
    class Params:
        bonus: float = field(default=0.0, metadata={"doc": "added to each reward"})

    presets = {"big": {"CartPole-v1": {"bonus": 1.0}}}

    @staticmethod
    def wrap(env, params):
        return env


class Plugins:
    @hookimpl
    def harness_register_algorithms(self, register):
        register(AlgorithmSpec("sloppy", "tests.test_check:Sloppy", action_spaces=("Discret",)))
        register(AlgorithmSpec("missing", "tests.no_such_module"))

    @hookimpl
    def harness_register_shapers(self, register):
        register(ShaperSpec("flat", "tests.test_check:FlatShaper"))

    @hookimpl
    def harness_register_environments(self, register):
        register(EnvironmentSpec("Gone-v0", make="tests.test_check:nothing_here"))


def test_every_problem_is_one_line(make_registry):
    problems = check_plugins(make_registry(Plugins()))
    assert problems == [
        "algorithm missing ((not installed)): ModuleNotFoundError: No module named 'tests.no_such_module'",
        "algorithm sloppy ((not installed)): action_spaces ['Discret'] are not gymnasium spaces "
        "(allowed: Discrete, Box, MultiDiscrete, MultiBinary)",
        "algorithm sloppy ((not installed)): Params fields without a doc: width (field(..., metadata={'doc': ...}))",
        "algorithm sloppy ((not installed)): preset 'zoo' for 'CartPole-v1': lr: Input should be a valid number "
        "(got 'fast')",
        "algorithm sloppy ((not installed)): preset 'zoo' for 'Acrobot-v1': depth: unknown parameter 'depth' "
        "(allowed: lr, width)",
        "environment Gone-v0 ((not installed)): AttributeError: module 'tests.test_check' has no attribute 'nothing_here'",
        "shaper flat ((not installed)): preset 'big' must map parameter names to values "
        "(shaper presets have no environment level)",
    ]


def test_the_builtins_pass_and_the_kit_runs_the_toy(tmp_path):
    result = run_cli("plugins", "--check", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("ok: "), result.stdout + result.stderr
    only_toy = harness_env(HARNESS_DISABLE_PLUGIN_AUTOLOAD="1")
    result = run_cli("plugins", "--check", "--kit", cwd=tmp_path, env=only_toy)
    assert result.stdout.strip() == "ok: 1 plugins checked", result.stdout + result.stderr


def test_the_kit_reports_an_algorithm_that_breaks_the_contract(make_registry):
    from harness.testing import toy

    registry = make_registry(toy)
    assert check_plugins(registry, kit=True) == []

    class Misbehaving:
        @hookimpl
        def harness_register_algorithms(self, register):
            register(AlgorithmSpec("bad-act", "tests.test_check:BadAct", action_spaces=("Discrete",)))

    problems = check_plugins(make_registry(toy, Misbehaving()), kit=True)
    assert problems == ["algorithm bad-act ((not installed)): ActionError: act() returned ndarray shape (3, 2) "
                        "dtype float64; expected an int in Discrete(2)"]


class BadAct:
    """The toy algorithm, told to return wrongly shaped actions."""

    from harness.testing.toy import Params as _ToyParams

    @dataclass
    class Params(_ToyParams):
        bad_action: bool = field(default=True, metadata={"doc": "always misbehave"})

    presets: dict = {}

    @staticmethod
    def make_agent(params, ctx):
        from harness.testing.toy import make_agent

        return make_agent(params, ctx)
