"""``harness bank export`` and ``harness bank import``: MLflow experiments <-> a bank file."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from harness.bank.format import REQUIRED_TAGS, BankError, read_bank, write_bank
from harness.bank.records import TAG_BANK_ID, TAG_ORIGIN, TAG_SOURCE, record_from_run, write_run
from harness.claims import HEARTBEAT_TTL, HOST, live_claim
from harness.layout import HEARTBEAT, OWNER_HOST, OWNER_PID, RUN_KEY
from harness.store import open_store
from harness.tracking import Tracker, with_retry


@dataclass(frozen=True)
class ExportResult:
    runs: int
    without_fingerprint: int
    """FINISHED runs left out because they carry no fingerprint (made before harness recorded one)."""


@dataclass(frozen=True)
class ImportResult:
    added: int
    present: int
    """Runs of the file already in the store (imported before): not added again."""


def export_bank(experiments: list[str], tracking_uri: str, out: Path, models: bool = False,
                metrics_prefixes: tuple[str, ...] = ()) -> ExportResult:
    """Write the FINISHED harness runs of ``experiments`` to the bank file ``out``
    (all metrics, or those whose keys start with one of ``metrics_prefixes``)."""
    tracker = open_store(tracking_uri)
    records, skipped = [], 0
    for name in experiments:
        experiment_id = tracker.experiment_id(name, create=False)
        if experiment_id is None:
            raise BankError(f"no experiment named {name!r} at {tracking_uri}")
        for run in tracker.runs(experiment_id, "attributes.status = 'FINISHED'"):
            tags = run.data.tags
            if not tags.get(RUN_KEY):
                continue  # a report run
            if not all(tags.get(tag) for tag in REQUIRED_TAGS):
                skipped += 1
                continue
            records.append(record_from_run(tracker.client, run, name, models, metrics_prefixes))
    records.sort(key=lambda r: (r["experiment"], r["bank_id"]))
    write_bank(out, records)
    return ExportResult(len(records), skipped)


def import_bank(path: Path, tracking_uri: str) -> ImportResult:
    """Load a bank file into the store, each run into its experiment; runs already there are kept.

    The whole file is checked first (:class:`BankError`), so a bad file adds nothing.
    """
    _, records = read_bank(path)
    tracker = open_store(tracking_uri)
    added = present = 0
    by_experiment: dict[str, list[dict]] = {}
    for record in records:
        by_experiment.setdefault(record["experiment"], []).append(record)
    for name, group in by_experiment.items():
        experiment_id = tracker.experiment_id(name)
        finished, partial = set(), []
        for run in tracker.runs(experiment_id):
            bank_id = run.data.tags.get(TAG_BANK_ID)
            if bank_id and (run.info.status == "FINISHED" or live_claim(run)):
                finished.add(bank_id)  # here already, or being copied by another live process
            elif bank_id:
                partial.append(run.info.run_id)  # an earlier import cut short
        tracker.delete_runs(partial)
        for record in group:
            if record["bank_id"] in finished:
                present += 1
                continue
            tags = {TAG_BANK_ID: record["bank_id"], TAG_SOURCE: "bank", TAG_ORIGIN: path.name}
            run_id = _claim_copy(tracker, experiment_id, record["bank_id"], tags)
            if run_id is None:
                present += 1
                continue
            write_run(tracker.client, experiment_id, record, tags, run_id)
            added += 1
    return ImportResult(added, present)


def _claim_copy(tracker: Tracker, experiment_id: str, bank_id: str, tags: dict[str, str]) -> str | None:
    """Create this process's run for ``bank_id``; ``None`` (and no run) once another copy of it exists.

    The rule of :mod:`harness.claims`: create a run, read the store again, and withdraw it when
    any rival copy is there (FINISHED, or a live import's).  Of two imports racing, the one that
    reads second sees the first's run, so at most one keeps it; when both withdraw, each tries
    again after a random pause, and stops as soon as a rival copy has FINISHED.  A rival that
    neither finishes nor withdraws within the claim lifetime counts as gone, as in harness.claims.
    """
    owner = {OWNER_HOST: HOST, OWNER_PID: str(os.getpid()), HEARTBEAT: f"{time.time():.3f}"}
    deadline, rivals = time.time() + HEARTBEAT_TTL, []  # the import's own scan found no copy
    while time.time() < deadline:
        if any(r.info.status == "FINISHED" for r in rivals):
            return None
        if not rivals:
            run_id = with_retry(lambda: tracker.client.create_run(experiment_id, tags={**tags, **owner})).info.run_id
            if not any(r.info.run_id != run_id for r in _copies(tracker, experiment_id, bank_id)):
                return run_id
            tracker.delete_runs([run_id])
        time.sleep(random.uniform(0.05, 0.5))  # a rival is copying it, or withdrew as this one did
        rivals = _copies(tracker, experiment_id, bank_id)
    raise BankError(f"could not import banked run {bank_id}: another import held it for {HEARTBEAT_TTL:.0f} s")


def _copies(tracker: Tracker, experiment_id: str, bank_id: str) -> list:
    """The FINISHED or live (being imported) runs of ``bank_id``."""
    return [r for r in tracker.runs(experiment_id, f"tags.`{TAG_BANK_ID}` = '{bank_id}'")
            if r.info.status == "FINISHED" or live_claim(r)]
