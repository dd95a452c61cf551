"""Reuse: a run this suite needs that already FINISHED elsewhere in the store is copied, not trained.

A run stands in for another when their run_keys match (everything that changes results)
and, in the default ``exact`` mode, their software fingerprints match too.  ``any`` also
takes runs made with other software (the report then says the pooled runs differ);
``off`` trains everything.  The copy lands in this suite's experiment, with this suite's
labels, so the report, resume and anything else reading the experiment see it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.bank.records import TAG_ORIGIN, TAG_SOURCE, record_from_run, write_run
from harness.config import REUSE_MODES
from harness.fingerprint import TAG_ID, fingerprint_tags
from harness.layout import RUN_KEY, SUITE_FILE, SUITE_HASH, run_tags
from harness.tracking import Tracker, with_retry

#: Tags of this invocation that a copy takes over (the rest of its provenance stays the source's).
PER_SUITE = (SUITE_FILE, SUITE_HASH)


def reuse_runs(tracker: Tracker, experiment_id: str, todo: list, tags: dict[str, str],
               registry: Any, mode: str = "exact", run_ids: dict[str, str] | None = None) -> tuple[list, Counter]:
    """Copy reusable runs into ``experiment_id``; return the specs still to train and
    ``Counter({"bank": n, "reused": m, "other_software": k})``: the copies by source, and the
    runs trained although a FINISHED run with their key exists, made with other software
    (``exact`` mode refuses those; ``any`` would take them).

    ``run_ids`` maps run_keys to runs this process claimed (:mod:`harness.claims`): a copy fills
    the claimed run, so two processes never copy the same run twice.
    """
    if mode not in REUSE_MODES:
        raise ValueError(f"reuse mode {mode!r} (allowed: {', '.join(REUSE_MODES)})")
    counts: Counter = Counter()
    if mode == "off" or not todo:
        return todo, counts
    local = fingerprint_tags(registry)[TAG_ID]
    others = _other_experiments(tracker, experiment_id)
    remaining = []
    for spec in todo:
        run = find_source(tracker, others, spec.run_key, local) if others else None
        if run is None or (mode == "exact" and run.data.tags.get(TAG_ID) != local):
            remaining.append(spec)
            if run is not None:
                counts["other_software"] += 1
            continue
        name = others[run.info.experiment_id]
        kind = "bank" if run.data.tags.get(TAG_SOURCE) == "bank" else "reused"
        origin = run.data.tags.get(TAG_ORIGIN, "") if kind == "bank" else f"{name}/{run.info.run_id}"
        record = record_from_run(tracker.client, run, name, models=True)
        overrides = {k: v for k, v in tags.items() if k in PER_SUITE}
        overrides.update({**run_tags(spec), TAG_SOURCE: kind, TAG_ORIGIN: origin})
        record["run_name"] = spec.title
        write_run(tracker.client, experiment_id, record, overrides, (run_ids or {}).get(spec.run_key))
        counts[kind] += 1
    return remaining, counts


def _other_experiments(tracker: Tracker, experiment_id: str) -> dict[str, str]:
    """``{experiment_id: name}`` of every active experiment but this one."""
    found = with_retry(lambda: tracker.client.search_experiments(max_results=50_000))
    return {e.experiment_id: e.name for e in found if e.experiment_id != experiment_id}


def find_source(tracker: Tracker, experiments: dict[str, str], run_key: str, fingerprint_id: str) -> Any | None:
    """The FINISHED run with ``run_key`` to copy, ``None`` if there is none.

    Prefers a run with this fingerprint, then the earliest; the caller decides whether a run
    made with other software will do.
    """
    runs = with_retry(lambda: tracker.client.search_runs(
        list(experiments), f"tags.`{RUN_KEY}` = '{run_key}' and attributes.status = 'FINISHED'",
        max_results=1000))
    return min(runs, key=lambda r: (r.data.tags.get(TAG_ID) != fingerprint_id, r.info.start_time, r.info.run_id),
               default=None)
