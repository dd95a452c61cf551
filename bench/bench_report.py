"""Benchmark: build the report over 1,000 synthetic runs x 50 evaluation points.

    python bench/bench_report.py [--runs-store DIR] [--repeat 3] [--client-loader]

Logs 4 algorithms x 5 environments x 2 shapings x 25 seeds (= 1,000 runs, each
with 50 evaluation points and the worker's other metrics) into a temporary
SQLite MLflow store (or reuses DIR if it already holds them), then times
``build_report`` end to end (load, statistics, plots, Markdown/HTML, logging the
report to MLflow) and its phases.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ALGORITHMS = {"sb3.ppo": (0.6, ""), "ppo": (0.75, "sb3.ppo"), "a2c": (0.5, "sb3.ppo"), "dqn": (0.62, "sb3.ppo")}
ENVS = {"CartPole-v1": (20.0, 500.0), "Acrobot-v1": (-500.0, -70.0), "MountainCar-v0": (-200.0, -110.0),
        "Pendulum-v1": (-1400.0, -150.0), "LunarLander-v3": (-200.0, 250.0)}


def make_store(folder: Path) -> tuple[str, float]:
    from harness.report.synthetic import grid, store_with

    runs = grid(ALGORITHMS, ENVS, seeds=25, shapings=("none", "potential"), baseline_shaping="none",
                points=50, budget=500_000)
    began = time.perf_counter()
    uri = store_with(folder, runs, name="bench")
    return uri, time.perf_counter() - began


def phases(uri: str, registry) -> dict[str, float]:
    from harness.report.data import load_runs
    from harness.report.scores import env_infos, score_runs
    from harness.report.tables import build_tables

    out, clock = {}, Clock()
    data = load_runs("bench", uri)
    out["load (SQLite fast path)"] = clock.lap()
    infos = env_infos(data, registry)
    scored = score_runs(data, infos)
    out["score runs"] = clock.lap()
    build_tables(scored, infos)
    out["tables + bootstrap"] = clock.lap()
    return out


class Clock:
    """Wall and CPU seconds since the last lap (CPU time is what an idle machine's wall time would be)."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        out = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-store", type=Path, default=None, help="folder for (or holding) the synthetic store")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--client-loader", action="store_true", help="also time the MLflow-client loader")
    args = parser.parse_args()

    began = time.perf_counter()
    from harness.registry import default_registry
    from harness.report import build_report

    registry = default_registry()
    print(f"imports + plugin registry: {time.perf_counter() - began:.2f} s")
    folder = args.runs_store or Path(tempfile.mkdtemp(prefix="bench-report-"))
    if (folder / "mlflow.db").exists():
        uri = f"sqlite:///{folder / 'mlflow.db'}"
    else:
        uri, seconds = make_store(folder)
        print(f"logged 1,000 runs x 50 eval points in {seconds:.1f} s -> {uri}")
    for name, (wall, cpu) in phases(uri, registry).items():
        print(f"  {name}: wall {wall:.2f} s, cpu {cpu:.2f} s")
    if args.client_loader:
        from harness.report.data import load_runs

        clock = Clock()
        load_runs("bench", uri, fast=False)
        print("  load (MLflow client, for comparison): wall {:.2f} s, cpu {:.2f} s".format(*clock.lap()))
    laps = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeat):
            clock = Clock()
            path = build_report("bench", uri, Path(out), registry=registry)
            laps.append(clock.lap())
        pngs = len(list((path / "plots").glob("*.png")))
    walls, cpus = [w for w, _ in laps], [c for _, c in laps]
    print(f"build_report end to end ({pngs} PNGs, report logged to MLflow), {args.repeat} builds: "
          f"wall median {statistics.median(walls):.2f} s ({', '.join(f'{x:.2f}' for x in walls)}); "
          f"cpu median {statistics.median(cpus):.2f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
