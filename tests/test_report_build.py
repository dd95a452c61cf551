"""build_report end to end on synthetic MLflow runs: files, numbers, listing, escaping, paths."""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from harness.api import EnvironmentSpec, ReportSectionSpec
from harness.hookspecs import hookimpl
from harness.report import build_report, stats
from harness.report.paths import report_dir
from harness.report.synthetic import (
    ENV_INFO,
    FakeRun,
    curve,
    demo_runs,
    demo_store,
    store_with,
)

REPS = 300


class EnvMetadata:
    """Registers the demo environments with a random score and a solved threshold."""

    @hookimpl
    def harness_register_environments(self, register):
        for name, (random_score, solved) in ENV_INFO.items():
            register(EnvironmentSpec(name=name, random_score=random_score, solved_threshold=solved))


@pytest.fixture(scope="module")
def registry():
    from harness.registry import Registry, make_plugin_manager

    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(EnvMetadata())
    return Registry(pm)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, registry):
    folder = tmp_path_factory.mktemp("demo")
    uri = demo_store(folder / "store")
    out = build_report("demo", uri, folder / "reports", registry=registry, reps=REPS)
    return SimpleNamespace(uri=uri, out=out, folder=folder)


def csv(report: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(report / "tables" / f"{name}.csv", keep_default_na=False, na_values=[""])


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = np.logical_and.reduce([table[k].astype(str) == str(v) for k, v in where.items()])
    assert mask.sum() == 1, (where, mask.sum())
    return table[mask].iloc[0]


def test_report_files_exist_and_every_image_link_resolves(demo):
    out = demo.out
    assert out == (demo.folder / "reports" / "demo").resolve()
    for name in ("runs", "configurations", "comparisons", "normalisation", "aggregates", "issues"):
        assert (out / "tables" / f"{name}.csv").stat().st_size > 0
    markdown = (out / "index.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert any(link.startswith("plots/curves") for link in links)
    assert {"aggregates", "profiles", "improvement"} <= {Path(p).name.split("-")[0] for p in links}
    for link in links:
        assert (out / link).stat().st_size > 1000, link
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(links)


def test_configuration_table_matches_the_runs(demo):
    configs = csv(demo.out, "configurations")
    protocol = FakeRun("x", "y", 0, 0).protocol
    finals, reached = [], []
    for run in demo_runs():
        if (run.algorithm_label, run.env, run.shaping, run.status, run.protocol) == \
                ("ppo", "CartPole-v1", "none", "FINISHED", protocol):
            steps, returns = curve(run)
            finals.append(returns[-1])
            hits = np.flatnonzero(returns >= ENV_INFO["CartPole-v1"][1])
            reached += [steps[hits[0]]] if len(hits) else []
    ppo = row(configs, env_label="CartPole-v1", algorithm_label="ppo", shaping="none", eval_protocol=protocol)
    assert ppo["iqm"] == pytest.approx(stats.iqm(np.array(finals)[:, None]), rel=1e-7)
    assert ppo["median"] == pytest.approx(np.median(finals), rel=1e-7)
    assert ppo["iqm_low"] <= ppo["iqm"] <= ppo["iqm_high"]
    assert ppo["seeds_reached"] == len(reached) > 0
    assert ppo["steps_to_threshold"] == pytest.approx(np.median(reached))
    assert ppo["sps"] == pytest.approx(2000.0)
    a2c = row(configs, env_label="CartPole-v1", algorithm_label="a2c", shaping="none", eval_protocol=protocol)
    assert (a2c["finished"], a2c["failed"], a2c["not_scored"]) == (4, 1, 0)
    running = row(configs, env_label="Acrobot-v1", algorithm_label="ppo", shaping="none", eval_protocol=protocol)
    assert (running["finished"], running["failed"], running["not_scored"]) == (4, 0, 1)


def test_comparisons_against_baseline_and_baseline_shaping(demo):
    comps = csv(demo.out, "comparisons")
    for env in ("CartPole-v1", "Acrobot-v1", "(all, normalised)"):
        ppo = row(comps, kind="algorithm", env_label=env, algorithm_label="ppo", shaping="none")
        assert ppo["reference"] == "sb3.ppo" and ppo["seeds"] == 4
        assert ppo["iqm_diff_low"] > 0 and ppo["poi"] > 0.5
        # 4 seeds a side on one environment: the smallest p is 2/70, too big for Holm over this family;
        # stratified over two environments it is 2/4900
        assert ppo["verdict"] == ("better" if env == "(all, normalised)" else "undecided")
        assert ppo["p_value"] <= 0.05 if env == "(all, normalised)" else ppo["p_value"] > 0.05
    a2c = comps[(comps["kind"] == "algorithm") & (comps["algorithm_label"] == "a2c")]
    assert set(a2c["env_label"]) == {"CartPole-v1", "Acrobot-v1", "(all, normalised)"}
    assert (a2c.loc[a2c["env_label"] == "CartPole-v1", "seeds"] == 4).all()  # the failed seed 4 is not compared
    undecided = comps[comps["verdict"] == "undecided"]
    assert len(undecided) and undecided["p_value"].notna().all() and comps["p_equal"].isna().all()
    shaped = row(comps, kind="algorithm", env_label="CartPole-v1", algorithm_label="ppo", shaping="potential")
    assert shaped["reference"] == "sb3.ppo [none]" and shaped["seeds"] == 4  # baseline ran unshaped only
    shaping = comps[comps["kind"] == "shaping"]
    assert set(shaping["algorithm_label"]) == {"ppo"} and set(shaping["reference"]) == {"none"}
    assert set(shaping["shaping"]) == {"potential"}


def test_aggregates_use_random_and_solved_scores(demo):
    norm = csv(demo.out, "normalisation")
    cart = row(norm, env_label="CartPole-v1", eval_protocol=FakeRun("x", "y", 0, 0).protocol)
    assert (cart["zero"], cart["one"], cart["zero_from"]) == (22.0, 475.0, "random policy")
    aggregates = csv(demo.out, "aggregates")
    ppo = row(aggregates, algorithm_label="ppo", shaping="none", eval_protocol=FakeRun("x", "y", 0, 0).protocol)
    base = row(aggregates, algorithm_label="sb3.ppo", shaping="none", eval_protocol=FakeRun("x", "y", 0, 0).protocol)
    assert ppo["envs"] == 2 and ppo["seeds"] == 4  # seed 4 (still running on Acrobot) is left out
    assert ppo["IQM"] > base["IQM"] and ppo["IQM low"] <= ppo["IQM"] <= ppo["IQM high"]


def test_failed_running_and_mixed_protocol_runs_are_listed(demo):
    issues = csv(demo.out, "issues")
    failed = row(issues, issue="failed")
    assert failed["algorithm_label"] == "a2c" and failed["detail"].startswith("RunFailure: <script>")
    assert row(issues, issue="running")["env_label"] == "Acrobot-v1"
    markdown = (demo.out / "index.md").read_text()
    assert "mixes 2 evaluation protocols" in markdown
    assert "Evaluation protocol every=1000;episodes=5;deterministic" in (demo.out / "report.html").read_text()


def test_strings_from_runs_are_escaped(demo):
    html = (demo.out / "report.html").read_text()
    markdown = (demo.out / "index.md").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "\\*\\*boom\\*\\*" in markdown and "\\| \\*\\*boom" in markdown


def test_report_run_is_logged_and_ignored_by_the_next_build(demo, registry, tmp_path):
    client = MlflowClient(tracking_uri=demo.uri)
    experiment = client.get_experiment_by_name("demo")
    reports = client.search_runs([experiment.experiment_id], "tags.`harness.kind` = 'report'")
    assert len(reports) == 1 and "harness.run_key" not in reports[0].data.tags
    logged = {a.path for a in client.list_artifacts(reports[0].info.run_id, "report")}
    assert {"report/index.md", "report/report.html", "report/tables", "report/plots"} <= logged
    again = build_report("demo", demo.uri, tmp_path, registry=registry, reps=REPS, log_to_mlflow=False)
    for name in ("runs", "configurations", "comparisons", "aggregates", "issues", "normalisation"):
        first = (demo.out / "tables" / f"{name}.csv").read_bytes()
        assert (again / "tables" / f"{name}.csv").read_bytes() == first, name
    assert (again / "index.md").read_bytes() == (demo.out / "index.md").read_bytes()


def tiny_runs(label: str = "ppo", seeds: int = 3, **kwargs) -> list[FakeRun]:
    base = [FakeRun("sb3.ppo", "CartPole-v1", s, 200.0, start=20.0, points=5, **kwargs) for s in range(seeds)]
    return base + [FakeRun(label, "CartPole-v1", s, 300.0, start=20.0, points=5, baseline="sb3.ppo", **kwargs)
                   for s in range(seeds)]


def test_same_data_in_another_store_gives_identical_tables(tmp_path, registry):
    outs = []
    for i in range(2):
        uri = store_with(tmp_path / f"store{i}", tiny_runs())
        outs.append(build_report("demo", uri, tmp_path / f"out{i}", registry=registry, reps=REPS, log_to_mlflow=False))
    for name in ("configurations", "comparisons", "aggregates"):
        assert (outs[0] / "tables" / f"{name}.csv").read_bytes() == (outs[1] / "tables" / f"{name}.csv").read_bytes()


def test_malicious_names_stay_inside_out_root_and_are_escaped(tmp_path, registry):
    name = "../../x<img src=x onerror=alert(1)>"
    evil = "<img src=x onerror=alert(2)>|[a](javascript:alert(3))"
    uri = store_with(tmp_path / "store", tiny_runs(label=evil, seeds=2), name=name)
    out_root = tmp_path / "deep" / "reports"
    out = build_report(name, uri, out_root, registry=registry, reps=REPS, log_to_mlflow=False)
    assert out.parent == out_root.resolve() and out.name.startswith("_.._x_img")
    assert not any((tmp_path / "deep").glob("x*")) and not (tmp_path / "x").exists()
    html = (out / "report.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    markdown = (out / "index.md").read_text()
    assert "<img" not in markdown and "\\[a\\](javascript" in markdown
    assert markdown.count("](javascript") == markdown.count("\\](javascript"), "every ] before a ( is escaped: no link"
    for bad in ("..", ".", "", "a/../../b", "/etc/passwd"):
        assert report_dir(out_root, bad).parent == out_root.resolve()


def test_suite_lists_missing_and_stale_runs(tmp_path, registry):
    runs = tiny_runs(seeds=2)
    extra = FakeRun("ppo", "CartPole-v1", 7, 300.0, points=5, baseline="sb3.ppo")
    stale = FakeRun("ppo", "CartPole-v1", 0, 999.0, points=5, run_key="old-key")
    uri = store_with(tmp_path / "store", [*runs, stale])
    protocol = {"every": 5000, "episodes": 10, "deterministic": True}
    specs = [SimpleNamespace(run_key=r.key(), evaluation=protocol, env_label=r.env, algorithm_label=r.algorithm_label,
                             shaping=r.shaping, seed=r.seed) for r in [*runs, extra]]
    suite = SimpleNamespace(runs=specs, path=Path("suites/tiny.toml"), file_hash="abcdef0123456789")
    out = build_report("demo", uri, tmp_path / "out", suite=suite, registry=registry, reps=REPS, log_to_mlflow=False)
    issues = csv(out, "issues")
    assert row(issues, issue="missing")["seed"] == 7
    assert row(issues, issue="not in suite")["run_id"] != ""
    ppo = row(csv(out, "configurations"), algorithm_label="ppo")
    assert ppo["iqm"] < 900  # the stale run is not pooled
    markdown = (out / "index.md").read_text()
    assert "abcdef0123456789" in markdown and "suite file changed since they ran" in markdown


SECTION_URIS: list[str] = []


def good_section(data):
    from harness.api import ReportSection, Table, Text  # the public types, no internals

    SECTION_URIS.append(data.tracking_uri)
    rows = [[label, str(n)] for label, n in data.runs.groupby("algorithm_label").size().items()]
    return ReportSection("Runs per algorithm <plugin>", [Text("From a plugin."), Table(["algorithm", "runs"], rows)])


def bad_section(data):
    raise RuntimeError("section exploded")


class Sections:
    @hookimpl
    def harness_register_report_sections(self, register):
        register(ReportSectionSpec("good", "test_report_build:good_section"))
        register(ReportSectionSpec("bad", "test_report_build:bad_section"))


def test_best_and_median_seed_gifs_and_plugin_sections_are_shown(tmp_path):
    from harness.registry import Registry, make_plugin_manager

    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(EnvMetadata())
    pm.register(Sections())
    uri = store_with(tmp_path / "store", tiny_runs(seeds=3, video=True))
    out = build_report("demo", uri, tmp_path / "out", registry=Registry(pm), reps=REPS, log_to_mlflow=False)
    markdown = (out / "index.md").read_text()
    assert "## Runs per algorithm &lt;plugin&gt;" in markdown and "| sb3.ppo | 3 |" in markdown
    assert "Section plugin bad failed: RuntimeError: section exploded" in markdown
    assert SECTION_URIS[-1] == uri  # the store the report reads, not $MLFLOW_TRACKING_URI or ./mlflow.db
    gifs = sorted(p.name for p in (out / "media").glob("*.gif"))
    assert len(gifs) == 4 and any("-best-" in g for g in gifs) and any("-median-" in g for g in gifs)
    html = (out / "report.html").read_text()
    for gif in gifs:
        assert f'src="media/{gif}"' in html


EVIL = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[a](javascript:alert(1))",
        "![i](http://evil/x.png)", "a | b", "**bold** _it_ `code`", "- item", "1. item", "# heading", "---",
        "> quote", "x\\ny", "&amp; &lt;", "<http://evil>", "~~strike~~", "~one~", "1) item", "_it_ a_b x_",
        "! [x]", "#hashtag", "__init__", "a*b*c"]


@pytest.mark.parametrize("text", ["sb3.ppo (zoo) vs dqn[double]", "return_mean {final} #1 !", "IQM 0.5 (95% CI 0.1..0.9)"])
def test_markdown_stays_readable(text):
    from harness.report.render import md_escape

    assert md_escape(text) == text.replace("[", "\\[").replace("]", "\\]")


@pytest.mark.parametrize("text", EVIL)
def test_markdown_escape_renders_as_plain_text(text):
    from markdown_it import MarkdownIt

    from harness.report.render import Table, md_escape, to_markdown

    parser = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    rendered = parser.render(md_escape(text))
    assert rendered == f"<p>{html.escape(' '.join(text.split()), quote=False)}</p>\n"
    table = parser.render(to_markdown("t", [Table(["a", "b"], [[text, "1"]])]))
    assert table.count("<td>") == 2 and "<img" not in table and "<a " not in table and "<script" not in table
