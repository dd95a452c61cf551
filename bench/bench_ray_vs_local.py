"""Ray vs local executor on the same suite on one machine (target: Ray <= 1.05x the local time).

    python bench/bench_ray_vs_local.py [--workers N] [--runs 2N] [--steps 20000] [--rounds 1]

The suite is ``--runs`` seeds of SB3 PPO (zoo preset) on CartPole-v1 with N
workers; the Ray executor starts its own local Ray (N CPUs), or with ``--cluster``
connects (``--address auto``) to a ``ray start --head`` this script starts before
timing anything: how Ray is used once a cluster exists.  The two executors take turns.  Printed: the whole command (Ray's start-up included) and the run
phase (first run start to last run end in MLflow), and whether both logged the
same final evaluation returns.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import SuiteTiming, empty_store, load_note, run_suite_cli
from bench_scaling import SUITE

EXECUTORS = ("local", "ray")


def final_returns(timing: SuiteTiming) -> dict[str, float]:
    return {r.data.tags["harness.run_key"]: r.data.metrics.get("eval/return_mean") for r in timing.records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=None, help="runs in the suite (default: 2N)")
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per run")
    parser.add_argument("--algorithm", default="sb3.ppo")
    parser.add_argument("--preset", default="zoo")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cluster", action="store_true", help="Ray side connects to a running local cluster")
    args = parser.parse_args()
    args.runs = args.runs or 2 * args.workers
    ray_cli = str(Path(sys.executable).parent / "ray")
    options = {"local": [], "ray": []}
    if args.cluster:
        subprocess.run([ray_cli, "start", "--head", f"--num-cpus={args.workers}", "--include-dashboard=false"],
                       check=True, capture_output=True)
        options["ray"] = ["--address", "auto"]
    try:
        timings = measure(args, options)
    finally:
        if args.cluster:
            subprocess.run([ray_cli, "stop"], capture_output=True)
    report(args, timings)


def measure(args: argparse.Namespace, options: dict[str, list[str]]) -> dict[str, list[SuiteTiming]]:
    runs = args.runs
    text = SUITE.format(runs=runs, steps=args.steps, algorithm=args.algorithm, preset=args.preset)
    print(f"before: {load_note()}", flush=True)
    timings: dict[str, list[SuiteTiming]] = {name: [] for name in EXECUTORS}
    with tempfile.TemporaryDirectory() as tmp:
        template = empty_store(Path(tmp))
        for i in range(args.rounds):
            for executor in EXECUTORS if i % 2 == 0 else EXECUTORS[::-1]:
                folder = Path(tmp) / f"{executor}-{i}"
                timing = run_suite_cli(text, folder, template, "--workers", str(args.workers), "--executor", executor,
                                       *options[executor])
                assert timing.finished == runs, f"{executor}: {timing.finished}/{runs} runs finished"
                timings[executor].append(timing)
                print(f"round {i + 1}, {executor}: command {timing.command:.1f} s, runs {timing.runs:.1f} s",
                      flush=True)
    print(f"after: {load_note()}")
    return timings


def report(args: argparse.Namespace, timings: dict[str, list[SuiteTiming]]) -> None:
    runs = args.runs
    same = final_returns(timings["local"][0]) == final_returns(timings["ray"][0])
    print(f"\n{runs} x {args.algorithm} ({args.preset}) CartPole-v1, {args.steps} steps each, {args.workers} workers, "
          f"median of {args.rounds}, Ray {'cluster' if args.cluster else 'started by harness'}; identical final returns: {same}")
    for metric in ("command", "runs"):
        local = statistics.median(getattr(t, metric) for t in timings["local"])
        ray = statistics.median(getattr(t, metric) for t in timings["ray"])
        print(f"{metric:>8}: local {local:7.1f} s  ray {ray:7.1f} s  ratio {ray / local:.3f}x (target <= 1.05x)")


if __name__ == "__main__":
    main()
