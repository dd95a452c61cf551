"""The report's tables, computed from scored runs (no plotting, no I/O).

* ``configurations``: one row per (protocol, env, algorithm, shaping).
* ``comparisons``: each algorithm against its declared baseline, each shaping
  against the baseline shaping, per environment and aggregated (normalised).
* ``normalisation`` and ``aggregates``: normalised scores across environments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness import decide
from harness.report import stats
from harness.report.scores import CONFIG, EnvInfo, Scored

ALL_ENVS = "(all, normalised)"
AGGREGATE_METRICS = {"IQM": stats.iqm, "Mean": stats.mean, "Median": stats.median,
                     "Optimality gap": stats.optimality_gap}


@dataclass(frozen=True)
class Tables:
    configurations: pd.DataFrame
    comparisons: pd.DataFrame
    normalisation: pd.DataFrame
    aggregates: pd.DataFrame
    normalised: pd.DataFrame
    """Per-run normalised final scores (protocol, env, algorithm, shaping, seed, score)."""


Sequential = dict[tuple[tuple[str, str, str], tuple[str, str, str]], str]
"""(candidate, reference) as (algorithm, env, shaping) -> outcome of an adaptive suite's sequential test."""


def build_tables(scored: Scored, infos: dict[str, EnvInfo], reps: int = stats.REPS,
                 rule: decide.Rule | None = None, sequential: Sequential | None = None) -> Tables:
    """All tables; ``rule`` decides the comparisons, or ``sequential`` gives an adaptive suite's decisions."""
    configs = configurations(scored, reps)
    norm = normalisation(scored, infos, configs)
    normalised = normalised_scores(scored, norm)
    comps = comparisons(scored, normalised, reps, rule, sequential)
    return Tables(configs, comps, norm, aggregates(normalised, reps), normalised)


def _seed_matrix(runs: pd.DataFrame, column: str = "final") -> pd.Series:
    return runs.set_index("seed")[column].sort_index()


def configurations(scored: Scored, reps: int = stats.REPS) -> pd.DataFrame:
    """IQM and mean with intervals, median, seeds, AUC, steps to threshold, time, speed."""
    counts = _counts(scored)
    rows = []
    for config, runs in scored.runs.groupby(CONFIG, sort=True):
        finals = runs["final"].to_numpy(float)[:, None]
        iqm = stats.interval(finals, stats.iqm, ("iqm", *config), reps)
        mean = stats.interval(finals, stats.mean, ("mean", *config), reps)
        reached = runs["steps_to_threshold"].dropna()
        rows.append({
            **dict(zip(CONFIG, config, strict=True)),
            "iqm": iqm.point, "iqm_low": iqm.low, "iqm_high": iqm.high,
            "mean": mean.point, "mean_low": mean.low, "mean_high": mean.high,
            "median": float(np.median(finals)),
            "auc": float(runs["auc"].mean()),
            "steps_to_threshold": float(reached.median()) if len(reached) else np.nan,
            "seeds_reached": len(reached),
            "wall_time": float(runs["wall_time"].median()),
            "sps": float(runs["sps"].median()),
            "budget": float(runs["budget"].astype(float).median()),
            "steps_trained": float(runs["steps_trained"].astype(float).median()),
        })
    table = pd.DataFrame(rows, columns=[*CONFIG, "iqm", "iqm_low", "iqm_high", "mean", "mean_low", "mean_high",
                                        "median", "auc", "steps_to_threshold", "seeds_reached", "wall_time", "sps",
                                        "budget", "steps_trained"])
    table = counts.merge(table, on=CONFIG, how="left")
    table["seeds_reached"] = table["seeds_reached"].fillna(0).astype(int)
    return table.sort_values(CONFIG, kind="stable").reset_index(drop=True)


