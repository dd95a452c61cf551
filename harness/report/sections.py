"""The report's content: tables and figures turned into document blocks."""

from __future__ import annotations

import math

import pandas as pd

from harness import decide
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
               "IQM difference", "95% CI", "P(improvement)", "95% CI ", "verdict", "p (Holm)"]
    equal = comparisons["p_equal"].notna().any()
    columns += ["p equivalence (Holm)"] if equal else []
    rows = []
    for r in comparisons[comparisons["kind"] == kind].itertuples():
        rows.append([r.env_label, r.algorithm_label, r.shaping, r.reference, str(r.seeds), num(r.iqm),
                     num(r.iqm_reference), num(r.iqm_diff), ci(r.iqm_diff_low, r.iqm_diff_high), num(r.poi),
                     ci(r.poi_low, r.poi_high), r.verdict, num(r.p_value, 4)]
                    + ([num(r.p_equal, 4)] if equal else []))
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


def method_blocks(reps: int, decision: str) -> list[Block]:
    """The Method section; ``decision`` is :func:`decision_text`'s account of how verdicts were reached."""
    text = (
        f"Scores are the true (unshaped) mean evaluation return at the end of training. IQM is the mean of the "
        f"middle 50% of runs. Intervals are {stats.LEVEL:.0%} percentile intervals from {reps} stratified "
        f"bootstrap resamples (runs resampled within each environment) with fixed seeds, so the same data "
        f"always gives the same tables; they describe and do not decide. AUC is the mean evaluation return "
        f"over training (area under the evaluation curve divided by the steps it spans). A comparison uses "
        f"only seeds both sides finished. P(improvement) is the probability that a run of the candidate beats "
        f"a run of the reference on the same environment (ties count half), averaged over environments. Runs "
        f"with different evaluation protocols are never pooled."
    )
    return [Heading("Method"), Text(text), Heading("How verdicts are decided", 3), Text(decision)]


def decision_text(rule: decide.Rule, family: int, sequential: str | None = None) -> str:
    """Plain words: which test, which alpha, which family, and what the guarantee means."""
    if sequential is not None:
        return (f"This suite added seeds adaptively: {sequential}. After each round AdaStop's group-sequential "
                f"permutation test (Mathieu et al. 2023) was applied to every open per-environment comparison, "
                f"spending the error rate {rule.alpha:g} over the rounds and stepping down over the family; a "
                f"configuration got more seeds only while one of its comparisons was open. Guarantee: the chance "
                f"that any 'better' or 'worse' in this family is false is at most {rule.alpha:g}, even though "
                f"the number of seeds depended on the results. 'undecided' means no difference was shown by the "
                f"last round (not that there is none). Aggregate rows are descriptive here (not tested). The "
                f"verdicts are replayed from the scores in MLflow, so a rebuilt report shows the same ones.")
    margin = (f" With the margin {rule.margin:g}, each per-environment comparison also tests whether the "
              f"{rule.statistic.upper()} difference lies within +-{rule.margin:g} (two one-sided permutation tests "
              f"on scores shifted by the margin); 'equal' means that was shown."
              if rule.margin else " No equivalence margin is set, so no comparison is declared 'equal'.")
    return (f"Each verdict comes from a two-sided permutation test of the {rule.statistic.upper()} difference: "
            f"seeds are reassigned between the two sides within each environment, all assignments when there "
            f"are at most {decide.PERMUTATIONS:,}, else {decide.PERMUTATIONS:,} seeded random ones. Holm's "
            f"step-down correction runs over this report's whole family ({family} hypotheses) at alpha = "
            f"{rule.alpha:g}.{margin} Guarantee: the chance that any 'better', 'worse' or 'equal' in this report "
            f"is false is at most {rule.alpha:g}. 'undecided' means the data did not show a difference at that "
            f"error rate, not that there is none. 'too few seeds (n=3)' means no data could reach "
            f"{rule.alpha:g} with so few seeds per side (with 3 seeds a side a permutation test cannot give "
            f"p below 0.1), so the comparison stays out of the family.")


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
