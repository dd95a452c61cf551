"""Native PPO/A2C/DQN with ``update_kernel = "torch"`` vs ``"numpy"``: CPU seconds of ``learn()``, side by side.

    python bench/bench_update_kernel.py --cells ppo:Acrobot-v1,a2c:CartPole-v1,dqn:Acrobot-v1:fast --steps 100000

For each cell (algorithm, environment, preset: ``zoo`` unless named), the same seed is
trained with each kernel, in turn, on EnvPool training envs (DQN: its own gymnasium env)
and one thread, as in a harness worker. Only ``learn()`` is timed (process CPU time, steady when other
processes share the cores). The two kernels compute the same update
(tests/test_numpy_update.py), so the runs differ only by float rounding.
"""

from __future__ import annotations

import argparse
import importlib
import time

from harness.params import build_params, preset_overrides
from harness.seeding import seed_everything
from harness.testing import make_context
from harness.worker import single_threaded


def cpu_seconds(algo: str, env_id: str, preset: str, kernel: str, steps: int, seed: int, vector: str) -> float:
    module = importlib.import_module(f"harness_algos.{algo}")
    values = {**preset_overrides(module.presets, preset, env_id), "update_kernel": kernel}
    seed_everything(seed)
    agent = module.make_agent(build_params(module.Params, values), make_context(env_id, seed, vector=vector)[0])
    began = time.process_time()
    agent.learn(steps, lambda step, metrics: True)
    return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="ppo:Acrobot-v1,ppo:LunarLander-v3,ppo:CartPole-v1,a2c:CartPole-v1,"
                                           "a2c:Acrobot-v1,dqn:CartPole-v1:fast,dqn:Acrobot-v1:fast")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vector", default="envpool")
    args = parser.parse_args()
    single_threaded()
    print(f"{args.steps:,} env steps, seed {args.seed}, vector {args.vector}\n")
    print("| algorithm | environment | preset | torch: CPU s | numpy: CPU s | speed-up |")
    print("|---|---|---|---:|---:|---:|")
    for cell in args.cells.split(","):
        algo, env_id, preset = (cell.split(":") + ["zoo"])[:3]
        torch_s, numpy_s = (cpu_seconds(algo, env_id, preset, kernel, args.steps, args.seed, args.vector)
                            for kernel in ("torch", "numpy"))
        print(f"| {algo} | {env_id} | {preset} | {torch_s:.2f} | {numpy_s:.2f} | {torch_s / numpy_s:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