def _counts(scored: Scored) -> pd.DataFrame:
    """Seeds finished / failed / otherwise not scored per configuration (missing ones included)."""
    finished = scored.runs.groupby(CONFIG).size().rename("finished")
    issues = scored.issues[~scored.issues["issue"].isin(["superseded", "not in suite"])]
    failed = issues[issues["issue"] == "failed"].groupby(CONFIG).size().rename("failed")
    other = issues[issues["issue"] != "failed"].groupby(CONFIG).size().rename("not_scored")
    table = pd.concat([finished, failed, other], axis=1).fillna(0).astype(int)
    for column in ("finished", "failed", "not_scored"):
        if column not in table:
            table[column] = 0
    return table.reset_index()[[*CONFIG, "finished", "failed", "not_scored"]]


def _pairs(scored: Scored) -> list[tuple[str, tuple, tuple]]:
    """(kind, candidate config, reference config) for every comparison declared by the runs."""
    planned = {tuple(c) for c in scored.runs[CONFIG].to_numpy()} | {tuple(c) for c in scored.issues[CONFIG].to_numpy()}
    return declared_pairs(scored.runs, planned)


def declared_pairs(runs: pd.DataFrame, planned: set[tuple]) -> list[tuple[str, tuple, tuple]]:
    """(kind, candidate config, reference config) from rows with CONFIG, baseline and baseline_shaping.

    ``planned``: the configurations that exist (a baseline that ran only with the
    baseline shaping is compared at that shaping).
    """
    pairs = set()
    for _, run in runs.drop_duplicates([*CONFIG, "baseline", "baseline_shaping"]).iterrows():
        config = tuple(run[c] for c in CONFIG)
        if run["baseline"] and run["baseline"] != run["algorithm_label"]:
            reference = (*config[:2], run["baseline"], config[3])
            fallback = (*config[:2], run["baseline"], run["baseline_shaping"])
            if reference not in planned and run["baseline_shaping"] and fallback in planned:
                reference = fallback  # the baseline ran only with the baseline shaping
            pairs.add(("algorithm", config, reference))
        if run["baseline_shaping"] and run["baseline_shaping"] != run["shaping"]:
            pairs.add(("shaping", config, (*config[:3], run["baseline_shaping"])))
    return sorted(pairs)


def comparisons(scored: Scored, normalised: pd.DataFrame, reps: int = stats.REPS,
                rule: decide.Rule | None = None, sequential: Sequential | None = None) -> pd.DataFrame:
    """Candidate vs reference on the seeds both finished: IQM difference, P(improvement), verdict.

    The verdicts of all rows are one family for :func:`harness.decide.fixed`; with
    ``sequential`` (an adaptive suite) per-environment rows take those decisions
    and aggregate rows are left untested.
    """
    by_config = {config: _seed_matrix(runs) for config, runs in scored.runs.groupby(CONFIG)}
    norm_by = {config: runs.set_index(["seed", "env_label"])["score"].unstack().sort_index()
               for config, runs in normalised.groupby(["eval_protocol", "algorithm_label", "shaping"])}
    rows, aggregate_pairs = [], set()
    for kind, cand, ref in _pairs(scored):
        x, y = by_config.get(cand), by_config.get(ref)
        rows.append(_compare(kind, cand, ref, x, y, reps))
        aggregate_pairs.add((kind, (cand[0], cand[2], cand[3]), (ref[0], ref[2], ref[3])))
    for kind, cand, ref in sorted(aggregate_pairs):
        x, y = norm_by.get(cand), norm_by.get(ref)
        if x is not None and x.shape[1] < 2:
            continue  # one environment: the per-environment row already says it all
        rows.append(_compare(kind, (cand[0], ALL_ENVS, cand[1], cand[2]), (ref[0], ALL_ENVS, ref[1], ref[2]),
                             x, y, reps))
    tested = [row for row in rows if "_test" in row]
    if sequential is None:
        outcomes = decide.fixed([row["_test"] for row in tested], rule or decide.Rule())
        for row, outcome in zip(tested, outcomes, strict=True):
            row.update(verdict=outcome.outcome, p_value=outcome.p_value, p_equal=outcome.p_equal)
    else:
        for row in tested:
            row["verdict"] = _sequential_verdict(row, sequential)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


