"""The local executor: one process per run, at most ``workers`` at a time."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.api import ExecutorSpec
from harness.executors import KILL_GRACE
from harness.hookspecs import hookimpl
from harness.tasks import Event, RunTask

#: Imported once in the fork server, so each run starts without re-importing them.
#: torch._dynamo comes with the first optimizer, the SQL store with the first MLflow call
#: (together ~2 CPU-s per run otherwise), envpool with a native agent's first training env
#: (~1 CPU-s; an optional extra: the fork server skips a module that is not installed).
#: See bench/README.md, bench_startup.py.
PRELOAD = ["harness.worker", "torch", "torch._dynamo", "gymnasium", "mlflow",
           "mlflow.store.tracking.sqlalchemy_store", "stable_baselines3", "envpool"]


@hookimpl
def harness_register_executors(register):
    register(ExecutorSpec("local", "harness.executors.local:LocalExecutor", "process pool on this machine"))


def _child(task: RunTask, events: mp.Queue, driver_pid: int) -> None:
    from harness.worker import execute

    threading.Thread(target=_exit_with_driver, args=(driver_pid,), daemon=True).start()
    try:
        execute(task, events.put)
    except KeyboardInterrupt:
        pass


def _exit_with_driver(driver_pid: int) -> None:
    """Workers descend from the fork server, not the driver: end them if the driver is killed."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(driver_pid, 0)
        except ProcessLookupError:
            os._exit(1)


@dataclass
class _Active:
    task: RunTask
    process: mp.Process
    started: float = field(default_factory=time.monotonic)
    run_id: str | None = None
    ended: bool = False


class LocalExecutor:
    """Runs each task in a fresh process from a fork server (no state leaks between runs)."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1

    @classmethod
    def prestart(cls, workers: int | None = None, **options: object) -> None:
        """Start the fork server now, so its imports overlap the driver's own start-up."""
        import multiprocessing.forkserver

        mp.set_forkserver_preload(PRELOAD)
        multiprocessing.forkserver.ensure_running()

    def run(self, tasks: Sequence[RunTask], on_event: Callable[[Event], None]) -> None:
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        events = context.Queue()
        pending = deque(tasks)
        active: dict[str, _Active] = {}
        try:
            while pending or active:
                while pending and len(active) < self.workers:
                    task = pending.popleft()
                    process = context.Process(target=_child, args=(task, events, os.getpid()), daemon=True)
                    process.start()
                    active[task.run_key] = _Active(task, process)
                self._pump(events, active, on_event, wait=0.2)
                self._reap(events, active, on_event)
        except BaseException:  # Ctrl-C, or the driver stopping the suite (its store gone)
            for slot in active.values():
                slot.process.terminate()
            self._pump(events, active, on_event, wait=0.5)
            for key, slot in active.items():
                slot.process.join(5)
                if not slot.ended:
                    on_event(Event("failed", key, slot.run_id, message="interrupted"))
            raise

    def _pump(self, events: mp.Queue, active: dict[str, _Active], on_event, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                event = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            slot = active.get(event.run_key)
            if slot is not None:
                slot.run_id = slot.run_id or event.run_id
                slot.ended = slot.ended or event.kind in ("finished", "failed")
            on_event(event)

    def _reap(self, events: mp.Queue, active: dict[str, _Active], on_event) -> None:
        for key, slot in list(active.items()):
            timeout = slot.task.spec.get("timeout")
            overdue = timeout and time.monotonic() - slot.started > timeout + KILL_GRACE
            if overdue and slot.process.is_alive():
                slot.process.kill()
                slot.process.join(5)
                if not slot.ended:
                    slot.ended = True
                    on_event(Event("failed", key, slot.run_id, message=f"timeout: killed after {timeout:g} s"))
            if slot.process.is_alive():
                continue
            slot.process.join()
            if not slot.ended:
                self._pump(events, active, on_event, wait=0.5)  # its last events may still be queued
            if not slot.ended:
                code = slot.process.exitcode
                on_event(Event("failed", key, slot.run_id, message=f"worker process died (exit code {code})"))
            del active[key]
