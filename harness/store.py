"""Opening the MLflow store a suite runs against: check the URI first, bound the waiting, lock creation.

* :func:`check_tracking_uri` answers within seconds, before anything runs: a scheme harness
  cannot use, a SQLite file in a missing folder, or a server nobody answers at is one line.
* :func:`bound_http_retries` replaces MLflow's own HTTP retry defaults (7 retries, 120 s
  timeouts: minutes of silence when a server is down) by short ones; harness's own
  :func:`harness.tracking.with_retry` retries on top, visibly and for a bounded time.
* :func:`open_store` creates a fresh SQLite store whole or not at all: the schema is built in a
  side file under a file lock and moved into place, so two processes starting on one new store do
  not both run its migrations, and a signal during creation leaves no half-made database behind.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from filelock import FileLock

from harness.tracking import Tracker, first_line, with_retry

#: Schemes harness can log to: the embedded SQLite store, a tracking server, a database MLflow supports.
SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql")
#: MLflow's HTTP client settings when the user has not set them (MLflow's defaults: 7 retries, 120 s).
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
#: Seconds to wait for a tracking server to accept a connection during the check.
CONNECT_SECONDS = 3.0


class StoreError(Exception):
    """The tracking URI cannot be used (one line; ``harness run`` exits 2)."""


def check_tracking_uri(uri: str) -> None:
    """Raise :class:`StoreError` unless ``uri`` has a usable scheme and, for servers, something listens."""
    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0].lower()
    if scheme == "file" or not scheme:
        raise StoreError(f"tracking URI {uri!r}: MLflow's file store is not supported; "
                         f"use sqlite:///PATH/mlflow.db or http://HOST:PORT")
    if scheme not in SCHEMES:
        raise StoreError(f"tracking URI {uri!r}: unsupported scheme {parts.scheme!r} (allowed: {', '.join(SCHEMES)})")
    if scheme == "sqlite":
        folder = Path(uri.removeprefix("sqlite:///")).parent if uri.startswith("sqlite:///") else None
        if folder is not None and not folder.is_dir():
            raise StoreError(f"tracking URI {uri!r}: folder {folder} does not exist")
    elif scheme in ("http", "https"):
        port = parts.port or (443 if scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "localhost", port), timeout=CONNECT_SECONDS).close()
        except OSError as error:
            raise StoreError(f"tracking URI {uri!r}: no MLflow server answers there "
                             f"({error.strerror or type(error).__name__}); start it or fix --tracking-uri") from None


def bound_http_retries() -> None:
    """Short MLflow HTTP retries and timeouts, unless the user chose their own (environment variables)."""
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


def open_store(uri: str) -> Tracker:
    """A :class:`Tracker` on ``uri`` whose store exists; a new SQLite store is created under a file lock."""
    check_tracking_uri(uri)
    bound_http_retries()
    if uri.startswith("sqlite:///"):
        create_sqlite_store(Path(uri.removeprefix("sqlite:///")))
        return Tracker(uri)
    tracker = Tracker(uri)
    try:
        with_retry(lambda: tracker.client.search_experiments(max_results=1), seconds=15)
    except Exception as error:
        raise StoreError(f"tracking URI {uri!r}: the store does not answer ({first_line(error)})") from None
    return tracker



def create_sqlite_store(path: Path) -> None:
    """Give ``path`` MLflow's full schema unless it has one: built in a side file, then renamed into place.

    MLflow migrates an empty database on first use; two processes doing that at once, or a signal
    in the middle, leave a broken store ("table ... already exists", "No such index").
    """
    if _has_content(path):
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # slow to import: only when creating

    with FileLock(f"{path}.lock"):
        if _has_content(path):
            return
        side = path.with_name(f".{path.name}.{os.getpid()}.creating")
        try:
            store = SqlAlchemyStore(f"sqlite:///{side}", (path.parent / "mlartifacts").resolve().as_uri())
            store.engine.dispose()
            os.replace(side, path)
        finally:
            side.unlink(missing_ok=True)


def _has_content(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0