COMPARISON_COLUMNS = ["kind", "eval_protocol", "env_label", "algorithm_label", "shaping", "reference", "seeds",
                      "iqm", "iqm_reference", "iqm_diff", "iqm_diff_low", "iqm_diff_high",
                      "poi", "poi_low", "poi_high", "verdict", "p_value", "p_equal"]


def _sequential_verdict(row: dict, sequential: Sequential) -> str:
    if row["env_label"] == ALL_ENVS:
        return "not tested (adaptive seeds)"
    ref_alg, ref_shaping = row["_ref"][2], row["_ref"][3]
    key = ((row["algorithm_label"], row["env_label"], row["shaping"]), (ref_alg, row["env_label"], ref_shaping))
    return sequential.get(key, "not tested (adaptive seeds)")


def _compare(kind: str, cand: tuple, ref: tuple, x, y, reps: int) -> dict:
    """One comparison row, its verdict left to the family; ``x``/``y``: seed-indexed Series or seeds x envs.

    A row with scores on both sides carries its ``decide.Comparison`` under ``_test``.
    """
    reference = ref[3] if kind == "shaping" else ref[2] if ref[3] == cand[3] else f"{ref[2]} [{ref[3]}]"
    row = {**dict(zip(CONFIG, cand, strict=True)), "kind": kind, "reference": reference, "_ref": ref}
    if x is None or y is None:
        return {**row, "seeds": 0, "verdict": "no reference runs" if y is None else "no runs"}
    x, y = _as_frame(x), _as_frame(y)
    seeds = x.index.intersection(y.index)
    envs = x.columns.intersection(y.columns)
    xs, ys = x.loc[seeds, envs].dropna(), y.loc[seeds, envs].dropna()
    seeds = xs.index.intersection(ys.index)
    xs, ys = xs.loc[seeds].to_numpy(float), ys.loc[seeds].to_numpy(float)
    row["seeds"] = len(seeds)
    if len(seeds) < 2 or xs.shape[1] == 0:
        return {**row, "verdict": decide.too_few(len(seeds), len(seeds))}
    key = (kind, *cand, *ref)
    diff = stats.difference(xs, ys, stats.iqm, key, reps)
    poi = stats.improvement(xs, ys, key, reps)
    test = decide.Comparison(xs, ys, key, equivalence=cand[1] != ALL_ENVS)  # the margin is in returns
    return {**row, "_test": test, "iqm": float(stats.iqm(xs)), "iqm_reference": float(stats.iqm(ys)),
            "iqm_diff": diff.point, "iqm_diff_low": diff.low, "iqm_diff_high": diff.high,
            "poi": poi.point, "poi_low": poi.low, "poi_high": poi.high}


def _as_frame(values: pd.Series | pd.DataFrame) -> pd.DataFrame:
    return values.to_frame("score") if isinstance(values, pd.Series) else values


def normalisation(scored: Scored, infos: dict[str, EnvInfo], configs: pd.DataFrame) -> pd.DataFrame:
    """Per (protocol, env): the return mapped to 0 (random policy) and to 1 (solved / baseline IQM).

    An environment is left out of the aggregate when either end is unknown or 1 is not above 0.
    """
    rows = []
    for (protocol, env_label), runs in scored.runs.groupby(["eval_protocol", "env_label"], sort=True):
        info = infos.get(runs["env"].iloc[0], EnvInfo())
        zero, zero_from = info.random_score, "random policy"
        if zero is None:
            zero, zero_from = _untrained(scored.curves, runs)
        one, one_from = info.solved_threshold, "solved threshold"
        if one is None:
            one, one_from = _baseline_iqm(runs, configs, protocol, env_label)
        usable = zero is not None and one is not None and one > zero
        rows.append({"eval_protocol": protocol, "env_label": env_label, "env": runs["env"].iloc[0],
                     "zero": zero, "zero_from": zero_from, "one": one, "one_from": one_from,
                     "used": usable})
    return pd.DataFrame(rows, columns=["eval_protocol", "env_label", "env", "zero", "zero_from", "one",
                                       "one_from", "used"])


