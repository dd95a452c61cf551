"""``harness bank verify``: train a few banked runs again here and compare, point by point."""

from __future__ import annotations

import base64
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.bank.format import read_bank
from harness.fingerprint import TAG_JSON, differences, fingerprint_tags
from harness.layout import RUN_KEY
from harness.registry import Registry, default_registry
from harness.tasks import Event, RunTask
from harness.tracking import Tracker

CURVE = "eval/return_mean"


@dataclass
class Verdict:
    title: str
    identical: bool
    banked: list[tuple[int, float]]
    """``[(step, eval/return_mean), ...]`` as banked."""
    local: list[tuple[int, float]]
    fingerprint: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Fields where the bank's fingerprint differs from this machine's: ``{field: (bank, here)}``."""
    error: str = ""


def pick(records: list[dict[str, Any]], seeds: int) -> list[dict[str, Any]]:
    """The runs with the ``seeds`` lowest seeds of every configuration (one run_key per seed)."""
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        spec = _spec(record)
        cell = (record["experiment"], spec["algorithm"], json.dumps(spec["params"], sort_keys=True), spec["env"],
                json.dumps(spec["env_kwargs"], sort_keys=True), spec["budget"], json.dumps(spec["shapers"]))
        cells.setdefault(cell, []).append(record)
    return [r for group in cells.values() for r in sorted(group, key=lambda r: _spec(r)["seed"])[:seeds]]


def _spec(record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(record["artifacts"]["spec.json"]))


def verify_bank(path: Path, seeds: int = 2, workers: int | None = None,
                registry: Registry | None = None) -> list[Verdict]:
    """Retrain the chosen runs in a temporary store and compare their evaluation curves."""
    from harness.spec import RunSpec

    registry = registry or default_registry()
    _, records = read_bank(path)
    chosen = pick([r for r in records if "spec.json" in r["artifacts"]], seeds)
    here = json.loads(fingerprint_tags(registry)[TAG_JSON])
    with tempfile.TemporaryDirectory() as tmp:
        tracker = Tracker(f"sqlite:///{Path(tmp) / 'verify.db'}")
        experiment_id = tracker.experiment_id("bank-verify")
        specs = [RunSpec.from_dict(_spec(r)) for r in chosen]
        tasks = [RunTask(s.to_dict(), tracker.uri, experiment_id, {}, registry.snapshot()) for s in specs]
        failures: dict[str, str] = {}

        def on_event(event: Event) -> None:
            if event.kind == "failed":
                failures[event.run_key] = event.message

        executor = registry.get("executor", "local").load()(workers=workers)
        executor.run(tasks, on_event)
        finished = {r.data.tags.get(RUN_KEY): r for r in tracker.runs(experiment_id)
                    if r.info.status == "FINISHED"}
        verdicts = []
        for record, spec in zip(chosen, specs):
            banked = sorted((int(s), float(v)) for s, v, _ in record["metrics"].get(CURVE, []))
            run = finished.get(spec.run_key)
            local = [] if run is None else sorted(
                (m.step, m.value) for m in tracker.client.get_metric_history(run.info.run_id, CURVE))
            verdicts.append(Verdict(spec.title, run is not None and banked == local, banked, local,
                                    differences(json.loads(record["tags"][TAG_JSON]), here),
                                    failures.get(spec.run_key, "" if run else "did not finish")))
    return verdicts


def describe(verdicts: list[Verdict]) -> list[str]:
    """Lines for the terminal: per run identical or DIFFERENT (both curves), and the fingerprint fields that differ."""
    lines = []
    for v in verdicts:
        lines.append(f"{v.title}: " + ("identical" if v.identical else f"DIFFERENT {v.error}".rstrip()))
        if not v.identical:
            lines += [f"  bank: {v.banked}", f"  here: {v.local}"]
        lines += [f"  fingerprint {name}: bank {bank}, here {here}" for name, (bank, here) in v.fingerprint.items()]
    lines.append(f"{sum(v.identical for v in verdicts)} of {len(verdicts)} runs identical to the bank.")
    return lines
