"""harness_sb3: specs, params (= SB3 defaults), zoo presets, adapter learning/saving/metrics."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from harness_sb3 import a2c, adapter, ddpg, dqn, ppo, sac, td3, trpo
from stable_baselines3.common.noise import (
    NormalActionNoise,
    OrnsteinUhlenbeckActionNoise,
)
from stable_baselines3.common.utils import LinearSchedule

from harness.params import ParamsError, build_params, field_docs, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.testing import check_algorithm, make_context, train

torch.set_num_threads(1)
MODULES = {"ppo": ppo, "a2c": a2c, "trpo": trpo, "dqn": dqn, "sac": sac, "td3": td3, "ddpg": ddpg}
TINY = {"policy_kwargs": {"net_arch": [16]}}
#: Tiny settings so a few hundred steps hold several updates; env family per algorithm.
QUICK = {
    "ppo": ("CartPole-v1", {**TINY, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 2}),
    "a2c": ("CartPole-v1", {**TINY, "n_envs": 2, "n_steps": 8}),
    "trpo": ("CartPole-v1", {**TINY, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_critic_updates": 2}),
    "dqn": ("CartPole-v1", {**TINY, "learning_starts": 50, "batch_size": 16, "target_update_interval": 50}),
    "sac": ("Pendulum-v1", {**TINY, "learning_starts": 150, "batch_size": 16, "gradient_steps": 1}),
    "td3": ("Pendulum-v1", {**TINY, "learning_starts": 150, "batch_size": 16, "noise_type": "normal"}),
    "ddpg": ("Pendulum-v1", {**TINY, "learning_starts": 150, "batch_size": 16, "noise_type": "ornstein-uhlenbeck"}),
}
#: Environments the zoo has tuned values for, per algorithm (rl-zoo3 2.9.2).
ZOO_ENVS = {
    "ppo": {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3", "Pendulum-v1",
            "MountainCarContinuous-v0", "LunarLanderContinuous-v3"},
    "a2c": {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3", "Pendulum-v1",
            "MountainCarContinuous-v0", "LunarLanderContinuous-v3"},
    "trpo": {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3", "Pendulum-v1",
             "MountainCarContinuous-v0", "LunarLanderContinuous-v3"},
    "dqn": {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3"},
    "sac": {"Pendulum-v1", "MountainCarContinuous-v0", "LunarLanderContinuous-v3"},
    "td3": {"Pendulum-v1", "MountainCarContinuous-v0", "LunarLanderContinuous-v3"},
    "ddpg": {"Pendulum-v1", "MountainCarContinuous-v0", "LunarLanderContinuous-v3"},
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(make_plugin_manager(load_entrypoints=False, modules=["harness_sb3"]))


# ---------------------------------------------------------------- specs and params
def test_specs_are_registered_without_importing_torch(registry):
    assert [n for n in registry.names("algorithm") if n.startswith("sb3.")] == sorted(f"sb3.{name}" for name in MODULES)
    assert registry.get("algorithm", "sb3.dqn").action_spaces == ("Discrete",)
    assert registry.get("algorithm", "sb3.td3").action_spaces == ("Box",)
    assert "Discrete" in registry.get("algorithm", "sb3.ppo").observation_spaces
    code = "import sys, harness_sb3; print(sorted({'torch', 'stable_baselines3'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


@pytest.mark.parametrize("name", MODULES)
def test_params_are_documented_and_default_to_sb3(registry, name):
    module = registry.get("algorithm", f"sb3.{name}").load()
    assert module is MODULES[name]
    assert all(field_docs(module.Params).values())
    defaults = dataclasses.asdict(module.Params())
    sb3_class = adapter.sb3_class(module.ALGORITHM)
    assert sb3_class.__name__ == name.upper()
    signature = inspect.signature(sb3_class.__init__).parameters
    for key, value in defaults.items():
        if key in ("policy_kwargs", *adapter.HARNESS_FIELDS):
            continue
        assert signature[key].default == value, f"{name}.{key}: {value!r} != SB3 {signature[key].default!r}"
    assert defaults["policy_kwargs"] == {} and signature["policy_kwargs"].default is None


def test_validating_an_sb3_suite_imports_neither_torch_nor_sb3():
    code = ("import sys; from harness.registry import default_registry; from harness.suite import load_suite; "
            "load_suite(sys.argv[1], default_registry()); "
            "print(sorted(m for m in ('torch', 'stable_baselines3', 'sb3_contrib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve().parents[1] / "suites" / "smoke.toml")],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_bad_values_are_refused():
    with pytest.raises(ParamsError, match="lin_"):
        build_params(ppo.Params, {"learning_rate": "linear_3e-4"})
    with pytest.raises(ParamsError, match="activation_fn"):
        build_params(ppo.Params, {"policy_kwargs": {"activation_fn": "swish"}})
    with pytest.raises(ParamsError) as error:
        build_params(td3.Params, {"noise_type": "pink"})
    assert error.value.key == "noise_type"
    with pytest.raises(ParamsError):
        build_params(dqn.Params, {"use_sde": True})  # not a DQN parameter


def test_constructor_kwargs_convert_schedules_activations_and_noise(registry):
    params = build_params(ppo.Params, {"learning_rate": "lin_7.3e-4", "clip_range": 0.1,
                                       "policy_kwargs": {"activation_fn": "nn.ReLU", "net_arch": {"pi": [8], "vf": [8]}}})
    ctx, _ = make_context("CartPole-v1", registry=registry)
    env = adapter.make_vec_env(params, ctx)
    kwargs = adapter.constructor_kwargs(params, env)
    assert isinstance(kwargs["learning_rate"], LinearSchedule)
    assert kwargs["learning_rate"](1.0) == pytest.approx(7.3e-4) and kwargs["learning_rate"](0.0) == 0.0
    assert kwargs["clip_range"] == 0.1
    assert kwargs["policy_kwargs"] == {"activation_fn": torch.nn.ReLU, "net_arch": {"pi": [8], "vf": [8]}}
    assert not set(kwargs) & adapter.HARNESS_FIELDS
    box_ctx, _ = make_context("Pendulum-v1", registry=registry)
    box_env = adapter.make_vec_env(td3.Params(), box_ctx)
    normal = adapter.constructor_kwargs(build_params(td3.Params, {"noise_type": "normal", "noise_std": 0.3}), box_env)
    assert isinstance(normal["action_noise"], NormalActionNoise) and normal["action_noise"]._sigma.tolist() == [0.3]
    ou = adapter.constructor_kwargs(build_params(ddpg.Params, {"noise_type": "ornstein-uhlenbeck"}), box_env)
    assert isinstance(ou["action_noise"], OrnsteinUhlenbeckActionNoise)
    assert adapter.constructor_kwargs(td3.Params(), box_env)["action_noise"] is None
    assert build_params(td3.Params, {"train_freq": [1, "episode"]}).train_freq == (1, "episode")


# ---------------------------------------------------------------- zoo presets
@pytest.mark.parametrize("name", MODULES)
def test_zoo_preset_resolves_for_every_documented_env(name):
    module = MODULES[name]
    assert set(module.presets["zoo"]) == ZOO_ENVS[name] == set(module.zoo_budgets)
    assert preset_overrides(module.presets, "default", "CartPole-v1") == {}
    for env in ZOO_ENVS[name]:
        overrides = preset_overrides(module.presets, "zoo", env)
        assert "n_timesteps" not in overrides
        params = build_params(module.Params, overrides)
        adapter.policy_kwargs(params.policy_kwargs)  # converts without error
        assert module.zoo_budgets[env] >= 20_000
    with pytest.raises(ParamsError, match="no entry"):
        preset_overrides(module.presets, "zoo", "Taxi-v4")


def test_zoo_values_match_the_source():
    cartpole = build_params(ppo.Params, preset_overrides(ppo.presets, "zoo", "CartPole-v1"))
    assert (cartpole.n_envs, cartpole.n_steps, cartpole.batch_size, cartpole.n_epochs) == (8, 32, 256, 20)
    assert (cartpole.learning_rate, cartpole.clip_range, cartpole.gae_lambda) == ("lin_0.001", "lin_0.2", 0.8)
    assert ppo.zoo_budgets["CartPole-v1"] == 100_000
    assert preset_overrides(ppo.presets, "zoo", "Acrobot-v1")["normalize"] is True
    assert preset_overrides(dqn.presets, "zoo", "CartPole-v1")["policy_kwargs"] == {"net_arch": [256, 256]}
    assert preset_overrides(a2c.presets, "zoo", "Pendulum-v1")["learning_rate"] == "lin_7e-4"
    assert preset_overrides(sac.presets, "zoo", "LunarLanderContinuous-v3")["learning_rate"] == "lin_7.3e-4"
    pendulum = build_params(td3.Params, preset_overrides(td3.presets, "zoo", "Pendulum-v1"))
    assert (pendulum.noise_type, pendulum.noise_std, pendulum.gamma) == ("normal", 0.1, 0.98)
    assert trpo.zoo_budgets["MountainCarContinuous-v0"] == 50_000


# ---------------------------------------------------------------- learning, determinism, save/load
@pytest.mark.parametrize("name", MODULES)
def test_learns_is_deterministic_and_reloads(registry, name):
    env, params = QUICK[name]
    steps = 220  # one Pendulum episode is 200 steps
    trained = check_algorithm(f"sb3.{name}", env, steps=steps, params=params, registry=registry)
    assert trained.agent.model.num_timesteps >= steps
    assert trained.agent.model._n_updates > 0


def test_normalized_agent_saves_and_applies_its_statistics(registry, tmp_path):
    params = {**QUICK["ppo"][1], "normalize": {"norm_reward": False}}
    trained = check_algorithm("sb3.ppo", "CartPole-v1", steps=200, params=params, registry=registry)
    agent = trained.agent
    assert agent.normalizer is not None and not agent.normalizer.norm_reward
    assert agent.normalizer.gamma == trained.params.gamma
    agent.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"model.zip", "vecnormalize.pkl"}
    obs = np.array([0.05, 1.5, -0.1, -2.0], dtype=np.float32)
    expected, _ = agent.model.predict(agent.normalizer.normalize_obs(obs), deterministic=True)
    assert agent.act(obs) == int(expected)
    reloaded = ppo.load_agent(trained.params, trained.ctx, tmp_path)
    np.testing.assert_array_equal(reloaded.normalizer.obs_rms.mean, agent.normalizer.obs_rms.mean)


def test_different_seeds_give_different_policies(registry):
    env, params = QUICK["ppo"]
    first = train("sb3.ppo", env, 64, seed=0, params=params, registry=registry)
    second = train("sb3.ppo", env, 64, seed=1, params=params, registry=registry)
    weights = [next(t.agent.model.policy.parameters()).detach().numpy() for t in (first, second)]
    assert not np.array_equal(*weights)


# ---------------------------------------------------------------- callback relay
@pytest.mark.parametrize(("name", "expected"), [
    ("ppo", {"loss/policy", "loss/value", "loss/entropy", "policy/entropy", "loss/approx_kl",
             "loss/clip_fraction", "loss/total", "loss/explained_variance"}),
    ("a2c", {"loss/policy", "loss/value", "loss/entropy"}),
    ("trpo", {"loss/policy_objective", "loss/value", "loss/kl"}),
    ("dqn", {"loss/td", "policy/epsilon"}),
    ("sac", {"loss/actor", "loss/critic", "loss/ent_coef", "policy/ent_coef"}),
])
def test_callback_gets_increasing_steps_and_mapped_losses(registry, name, expected):
    env, params = QUICK[name]
    impl = registry.get("algorithm", f"sb3.{name}").load()
    ctx, _ = make_context(env, registry=registry)
    agent = impl.make_agent(build_params(impl.Params, params), ctx)
    calls: list[tuple[int, dict]] = []
    agent.learn(220, lambda step, metrics: calls.append((step, dict(metrics))) or True)
    steps = [step for step, _ in calls]
    assert steps == sorted(steps) and steps[-1] >= 220
    reported = [metrics for _, metrics in calls if metrics]
    assert reported and expected <= set(reported[0])
    assert all(np.isfinite(value) for metrics in reported for value in metrics.values())
    assert not any(key.startswith("train/") and key != "train/learning_rate" for m in reported for key in m)


def test_callback_returning_false_stops_learning(registry):
    env, params = QUICK["ppo"]
    ctx, _ = make_context(env, registry=registry)
    agent = ppo.make_agent(build_params(ppo.Params, params), ctx)
    agent.learn(10_000, lambda step, metrics: step < 100)
    assert 100 <= agent.model.num_timesteps < 200


def test_learning_leaves_no_sb3_log_folder(registry, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # where SB3's default logger would write
    env, params = QUICK["a2c"]
    ctx, _ = make_context(env, registry=registry)
    a2c.make_agent(build_params(a2c.Params, params), ctx).learn(32, lambda step, metrics: True)
    assert not list(tmp_path.glob("SB3-*"))
