"""Reward shapers: parameters, spaces, the env checker, their arithmetic, and true-return bookkeeping."""

from __future__ import annotations

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.api import REWARD_COMPONENTS_KEY, TRUE_REWARD_KEY
from harness.envs import TrueRewardTap, apply_shapers, train_env_seeds, training_env_factory
from harness.params import ParamsError, build_params, field_docs
from harness.registry import Registry, make_plugin_manager
from harness_shaping import lunar_lander, potential

SHAPERS = ("lunar_lander", "potential", "scale", "clip", "normalize")
SEED003 = {"name": "lunar_lander", "params": lunar_lander.presets["seed003"]}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(make_plugin_manager(load_entrypoints=False, modules=["harness_shaping"]))


def shaped(registry: Registry, env_id: str, steps: list[dict], **kwargs) -> gym.Env:
    return apply_shapers(registry, gym.make(env_id, **kwargs), steps)


def play(env: gym.Env, seed: int, actions_seed: int = 0, max_steps: int = 2000) -> list[tuple]:
    """One episode of random actions: ``(obs, reward, terminated, truncated, info)`` per step, reset first."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(actions_seed)
    steps = [(obs, 0.0, False, False, {})]
    for _ in range(max_steps):
        step = env.step(env.action_space.sample())
        steps.append(step)
        if step[2] or step[3]:
            break
    return steps


# --- registration and parameters --------------------------------------------------------


def test_every_shaper_is_registered_with_documented_params_and_valid_presets(registry):
    assert registry.names("shaper") == sorted(SHAPERS)
    for name in SHAPERS:
        impl = registry.get("shaper", name).load()
        assert callable(impl.wrap)
        docs = field_docs(impl.Params)
        assert docs and all(docs.values()), f"{name}: undocumented field in {docs}"
        for preset, values in impl.presets.items():
            assert dataclasses.asdict(build_params(impl.Params, values)), f"{name} preset {preset}"


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("lunar_lander", {"w_distance": -1.0}, "w_distance must be >= 0"),
        ("lunar_lander", {"scale": float("inf")}, "scale must be a finite number"),
        ("lunar_lander", {"mode": "multiply"}, "replace"),
        ("potential", {"gamma": 1.5}, r"gamma must be in \[0, 1\]"),
        ("potential", {"potential": "linear"}, "needs weights"),
        ("potential", {"weights": [1.0, 2.0]}, "only used by potential 'linear'"),
        ("potential", {"goal": 0.5}, "only used by potential 'negative_distance_to_goal'"),
        ("potential", {"potential": "distance"}, "lunar_lander"),
        ("scale", {"factor": 0.0}, "factor must not be 0"),
        ("clip", {"low": 1.0, "high": -1.0}, "low must be below high"),
        ("normalize", {"clip": 0.0}, "clip must be > 0"),
        ("normalize", {"epsilon": -1e-8}, "epsilon must be > 0"),
        ("scale", {"factr": 2.0}, "unknown parameter 'factr'"),
    ],
)
def test_bad_parameters_fail_with_a_clear_message(registry, name, params, message):
    impl = registry.get("shaper", name).load()
    with pytest.raises(ParamsError, match=message):
        build_params(impl.Params, params)


@pytest.mark.parametrize(
    "step, env_id, message",
    [
        (SEED003, "CartPole-v1", r"LunarLander-like env .* got observation space Box\(4,\), action space Discrete\(2\)"),
        (SEED003, "MountainCar-v0", "LunarLander-like"),
        ({"name": "potential", "params": {}}, "Acrobot-v1", "LunarLander-like"),
        ({"name": "potential", "params": {"potential": "linear", "weights": [1.0, 2.0]}}, "CartPole-v1", "2 weights"),
        ({"name": "potential", "params": {"potential": "negative_distance_to_goal"}}, "CartPole-v1", "goal_position"),
        ({"name": "potential", "params": {"potential": "negative_distance_to_goal"}}, "FrozenLake-v1", "flat Box"),
    ],
)
def test_shapers_refuse_envs_they_cannot_fit(registry, step, env_id, message):
    with pytest.raises(ValueError, match=message):
        shaped(registry, env_id, [step])


# --- spaces and gymnasium's env checker -------------------------------------------------

CHECKED = [
    ("LunarLander-v3", [SEED003], {}),
    ("LunarLander-v3", [{"name": "lunar_lander", "params": {"w_legs": 1.0, "penalty_main": 0.3}}], {"continuous": True}),
    ("LunarLander-v3", [{"name": "potential", "params": {"gamma": 0.999}}], {}),
    ("MountainCar-v0", [{"name": "potential", "params": {"potential": "negative_distance_to_goal"}}], {}),
    ("CartPole-v1", [{"name": "potential", "params": {"potential": "linear", "weights": [0.0, 0.0, -1.0, 0.0]}}], {}),
    ("Pendulum-v1", [{"name": "scale", "params": {"factor": 0.1, "offset": 1.0}}], {}),
    ("Pendulum-v1", [{"name": "clip", "params": {"low": -2.0, "high": 0.0}}], {}),
    ("Pendulum-v1", [{"name": "normalize", "params": {"gamma": 0.9}}], {}),
    ("LunarLander-v3", [SEED003, {"name": "normalize", "params": {}}, {"name": "clip", "params": {}}], {}),
]


@pytest.mark.parametrize("env_id, steps, kwargs", CHECKED, ids=lambda v: str(v)[:40])
def test_shapers_keep_spaces_and_pass_the_env_checker(registry, env_id, steps, kwargs):
    plain = gym.make(env_id, **kwargs)
    env = shaped(registry, env_id, steps, **kwargs)
    assert env.observation_space == plain.observation_space
    assert env.action_space == plain.action_space
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "different from the unwrapped version": wrapping is the point
        check_env(env, skip_render_check=True)


# --- what each shaper computes ----------------------------------------------------------


def test_lunar_lander_replaces_the_reward_with_the_seed003_terms(registry):
    env = shaped(registry, "LunarLander-v3", [SEED003])
    env.reset(seed=1)
    w = lunar_lander.presets["seed003"]
    for action in (2, 1, 0, 3, 2):
        obs, reward, *_, info = env.step(action)
        x, y, vx, vy, angle, _, leg_l, leg_r = obs
        expected = (
            -w["w_distance"] * np.hypot(x, y) - w["w_velocity"] * np.hypot(vx, vy) - w["w_angle"] * abs(angle)
            + w["w_legs"] * ((leg_l > 0.5) + (leg_r > 0.5))
            - w["penalty_main"] * (action == 2) - w["penalty_side"] * (action in (1, 3))
        )
        assert reward == pytest.approx(expected)
        components = info[REWARD_COMPONENTS_KEY]
        assert sorted(components) == sorted(f"lunar_lander/{k}" for k in
                                            ("distance", "velocity", "angle", "legs", "main_engine", "side_engine"))
        assert sum(components.values()) == pytest.approx(reward)
        assert components["lunar_lander/main_engine"] == pytest.approx(-0.3 * (action == 2))


def test_lunar_lander_add_mode_keeps_the_env_reward_and_scales_only_the_shaped_term(registry):
    step = {"name": "lunar_lander", "params": {"w_distance": 1.0, "penalty_main": 0.5, "mode": "add", "scale": 2.0}}
    env = TrueRewardTap(gym.make("LunarLander-v3", continuous=True))
    env = apply_shapers(registry, env, [step])
    env.reset(seed=2)
    obs, reward, *_, info = env.step(np.array([0.5, 0.0], dtype=np.float32))
    main_throttle = (0.5 + 1.0) / 2  # LunarLander maps main in (0, 1] to 50%..100% power
    expected = info[TRUE_REWARD_KEY] + 2.0 * (-np.hypot(obs[0], obs[1]) - 0.5 * main_throttle)
    assert reward == pytest.approx(expected)


def test_potential_bonus_is_gamma_phi_next_minus_phi_and_zero_phi_at_termination(registry):
    gamma = 0.9
    env = shaped(registry, "LunarLander-v3", [{"name": "potential", "params": {"gamma": gamma}}])
    steps = play(env, seed=4)
    phi = [potential.lunar_lander_potential(s[0]) for s in steps]
    assert steps[-1][2], "a random lander should crash or land within the time limit"
    phi[-1] = 0.0
    for t in range(1, len(steps)):
        bonus = steps[t][4][REWARD_COMPONENTS_KEY]["potential/bonus"]
        assert bonus == pytest.approx(gamma * phi[t] - phi[t - 1])


def test_scale_and_clip_compose_in_the_order_given(registry):
    scale = {"name": "scale", "params": {"factor": 3.0, "offset": -0.5}}
    clip = {"name": "clip", "params": {"low": -1.0, "high": 1.0}}
    plain = play(gym.make("LunarLander-v3"), seed=5)
    scale_then_clip = play(shaped(registry, "LunarLander-v3", [scale, clip]), seed=5)
    clip_then_scale = play(shaped(registry, "LunarLander-v3", [clip, scale]), seed=5)
    for p, a, b in zip(plain[1:], scale_then_clip[1:], clip_then_scale[1:]):
        assert a[1] == pytest.approx(np.clip(3.0 * p[1] - 0.5, -1.0, 1.0))
        assert b[1] == pytest.approx(3.0 * np.clip(p[1], -1.0, 1.0) - 0.5)


def test_normalize_matches_sb3_vecnormalize_reward_scaling(registry):
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    params = {"gamma": 0.95, "epsilon": 1e-8, "clip": 5.0}
    ours = shaped(registry, "LunarLander-v3", [{"name": "normalize", "params": params}])
    sb3 = VecNormalize(DummyVecEnv([lambda: gym.make("LunarLander-v3")]), norm_obs=False, gamma=0.95,
                       epsilon=1e-8, clip_reward=5.0)
    sb3.seed(11)
    sb3.reset()
    ours.reset(seed=11)
    actions = np.random.default_rng(0).integers(0, 4, size=400)
    for action in actions:  # several episodes: returns restart at 0, statistics carry on
        _, theirs, done, _ = sb3.step(np.array([action]))
        _, reward, terminated, truncated, _ = ours.step(int(action))
        assert reward == pytest.approx(float(theirs[0]), rel=1e-5, abs=1e-6)
        assert bool(done[0]) == (terminated or truncated)
        if terminated or truncated:
            ours.reset()


# --- potential-based shaping keeps returns up to -Phi(s0) (property test) ----------------


class ScriptedEnv(gym.Env):
    """Plays back a fixed list of observations and rewards, then terminates or truncates."""

    def __init__(self, observations: np.ndarray, rewards: list[float], terminate: bool):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=observations.shape[1:], dtype=np.float64)
        self.action_space = gym.spaces.Discrete(2)
        self.observations, self.rewards, self.terminate = observations, rewards, terminate

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observations[0], {}

    def step(self, action):
        self.t += 1
        end = self.t == len(self.rewards)
        return self.observations[self.t], self.rewards[self.t - 1], end and self.terminate, end and not self.terminate, {}


finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)


@st.composite
def episodes(draw):
    dims = draw(st.integers(1, 4))
    length = draw(st.integers(1, 30))
    observations = np.array(draw(st.lists(st.lists(finite, min_size=dims, max_size=dims),
                                          min_size=length + 1, max_size=length + 1)))
    rewards = draw(st.lists(finite, min_size=length, max_size=length))
    weights = draw(st.lists(finite, min_size=dims, max_size=dims))
    return observations, rewards, weights


def discounted(rewards: list[float], gamma: float) -> float:
    return sum(gamma**t * r for t, r in enumerate(rewards))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(episode=episodes(), gamma=st.floats(0.0, 1.0), scale=st.floats(0.1, 5.0), terminate=st.booleans())
def test_potential_shaping_changes_the_discounted_return_only_by_minus_phi_s0(episode, gamma, scale, terminate):
    observations, rewards, weights = episode
    params = potential.Params(potential="linear", gamma=gamma, scale=scale, weights=tuple(weights))
    env = potential.wrap(ScriptedEnv(observations, rewards, terminate), params)
    obs, _ = env.reset(seed=0)
    shaped_rewards, done = [], False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(0)
        shaped_rewards.append(reward)
        done = terminated or truncated
    phi = scale * observations @ np.asarray(weights)
    tail = 0.0 if terminate else gamma ** len(rewards) * phi[-1]  # a time limit is not terminal
    expected = discounted(rewards, gamma) - phi[0] + tail
    assert discounted(shaped_rewards, gamma) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**20), gamma=st.floats(0.5, 1.0))
@example(seed=2665, gamma=1.0)  # random actions hover until the time limit: truncated, not terminated
def test_lunar_lander_potential_keeps_returns_up_to_minus_phi_s0(registry, seed, gamma):
    env = shaped(registry, "LunarLander-v3", [{"name": "potential", "params": {"gamma": gamma}}])
    steps = play(env, seed=seed, actions_seed=seed)
    true_rewards = [s[1] - s[4][REWARD_COMPONENTS_KEY]["potential/bonus"] for s in steps[1:]]
    plain = play(gym.make("LunarLander-v3"), seed=seed, actions_seed=seed)
    assert true_rewards == pytest.approx([s[1] for s in plain[1:]])
    assert steps[-1][2] or steps[-1][3]
    last = steps[-1][0]
    tail = 0.0 if steps[-1][2] else gamma ** len(true_rewards) * potential.lunar_lander_potential(last)
    expected = discounted(true_rewards, gamma) - potential.lunar_lander_potential(steps[0][0]) + tail
    assert discounted([s[1] for s in steps[1:]], gamma) == pytest.approx(expected, rel=1e-6, abs=1e-6)


# --- the harness records the true return under any shaper chain --------------------------

LUNAR_STEPS = [
    SEED003,
    {"name": "lunar_lander", "params": {"w_velocity": 5.0, "mode": "add", "scale": 0.5}},
    {"name": "potential", "params": {"gamma": 0.99}},
    {"name": "potential", "params": {"potential": "linear", "weights": [1.0, -1.0, 0, 0, 2.0, 0, 0, 0]}},
    {"name": "scale", "params": {"factor": 0.01, "offset": 0.1}},
    {"name": "clip", "params": {"low": -1.0, "high": 1.0}},
    {"name": "normalize", "params": {"gamma": 0.99}},
]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chain=st.lists(st.sampled_from(LUNAR_STEPS), min_size=1, max_size=4), run_seed=st.integers(0, 1000))
def test_recorded_true_return_is_the_unwrapped_envs_return(registry, chain, run_seed):
    from harness.envs import resolve_env

    records: list[dict] = []
    make_env = training_env_factory(registry, resolve_env(registry, "LunarLander-v3"), {}, chain, run_seed,
                                    records.append)
    env = make_env(0)
    env.reset()
    actions = np.random.default_rng(run_seed).integers(0, 4, size=1000)
    for length, action in enumerate(actions, start=1):
        *_, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            break
    [record] = records
    plain = gym.make("LunarLander-v3")
    plain.reset(seed=train_env_seeds(run_seed, 1)[0])
    true_return = sum(float(plain.step(int(a))[1]) for a in actions[:length])
    assert record["length"] == length
    assert record["true_return"] == pytest.approx(true_return, abs=1e-9)
    assert abs(record["shaped_return"] - true_return) > 1e-6
    names = {s["name"] for s in chain} & {"lunar_lander", "potential"}
    assert {key.split("/")[0] for key in record["components"]} == names
