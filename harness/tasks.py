"""What flows between the driver and workers: tasks out, events back (no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The message of the ``failed`` event of a run stopped by Ctrl-C/SIGTERM (recorded KILLED, not FAILED).
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunTask:
    """What an executor ships to a worker: a spec and where to log it."""

    spec: dict[str, Any]
    tracking_uri: str
    experiment_id: str
    tags: dict[str, str] = field(default_factory=dict)
    plugins: tuple[Any, ...] = ()
    """The driver's plugin set (``Registry.snapshot()``): the worker loads exactly these."""
    run_id: str | None = None
    """The MLflow run the driver claimed for it (see :mod:`harness.claims`); None: the worker creates one."""

    @property
    def run_key(self) -> str:
        return self.spec["run_key"]


@dataclass(frozen=True)
class Event:
    """Worker -> driver message: ``started``, ``progress``, ``finished`` or ``failed``."""

    kind: str
    run_key: str
    run_id: str | None = None
    step: int = 0
    message: str = ""
    result: dict[str, float] | None = None
