"""Bench-only plugin: algorithms that log their worker's memory (``HARNESS_PLUGINS=rss_probe``, bench/ on the path).

``probe.sb3.ppo`` is ``sb3.ppo`` (same Params and presets) whose agent, when
learning ends, reports ``sys/rss_mb`` (resident now), ``sys/peak_rss_mb`` (the
process's peak so far), ``sys/pid`` and ``sys/cpu_s`` (the process's CPU seconds so
far) through the harness callback, so they land
in MLflow like any training metric.  A core hook doing this for every run is
proposed in bench/README.md.
"""

from __future__ import annotations

import os
import resource
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.api import AlgorithmSpec, StepCallback
from harness.hookspecs import hookimpl


@hookimpl
def harness_register_algorithms(register):
    register(AlgorithmSpec("probe.sb3.ppo", "rss_probe:sb3_ppo", "sb3.ppo that logs its worker's memory",
                           ("Discrete", "Box"), ("Box",)))


def memory() -> dict[str, float]:
    """Resident and peak resident set size of this process in MiB, its pid and CPU seconds so far."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "sys/rss_mb": resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20,
        "sys/peak_rss_mb": usage.ru_maxrss / 1024,
        "sys/pid": float(os.getpid()),
        "sys/cpu_s": usage.ru_utime + usage.ru_stime,
    }


class ProbedAgent:
    def __init__(self, agent: Any):
        self.agent = agent

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        self.agent.learn(total_steps, callback)
        callback(total_steps, memory())

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        return self.agent.act(obs, deterministic)

    def save(self, path: Path) -> None:
        self.agent.save(path)


class Probe:
    """Looks like the target algorithm's implementation module, with probed agents."""

    def __init__(self, target: str):
        self.target = target

    @cached_property
    def impl(self) -> Any:
        from harness.registry import default_registry

        return default_registry().get("algorithm", self.target).load()

    @property
    def Params(self) -> type:  # noqa: N802 (the AlgorithmImpl attribute name)
        return self.impl.Params

    @property
    def presets(self) -> Any:
        return self.impl.presets

    def make_agent(self, params: Any, ctx: Any) -> ProbedAgent:
        return ProbedAgent(self.impl.make_agent(params, ctx))

    def load_agent(self, params: Any, ctx: Any, path: Path) -> ProbedAgent:
        return ProbedAgent(self.impl.load_agent(params, ctx, path))


sb3_ppo = Probe("sb3.ppo")
