"""The report's content: tables and figures turned into document blocks."""

from __future__ import annotations

import math

import pandas as pd

from harness.report import stats
from harness.report.render import Block, Heading, Table, Text
from harness.report.scores import ISSUE_COLUMNS, Scored
from harness.report.tables import ALL_ENVS, Tables


def num(value: object, digits: int | None = None) -> str:
    """Compact number text; blank-looking dash for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    x = float(value)
    if digits is not None:
        return f"{x:.{digits}f}"
    if abs(x) >= 100:
        return f"{x:,.1f}"
    return f"{x:.2f}" if abs(x) >= 1 else f"{x:.3f}"


def steps(value: object) -> str:
    text = num(value)
    return text if text == "–" else f"{float(value):,.0f}"


def ci(low: object, high: object) -> str:
    return "–" if num(low) == "–" else f"[{num(low)}, {num(high)}]"


def configuration_table(configs: pd.DataFrame) -> Table:
    columns = ["environment", "algorithm", "shaping", "seeds finished", "failed", "not scored",
               "IQM", "IQM 95% CI", "mean", "mean 95% CI", "median", "AUC", "steps to threshold (median)",
               "seeds reaching it", "wall time (s, median)", "env steps/s (median)", "budget",
               "steps trained (median)"]
    rows = [[r.env_label, r.algorithm_label, r.shaping, str(r.finished), str(r.failed), str(r.not_scored),
             num(r.iqm), ci(r.iqm_low, r.iqm_high), num(r.mean), ci(r.mean_low, r.mean_high), num(r.median),
             num(r.auc), steps(r.steps_to_threshold), f"{r.seeds_reached}/{r.finished}",
             num(r.wall_time), steps(r.sps), steps(r.budget), steps(r.steps_trained)] for r in configs.itertuples()]
    return Table(columns, rows, "Final evaluation return (true, unshaped reward) per configuration")


def comparison_table(comparisons: pd.DataFrame, kind: str) -> Table:
    what = "algorithm" if kind == "algorithm" else "shaping"
    columns = ["environment", "algorithm", "shaping", f"reference {what}", "common seeds", "IQM", "reference IQM",
               "IQM difference", "95% CI", "P(improvement)", "95% CI ", "verdict", "seeds needed (est.)"]
    rows = []
    for r in comparisons[comparisons["kind"] == kind].itertuples():
        needed = "–" if r.seeds_needed is None or pd.isna(r.seeds_needed) else str(int(r.seeds_needed))
        if r.verdict == "inconclusive" and needed == "–":
            needed = "no effect seen"
        rows.append([r.env_label, r.algorithm_label, r.shaping, r.reference, str(r.seeds), num(r.iqm),
                     num(r.iqm_reference), num(r.iqm_diff), ci(r.iqm_diff_low, r.iqm_diff_high), num(r.poi),
                     ci(r.poi_low, r.poi_high), r.verdict, needed])
    return Table(columns, rows)


def normalisation_table(norm: pd.DataFrame) -> Table:
    rows = [[r.env_label, r.env, num(r.zero), r.zero_from, num(r.one), r.one_from, "yes" if r.used else "no"]
            for r in norm.itertuples()]
    return Table(["environment", "env id", "score 0", "from", "score 1", "from", "in aggregate"], rows,
                 "Normalised score = (return - score 0) / (score 1 - score 0)")


def aggregate_table(aggregates: pd.DataFrame) -> Table:
    columns = ["algorithm", "shaping", "seeds", "environments"]
    names = ["IQM", "Mean", "Median", "Optimality gap"]
    columns += [f"{n}{s}" for n in names for s in ("", " 95% CI")]
    rows = []
    for _, r in aggregates.iterrows():
        row = [r["algorithm_label"], r["shaping"], str(r["seeds"]), str(r["envs"])]
        for n in names:
            row += [num(r[n]), ci(r[f"{n} low"], r[f"{n} high"])]
        rows.append(row)
    return Table(columns, rows, "Normalised final scores aggregated across environments "
                                "(seeds that finished on every environment)")


def issues_table(issues: pd.DataFrame) -> Table:
    columns = ["issue", "protocol", "environment", "algorithm", "shaping", "seed", "run id", "status", "detail"]
    rows = [[str(v) if not (isinstance(v, float) and math.isnan(v)) else "" for v in r]
            for r in issues[ISSUE_COLUMNS].itertuples(index=False)]
    return Table(columns, rows)


def issue_blocks(scored: Scored) -> list[Block]:
    issues = scored.issues
    blocks: list[Block] = [Heading("Runs not in the statistics")]
    if issues.empty:
        return [*blocks, Text("None: every expected run finished and was scored.")]
    counts = issues["issue"].value_counts().sort_index()
    summary = ", ".join(f"{n} {issue}" for issue, n in counts.items())
    blocks.append(Text(f"{len(issues)} runs listed ({summary}). Failed runs count in the 'failed' column above; "
                       "none of these runs enters a score.", "warning"))
    return [*blocks, issues_table(issues)]


def method_blocks(reps: int) -> list[Block]:
    text = (
        f"Scores are the true (unshaped) mean evaluation return at the end of training. IQM is the mean of the "
        f"middle 50% of runs. Intervals are {stats.LEVEL:.0%} percentile intervals from {reps} stratified "
        f"bootstrap resamples (runs resampled within each environment) with fixed seeds, so the same data "
        f"always gives the same tables. AUC is the mean evaluation return over training (area under the "
        f"evaluation curve divided by the steps it spans). A comparison uses only seeds both sides finished; "
        f"its verdict is 'better' or 'worse' when the {stats.LEVEL:.0%} interval of the IQM difference "
        f"excludes 0, else 'inconclusive', with the seeds per side that would make the interval exclude 0 if "
        f"the observed difference is real (interval width shrinks like 1/sqrt(seeds)). P(improvement) is the "
        f"probability that a run of the candidate beats a run of the reference on the same environment "
        f"(ties count half), averaged over environments. Runs with different evaluation protocols are never "
        f"pooled."
    )
    return [Heading("Method"), Text(text)]


def protocol_warning(protocols: list[str]) -> list[Block]:
    if len(protocols) <= 1:
        return []
    return [Text(f"This experiment mixes {len(protocols)} evaluation protocols ({'; '.join(protocols)}). "
                 "They are reported separately and never pooled or compared.", "warning")]


def aggregate_blocks(tables: Tables, protocol: str) -> list[Block]:
    norm = tables.normalisation[tables.normalisation["eval_protocol"] == protocol]
    aggregates = tables.aggregates[tables.aggregates["eval_protocol"] == protocol]
    blocks: list[Block] = [Heading("Across environments (normalised)", 3), normalisation_table(norm)]
    unused = norm[~norm["used"]]
    if len(unused):
        blocks.append(Text("Left out of the aggregate (no usable score 0 and score 1 to normalise by): "
                           + ", ".join(unused["env_label"]), "warning"))
    if len(aggregates):
        blocks.append(aggregate_table(aggregates))
    return blocks


def comparison_blocks(tables: Tables, protocol: str) -> list[Block]:
    comps = tables.comparisons[tables.comparisons["eval_protocol"] == protocol]
    blocks: list[Block] = []
    for kind, title in (("algorithm", "Against the baseline algorithm"), ("shaping", "Against the baseline shaping")):
        rows = comps[comps["kind"] == kind]
        if rows.empty:
            continue
        per_env = rows[rows["env_label"] != ALL_ENVS]
        combined = rows[rows["env_label"] == ALL_ENVS]
        blocks += [Heading(title, 3), comparison_table(pd.concat([per_env, combined]), kind)]
    if not blocks:
        blocks = [Heading("Against the baseline", 3),
                  Text("No baseline is declared for these runs (suite 'baseline' / 'baseline_shaping').")]
    return blocks
