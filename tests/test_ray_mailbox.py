"""The Ray executor's event collection when the mailbox answers late (a starved actor on a busy machine).

A fake Ray stands in for the real one so the delays are exact: tasks end at once, but the
mailbox answers a ``take`` only after many polls.  Before, the driver gave a take 60 s and
then crashed with GetTimeoutError; now every task still ends with exactly its own final event.
The same with real Ray and both cores saturated: test_ray_under_saturated_cores (slow).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.tasks import Event, RunTask
from harness_ray.executor import _Session
from harness_ray.placement import Placement
from tests.conftest import harness_env, write_suite
from tests.test_interrupt import SUITE


class Ref:
    def __init__(self, value=None, polls: int = 0):
        self.value, self.polls = value, polls

    def ready(self) -> bool:
        self.polls -= 1
        return self.polls < 0


class FakeRay:
    """Just what _Session calls: wait (counting polls), get (never with a deadline), cancel."""

    def wait(self, refs, num_returns=1, timeout=None, fetch_local=True):
        done = [ref for ref in refs if ref.ready()]
        return done, [ref for ref in refs if ref not in done]

    def get(self, ref, timeout=None):
        if ref.polls >= 0:
            raise TimeoutError("Get timed out: some object(s) not ready")  # what a deadline would hit
        return ref.value

    def cancel(self, ref, force=False):
        pass


class SlowMailbox:
    """Holds the events the tasks posted; a take answers after ``delay`` polls."""

    def __init__(self, delay: int):
        self.events: list[Event] = []
        self.delay = delay
        self.take = self

    def remote(self) -> Ref:
        events, self.events = self.events, []
        return Ref(events, polls=self.delay)


@pytest.mark.parametrize("delay", [0, 3, 2000])
def test_every_task_gets_its_own_final_event_however_late_the_mailbox_answers(delay):
    mailbox = SlowMailbox(delay)

    def remote(task, mailbox_handle, resources):  # the task "runs" at once and posts its events
        mailbox.events += [Event("started", task.run_key, "run-" + task.run_key),
                           Event("finished", task.run_key, "run-" + task.run_key)]
        return Ref()

    seen: list[Event] = []
    tasks = [RunTask({"run_key": f"k{i}", "device": "cpu"}, "sqlite://", "0") for i in range(5)]
    _Session(FakeRay(), mailbox, remote, Placement(1.0, 0.25, 0.0), seen.append).run(tasks, 2)
    final = [(e.run_key, e.kind) for e in seen if e.kind in ("finished", "failed")]
    assert sorted(final) == [(f"k{i}", "finished") for i in range(5)], seen


@pytest.mark.slow
def test_ray_under_saturated_cores(tmp_path):
    """Every core busy with a CPU-bound process beside Ray (the interrupt test's suite): it completes, nothing lost."""
    pytest.importorskip("ray")
    suite = write_suite(tmp_path, SUITE)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        result = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(suite), "--executor", "ray",
                                 "--workers", "3", "--no-report"], cwd=tmp_path, env=harness_env(),
                                capture_output=True, text=True, timeout=900)
    finally:
        for burner in burners:
            burner.kill()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "4 of 4 runs finished" in result.stdout
