"""CPU vs GPU per algorithm: training steps/s with device "cpu" and "cuda" side by side.

    python bench/bench_device.py [--steps 20000] [--pairs ppo:CartPole-v1 sb3.sac:Pendulum-v1 ...]

Each algorithm learns ``--steps`` env steps from the same seed on each device, in
this process, the way a harness worker builds it (one torch thread, harness envs,
the ``zoo`` preset where the algorithm has one for the env), without MLflow.  The
ratio cuda/cpu says whether ``device = "auto"`` should pick the GPU for that
algorithm (``AlgorithmSpec.prefers_gpu``).  Without a CUDA device it prints the CPU
column only.
"""

from __future__ import annotations

import argparse
import time

import torch

from harness.params import ParamsError, build_params, preset_overrides
from harness.registry import default_registry
from harness.seeding import seed_everything
from harness.testing import make_context

PAIRS = ["ppo:CartPole-v1", "a2c:CartPole-v1", "dqn:CartPole-v1", "td3:Pendulum-v1",
         "sb3.ppo:CartPole-v1", "sb3.a2c:CartPole-v1", "sb3.dqn:CartPole-v1", "sb3.sac:Pendulum-v1",
         "sb3.td3:Pendulum-v1"]


def steps_per_second(algorithm: str, env: str, steps: int, device: str, seed: int = 0) -> float:
    impl = default_registry().get("algorithm", algorithm).load()
    try:
        overrides = preset_overrides(impl.presets, "zoo", env)
    except ParamsError:  # no zoo preset for this algorithm or env
        overrides = {}
    params = build_params(impl.Params, overrides)
    seed_everything(seed)
    ctx, _ = make_context(env, seed, device=device)
    agent = impl.make_agent(params, ctx)
    began = time.perf_counter()
    agent.learn(steps, lambda step, metrics: True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--pairs", nargs="*", default=PAIRS, help="algorithm:environment")
    args = parser.parse_args()
    torch.set_num_threads(1)
    gpu = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if gpu else "no CUDA device"
    print(f"{'algorithm':<12}{'environment':<16}{'cpu steps/s':>14}{'cuda steps/s':>14}{'cuda/cpu':>10}   ({name})")
    for pair in args.pairs:
        algorithm, env = pair.split(":")
        cpu = steps_per_second(algorithm, env, args.steps, "cpu")
        cuda = steps_per_second(algorithm, env, args.steps, "cuda") if gpu else None
        cells = f"{cuda:14.0f}{cuda / cpu:9.2f}x" if cuda else f"{'n/a':>14}{'n/a':>10}"
        print(f"{algorithm:<12}{env:<16}{cpu:14.0f}{cells}", flush=True)


if __name__ == "__main__":
    main()
