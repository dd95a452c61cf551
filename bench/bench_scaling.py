"""Suite scaling: one CPU-bound suite with 1 worker vs N workers on N cores (target speed-up >= 0.9 N).

    python bench/bench_scaling.py [--workers N] [--runs 2N] [--steps 20000] [--executor local]

The suite is ``--runs`` seeds of SB3 PPO (zoo preset) on CartPole-v1, each a
CPU-bound single-threaded run.  The 1-worker and N-worker suites take turns
(``--rounds``).  Two speed-ups are printed: of the whole command (start-up
included), and of the run phase (first run start to last run end in MLflow).

On a machine whose cores are busy with other work, wall-clock speed-ups say little,
so the runs use ``probe.sb3.ppo`` (rss_probe.py), which logs each worker process's
CPU seconds when learning ends.  If a run costs as much CPU with N workers as with
one (no contention for memory bandwidth, caches or the SQLite store), N idle cores
give N times the throughput: the CPU efficiency N x cpu(1) / cpu(N) is printed as
the speed-up the run phase would reach on idle cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from _common import HERE, SuiteTiming, empty_store, load_note, run_suite_cli

PROBE_ENV = {"HARNESS_PLUGINS": "rss_probe",
             "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}

SUITE = """
name = "scaling"
seeds = {runs}
budget = {steps}
device = "cpu"
[evaluation]
every = {steps}
episodes = 5
[[algorithms]]
name = "{algorithm}"
preset = "{preset}"
[[environments]]
name = "CartPole-v1"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="N (default: all cores)")
    parser.add_argument("--runs", type=int, default=None, help="runs in the suite (default: 2N)")
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per run")
    parser.add_argument("--algorithm", default="probe.sb3.ppo", help="probe.* algorithms also log CPU seconds")
    parser.add_argument("--preset", default="zoo")
    parser.add_argument("--executor", default="local")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    runs = args.runs or 2 * args.workers
    text = SUITE.format(runs=runs, steps=args.steps, algorithm=args.algorithm, preset=args.preset)
    print(f"before: {load_note()}", flush=True)
    timings: dict[int, list[SuiteTiming]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory() as tmp:
        template = empty_store(Path(tmp))
        for i in range(args.rounds):
            for workers in (1, args.workers) if i % 2 == 0 else (args.workers, 1):
                folder = Path(tmp) / f"w{workers}-{i}"
                timing = run_suite_cli(text, folder, template, "--workers", str(workers), "--executor", args.executor,
                                       env=PROBE_ENV)
                assert timing.finished == runs, f"{timing.finished}/{runs} runs finished"
                timings[workers].append(timing)
                print(f"round {i + 1}, {workers} worker(s): command {timing.command:.1f} s, runs {timing.runs:.1f} s",
                      flush=True)
    print(f"after: {load_note()}")
    print(f"\n{runs} x {args.algorithm} ({args.preset}) CartPole-v1, {args.steps} steps each, "
          f"executor {args.executor}, median of {args.rounds}")
    for metric in ("command", "runs"):
        one = statistics.median(getattr(t, metric) for t in timings[1])
        many = statistics.median(getattr(t, metric) for t in timings[args.workers])
        print(f"{metric:>8}: 1 worker {one:7.1f} s  {args.workers} workers {many:7.1f} s  "
              f"speed-up {one / many:.2f}x (target >= {0.9 * args.workers:.1f}x)")
    cpu = {workers: [r.data.metrics.get("sys/cpu_s") for t in runs_of for r in t.records]
           for workers, runs_of in timings.items()}
    if all(values and None not in values for values in cpu.values()):
        cpu = {workers: statistics.median(values) for workers, values in cpu.items()}
        one, many = cpu[1], cpu[args.workers]
        print(f"CPU s per run (worker process, to the end of learning): 1 worker {one:.2f}, {args.workers} workers "
              f"{many:.2f}; run-phase speed-up on idle cores {args.workers * one / many:.2f}x")


if __name__ == "__main__":
    main()