def _untrained(curves: pd.DataFrame, runs: pd.DataFrame) -> tuple[float | None, str]:
    """Median step-0 evaluation return: the stand-in for a random policy when none is registered."""
    first = curves[(curves["step"] == 0) & curves["run_id"].isin(set(runs["run_id"]))]["return_mean"].dropna()
    if first.empty:
        return None, "unknown (no random score, no step-0 evaluation)"
    return float(first.median()), "median return at step 0 (no random score registered)"


def _baseline_iqm(runs: pd.DataFrame, configs: pd.DataFrame, protocol: str, env_label: str):
    """IQM of the most often declared baseline algorithm (at the baseline shaping, else 'none')."""
    declared = runs.loc[runs["baseline"] != "", "baseline"]
    if declared.empty:
        return None, "none available"
    baseline = declared.value_counts().sort_index().idxmax()
    shapings = runs.loc[runs["baseline_shaping"] != "", "baseline_shaping"]
    shaping = shapings.value_counts().sort_index().idxmax() if len(shapings) else "none"
    row = configs[(configs["eval_protocol"] == protocol) & (configs["env_label"] == env_label)
                  & (configs["algorithm_label"] == baseline) & (configs["shaping"] == shaping)]
    if row.empty or pd.isna(row["iqm"].iloc[0]):
        return None, f"none available (no finished {baseline} [{shaping}] runs)"
    return float(row["iqm"].iloc[0]), f"IQM of baseline {baseline} [{shaping}]"


def normalised_scores(scored: Scored, norm: pd.DataFrame) -> pd.DataFrame:
    """Final scores mapped by the normalisation table; unnormalisable environments left out."""
    used = norm[norm["used"]][["eval_protocol", "env_label", "zero", "one"]]
    runs = scored.runs.merge(used, on=["eval_protocol", "env_label"], how="inner")
    runs["score"] = (runs["final"] - runs["zero"]) / (runs["one"] - runs["zero"])
    return runs[[*CONFIG, "seed", "score"]].sort_values([*CONFIG, "seed"]).reset_index(drop=True)


def aggregate_matrices(normalised: pd.DataFrame) -> dict[tuple[str, str, str], pd.DataFrame]:
    """(protocol, algorithm, shaping) -> seeds x envs, keeping seeds finished on every env."""
    out = {}
    for config, runs in normalised.groupby(["eval_protocol", "algorithm_label", "shaping"], sort=True):
        matrix = runs.set_index(["seed", "env_label"])["score"].unstack().sort_index()
        out[config] = matrix.dropna()
    return out


def aggregates(normalised: pd.DataFrame, reps: int = stats.REPS) -> pd.DataFrame:
    """IQM, mean, median and optimality gap of normalised scores, each with its interval."""
    rows = []
    for config, matrix in aggregate_matrices(normalised).items():
        row = {"eval_protocol": config[0], "algorithm_label": config[1], "shaping": config[2],
               "seeds": len(matrix), "envs": matrix.shape[1]}
        scores = matrix.to_numpy(float)
        for name, metric in AGGREGATE_METRICS.items():
            if len(scores) == 0:
                row.update({name: np.nan, f"{name} low": np.nan, f"{name} high": np.nan})
                continue
            est = stats.interval(scores, metric, ("aggregate", name, *config), reps)
            row.update({name: est.point, f"{name} low": est.low, f"{name} high": est.high})
        rows.append(row)
    columns = ["eval_protocol", "algorithm_label", "shaping", "seeds", "envs"]
    columns += [f"{n}{s}" for n in AGGREGATE_METRICS for s in ("", " low", " high")]
    return pd.DataFrame(rows, columns=columns)
