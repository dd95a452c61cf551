"""Memory over a long suite: peak RSS per worker must not grow run after run (>= 50 runs).

    python bench/bench_memory.py [--runs 50] [--steps 2048] [--workers N] [--executor local|ray]

Runs ``--runs`` seeds of ``probe.sb3.ppo`` (SB3 PPO that logs its worker's RSS when
learning ends; see rss_probe.py) and samples the driver's RSS every 0.5 s.  The
local executor uses a fresh process per run, so its figure is each run's peak; the
Ray executor reuses worker processes, so the same process's RSS is followed across
the runs it served.  Printed: median of the first and of the last 10 runs, the
least-squares slope in MiB per run, and the driver's first vs last quarter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _common import HERE, empty_store, load_note, run_suite_cli

SUITE = """
name = "memory"
seeds = {runs}
budget = {steps}
device = "cpu"
[evaluation]
every = {steps}
episodes = 3
[[algorithms]]
name = "probe.sb3.ppo"
params = {{ n_steps = 512, batch_size = 64, n_epochs = 4 }}
[[environments]]
name = "CartPole-v1"
"""


class RssSampler:
    """Follows one process's resident memory from /proc while it runs."""

    def __init__(self, every: float = 0.5):
        self.every, self.samples = every, []

    def __call__(self, proc) -> None:
        threading.Thread(target=self._follow, args=(proc,), daemon=True).start()

    def _follow(self, proc) -> None:
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as status:
                    line = next(x for x in status if x.startswith("VmRSS:"))
                self.samples.append(int(line.split()[1]) / 1024)
            except (OSError, StopIteration):
                return
            time.sleep(self.every)


def slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against their index."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(values)
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    return num / sum((i - mean_x) ** 2 for i in range(n))


def describe(name: str, values: list[float]) -> str:
    head, tail = statistics.median(values[:10]), statistics.median(values[-10:])
    return (f"{name:<28} first 10 {head:7.1f}  last 10 {tail:7.1f}  max {max(values):7.1f}  "
            f"slope {slope(values):+.3f} MiB/run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--steps", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--executor", default="local")
    args = parser.parse_args()
    env = {"HARNESS_PLUGINS": "rss_probe", "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    sampler = RssSampler()
    print(f"before: {load_note()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        template = empty_store(Path(tmp))
        timing = run_suite_cli(SUITE.format(runs=args.runs, steps=args.steps), Path(tmp) / "suite", template,
                               "--workers", str(args.workers), "--executor", args.executor, env=env, sampler=sampler)
    print(f"after: {load_note()}")
    runs = sorted((r for r in timing.records if "sys/rss_mb" in r.data.metrics), key=lambda r: r.info.start_time)
    for run in timing.records:
        if run.info.status != "FINISHED":
            print(f"run {run.info.run_name}: {run.info.status}: {run.data.tags.get('harness.error')}")
    print(f"{len(runs)} of {args.runs} runs logged their memory")
    print(f"\n{args.runs} runs of SB3 PPO ({args.steps} steps), executor {args.executor}, {args.workers} workers, "
          f"{timing.command:.0f} s; MiB")
    print(describe("worker peak RSS per run", [r.data.metrics["sys/peak_rss_mb"] for r in runs]))
    print(describe("worker RSS at end of learn", [r.data.metrics["sys/rss_mb"] for r in runs]))
    by_pid: dict[float, list[float]] = {}
    for run in runs:
        by_pid.setdefault(run.data.metrics["sys/pid"], []).append(run.data.metrics["sys/rss_mb"])
    print(f"worker processes: {len(by_pid)} for {len(runs)} runs")
    for pid, values in by_pid.items():
        if len(values) >= 5:
            print(f"  pid {int(pid)}: {len(values)} runs, RSS {values[0]:.1f} -> {values[-1]:.1f} "
                  f"(slope {slope(values):+.3f} MiB/run)")
    quarter = max(1, len(sampler.samples) // 4)
    driver = sampler.samples
    print(f"driver RSS: first quarter {statistics.median(driver[:quarter]):.1f}, "
          f"last quarter {statistics.median(driver[-quarter:]):.1f}, max {max(driver):.1f} ({len(driver)} samples)")


if __name__ == "__main__":
    main()
