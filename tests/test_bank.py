"""Baselines as data: fingerprints, reuse across suites, bank export/import/verify (real runs, real MLflow)."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.bank import BankError, export_bank, import_bank, read_bank
from harness.bank.format import write_bank
from harness.cli import main
from harness.fingerprint import TAG_ID, TAG_JSON, differences, fingerprint, fingerprint_id
from harness.report import build_report
from harness.report.data import load_runs
from harness.report.provenance import provenance_blocks, software_rows, software_warnings
from harness.runner import run_suite
from harness.tracking import Tracker
from tests.conftest import ROOT, harness_env, toy_suite, write_suite


def uri_of(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def finished(uri: str, experiment: str) -> list:
    tracker = Tracker(uri)
    runs = tracker.runs(tracker.experiment_id(experiment))
    return [r for r in runs if r.info.status == "FINISHED" and "harness.run_key" in r.data.tags]  # no report runs


def curves(uri: str, experiment: str) -> dict[str, list]:
    client = Tracker(uri).client
    return {r.data.tags["harness.run_key"]: [(m.step, m.value) for m in client.get_metric_history(r.info.run_id, "eval/return_mean")]
            for r in finished(uri, experiment)}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """A store holding one finished toy suite ("first": 2 seeds) and its bank file."""
    folder = tmp_path_factory.mktemp("first")
    uri = uri_of(folder / "store")
    outcome = run_suite(toy_suite(folder, name="first", seeds=2, budget=1000), tracking_uri=uri, workers=2,
                        show_progress=False)
    assert len(outcome.finished) == 2
    bank = folder / "first.jsonl.gz"
    assert export_bank(["first"], uri, bank).runs == 2
    return folder, uri, bank


def test_fingerprint_fields_and_differences():
    values = fingerprint({"harness": "0.1.0"})
    assert list(values) == ["python", "torch", "numpy", "gymnasium", "stable-baselines3", "sb3-contrib", "mlflow",
                            "plugins", "platform", "cpu"]
    other = {**values, "torch": "0.0.fake", "plugins": {"harness": "0.2"}}
    assert differences(values, other) == {"torch": (values["torch"], "0.0.fake"), "plugins.harness": ("0.1.0", "0.2")}
    assert fingerprint_id(values) != fingerprint_id(other)


def test_labels_stay_out_of_the_run_key_and_identical_entries_are_refused(tmp_path):
    from harness.errors import SuiteErrors
    from harness.registry import default_registry
    from harness.suite import load_suite

    text = toy_suite(tmp_path, name="a").read_text()
    relabelled = text.replace('name = "toy.search"', 'name = "toy.search"\nlabel = "other"').replace('"a"', '"b"')
    a = load_suite(tmp_path / "suite.toml", default_registry())
    b = load_suite(write_suite(tmp_path, relabelled, "b.toml"), default_registry())
    assert [r.run_key for r in a.runs] == [r.run_key for r in b.runs]
    twice = text + '[[algorithms]]\nname = "toy.search"\nlabel = "again"\n'
    with pytest.raises(SuiteErrors, match="are the same run"):
        load_suite(write_suite(tmp_path, twice, "twice.toml"), default_registry())


def test_every_run_carries_its_fingerprint(first):
    _, uri, _ = first
    for run in finished(uri, "first"):
        values = json.loads(run.data.tags[TAG_JSON])
        assert run.data.tags[TAG_ID] == fingerprint_id(values)
        assert values["plugins"]["harness"] and values["cpu"]


def test_second_suite_trains_none_of_the_shared_runs(first, tmp_path):
    """Same training under other labels and another suite name: the shared seeds are copied, not trained."""
    _, uri, _ = first
    second = toy_suite(tmp_path, name="second", seeds=3, budget=1000).read_text()
    second = second.replace('name = "toy.search"', 'name = "toy.search"\nlabel = "my-toy"')
    outcome = run_suite(write_suite(tmp_path, second, "second.toml"), tracking_uri=uri, workers=1, show_progress=False)
    assert outcome.reused == {"reused": 2}
    assert len(outcome.finished) == 1  # only seed 2 was trained
    assert outcome.skipped == 0, "a copied run counted again as 'from earlier'"
    runs = finished(uri, "second")
    assert len(runs) == 3
    copies = [r for r in runs if r.data.tags.get("harness.source") == "reused"]
    assert len(copies) == 2 and all(r.data.tags["harness.algorithm_label"] == "my-toy" for r in copies)
    assert all(r.data.tags["harness.origin"].startswith("first/") for r in copies)
    first_curves, second_curves = curves(uri, "first"), curves(uri, "second")
    assert all(second_curves[key] == points for key, points in first_curves.items())


def test_other_software_is_not_reused_unless_asked(first, tmp_path):
    """A run made with another torch (a faked fingerprint) is retrained; --reuse any takes it and the report says so."""
    folder, _, bank = first
    uri = uri_of(tmp_path / "store")
    import_bank(bank, uri)
    client = Tracker(uri).client
    for run in finished(uri, "first"):
        values = json.loads(run.data.tags[TAG_JSON])
        values["torch"] = "0.0.fake"
        client.set_tag(run.info.run_id, TAG_JSON, json.dumps(values))
        client.set_tag(run.info.run_id, TAG_ID, fingerprint_id(values))
        client.set_tag(run.info.run_id, "harness.git_commit", "0" * 40)  # built from another commit
    pooled = toy_suite(tmp_path, name="pooled", seeds=3, budget=1000)
    outcome = run_suite(pooled, tracking_uri=uri, workers=1, show_progress=False, reuse="any")
    assert outcome.reused == {"bank": 2} and len(outcome.finished) == 1
    runs = load_runs("pooled", uri).runs
    rows = dict((k, v) for k, v in software_rows(runs))
    assert "0.0.fake (2 runs)" in rows["runs differ in torch"]
    warnings = " ".join(block.text for block in software_warnings(runs))
    assert "differ in: torch" in warnings and "other software than the runs trained here" in warnings
    texts = " ".join(b.text for b in provenance_blocks("pooled", uri, runs) if getattr(b, "kind", "") == "warning")
    assert "different git commits (runs from a bank or another experiment keep the commit" in texts

    outcome = run_suite(toy_suite(tmp_path, name="third", seeds=2, budget=1000), tracking_uri=uri, workers=2,
                        show_progress=False)
    assert outcome.reused == {} and len(outcome.finished) == 2
    assert outcome.other_software == 2, "the summary should say why the banked runs were not taken"


def report_tables(uri: str, experiment: str, out: Path) -> dict[str, pd.DataFrame]:
    """Every CSV table of the report; MLflow run ids (local to a store) dropped, rows in a fixed order."""
    folder = build_report(experiment, uri, out_root=out)
    tables = {}
    for path in sorted(folder.rglob("*.csv")):
        frame = pd.read_csv(path).drop(columns=["run_id"], errors="ignore")
        tables[path.relative_to(folder).as_posix()] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return tables


@pytest.mark.parametrize("prefixes", [(), ("eval/", "time/", "sys/")], ids=["all-metrics", "report-metrics"])
def test_export_import_gives_the_same_report_tables(first, tmp_path, prefixes):
    folder, uri, _ = first
    bank = tmp_path / "bank.jsonl.gz"
    export_bank(["first"], uri, bank, metrics_prefixes=prefixes)
    if prefixes:
        assert all(key.startswith(prefixes) for r in read_bank(bank)[1] for key in r["metrics"])
    fresh = uri_of(tmp_path / "fresh")
    assert import_bank(bank, fresh).added == 2
    original, imported = report_tables(uri, "first", tmp_path / "a"), report_tables(fresh, "first", tmp_path / "b")
    assert original.keys() == imported.keys() and original
    for name, frame in original.items():
        pd.testing.assert_frame_equal(frame, imported[name], obj=name)


def test_import_twice_adds_nothing(first, tmp_path):
    _, _, bank = first
    uri = uri_of(tmp_path / "store")
    assert (import_bank(bank, uri).added, import_bank(bank, uri).present) == (2, 2)
    assert len(finished(uri, "first")) == 2


def _rewrite(bank: Path, target: Path, edit) -> Path:
    lines = gzip.open(bank, "rt").read().splitlines()
    with gzip.open(target, "wt") as out:
        out.write("\n".join(edit(lines)) + "\n")
    return target


def corrupt_files(bank: Path, folder: Path) -> dict[str, Path]:
    data = bank.read_bytes()
    (folder / "truncated.jsonl.gz").write_bytes(data[: len(data) // 2])
    (folder / "plain.jsonl.gz").write_text("hello\n")
    return {
        "truncated": folder / "truncated.jsonl.gz",
        "not a readable bank": folder / "plain.jsonl.gz",
        "footer line is missing": _rewrite(bank, folder / "nofooter.jsonl.gz", lambda ls: ls[:-1]),
        "schema_version 99": _rewrite(bank, folder / "schema.jsonl.gz",
                                      lambda ls: [ls[0].replace('"schema_version": 1', '"schema_version": 99'), *ls[1:]]),
        "checksum": _rewrite(bank, folder / "edited.jsonl.gz", lambda ls: [ls[0], ls[1].replace("toy", "tox"), *ls[2:]]),
        "not a harness bank": _rewrite(bank, folder / "foreign.jsonl.gz", lambda ls: ['{"format": "other"}', *ls[1:]]),
    }


def test_corrupt_files_are_rejected_with_one_line_and_nothing_imported(first, tmp_path, capsys):
    _, _, bank = first
    uri = uri_of(tmp_path / "store")
    for expected, path in corrupt_files(bank, tmp_path).items():
        with pytest.raises(BankError, match=expected):
            read_bank(path)
        assert main(["bank", "import", str(path), "--tracking-uri", uri]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}:") and err.count("\n") == 1, err
    assert Tracker(uri).client.search_experiments(filter_string="name = 'first'") == []


def test_bank_file_records_what_reuse_matches_on(first):
    _, uri, bank = first
    header, records = read_bank(bank)
    assert header["schema_version"] == 1 and header["runs"] == 2
    keys = {r.data.tags["harness.run_key"] for r in finished(uri, "first")}
    assert {r["tags"]["harness.run_key"] for r in records} == keys
    assert all("spec.json" in r["artifacts"] and "eval/return_mean" in r["metrics"] for r in records)
    assert not any(name.startswith("model/") for r in records for name in r["artifacts"])


def test_verify_retrains_and_compares(first, tmp_path, capsys):
    """Seed 1 as banked is identical here; seed 0's banked curve and torch version are doctored."""
    _, _, bank = first
    _, records = read_bank(bank)
    doctored = next(r for r in records if r["tags"]["harness.seed"] == "0")
    doctored["metrics"]["eval/return_mean"][-1][1] += 1.0
    values = json.loads(doctored["tags"][TAG_JSON])
    doctored["tags"][TAG_JSON] = json.dumps({**values, "torch": "0.0.fake"})
    write_bank(tmp_path / "doctored.jsonl.gz", records)
    assert main(["bank", "verify", str(tmp_path / "doctored.jsonl.gz"), "--seeds", "2", "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert "toy.search / CartPole-v1 / seed 1: identical" in out
    assert "toy.search / CartPole-v1 / seed 0: DIFFERENT" in out and "1 of 2 runs identical" in out
    assert f"fingerprint torch: bank 0.0.fake, here {values['torch']}" in out


def test_bank_import_before_a_run_reuses_its_runs(first, tmp_path, capsys):
    """`harness run --bank FILE` on an empty store: nothing is trained, the summary says where runs came from."""
    _, _, bank = first
    uri = uri_of(tmp_path / "store")
    suite = toy_suite(tmp_path, name="fromfile", seeds=2, budget=1000)
    code = main(["run", str(suite), "--bank", str(bank), "--tracking-uri", uri, "--no-report", "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "2 of 2 runs finished (0 from earlier, 2 from the bank), 0 failed." in out
    assert all(r.data.tags["harness.source"] == "bank" for r in finished(uri, "fromfile"))


def test_a_suite_names_its_bank_files_and_reuse_mode(first, tmp_path, capsys):
    """`[bank] files` (relative to the suite file) are imported by `harness run`; `[bank] reuse` is the suite's
    default, which `--reuse` overrides; a missing file is one line naming the key, exit code 2, nothing run."""
    _, _, bank = first
    (tmp_path / "banks").mkdir()
    shutil.copy(bank, tmp_path / "banks" / "b.jsonl.gz")
    files = '[bank]\nfiles = ["banks/b.jsonl.gz"]\n'
    run = ["--no-report", "--workers", "1", "--tracking-uri"]

    uri = uri_of(tmp_path / "plain")
    assert main(["run", str(toy_suite(tmp_path, name="fromsuite", seeds=2, budget=1000, extra=files)), *run, uri]) == 0
    assert "2 of 2 runs finished (0 from earlier, 2 from the bank), 0 failed." in capsys.readouterr().out

    uri = uri_of(tmp_path / "off")
    suite = toy_suite(tmp_path, name="trains", seeds=2, budget=1000, extra=files + 'reuse = "off"')
    assert main(["run", str(suite), *run, uri]) == 0
    assert "2 of 2 runs finished (0 from earlier), 0 failed." in capsys.readouterr().out
    assert len(finished(uri, "first")) == 2, "the bank is imported even when its runs are not reused"
    suite = toy_suite(tmp_path, name="override", seeds=2, budget=1000, extra=files + 'reuse = "off"')
    assert main(["run", str(suite), *run, uri, "--reuse", "exact"]) == 0
    assert "0 from earlier, 2 " in capsys.readouterr().out

    uri = uri_of(tmp_path / "missing")
    suite = toy_suite(tmp_path, name="missing", seeds=2, budget=1000, extra='[bank]\nfiles = ["nope.jsonl.gz"]')
    assert main(["run", str(suite), *run, uri]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bank.files[0]: no such file:" in err and "nope.jsonl.gz" in err
    assert not Tracker(uri).client.search_experiments(filter_string="name = 'missing'")


SHIPPED = {"sb3-cartpole.jsonl.gz": 40, "sb3-acrobot.jsonl.gz": 40, "sb3-lunarlander.jsonl.gz": 10,
           "sb3-pendulum.jsonl.gz": 30}


@pytest.mark.parametrize("suite", ["bank-cartpole", "bank-acrobot", "bank-lunarlander", "bank-pendulum", "cartpole-zoo",
                                   "control", "continuous"])
def test_the_shipped_banks_still_match_their_suites(suite):
    """A change to what enters a run_key would silently orphan the shipped banks: every SB3 run the
    bank suites, cartpole-zoo.toml and control.toml ask for must have its key in banks/."""
    from harness.registry import default_registry
    from harness.suite import load_suite

    banked = set()
    for name, count in SHIPPED.items():
        _, records = read_bank(ROOT / "banks" / name)
        assert len(records) == count
        banked |= {record["tags"]["harness.run_key"] for record in records}
    wanted = {run.run_key for run in load_suite(ROOT / "suites" / f"{suite}.toml", default_registry()).runs
              if run.algorithm.startswith("sb3.")}
    assert wanted and wanted <= banked


IMPORT = ("import sys; from pathlib import Path; from harness.bank import import_bank; "
          "r = import_bank(Path(sys.argv[1]), sys.argv[2]); print(r.added, r.present)")


def test_processes_importing_one_bank_at_once_land_each_run_once(first, tmp_path):
    """Three users start `harness run --bank` together on one new store: every banked run lands exactly once."""
    _, _, bank = first
    uri = uri_of(tmp_path / "shared")
    procs = [subprocess.Popen([sys.executable, "-c", IMPORT, str(bank), uri], env=harness_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    counts = [tuple(map(int, out.split()[-2:])) for out in outputs]
    assert sum(added for added, _ in counts) == 2, counts
    runs = finished(uri, "first")
    tracker = Tracker(uri)
    assert len(runs) == 2 and len(tracker.runs(tracker.experiment_id("first"))) == 2, "a losing copy was left"


def test_a_copy_claimed_while_a_rival_copies_the_same_run_is_withdrawn(tmp_path):
    """The race CI once lost: a rival's copy with a *later* start time (clock skew, a slow commit)
    seen after this import created its own must still make this one withdraw; once the rival has
    FINISHED, this import adds nothing."""
    import threading
    import time

    from harness.bank.exchange import _claim_copy
    from harness.bank.records import TAG_BANK_ID
    from harness.claims import HOST
    from harness.layout import HEARTBEAT, OWNER_HOST, OWNER_PID

    tracker = Tracker(uri_of(tmp_path / "store"))
    experiment_id = tracker.experiment_id("first")
    live = {OWNER_HOST: HOST, OWNER_PID: "1", HEARTBEAT: f"{time.time():.3f}"}  # pid 1: alive
    rival = tracker.client.create_run(experiment_id, start_time=int(time.time() * 1000) + 60_000,
                                      tags={TAG_BANK_ID: "b1", **live}).info.run_id
    threading.Timer(1.5, lambda: tracker.client.set_terminated(rival, "FINISHED")).start()
    assert _claim_copy(tracker, experiment_id, "b1", {TAG_BANK_ID: "b1"}) is None
    assert [r.info.run_id for r in tracker.runs(experiment_id)] == [rival]
    assert _claim_copy(tracker, experiment_id, "b2", {TAG_BANK_ID: "b2"}) is not None  # no rival: claimed at once


@pytest.mark.parametrize("flag", ["--seeds", "--workers"])
def test_bank_verify_refuses_bad_counts_in_one_line(tmp_path, capsys, flag):
    bank = ROOT / "banks" / "sb3-cartpole.jsonl.gz"
    assert main(["bank", "verify", str(bank), flag, "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: harness bank verify {flag}: 0 (allowed: 1 to 1024)"]
