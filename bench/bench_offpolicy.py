"""Native DQN / TD3 / DDPG vs SB3 with equal settings: env steps per second (wall and CPU) and final return.

    python bench_offpolicy.py dqn CartPole-v1 20000 [learning_starts] [reps]
    python bench_offpolicy.py td3 Pendulum-v1 3000 1000

Settings come from the native "default" preset for the env (rl-baselines3-zoo values) and are
passed to SB3 unchanged; native DQN runs with double_q=False because SB3's DQN has no double-DQN.
One torch thread each, as in a harness worker.
"""

import sys
import time
import warnings

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import DDPG, DQN, TD3
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.noise import NormalActionNoise

from harness.envs import eval_env_seeds, make_base_env, resolve_env
from harness.evaluation import evaluate
from harness.params import build_params, preset_overrides
from harness.registry import Registry, make_plugin_manager
from harness.seeding import seed_everything
from harness.testing import make_context
from harness_algos import ddpg, dqn, td3

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
MODULES = {"dqn": dqn, "td3": td3, "ddpg": ddpg}


def sb3_model(algo: str, env_id: str, p: dict, seed: int):
    env = gym.make(env_id)
    kw = dict(learning_rate=p["learning_rate"], buffer_size=p["buffer_size"], learning_starts=p["learning_starts"],
              batch_size=p["batch_size"], gamma=p["gamma"], train_freq=p["train_freq"],
              gradient_steps=p["gradient_steps"], policy_kwargs=dict(net_arch=list(p["hidden_sizes"])),
              seed=seed, device="cpu")
    if algo == "dqn":
        kw.update(target_update_interval=p["target_update_interval"], exploration_fraction=p["exploration_fraction"],
                  exploration_final_eps=p["exploration_final_eps"], max_grad_norm=p["max_grad_norm"])
        return DQN("MlpPolicy", env, **kw)
    n = env.action_space.shape[0]
    kw.update(tau=p["tau"], action_noise=NormalActionNoise(np.zeros(n), p["exploration_noise"] * np.ones(n)))
    if algo == "td3":
        kw.update(policy_delay=p["policy_delay"], target_policy_noise=p["target_policy_noise"],
                  target_noise_clip=p["target_noise_clip"])
        return TD3("MlpPolicy", env, **kw)
    return DDPG("MlpPolicy", env, **kw)


def timed(fn, steps: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def main() -> None:
    algo, env_id, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reps = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    module = MODULES[algo]
    overrides = preset_overrides(module.presets, "default", env_id)
    if len(sys.argv) > 4:
        overrides["learning_starts"] = int(sys.argv[4])
    if algo == "dqn":
        overrides["double_q"] = False
    params = build_params(module.Params, overrides)
    registry = Registry(make_plugin_manager(load_entrypoints=False))
    print(f"{algo} on {env_id}, budget {budget}: {params}")
    for rep in range(reps):
        seed_everything(rep)
        agent = module.make_agent(params, make_context(env_id, rep, registry=registry)[0])
        wall, cpu = timed(lambda: agent.learn(budget, lambda step, metrics: True), budget)
        env = make_base_env(resolve_env(registry, env_id), {})
        score = evaluate(agent, env, eval_env_seeds(rep, 10)).mean
        print(f"native rep {rep}: {wall:7.0f} steps/s wall {cpu:7.0f} steps/s CPU  eval {score:8.1f}", flush=True)
        model = sb3_model(algo, env_id, vars(params) if hasattr(params, "__dict__") else {}, rep)
        wall, cpu = timed(lambda: model.learn(budget), budget)
        score = evaluate_policy(model, gym.make(env_id), 10)[0]
        print(f"sb3    rep {rep}: {wall:7.0f} steps/s wall {cpu:7.0f} steps/s CPU  eval {score:8.1f}", flush=True)


if __name__ == "__main__":
    main()
