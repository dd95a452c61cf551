"""Two `harness run` processes on one store: every run trained once, nobody's runs taken, both exit 0.

Real processes on a real SQLite store; the SIGKILLed-owner case is
tests/test_runs.py::test_resume_after_sigkill_runs_everything_exactly_once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.claims import HEARTBEAT, HEARTBEAT_TTL, OWNER_HOST, OWNER_PID, held_by_other, owner_gone
from harness.store import create_sqlite_store
from harness.tracking import Tracker
from tests.conftest import harness_env, toy_suite

RUNS = 3


def _start(suite, tmp_path, name: str) -> subprocess.Popen:
    log = open(tmp_path / f"{name}.log", "w")
    command = [sys.executable, "-m", "harness.cli", "run", str(suite), "--workers", "2",
               "--out", str(tmp_path / "reports")]
    return subprocess.Popen(command, cwd=tmp_path, env=harness_env(), stdout=log, stderr=subprocess.STDOUT)


def _runs(uri: str) -> list:
    if not Path(uri.removeprefix("sqlite:///")).exists():  # looking must not create the store under harness
        return []
    try:
        tracker = Tracker(uri)
        experiment = tracker.experiment_id("shared", create=False)
        return tracker.runs(experiment) if experiment else []
    except Exception:  # the store is being created or is busy: look again later
        return []


@pytest.mark.parametrize("store", ["fresh", "in_use"])
def test_two_processes_share_one_store(tmp_path, store):
    suite = toy_suite(tmp_path, name="shared", seeds=RUNS, budget=1500, extra="params = { sleep_per_step = 0.002 }")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = _start(suite, tmp_path, "first")
    if store == "in_use":  # the second starts while the first has runs in flight
        deadline = time.monotonic() + 180
        while not any(r.info.status == "RUNNING" for r in _runs(uri)) and time.monotonic() < deadline:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.3)
    second = _start(suite, tmp_path, "second")
    codes = [first.wait(timeout=600), second.wait(timeout=600)]
    logs = [(tmp_path / f"{name}.log").read_text() for name in ("first", "second")]
    assert codes == [0, 0], "\n----\n".join(log[-4000:] for log in logs)

    runs = _runs(uri)
    keys = [r.data.tags["harness.run_key"] for r in runs if r.data.tags.get("harness.kind") != "report"]
    assert len(keys) == len(set(keys)) == RUNS, "every run exactly once"
    assert all(r.info.status == "FINISHED" for r in runs)
    trained = sum(len(re.findall(r"\] toy\.search.*: eval return", log)) for log in logs)
    assert trained == RUNS, "a run was trained twice (or not at all):\n" + "\n----\n".join(logs)
    assert (tmp_path / "reports" / "shared" / "report.html").exists()


def _run(status: str, **tags: str) -> SimpleNamespace:
    return SimpleNamespace(info=SimpleNamespace(status=status), data=SimpleNamespace(tags=tags))


def test_a_claim_is_stale_only_when_its_owner_is_gone():
    now = time.time()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = {OWNER_HOST: "this-host", HEARTBEAT: str(now)}
    assert not owner_gone({**here, OWNER_PID: str(os.getppid())}, now, host="this-host")
    assert owner_gone({**here, OWNER_PID: str(dead.pid)}, now, host="this-host"), "dead pid"
    assert not owner_gone({**here, OWNER_PID: str(dead.pid)}, now, host="other-host"), "fresh heartbeat elsewhere"
    assert owner_gone({**here, OWNER_PID: str(dead.pid)}, now + HEARTBEAT_TTL + 1, host="other-host"), "expired"
    assert owner_gone({}, now), "a run without an owner (older harness) is nobody's"
    live = {OWNER_HOST: "elsewhere", OWNER_PID: "1", HEARTBEAT: str(now)}
    assert held_by_other(_run("RUNNING", **live))
    assert not held_by_other(_run("FAILED", **live)), "an ended run is held by nobody"


CREATE = """
import sys
from pathlib import Path
from harness.store import create_sqlite_store
from harness.store import create_sqlite_store
from harness.tracking import Tracker
create_sqlite_store(Path(sys.argv[1]))
tracker = Tracker("sqlite:///" + sys.argv[1])
tracker.experiment_id(sys.argv[2])
tracker.experiment_id("same")  # all at once: one creates it, the others find it
"""


def test_processes_creating_one_new_store_at_once_all_succeed(tmp_path):
    """Four real processes race to create the same SQLite store and experiment: each gets a complete schema."""
    db = tmp_path / "mlflow.db"
    starts = [subprocess.Popen([sys.executable, "-c", CREATE, str(db), f"e{i}"], env=harness_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(4)]
    outputs = [p.communicate(timeout=300)[0] for p in starts]
    assert [p.returncode for p in starts] == [0] * 4, "\n----\n".join(o[-2000:] for o in outputs)
    names = {e.name for e in Tracker(f"sqlite:///{db}").client.search_experiments()}
    assert {"e0", "e1", "e2", "e3", "same"} <= names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db", "mlflow.db.lock"], "no side files left"


def test_a_store_creation_killed_midway_leaves_no_database(tmp_path):
    """SIGKILL while the schema is being built: the path stays empty and the next creation succeeds."""
    db = tmp_path / "mlflow.db"
    slow = CREATE.replace("create_sqlite_store(", "import time, mlflow.store.tracking.sqlalchemy_store as s\n"
                          "init = s.SqlAlchemyStore.__init__\n"
                          "def slow(self, *a):\n    init(self, *a)\n    time.sleep(60)\n"
                          "s.SqlAlchemyStore.__init__ = slow\ncreate_sqlite_store(")
    process = subprocess.Popen([sys.executable, "-c", slow, str(db), "e"], env=harness_env())
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".mlflow.db.*.creating")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the schema is in the side file, not yet moved
    process.kill()
    process.wait()
    assert not db.exists(), "a half-made store was left at the path"
    create_sqlite_store(db)
    assert Tracker(f"sqlite:///{db}").experiment_id("after") is not None
