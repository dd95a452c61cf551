"""The Ray executor: one Ray task per RunTask; worker Events come back through a mailbox actor.

Same contract as the local executor (see :mod:`harness.executors`): exactly one
``finished``/``failed`` event per started task, a kill after ``timeout +
KILL_GRACE``, and Ctrl-C kills everything and re-raises.  Workers log to
MLflow themselves, so results land in the store exactly as with the local
executor.  Ray is imported only when a suite runs.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.executors import KILL_GRACE
from harness.tasks import Event, RunTask
from harness_ray.placement import Placement

#: Driver environment variables that Ray workers get too (plugin list, MLflow settings).
FORWARDED_ENV_PREFIXES = ("HARNESS_", "MLFLOW_")
#: How often the driver collects events and checks timeouts.
POLL_SECONDS = 0.2
#: After Ctrl-C, how long the driver waits for the mailbox's last events before it stops anyway.
INTERRUPT_WAIT_SECONDS = 5.0
#: Runs work at this niceness, so the driver and the mailbox are never starved of CPU by them.
RUN_NICENESS = 5
TERMINAL = ("finished", "failed")


class Mailbox:
    """A tiny actor the workers post Events to; the driver takes them in batches.

    Its module imports nothing heavy, so the actor starts quickly even on a busy machine.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []

    def put(self, event: Event) -> None:
        self.events.append(event)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


def run_in_worker(task: RunTask, mailbox: Any) -> None:
    """Body of the Ray task: the same ``execute`` the local executor runs.

    Progress events are posted without waiting; the others wait until the mailbox holds them,
    so the task never ends before its final event is there (Ray keeps one caller's calls in order).
    """
    import ray

    from harness.worker import execute

    def post(event: Event) -> None:
        ref = mailbox.put.remote(event)
        if event.kind != "progress":
            ray.get(ref)

    niceness = os.nice(0)
    if niceness < RUN_NICENESS:
        os.nice(RUN_NICENESS - niceness)
    execute(task, post)


@dataclass
class _Slot:
    task: RunTask
    ref: Any
    started: float | None = None
    """When the first event of this task arrived (Ray may queue a task before it runs)."""
    run_id: str | None = None
    ended: bool = False


