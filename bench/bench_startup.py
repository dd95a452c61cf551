"""Where `harness run` spends its fixed start-up time: CPU and wall seconds per step.

    python bench/bench_startup.py

Second table: what one tiny run (SB3 PPO, 512 steps) costs in a local-executor
worker (a fork-server child, ``harness.worker.execute``), with the fork server's
preload before and after it took in ``torch._dynamo`` and MLflow's SQL store.

Each step runs in a fresh interpreter (``python -c``), so imports are cold as in a
real command.  CPU seconds (user + system) are steady on a loaded machine and are
about what an idle one needs in wall time.  The per-run steps are what every run
process of the local executor pays after the fork server's preload.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time

from _common import load_note

MEASURE = """
import json, os, sys, time
{setup}
t, w = os.times(), time.perf_counter()
{step}
u = os.times()
print(json.dumps([u.user + u.system - t.user - t.system, time.perf_counter() - w]))
"""
PRELOAD = "import harness.worker, torch, gymnasium, mlflow, stable_baselines3"
EXTRA = ["torch._dynamo", "mlflow.store.tracking.sqlalchemy_store"]
SUITE = """
name = "startup"
seeds = 1
budget = 1000
[[algorithms]]
name = "sb3.ppo"
preset = "zoo"
[[environments]]
name = "CartPole-v1"
"""


def steps(folder: str) -> list[tuple[str, str, str]]:
    """(what, setup not timed, timed step)."""
    new_db, old_db = f"sqlite:///{folder}/new.db", f"sqlite:///{folder}/old.db"
    store = "from mlflow.tracking import MlflowClient; MlflowClient({uri!r}).search_experiments()"
    return [
        ("driver: import harness.cli + runner (MLflow)", "", "import harness.cli, harness.runner"),
        ("driver: validate suite (imports the plugin: torch, SB3)",
         "import harness.runner; from harness.suite import load_suite; from harness.registry import default_registry",
         f"load_suite({folder + '/suite.toml'!r}, default_registry())"),
        ("driver: create a new SQLite store (migrations)", "import mlflow", store.format(uri=new_db)),
        ("driver: open an existing store", "import mlflow", store.format(uri=old_db)),
        ("fork server: preload (harness.worker, torch, gym, mlflow, SB3)", "", PRELOAD),
        ("each run: first MLflow SQLite call (sqlalchemy store import)", PRELOAD, store.format(uri=old_db)),
        ("each run: first torch optimizer (imports torch._dynamo, sympy)", PRELOAD,
         "torch.optim.Adam(torch.nn.Linear(2, 2).parameters())"),
        ("each run: import envpool (a native agent's first EnvPool env)", PRELOAD, "import envpool"),
        ("bare script: import torch, gym, SB3", "", "import torch, gymnasium, stable_baselines3"),
    ]


def measure(setup: str, step: str) -> tuple[float, float]:
    code = MEASURE.format(setup=setup, step=step)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    cpu, wall = json.loads(out.stdout.strip().splitlines()[-1])
    return cpu, wall


TINY = """
name = "tiny"
seeds = [0]
budget = 512
[evaluation]
every = 512
episodes = 1
[[algorithms]]
name = "sb3.ppo"
params = { n_steps = 256, batch_size = 64, n_epochs = 1 }
[[environments]]
name = "CartPole-v1"
"""


def timed_execute(task, results) -> None:
    """In the worker: run the task, report its CPU and wall seconds."""
    from harness.worker import execute

    began, wall = os.times(), time.perf_counter()
    execute(task, lambda event: None)
    ended = os.times()
    results.put((ended.user + ended.system - began.user - began.system, time.perf_counter() - wall))


def run_cost(folder: str, extra: list[str]) -> tuple[float, float]:
    """One tiny run in a fork-server child whose server preloaded PRELOAD + ``extra``."""
    from harness.executors import local
    from harness.registry import default_registry
    from harness.suite import load_suite
    from harness.tracking import Tracker
    from harness.worker import RunTask

    path = os.path.join(folder, "tiny.toml")
    with open(path, "w") as handle:
        handle.write(TINY)
    suite = load_suite(path, default_registry())
    tracker = Tracker(f"sqlite:///{folder}/old.db")
    task = RunTask(suite.runs[0].to_dict(), tracker.uri, tracker.experiment_id(f"tiny-{len(extra)}"), {})
    context = mp.get_context("forkserver")
    context.set_forkserver_preload([*local.PRELOAD, *extra])
    results = context.Queue()
    process = context.Process(target=timed_execute, args=(task, results))
    process.start()
    cost = results.get(timeout=600)
    process.join()
    return cost


def main() -> None:
    if sys.argv[1:2] == ["--run-cost"]:  # in a fresh interpreter: one fork server per preload list
        print(json.dumps(run_cost(sys.argv[2], sys.argv[3:])))
        return
    print(f"before: {load_note()}")
    with tempfile.TemporaryDirectory() as folder:
        with open(f"{folder}/suite.toml", "w") as suite:
            suite.write(SUITE)
        measure("import mlflow", f"from mlflow.tracking import MlflowClient; MlflowClient('sqlite:///{folder}/old.db')"
                ".search_experiments()")
        print(f"{'step':<66}{'CPU s':>8}{'wall s':>8}")
        for what, setup, step in steps(folder):
            cpu, wall = measure(setup, step)
            print(f"{what:<66}{cpu:8.2f}{wall:8.2f}", flush=True)
        print(f"\n{'one tiny run in a fork-server child (SB3 PPO, 512 steps)':<66}{'CPU s':>8}{'wall s':>8}")
        for what, extra in (("preload today", []), ("+ torch._dynamo, mlflow sqlalchemy store", EXTRA)):
            out = subprocess.run([sys.executable, __file__, "--run-cost", folder, *extra],
                                 capture_output=True, text=True, check=True)
            cpu, wall = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{what:<66}{cpu:8.2f}{wall:8.2f}", flush=True)
    print(f"after: {load_note()}")


if __name__ == "__main__":
    main()
