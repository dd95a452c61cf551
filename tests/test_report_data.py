"""The report's MLflow loader: SQLite fast path == client API, and what it leaves out."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from harness.report.data import ExperimentNotFound, load_runs
from harness.report.synthetic import FakeRun, curve, demo_runs, demo_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The demo store plus a report run, a deleted run and a re-logged evaluation point."""
    uri = demo_store(tmp_path_factory.mktemp("data"))
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.get_experiment_by_name("demo").experiment_id
    report = client.create_run(experiment_id, tags={"harness.kind": "report"})
    client.log_metric(report.info.run_id, "eval/return_mean", 1.0, step=0)
    deleted = client.create_run(experiment_id, tags={"harness.run_key": "gone"})
    client.delete_run(deleted.info.run_id)
    first = client.search_runs([experiment_id], "tags.`harness.run_key` != ''", max_results=1)[0]
    client.log_batch(first.info.run_id, metrics=[Metric("eval/return_mean", -123.0, 2**41, 0)])
    return uri, first.info.run_id


def test_fast_and_client_paths_agree(store):
    uri, _ = store
    fast = load_runs("demo", uri, fast=True)
    slow = load_runs("demo", uri, fast=False)
    pd.testing.assert_frame_equal(fast.runs, slow.runs)
    pd.testing.assert_frame_equal(fast.curves, slow.curves)


def test_only_active_harness_runs_are_loaded(store):
    uri, _ = store
    data = load_runs("demo", uri)
    assert len(data.runs) == len(demo_runs())
    assert "gone" not in set(data.runs["run_key"])
    assert (data.runs["run_key"] != "").all()
    assert set(data.curves["run_id"]) <= set(data.runs["run_id"])


def test_tags_and_curves_follow_the_worker_layout(store):
    uri, relogged = store
    data = load_runs("demo", uri)
    failed = data.runs[data.runs["status"] == "FAILED"].iloc[0]
    assert failed["error"].startswith("RunFailure: <script>")
    assert failed["algorithm_label"] == "a2c" and failed["seed"] == 4
    assert set(data.runs["status"]) == {"FINISHED", "FAILED", "RUNNING"}
    assert data.runs["plugin_versions"].str.startswith("{").all()
    run = data.runs[(data.runs["algorithm_label"] == "ppo") & (data.runs["env"] == "CartPole-v1")
                    & (data.runs["shaping"] == "none") & (data.runs["seed"] == 2)].iloc[0]
    points = data.curves[data.curves["run_id"] == run["run_id"]]
    steps, _ = curve(FakeRun("ppo", "CartPole-v1", 2, 0.0, shaping="none", points=10))
    assert points["step"].tolist() == steps.tolist()
    assert points[["elapsed", "sps"]].notna().all().all()
    # a point logged twice for one step: the later timestamp wins
    again = data.curves[(data.curves["run_id"] == relogged) & (data.curves["step"] == 0)]
    assert again["return_mean"].tolist() == [-123.0]


def test_unknown_experiment_is_a_clear_error(store):
    uri, _ = store
    with pytest.raises(ExperimentNotFound, match="no-such"):
        load_runs("no-such", uri)
