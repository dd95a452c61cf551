"""The MLflow layout has one owner (harness.layout): docs, writers and the report reader agree with it."""

from __future__ import annotations

import re

import pandas as pd
from mlflow.tracking import MlflowClient

from harness import layout
from harness.registry import default_registry
from harness.report import build_report
from harness.report.data import load_runs
from harness.report.synthetic import FakeRun, tags_of
from harness.runner import run_suite
from harness.suite import load_suite
from tests.conftest import ROOT, toy_suite


def test_docs_list_every_tag():
    text = (ROOT / "docs" / "mlflow-layout.md").read_text()
    assert layout.tags_markdown() in text, "docs/mlflow-layout.md: paste the output of `python -m harness.layout`"


def test_no_module_spells_a_tag_name_itself():
    """Tag names are imported from harness.layout, never written as string literals elsewhere."""
    literal = re.compile(r"""["']harness\.(%s)["']""" % "|".join(tag.name for tag in layout.TAGS.values()))
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for folder in ("harness", "plugins") for path in (ROOT / folder).rglob("*.py")
        if path.name != "layout.py" for match in literal.finditer(path.read_text())
    ]
    assert not offenders, offenders


def test_report_reads_what_the_workers_wrote(tmp_path):
    """A real suite (one run fails on purpose) -> MLflow -> report: every tag the workers wrote is registered,
    every registered run tag was written, and the report's tables hold each run."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = toy_suite(tmp_path, name="layout", seeds=2, budget=1000,
                     extra='[[algorithms]]\nname = "toy.search"\nlabel = "broken"\nparams = { fail_at_step = 300 }')
    outcome = run_suite(path, tracking_uri=uri, workers=2, show_progress=False)
    assert len(outcome.finished) == 2 and len(outcome.failed) == 2

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("layout").experiment_id])
    written = {run.info.status: {k for k in run.data.tags if k.startswith(layout.PREFIX)} for run in runs}
    expected = {tag.key for tag in layout.TAGS.values() if tag.group not in (layout.REPORT, layout.COPY)}
    assert written["FINISHED"] == expected - {layout.ERROR}
    assert written["FAILED"] == expected - {layout.STEPS_TRAINED}
    synthetic = {k for k in tags_of(FakeRun("a", "CartPole-v1", 0, 1.0, error="x"), "s") if k.startswith(layout.PREFIX)}
    assert synthetic == expected, "harness.report.synthetic must write the layout the workers write"

    data = load_runs("layout", uri)
    assert set(layout.columns()) <= set(data.runs.columns)
    finished = data.runs[data.runs["status"] == "FINISHED"]
    for column in layout.columns():
        copied = {tag.name for tag in layout.TAGS.values() if tag.group == layout.COPY}
        if column not in {layout.ERROR.removeprefix(layout.PREFIX), "baseline", "baseline_shaping", "git_commit",
                          "vector_note", *copied}:
            assert (finished[column] != "").all(), column
    assert set(data.runs["algorithm_label"]) == {"toy.search", "broken"}
    assert sorted(set(data.curves["step"])) == [0, 500, 1000]

    report = build_report("layout", uri, tmp_path / "reports", suite=load_suite(path, default_registry()), reps=200)
    scored, issues = (pd.read_csv(report / "tables" / f"{name}.csv") for name in ("runs", "issues"))
    assert sorted(scored["run_id"]) == sorted(finished["run_id"])
    assert sorted(issues.loc[issues["issue"] == "failed", "run_id"]) == sorted(set(data.runs["run_id"]) - set(finished["run_id"]))
    index = (report / "index.md").read_text()
    assert "injected failure at step 300" in index and "toy.search" in index
