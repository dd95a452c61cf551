"""``build_report``: MLflow runs -> tables and plots -> ``out_root/<experiment>/`` (+ MLflow artifacts)."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock

from harness.report import plots, sections, stats
from harness.report.data import RunData, load_runs
from harness.report.extra import SectionData, plugin_blocks
from harness.report.paths import fresh_dir, report_dir, safe_name
from harness.report.provenance import provenance_blocks
from harness.report.render import Block, Heading, Image, Text, to_html, to_markdown
from harness.report.scores import (
    CONFIG,
    IDENTITY,
    EnvInfo,
    Scored,
    env_infos,
    score_runs,
)
from harness.report.tables import Tables, aggregate_matrices, build_tables

CSV_FLOAT = "%.8g"


def build_report(experiment: str, tracking_uri: str, out_root: Path = Path("reports"), suite: Any = None,
                 log_to_mlflow: bool = True, *, registry: Any = None, reps: int = stats.REPS) -> Path:
    """Write ``out_root/<experiment>/`` (index.md, report.html, CSVs, PNGs) and return that folder.

    ``suite`` (a :class:`harness.suite.Suite`) adds the file's hash and the list
    of expected runs, so missing ones are listed; ``registry`` gives environment
    metadata (default: the installed plugins).
    """
    from harness.adaptive import fixed_rule, report_decisions, sequential_rule

    if registry is None:
        from harness.registry import default_registry

        registry = default_registry()
    target = report_dir(out_root, experiment)
    data = load_runs(experiment, tracking_uri)
    infos = env_infos(data, registry)
    scored = score_runs(data, infos, suite)
    rule, sequential, decided = fixed_rule(suite), sequential_rule(suite), None
    if sequential:  # adaptive seeds: runs the rounds never asked for are not missing
        decided, planned = report_decisions(suite, scored.runs)
        scored = score_runs(data, infos, dataclasses.replace(suite, runs=planned))
    tables = build_tables(scored, infos, reps, rule, decided)
    family = int(tables.comparisons["p_value"].notna().sum() + tables.comparisons["p_equal"].notna().sum())
    decision = sections.decision_text(rule, family, sequential.describe() if sequential else None)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / f".{target.name}.lock"):  # two `harness run` may finish at once
        fresh_dir(target)
        _write_csvs(target, scored, tables)
        blocks = _content(target, data, scored, tables, infos, tracking_uri, suite, reps, decision)
        extra = SectionData(experiment, scored.runs, scored.curves, scored.issues, tables, target, tracking_uri)
        at = next(i for i, b in enumerate(blocks) if isinstance(b, Heading) and b.text == "Runs not in the statistics")
        blocks[at:at] = plugin_blocks(registry, extra)
        title = f"harness report: {experiment}"
        (target / "index.md").write_text(to_markdown(title, blocks), encoding="utf-8")
        (target / "report.html").write_text(to_html(title, blocks, target), encoding="utf-8")
    if log_to_mlflow:
        log_report(tracking_uri, data.experiment_id, experiment, target)
    return target


def _write_csvs(target: Path, scored: Scored, tables: Tables) -> None:
    folder = target / "tables"
    folder.mkdir()
    columns = ["run_id", *IDENTITY, "env", "status", "budget", "steps_trained", "final", "auc", "steps_to_threshold",
               "wall_time", "sps"]
    frames = {"runs": scored.runs[columns], "configurations": tables.configurations,
              "comparisons": tables.comparisons, "normalisation": tables.normalisation,
              "aggregates": tables.aggregates, "issues": scored.issues}
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False, float_format=CSV_FLOAT, lineterminator="\n")


def _labels(runs: pd.DataFrame, shaped: bool) -> pd.Series:
    """run_id -> 'algorithm' or 'algorithm [shaping]' when the experiment has several shapings."""
    text = runs["algorithm_label"] + (" [" + runs["shaping"] + "]" if shaped else "")
    return pd.Series(text.to_numpy(), index=runs["run_id"].to_numpy())


def _content(target: Path, data: RunData, scored: Scored, tables: Tables, infos: dict[str, EnvInfo],
             uri: str, suite: Any, reps: int, decision: str) -> list[Block]:
    protocols = sorted(set(data.runs["eval_protocol"]) | set(scored.issues["eval_protocol"]))
    shaped = scored.runs["shaping"].nunique() > 1
    labels = _labels(scored.runs, shaped)
    colours = plots.palette(sorted(set(labels)))
    blocks: list[Block] = [Text(_summary(data, scored))]
    blocks += sections.protocol_warning(protocols)
    if scored.runs.empty:
        blocks.append(Text("No finished runs to score yet.", "warning"))
    for protocol in protocols:
        if len(protocols) > 1:
            blocks.append(Heading(f"Evaluation protocol {protocol}"))
        slug = "-" + safe_name(protocol) if len(protocols) > 1 else ""
        blocks += _protocol_blocks(target, scored, tables, infos, protocol, slug, labels, colours)
    blocks += sections.issue_blocks(scored)
    blocks += provenance_blocks(data.experiment, uri, data.runs, suite)
    blocks += sections.method_blocks(reps, decision)
    return blocks


def _summary(data: RunData, scored: Scored) -> str:
    envs = scored.runs["env_label"].nunique()
    configs = scored.runs.groupby(CONFIG).ngroups
    return (f"{len(scored.runs)} finished runs scored ({configs} configurations on {envs} environments); "
            f"{len(data.runs)} harness runs in the experiment; {len(scored.issues)} runs listed as not scored.")


def _protocol_blocks(target: Path, scored: Scored, tables: Tables, infos: dict[str, EnvInfo], protocol: str,
                     slug: str, labels: pd.Series, colours: dict) -> list[Block]:
    runs = scored.runs[scored.runs["eval_protocol"] == protocol]
    configs = tables.configurations[tables.configurations["eval_protocol"] == protocol]
    blocks: list[Block] = [Heading("Results per configuration"), sections.configuration_table(configs)]
    blocks.append(Heading("Learning curves"))
    for env_label, env_runs in runs.groupby("env_label", sort=True):
        curves = scored.curves[scored.curves["run_id"].isin(set(env_runs["run_id"]))]
        threshold = infos.get(env_runs["env"].iloc[0], EnvInfo()).solved_threshold
        path = Path("plots") / f"curves{slug}-{safe_name(env_label)}.png"
        plots.learning_curves(curves, labels[env_runs["run_id"]], colours, str(env_label), threshold, target / path)
        blocks.append(Image(path.as_posix(), f"Learning curves on {env_label}"))
    blocks += _media_blocks(target, runs, labels)
    blocks.append(Heading("Comparisons"))
    blocks += sections.comparison_blocks(tables, protocol)
    comps = tables.comparisons[(tables.comparisons["eval_protocol"] == protocol)].dropna(subset=["poi"])
    if len(comps):
        path = Path("plots") / f"improvement{slug}.png"
        plots.improvement(comps, target / path)
        blocks.append(Image(path.as_posix(), "Probability of improvement over the reference"))
    blocks += sections.aggregate_blocks(tables, protocol)
    blocks += _aggregate_plots(target, tables, protocol, slug, colours, labels)
    return blocks


def _aggregate_plots(target: Path, tables: Tables, protocol: str, slug: str, colours: dict,
                     labels: pd.Series) -> list[Block]:
    shaped = any(" [" in label for label in colours)
    aggregates = tables.aggregates[(tables.aggregates["eval_protocol"] == protocol) & (tables.aggregates["seeds"] > 0)]
    if aggregates.empty:
        return []
    aggregates = aggregates.assign(label=aggregates["algorithm_label"]
                                   + ((" [" + aggregates["shaping"] + "]") if shaped else ""))
    path = Path("plots") / f"aggregates{slug}.png"
    plots.interval_estimates(aggregates, colours, target / path)
    blocks: list[Block] = [Image(path.as_posix(), "Aggregate normalised scores with 95% intervals")]
    matrices = {
        config[1] + (f" [{config[2]}]" if shaped else ""): matrix.to_numpy(float)
        for config, matrix in aggregate_matrices(tables.normalised).items()
        if config[0] == protocol and len(matrix)
    }
    path = Path("plots") / f"profiles{slug}.png"
    plots.performance_profiles(matrices, colours, target / path)
    blocks.append(Image(path.as_posix(), "Performance profiles of normalised scores"))
    return blocks


def _media_blocks(target: Path, runs: pd.DataFrame, labels: pd.Series) -> list[Block]:
    """GIFs of the best and the median seed of each configuration, when the runs recorded one."""
    blocks: list[Block] = []
    for config, group in runs[runs["video"]].groupby(CONFIG, sort=True):
        ordered = group.sort_values(["final", "seed"], ascending=[False, True])
        picks = {"best": ordered.iloc[0], "median": ordered.iloc[(len(ordered) - 1) // 2]}
        for which, run in picks.items():
            name = f"media/{safe_name('-'.join(map(str, config[1:])))}-{which}-seed{int(run['seed'])}.gif"
            if _fetch_gif(run, target / name):
                caption = f"{labels[run['run_id']]} on {config[1]}: {which} seed {run['seed']} " \
                          f"(final return {sections.num(run['final'])})"
                blocks += [Text(caption), Image(name, caption)]
            else:
                blocks.append(Text(f"No GIF found for {which} seed {run['seed']} of {config[2]} on {config[1]}.",
                                   "warning"))
    return ([Heading("Policies", 3)] + blocks) if blocks else []


def _fetch_gif(run: pd.Series, destination: Path) -> bool:
    import mlflow.artifacts

    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=f"{run['artifact_uri']}/video/policy.gif",
                                                        dst_path=tmp)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, destination)
        return True
    except Exception:  # missing or unreadable artifact: reported as a warning, not a crash
        return False


def log_report(tracking_uri: str, experiment_id: str, experiment: str, folder: Path) -> str:
    """Log the report folder as artifacts of a new run tagged ``harness.kind=report``."""
    from mlflow.tracking import MlflowClient

    from harness import layout
    from harness.tracking import with_retry

    client = MlflowClient(tracking_uri=tracking_uri)
    run = with_retry(lambda: client.create_run(experiment_id, run_name=f"report {experiment}",
                                               tags={layout.KIND: "report", layout.SUITE: experiment}))
    run_id = run.info.run_id
    with_retry(lambda: client.log_artifacts(run_id, str(folder), "report"))
    with_retry(lambda: client.set_terminated(run_id, "FINISHED"))
    return run_id

