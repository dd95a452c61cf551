"""Tabular plugins: Bellman backups, TD and MC update rules, optimal returns, errors, seeding, save/load."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from harness_tabular import METHODS
from harness_tabular._dp import q_values, transition_model

from harness.api import EnvironmentSpec, RunContext
from harness.envs import eval_env_seeds, make_base_env
from harness.evaluation import evaluate
from harness.params import build_params, field_docs, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.testing import check_algorithm, make_context

DP_METHODS = ["policy_iteration", "value_iteration"]
MODEL_FREE = ["mc_control", "sarsa", "expected_sarsa", "q_learning"]
TD_METHODS = ["sarsa", "expected_sarsa", "q_learning"]
ROOT = Path(__file__).resolve().parents[1]


# --- helpers -----------------------------------------------------------------
class TinyMDP(gym.Env):
    """Three states, two actions, a known model; state 2 is terminal.

    s0: a0 -> s1 (r 0); a1 -> s2 (r 1, end).
    s1: a0 -> s2 (r 10, end) or s0 (r 0), 1/2 each; a1 -> s1 (r -1).
    """

    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, with_model: bool = True):
        model = {
            0: {0: [(1.0, 1, 0.0, False)], 1: [(1.0, 2, 1.0, True)]},
            1: {0: [(0.5, 2, 10.0, True), (0.5, 0, 0.0, False)], 1: [(1.0, 1, -1.0, False)]},
            2: {0: [(1.0, 2, 0.0, True)], 1: [(1.0, 2, 0.0, True)]},
        }
        if with_model:
            self.P = model
        self._model, self.s = model, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.s = 0
        return 0, {}

    def step(self, action: int):
        outcomes = self._model[self.s][int(action)]
        i = self.np_random.choice(len(outcomes), p=[o[0] for o in outcomes])
        _, self.s, reward, terminated = outcomes[i]
        return self.s, reward, terminated, False, {}


class NoStateEnv(TinyMDP):
    """TinyMDP that keeps its state under another name: exploring starts cannot set it."""

    def __init__(self):
        super().__init__()
        del self.s
        self.position = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        gym.Env.reset(self, seed=seed)
        return 0, {}


GAMMA = 0.9
# V(1) = 0.5 * 10 + 0.5 * 0.9 * V(0) and V(0) = 0.9 * V(1)  =>  V(1) = 5 / (1 - 0.405)
V_STAR = np.array([0.9 * 5 / 0.595, 5 / 0.595, 0.0])


def impl(name: str) -> Any:
    return importlib.import_module(f"harness_tabular.{name}")


def tiny_ctx(env_factory=TinyMDP, seed: int = 0) -> RunContext:
    return RunContext("TinyMDP", seed, "cpu", lambda i: env_factory())


def tabular_registry() -> Registry:
    return Registry(make_plugin_manager(load_entrypoints=False, modules=["harness_tabular"]))


def gym_ctx(env_id: str, kwargs: dict[str, Any], seed: int = 0) -> RunContext:
    return make_context(env_id, seed, env_kwargs=kwargs, registry=tabular_registry())[0]


def agent_for(name: str, ctx: RunContext, preset: str | None = "default", **params: Any):
    module = impl(name)
    overrides = {**preset_overrides(module.presets, preset, ctx.env_name), **params}
    return module.make_agent(build_params(module.Params, overrides), ctx)


def greedy_return(agent, env_id: str, kwargs: dict[str, Any], episodes: int = 3) -> float:
    env = make_base_env(EnvironmentSpec(env_id), kwargs)
    return evaluate(agent, env, eval_env_seeds(0, episodes)).mean


def always(step: int, metrics: dict) -> bool:
    return True


# --- dynamic programming -----------------------------------------------------------
def test_one_bellman_backup_matches_hand_computation():
    model = transition_model(TinyMDP(), 3, 2, "value_iteration", "TinyMDP")
    q = q_values(model, np.array([1.0, 2.0, 5.0]), GAMMA)
    # terminal transitions do not bootstrap; s1/a0 mixes both outcomes
    assert q == pytest.approx(np.array([[0.9 * 2.0, 1.0], [0.5 * 10 + 0.5 * 0.9 * 1.0, -1 + 0.9 * 2.0], [0.0, 0.0]]))


@pytest.mark.parametrize("name,params", [
    ("value_iteration", {}),
    ("policy_iteration", {}),
    ("policy_iteration", {"evaluation": "iterative"}),
])
def test_dp_finds_hand_computed_optimal_values(name, params):
    agent = agent_for(name, tiny_ctx(), gamma=GAMMA, **params)
    agent.learn(10_000, always)
    assert agent.v == pytest.approx(V_STAR, abs=1e-6)
    assert [agent.act(s) for s in (0, 1)] == [0, 0]


def test_dp_reports_its_budget_and_stops_when_told():
    steps: list[int] = []
    agent = agent_for("value_iteration", tiny_ctx(), gamma=GAMMA)
    agent.learn(5_000, lambda step, metrics: steps.append(step) or True)
    assert steps == sorted(steps) and steps[-1] == 5_000
    calls: list[int] = []
    agent = agent_for("policy_iteration", tiny_ctx(), gamma=GAMMA, evaluation="iterative")
    agent.learn(5_000, lambda step, metrics: calls.append(step) or False)
    assert len(calls) == 1


# --- TD and Monte Carlo update rules ------------------------------------------------
ROW = np.array([1.0, 4.0, 2.0])


@pytest.mark.parametrize("name,expected", [
    ("sarsa", 2 + 0.9 * 2.0),                                  # Q(s', a') with a' = 2
    ("q_learning", 2 + 0.9 * 4.0),                             # max_a' Q(s', a')
    ("expected_sarsa", 2 + 0.9 * (0.1 * 1 + 0.8 * 4 + 0.1 * 2)),  # epsilon 0.3 over 3 actions
])
def test_td_targets_on_one_transition(name, expected):
    target = impl(name).target
    assert target(2.0, 0.9, ROW, 2, 0.3, False) == pytest.approx(expected)
    assert target(2.0, 0.9, ROW, 2, 0.3, True) == 2.0


def test_expected_sarsa_splits_greedy_mass_over_ties():
    row = np.array([4.0, 4.0, 0.0])
    assert impl("expected_sarsa").target(0.0, 1.0, row, 0, 0.3, False) == pytest.approx(2 * 0.45 * 4.0)


def test_td_update_moves_q_by_alpha_times_error():
    from harness_tabular._td import td_update

    q = np.ones((2, 2))
    assert td_update(q, 1, 0, 3.8, 0.5) == pytest.approx(2.8)
    assert q[1, 0] == pytest.approx(2.4) and q.sum() == pytest.approx(5.4)


@pytest.mark.parametrize("name", TD_METHODS)
def test_first_learning_step_updates_the_visited_pair(name):
    # from s0 every action leads to s1 (r 0, a0) or ends the episode (r 1, a1); all Q start at 2
    agent = agent_for(name, tiny_ctx(), preset=None, gamma=GAMMA, alpha=0.5, q_init=2.0)
    agent.learn(1, always)
    changed = np.argwhere(agent.q != 2.0)
    assert len(changed) == 1
    state, action = changed[0]
    assert state == 0
    expected = 2 + 0.5 * ((0 + GAMMA * 2.0) - 2) if action == 0 else 2 + 0.5 * (1 - 2)
    assert agent.q[0, action] == pytest.approx(expected)


def test_first_visit_returns():
    from harness_tabular.mc_control import first_visit_returns

    episode = [(0, 0, 1.0), (1, 0, 2.0), (0, 0, 3.0)]
    # G2 = 3, G1 = 2 + 0.5 * 3, G0 = 1 + 0.5 * G1; (0, 0) counts only at its first visit
    assert first_visit_returns(episode, 0.5) == [(0, 0, 2.75), (1, 0, 3.5)]
    # cut by a time limit: the returns end with the value (4) of the state where it was cut
    assert first_visit_returns(episode, 0.5, tail=4.0) == [(0, 0, 3.25), (1, 0, 4.5)]


def test_mc_update_averages_first_visit_returns():
    agent = agent_for("mc_control", tiny_ctx(), preset=None, gamma=1.0)
    agent.update([(0, 0, 0.0), (1, 0, 10.0)])
    agent.update([(0, 1, 1.0)])
    agent.update([(0, 0, 0.0), (1, 1, -1.0), (1, 0, 0.0)])
    assert agent.q[0, 0] == pytest.approx((10.0 - 1.0) / 2)
    assert agent.q[1, 0] == pytest.approx(5.0) and agent.q[0, 1] == 1.0


# --- reaching the optimum ------------------------------------------------------------
FROZEN_DET = ("FrozenLake-v1", {"is_slippery": False})
CLIFF = ("CliffWalking-v1", {"max_episode_steps": 200})


@pytest.mark.parametrize("name", list(METHODS))
def test_reaches_optimal_return_on_deterministic_frozenlake(name):
    agent = agent_for(name, gym_ctx(*FROZEN_DET))
    agent.learn(5_000, always)  # 30 of 30 seeds tried reach 1.0 (3,000 steps: 19 of 20)
    assert greedy_return(agent, *FROZEN_DET) == 1.0


@pytest.mark.parametrize("name", [*DP_METHODS, *TD_METHODS])
def test_reaches_optimal_return_on_cliffwalking(name):
    agent = agent_for(name, gym_ctx(*CLIFF))
    agent.learn(5_000, always)  # 20 of 20 seeds tried reach -13
    assert greedy_return(agent, *CLIFF) == -13.0


def test_mc_control_with_exploring_starts_reaches_the_optimum_on_cliffwalking():
    agent = agent_for("mc_control", gym_ctx(*CLIFF))  # the preset: exploring starts, alpha 1
    agent.learn(50_000, always)  # 58 of 60 seeds tried reach -13 at 50k (the other two: -15, -17)
    assert greedy_return(agent, *CLIFF) == -13.0


def test_epsilon_soft_mc_control_settles_on_the_safe_path_of_cliffwalking():
    # without exploring starts, on-policy MC learns the best epsilon-soft policy: away from the cliff
    agent = agent_for("mc_control", gym_ctx(*CLIFF), alpha=0.1, exploring_starts=0.0, epsilon_start=1.0)
    agent.learn(30_000, always)
    assert -25.0 <= greedy_return(agent, *CLIFF) < -13.0


def test_exploring_starts_cover_every_state_and_need_a_settable_state():
    agent = agent_for("mc_control", gym_ctx(*CLIFF), exploring_starts=1.0)
    starts = set()
    for _ in range(2_000):
        state, action = agent.start_episode()
        assert agent.env.unwrapped.s == state and 0 <= action < agent.n_actions
        starts.add(state)
    assert starts == set(range(agent.n_states))
    agent = agent_for("mc_control", tiny_ctx(lambda: gym.wrappers.TimeLimit(NoStateEnv(), 10)), exploring_starts=1.0)
    with pytest.raises(ValueError, match="exploring_starts > 0 needs an env whose state can be set"):
        agent.learn(10, always)


# --- errors -------------------------------------------------------------------
@pytest.mark.parametrize("name", list(METHODS))
def test_non_discrete_spaces_are_refused(name):
    with pytest.raises(ValueError, match=rf"{name} is a tabular method.*Discrete.*'CartPole-v1' has observation"):
        agent_for(name, gym_ctx("CartPole-v1", {}))


@pytest.mark.parametrize("name", DP_METHODS)
def test_dp_without_a_model_is_refused(name):
    ctx = tiny_ctx(lambda: TinyMDP(with_model=False))
    with pytest.raises(ValueError, match=rf"{name} needs a known transition model `env.unwrapped.P`.*'TinyMDP' has none"):
        agent_for(name, ctx)


def test_model_free_methods_need_no_model():
    for name in MODEL_FREE:
        agent_for(name, tiny_ctx(lambda: TinyMDP(with_model=False))).learn(50, always)


def test_suite_validation_rejects_non_discrete_envs(tmp_path):
    from harness.errors import SuiteErrors
    from harness.suite import load_suite

    suite = tmp_path / "bad.toml"
    suite.write_text('name = "bad"\nseeds = 1\nbudget = 100\n[[algorithms]]\nname = "sarsa"\n'
                     '[[environments]]\nname = "CartPole-v1"\n')
    with pytest.raises(SuiteErrors, match="sarsa cannot handle CartPole-v1's Box observation space"):
        load_suite(suite, tabular_registry())


# --- registration, suite, seeding, save/load ---------------------------------------------
def test_every_method_is_registered_and_documented():
    registry = tabular_registry()
    ours = [e.name for e in registry.entries("algorithm") if e.provider.plugin == "harness_tabular"]
    assert ours == sorted(METHODS)
    for name in METHODS:
        spec = registry.get("algorithm", name)
        assert spec.action_spaces == spec.observation_spaces == ("Discrete",)
        module = spec.load()
        assert all(field_docs(module.Params).values()), name
        assert "*" in module.presets["default"] and callable(module.load_agent)


def test_tabular_suite_is_valid():
    from harness.suite import load_suite

    suite = load_suite(ROOT / "suites" / "tabular.toml", tabular_registry())
    assert {r.algorithm for r in suite.runs} == set(METHODS)
    assert len({r.seed for r in suite.runs}) >= 5


@pytest.mark.parametrize("name", MODEL_FREE)
def test_conformance_kit(name):
    check_algorithm(name, "FrozenLake-v1", steps=1_000, registry=tabular_registry())


@pytest.mark.parametrize("name", MODEL_FREE)
def test_same_seed_same_table(name):
    tables = []
    for seed in (3, 3, 4):
        agent = agent_for(name, gym_ctx("FrozenLake-v1", {}, seed=seed))
        agent.learn(1_500, always)
        tables.append(agent.q.copy())
    assert np.array_equal(tables[0], tables[1])
    assert not np.array_equal(tables[0], tables[2])


@pytest.mark.parametrize("name", list(METHODS))
def test_save_and_load(name, tmp_path):
    ctx = gym_ctx("FrozenLake-v1", {})
    agent = agent_for(name, ctx)
    agent.learn(2_000, always)
    agent.save(tmp_path)
    module = impl(name)
    loaded = module.load_agent(build_params(module.Params, {}), ctx, tmp_path)
    assert np.array_equal(loaded.q, agent.q)
    assert [loaded.act(s) for s in range(16)] == [agent.act(s) for s in range(16)]
