"""Executors run RunTasks somewhere and stream worker Events back to the driver.

Contract (shared by the local and Ray executors, tested by one suite):

* ``Executor(workers: int | None = None, **options)``;
* ``run(tasks, on_event)`` returns when every task has ended;
* every task ends with exactly one ``finished`` or ``failed`` event, even when
  its worker process dies or overruns its timeout (the executor sends
  ``failed`` itself then, with ``run_id`` if the worker had reported one);
* ``KeyboardInterrupt`` stops all workers and propagates after a ``failed``
  event with message ``interrupted`` for each unfinished task;
* optionally, a classmethod ``prestart(workers, **options)`` that ``harness run``
  calls once the suite has validated, to begin slow start-up work (starting
  worker processes, their imports) while the driver opens the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from harness.tasks import Event, RunTask

#: Extra seconds a worker gets past its own timeout before it is killed.
KILL_GRACE = 30.0


class Executor(Protocol):
    def run(self, tasks: Sequence[RunTask], on_event: Callable[[Event], None]) -> None: ...