class RayExecutor:
    """Runs each task as a Ray task with ``cpus_per_run`` CPUs and, for GPU runs, ``gpus_per_run`` GPUs.

    ``address``: a Ray cluster to join (``auto``, ``ray://host:10001``, ...); by default a
    private local Ray is started with ``workers`` (else all) cores.  ``workers`` also caps
    how many runs are in flight at once.  A Ray worker process serves up to
    ``runs_per_worker`` runs (None: no limit) and is then replaced; 1 gives every run a
    fresh process (full isolation, but each run pays the imports again).
    """

    def __init__(self, workers: int | None = None, address: str | None = None, cpus_per_run: float = 1.0,
                 gpus_per_run: float = 0.25, runs_per_worker: int | None = None):
        if cpus_per_run <= 0:
            raise ValueError(f"cpus_per_run must be positive (got {cpus_per_run})")
        if not (0 < gpus_per_run <= 1 or float(gpus_per_run).is_integer() and gpus_per_run > 0):
            raise ValueError(f"gpus_per_run must be in (0, 1] or a whole number (got {gpus_per_run})")
        self.workers, self.address = workers, address
        self.cpus_per_run, self.gpus_per_run = float(cpus_per_run), float(gpus_per_run)
        if runs_per_worker is not None and runs_per_worker < 1:
            raise ValueError(f"runs_per_worker must be at least 1 (got {runs_per_worker})")
        self.runs_per_worker = runs_per_worker

    @classmethod
    def prestart(cls, workers: int | None = None, **options: Any) -> None:
        """Start (or join) Ray and warm one worker per slot now, while the driver still validates the suite.

        The warm-up tasks import what every run imports (torch, SB3, MLflow's SQL store:
        several CPU-seconds per process), so the first runs start as warm as the local
        executor's forks.  ``run`` then finds Ray up and reuses those workers.  If the
        suite then fails validation, Ray stops when this process exits.
        """
        ray = import_ray()
        executor = cls(workers, **options)
        executor._connect(ray)
        slots = workers or int(ray.cluster_resources().get("CPU", 1) // executor.cpus_per_run) or 1
        warm = ray.remote(max_retries=0)(warm_up).options(num_cpus=executor.cpus_per_run, **executor._runtime_env())
        _warm_ups.extend(warm.remote() for _ in range(slots))

    def run(self, tasks: Sequence[RunTask], on_event: Callable[[Event], None]) -> None:
        ray = import_ray()
        self._connect(ray)
        mailbox = ray.remote(num_cpus=0)(Mailbox).remote()
        try:
            placement = Placement(self.cpus_per_run, self.gpus_per_run, ray.cluster_resources().get("GPU", 0.0))
            _Session(ray, mailbox, self._remote(ray), placement, on_event).run(tasks, self.workers)
        finally:
            _quietly(lambda: ray.kill(mailbox))  # never mask the KeyboardInterrupt being re-raised
            _warm_ups.clear()
            if _connected_here:
                _quietly(_shutdown)

    def _connect(self, ray: Any) -> None:
        """Join ``address`` or start a private local Ray, unless this process is connected already."""
        global _connected_here
        if ray.is_initialized():
            return
        sigterm = signal.getsignal(signal.SIGTERM)  # ray.init installs its own (exit 15, no cleanup)
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
        else:
            cores = math.ceil(self.workers * self.cpus_per_run) if self.workers else os.cpu_count()
            ray.init(address="local", num_cpus=cores, include_dashboard=False, log_to_driver=False)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, sigterm)
        _connected_here = True

    def _runtime_env(self) -> dict[str, Any]:
        """Driver environment variables the workers need; the same for every task, so workers are shared."""
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
        return {"runtime_env": {"env_vars": env}} if env else {}

    def _remote(self, ray: Any) -> Any:
        """The Ray task, never retried (a retry would log a second MLflow run)."""
        remote = ray.remote(max_retries=0, max_calls=self.runs_per_worker or 0)(run_in_worker)
        runtime_env = self._runtime_env()
        return lambda task, mailbox, resources: remote.options(**resources, **runtime_env).remote(task, mailbox)


#: Whether this process connected to Ray itself (``run`` then disconnects, stopping a Ray it started).
_connected_here = False
#: Warm-up tasks in flight (kept referenced until the run that follows them).
_warm_ups: list[Any] = []


def import_ray() -> Any:
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        from harness.registry import PluginError

        raise PluginError("the ray executor needs Ray: pip install 'harness[ray]' (or pip install ray)") from None
    return ray


def warm_up() -> int:
    """Body of a warm-up task: the imports every run needs, done before the first run arrives; its pid."""
    import importlib

    from harness.executors.local import PRELOAD

    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional extra that is not installed (envpool), skipped as the fork server does
            pass
    return os.getpid()


def _shutdown() -> None:
    global _connected_here
    import ray

    ray.shutdown()
    _connected_here = False


