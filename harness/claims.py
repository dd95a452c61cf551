"""Claims: which `harness run` process runs which run, so several can share one store safely.

A claim is the run's MLflow run itself, created by the driver before the run starts and
tagged with its owner (host, pid) and a heartbeat the driver refreshes while it holds it.
An unfinished run is *stale* only when its owner is gone: same host and the pid is dead,
or the heartbeat is older than :data:`HEARTBEAT_TTL` (another host, or a reused pid).

Claiming is atomic through the store alone (it works the same on SQLite and on a server):
a driver creates its claims, then reads the store again and withdraws every claim for
which it sees a rival (a FINISHED run, or another live claim of the same key).  Of two
drivers racing for one key, the one that reads second always sees the first's claim, so
at most one keeps it (both may withdraw; the key is then claimed again in a later round).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

from harness.layout import HEARTBEAT, OWNER_HOST, OWNER_PID, run_tags
from harness.spec import RunSpec
from harness.tracking import Tracker, with_retry

#: Seconds between heartbeats, and the age after which a claim's owner counts as gone.
HEARTBEAT_EVERY, HEARTBEAT_TTL = 20.0, 120.0
HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def owner_gone(tags: dict[str, str], now: float | None = None, host: str = HOST) -> bool:
    """True when the claim's owner no longer holds it: dead pid on this host, or no recent heartbeat."""
    try:
        pid, beat = int(tags[OWNER_PID]), float(tags[HEARTBEAT])
    except (KeyError, ValueError):
        return True  # written by a harness without claims: nobody can be holding it
    if tags.get(OWNER_HOST) == host and not pid_alive(pid):
        return True
    return (time.time() if now is None else now) - beat > HEARTBEAT_TTL


def live_claim(run: Any) -> bool:
    """An unfinished run whose owner still holds it."""
    return run.info.status in ("RUNNING", "SCHEDULED") and not owner_gone(run.data.tags)


def held_by_other(run: Any) -> bool:
    """A live claim of another process (this one's claims have all ended when it plans)."""
    tags = run.data.tags
    mine = tags.get(OWNER_HOST) == HOST and tags.get(OWNER_PID) == str(os.getpid())
    return not mine and live_claim(run)


def owner_of(run: Any) -> str:
    tags = run.data.tags
    return f"{tags.get(OWNER_HOST, '?')} pid {tags.get(OWNER_PID, '?')}"


class Claims:
    """The claims this process holds in one experiment, with their heartbeat thread."""

    def __init__(self, tracker: Tracker, experiment_id: str):
        self.tracker, self.experiment_id = tracker, experiment_id
        self.run_ids: dict[str, str] = {}
        self.open: set[str] = set()
        """Keys claimed and not yet ended (the heartbeat keeps these)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="harness-heartbeat", daemon=True)

    def __enter__(self) -> Claims:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def claim(self, specs: Iterable[RunSpec], tags: dict[str, str]) -> list[RunSpec]:
        """Claim each spec's run; return the specs this process won (their run ids in ``run_ids``)."""
        mine: dict[str, str] = {}
        specs = list(specs)
        try:
            for spec in specs:
                owner = {OWNER_HOST: HOST, OWNER_PID: str(os.getpid()), HEARTBEAT: f"{time.time():.3f}"}
                run = with_retry(lambda: self.tracker.client.create_run(
                    self.experiment_id, tags={**tags, **run_tags(spec), **owner}, run_name=spec.title))
                mine[spec.run_key] = run.info.run_id
            existing = self.tracker.runs_by_key(self.experiment_id)
            won = []
            for spec in specs:
                run_id = mine.pop(spec.run_key)
                rivals = [r for r in existing.get(spec.run_key, []) if r.info.run_id != run_id
                          and (r.info.status == "FINISHED" or live_claim(r))]
                if rivals:
                    self.tracker.delete_runs([run_id])
                    continue
                self.run_ids[spec.run_key] = run_id
                self.open.add(spec.run_key)
                won.append(spec)
        except BaseException:  # interrupted while claiming: give back the runs not yet handed to `open`
            self.tracker.delete_runs(list(mine.values()))
            raise
        return won

    def ended(self, run_key: str) -> None:
        self.open.discard(run_key)

    def release(self, keys: Iterable[str]) -> None:
        """Give back claims whose run never ran (interrupted before its start): delete them unless FINISHED."""
        for key in keys:
            self.open.discard(key)
            run_id = self.run_ids[key]
            if with_retry(lambda: self.tracker.client.get_run(run_id)).info.status != "FINISHED":
                self.tracker.delete_runs([run_id])

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            for key in list(self.open):
                run_id = self.run_ids[key]
                try:
                    self.tracker.client.set_tag(run_id, HEARTBEAT, f"{time.time():.3f}")
                except Exception:  # store briefly unreachable: the next beat tries again
                    pass
