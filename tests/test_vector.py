"""Training-env backends: resolution, suite errors, run identity, the fast backends' contract and their equivalence to gymnasium."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from harness.api import EnvironmentSpec
from harness.errors import SuiteErrors
from harness.registry import default_registry
from harness.runner import run_suite
from harness.spec import NOT_IN_KEY, RunSpec, canonical_json
from harness.suite import load_suite
from harness.testing.equivalence import compare, gymnasium_sample, vector_sample
from harness.vector import (
    VERIFIED,
    EnvPoolVectorEnv,
    EpisodeTally,
    GymnasiumCartPoleVectorEnv,
    fast_vector_env,
    installed,
    resolve_backend,
    training_vector_env,
)
from tests.conftest import write_suite

HAS_ENVPOOL = installed("envpool")
needs_envpool = pytest.mark.skipif(not HAS_ENVPOOL, reason="envpool is not installed (pip install 'harness[envpool]')")
ALPHA = 0.01


def test_resolution_falls_back_to_sync_with_a_reason():
    assert resolve_backend("sync", "CartPole-v1", plain=True) == ("sync", "")
    backend, note = resolve_backend("auto", "CartPole-v1", plain=False)
    assert backend == "sync" and "gymnasium runs only the plain environment" in note
    assert resolve_backend("auto", "Taxi-v4", plain=True) == ("sync", "no fast backend is verified and installed for Taxi-v4")
    assert resolve_backend("auto", "CartPole-v1", plain=True)[0] == "gymnasium"  # the fastest (bench/bench_vector.py)
    assert resolve_backend("auto", "Acrobot-v1", plain=True)[0] == ("envpool" if HAS_ENVPOOL else "sync")
    with pytest.raises(ValueError, match="envpool is not used for Taxi-v4"):
        resolve_backend("envpool", "Taxi-v4", plain=True)
    with pytest.raises(ValueError, match="gymnasium is not used for Acrobot-v1: not verified against gymnasium"):
        resolve_backend("gymnasium", "Acrobot-v1", plain=True)


@pytest.mark.parametrize(("env", "vector", "message"), [
    ("Taxi-v4", "envpool", "environments[0].vector: envpool is not used for Taxi-v4: not verified against gymnasium"),
    ("Acrobot-v1", "gymnasium", "environments[0].vector: gymnasium is not used for Acrobot-v1: not verified against "
     "gymnasium (verified: CartPole-v1)"),
    ("CartPole-v1", "numpy", "environments[0].vector: Input should be 'auto', 'gymnasium', 'envpool' or 'sync' "
     "(got 'numpy')"),
])
def test_a_pinned_backend_that_cannot_serve_the_env_is_a_suite_error(tmp_path, env, vector, message):
    suite = write_suite(tmp_path, f"""
        name = "v"
        seeds = 1
        budget = 100
        [[algorithms]]
        name = "ppo"
        [[environments]]
        name = "{env}"
        vector = "{vector}"
    """)
    with pytest.raises(SuiteErrors) as raised:  # the CLI prints each as one line, exit code 2
        load_suite(suite, default_registry())
    assert message in str(raised.value)


def test_vector_is_in_the_run_key_and_sync_keys_are_unchanged():
    fields = dict(suite="s", algorithm="ppo", algorithm_label="ppo", params={}, env="CartPole-v1",
                  env_label="CartPole-v1", env_kwargs={}, shaping="none", shapers=[], seed=0, budget=10,
                  evaluation={}, device="cpu")
    old = {k: v for k, v in fields.items() if k not in NOT_IN_KEY}  # a spec from before the field existed
    assert RunSpec(**fields).run_key == hashlib.sha256(canonical_json(old).encode()).hexdigest()[:20]
    assert RunSpec(**fields, vector="auto").run_key != RunSpec(**fields).run_key


def test_algorithms_without_vector_envs_keep_sync_and_their_run_keys(tmp_path):
    """A suite pinning envpool for its native agents still reuses banked SB3 runs (same run keys)."""
    def keys(vector_line: str) -> dict[str, str]:
        suite = write_suite(tmp_path, f"""
            name = "v"
            seeds = 1
            budget = 100
            [[algorithms]]
            name = "ppo"
            [[algorithms]]
            name = "sb3.ppo"
            [[algorithms]]
            name = "dqn"
            [[environments]]
            name = "CartPole-v1"
            {vector_line}
        """)
        return {run.algorithm: (run.vector, run.run_key) for run in load_suite(suite, default_registry()).runs}

    plain, pinned = keys(""), keys('vector = "auto"')
    assert pinned["sb3.ppo"] == plain["sb3.ppo"] and pinned["dqn"] == plain["dqn"]
    assert pinned["ppo"][0] == "auto" and pinned["ppo"][1] != plain["ppo"][1]


def test_a_run_records_the_backend_asked_and_used(tmp_path):
    suite = write_suite(tmp_path, """
        name = "vec"
        seeds = 1
        budget = 512
        [evaluation]
        every = 512
        episodes = 2
        [[algorithms]]
        name = "ppo"
        params = { n_envs = 4, n_steps = 64, batch_size = 128, n_epochs = 1 }
        [[environments]]
        name = "CartPole-v1"
        vector = "auto"
    """)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    outcome = run_suite(suite, tracking_uri=uri, show_progress=False)
    assert len(outcome.finished) == 1 and not outcome.failed
    run = MlflowClient(uri).search_runs([MlflowClient(uri).get_experiment_by_name("vec").experiment_id])[0]
    assert run.data.tags["harness.vector"] == "auto"
    assert run.data.tags["harness.vector_resolved"] == "gymnasium"
    assert run.data.metrics["train/episode_return"] > 0


FAST_BACKENDS = [pytest.param("gymnasium"), pytest.param("envpool", marks=needs_envpool)]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_a_fast_backend_resets_finished_envs_in_the_same_step_and_records_their_episodes(backend):
    records: list[dict] = []
    probe = gym.make("CartPole-v1")
    envs = fast_vector_env(backend, "CartPole-v1", 4, 1, probe, EpisodeTally(4, records.append, [0]))
    obs, _ = envs.reset()
    lengths, ends = np.zeros(4, int), 0
    for _ in range(200):
        obs, rewards, terminated, truncated, info = envs.step(np.ones(4, np.int64))  # always push right: falls fast
        lengths += 1
        ended = terminated | truncated
        if ended.any():
            ids = np.flatnonzero(ended)
            assert np.abs(obs[ids]).max() <= 0.05  # a fresh start state, not the fallen one
            assert all(np.abs(info["final_obs"][i][2]) > 0.2 or np.abs(info["final_obs"][i][0]) > 2.4 for i in ids)
            ends += len(ids)
            lengths[ids] = 0
    assert len(records) == ends > 0
    steps = [r["step"] for r in records]
    assert len(set(steps)) == len(steps) and steps == sorted(steps)
    assert all(r["true_return"] == r["shaped_return"] == r["length"] for r in records)
    assert envs.single_observation_space == probe.observation_space


BUILD_AND_STEP = """
import sys, gymnasium as gym
from harness.vector import EnvPoolVectorEnv, EpisodeTally
env = sys.argv[1]
envs = EnvPoolVectorEnv(env, 2, 0, gym.make(env), EpisodeTally(2, lambda r: None, [0]))
envs.reset()
envs.step(envs.action_space.sample())
"""


@needs_envpool
@pytest.mark.parametrize("env", ["Acrobot-v1", "Pendulum-v1"])
def test_a_pool_prints_no_warning(env):
    """EnvPool gives float32 boxes float64 bounds; gymnasium's warning about it would be noise in every run
    (a fresh process with warnings as errors: the first creation and reset are where it would show)."""
    result = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", BUILD_AND_STEP, env],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_gymnasium_cartpole_truncates_at_the_time_limit_and_restarts_every_env_it_resets():
    records: list[dict] = []
    envs = GymnasiumCartPoleVectorEnv(3, 0, gym.make("CartPole-v1", max_episode_steps=20),
                                      EpisodeTally(3, records.append, [0]))
    envs.reset()
    for step in range(1, 61):  # alternate pushes keep the pole up for 20 steps: every episode is truncated
        obs, _, terminated, truncated, info = envs.step(np.full(3, step % 2))
        assert not terminated.any() and truncated.all() == (step % 20 == 0) and truncated.any() == truncated.all()
        if truncated.all():
            assert np.abs(obs).max() <= 0.05 and np.stack(info["final_obs"]).std(axis=0).max() > 0
    assert [r["length"] for r in records] == [20] * 9 and [r["step"] for r in records][:3] == [58, 59, 60]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_training_vector_env_uses_the_verified_backend_only_for_the_plain_env(backend):
    env = "CartPole-v1" if backend == "gymnasium" else "Acrobot-v1"
    spec = EnvironmentSpec(env, max_episode_steps=500)
    make, resolved, _ = training_vector_env("auto", spec, {}, [], 0, print)
    assert resolved == backend
    assert isinstance(make(2), GymnasiumCartPoleVectorEnv if backend == "gymnasium" else EnvPoolVectorEnv)
    shaped = training_vector_env("auto", spec, {}, [{"name": "scale", "params": {}}], 0, print)
    assert shaped[0] is None and shaped[1] == "sync"
    custom = training_vector_env("auto", dataclasses.replace(spec, make="x:y"), {}, [], 0, print)
    assert custom[0] is None


# --- equivalence: random-policy dynamics, KS tests at ALPHA (Bonferroni over statistics) ------------
EPISODES = {"CartPole-v1": 300, "Acrobot-v1": 60, "MountainCar-v0": 100, "MountainCarContinuous-v0": 40,
            "Pendulum-v1": 100, "LunarLander-v3": 200, "LunarLanderContinuous-v3": 200}  # bench: 300 each


@pytest.mark.parametrize(("backend", "env"), [
    pytest.param(backend, env, marks=[needs_envpool] if backend == "envpool" else [])
    for backend in VERIFIED for env in sorted(VERIFIED[backend])])
def test_fast_backend_dynamics_match_gymnasium(backend, env):
    episodes = EPISODES[env]
    reference = gymnasium_sample(gym.make(env), episodes, seed=10_000)
    envs = fast_vector_env(backend, env, 8, 3, gym.make(env), EpisodeTally(8, lambda r: None, [0]))
    same, p_values = compare(reference, vector_sample(envs, episodes, 5), ALPHA)
    assert same, f"{env}: {backend} differs from gymnasium (p-values {p_values})"


def test_the_equivalence_test_detects_a_known_difference():
    """Power check with known truth: a 40% longer pole is a different CartPole."""
    longer = gym.make("CartPole-v1")
    longer.unwrapped.length = 0.7
    same, _ = compare(gymnasium_sample(gym.make("CartPole-v1"), 300, 1), gymnasium_sample(longer, 300, 2), ALPHA)
    assert not same
    same, _ = compare(gymnasium_sample(gym.make("CartPole-v1"), 300, 1), gymnasium_sample(gym.make("CartPole-v1"), 300, 5000), ALPHA)
    assert same


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_training_on_a_fast_backend_is_deterministic_under_a_seed(backend):
    from harness.testing import train

    params = {"n_envs": 4, "n_steps": 64, "batch_size": 128, "n_epochs": 2}
    first, second = (train("ppo", "CartPole-v1", 2048, seed=4, params=params, vector=backend) for _ in range(2))
    assert [r["true_return"] for r in first.episodes] == [r["true_return"] for r in second.episodes]
    np.testing.assert_array_equal(first.evaluation.returns, second.evaluation.returns)
