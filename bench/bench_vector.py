"""Training-env backends side by side: microseconds per env step of ``ctx.make_vec_env(n)``.

    python bench/bench_vector.py                         # CartPole-v1, n = 1, 2, 8, 16, 64, 256
    python bench/bench_vector.py --env LunarLander-v3 --envs 2,16

Each backend verified for the environment (and ``sync``, gymnasium's SyncVectorEnv
over the harness's single envs) steps ``n`` envs with uniformly random actions
(drawn beforehand, not timed) for at least ``--steps`` env steps; the backends take
turns within every repeat, and the table gives the median over repeats of CPU
microseconds per env step (this process; EnvPool's worker thread is included) and
the wall figure.  This is the cost ``auto`` is ordered by (harness.vector.VERIFIED).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from harness.registry import Registry, make_plugin_manager
from harness.testing import make_context
from harness.vector import VERIFIED, installed
from harness.worker import single_threaded

REGISTRY = Registry(make_plugin_manager(load_entrypoints=False))


def cost(env_id: str, backend: str, n: int, steps: int) -> tuple[float, float]:
    """(CPU, wall) microseconds per env step of ``n`` envs on ``backend``."""
    envs = make_context(env_id, 0, registry=REGISTRY, vector=backend)[0].make_vec_env(n)
    envs.reset()
    calls = max(1, steps // n)
    envs.single_action_space.seed(0)
    actions = [np.stack([envs.single_action_space.sample() for _ in range(n)]) for _ in range(min(calls, 256))]
    began_cpu, began = time.process_time(), time.perf_counter()
    for i in range(calls):
        envs.step(actions[i % len(actions)])
    cpu, wall = time.process_time() - began_cpu, time.perf_counter() - began
    envs.close()
    return 1e6 * cpu / (calls * n), 1e6 * wall / (calls * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--envs", default="1,2,8,16,64,256", help="vector sizes n")
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    single_threaded()
    backends = [b for b in VERIFIED if args.env in VERIFIED[b] and installed(b)] + ["sync"]
    sizes = [int(n) for n in args.envs.split(",")]
    print(f"{args.env}: CPU us per env step, median of {args.repeats} (wall in brackets)\n")
    print("| n | " + " | ".join(f"`{b}`" for b in backends) + " |")
    print("|---:|" + "---:|" * len(backends))
    for n in sizes:
        samples = {b: [] for b in backends}
        for _ in range(args.repeats):
            for backend in backends:  # side by side within each repeat
                samples[backend].append(cost(args.env, backend, n, args.steps))
        cells = []
        for backend in backends:
            cpu, wall = np.median(np.array(samples[backend]), axis=0)
            cells.append(f"{cpu:.2f} ({wall:.2f})")
        print(f"| {n} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