class _Session:
    """One ``run`` call: submits tasks, relays events, enforces timeouts, handles Ctrl-C.

    Events are collected by one mailbox ``take`` at a time, never waited for with a deadline:
    a slow or starved mailbox delays events, it cannot fail the suite.  A task seen ending is
    closed only after a ``take`` issued later has answered, so its final event is never missed.
    """

    def __init__(self, ray: Any, mailbox: Any, remote: Any, placement: Placement,
                 on_event: Callable[[Event], None]):
        self.ray, self.mailbox, self.remote, self.placement = ray, mailbox, remote, placement
        self.on_event = on_event
        self.active: dict[str, _Slot] = {}
        self.take: Any = None
        """The mailbox ``take`` in flight."""
        self.takes = 0
        """How many takes were issued so far."""
        self.ended_before: dict[str, int] = {}
        """run_key -> takes issued when its Ray task was seen ending."""

    def run(self, tasks: Sequence[RunTask], limit: int | None) -> None:
        pending = deque(tasks)
        limit = limit or len(tasks)
        try:
            while pending or self.active:
                while pending and len(self.active) < limit:
                    self._submit(pending.popleft())
                self._step(POLL_SECONDS)
                self._enforce_timeouts()
        except BaseException:  # Ctrl-C, or the driver stopping the suite (its store gone)
            self._interrupt()
            raise

    def _submit(self, task: RunTask) -> None:
        problem = self.placement.infeasible(task.spec)
        if problem:
            self.on_event(Event("failed", task.run_key, message=problem))
            return
        ref = self.remote(task, self.mailbox, self.placement.resources(task.spec))
        self.active[task.run_key] = _Slot(task, ref)

    def _step(self, wait: float) -> None:
        """Wait for tasks to end, note the ones that did, relay events if the mailbox has answered."""
        refs = {slot.ref: key for key, slot in self.active.items() if key not in self.ended_before}
        if refs:
            done, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=wait, fetch_local=False)
            for ref in done:
                self.ended_before[refs[ref]] = self.takes
        self._relay(0.0 if refs else wait)

    def _relay(self, wait: float) -> bool:
        """Relay the events of the take in flight if it answers within ``wait`` s; then close what ended."""
        if self.take is None:
            self.take, self.takes = self.mailbox.take.remote(), self.takes + 1
        ready, _ = self.ray.wait([self.take], timeout=wait)
        if not ready:
            return False
        events, issued, self.take = self.ray.get(self.take), self.takes, None
        for event in events:
            slot = self.active.get(event.run_key)
            if slot is None or slot.ended:
                continue  # late words from a task already closed (e.g. killed at its timeout)
            slot.started = slot.started or time.monotonic()
            slot.run_id = slot.run_id or event.run_id
            slot.ended = event.kind in TERMINAL
            self.on_event(event)
        for key, seen in list(self.ended_before.items()):
            if seen < issued:  # this take was issued after the task ended: it held all its events
                del self.ended_before[key]
                self._close(self.active.pop(key))
        return True

    def _close(self, slot: _Slot) -> None:
        """The Ray task is over: if it sent no final event, say why it died."""
        if slot.ended:
            return
        try:
            self.ray.get(slot.ref)
            reason = "worker ended without reporting a result"
        except Exception as error:  # RayTaskError, WorkerCrashedError, TaskCancelledError, ...
            reason = f"worker process died ({type(error).__name__}: {_first_line(error)})"
        self._fail(slot, reason)

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for slot in self.active.values():
            timeout = slot.task.spec.get("timeout")
            if slot.ended or not timeout or slot.started is None:
                continue
            if now - slot.started > timeout + KILL_GRACE:
                self.ray.cancel(slot.ref, force=True)
                self._fail(slot, f"timeout: killed after {timeout:g} s")

    def _interrupt(self) -> None:
        """Ctrl-C: kill every task at once, as the local executor does, and mark the unfinished ones.

        No gentle cancel first: a KeyboardInterrupt raised inside a worker's SQLite
        transaction can leave the store locked while that worker retries its own writes.
        Tasks never heard from were still queued in Ray (or their events are still in a
        starved mailbox): like pending tasks, they get no event.
        """
        _quietly(lambda: self._relay(INTERRUPT_WAIT_SECONDS))  # learn which tasks just started
        for slot in self.active.values():
            self.ray.cancel(slot.ref, force=True)
        _quietly(lambda: self._relay(INTERRUPT_WAIT_SECONDS))  # final events sent just before the kill
        for slot in self.active.values():
            if not slot.ended and slot.started is not None:
                self._fail(slot, "interrupted")

    def _fail(self, slot: _Slot, message: str) -> None:
        slot.ended = True
        self.on_event(Event("failed", slot.task.run_key, slot.run_id, message=message))


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception:  # Ray already gone: nothing left to clean up
        pass


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else ""
