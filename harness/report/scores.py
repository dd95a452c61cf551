"""From loaded runs to per-run scores, with every run that cannot be scored listed.

A *configuration* is (evaluation protocol, environment, algorithm, shaping);
runs with different evaluation protocols are never pooled.  Each run ends up
either scored (FINISHED with its final evaluation) or in the issues table
(missing, failed, killed, running, partial, superseded, not in the suite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.report.data import RunData

CONFIG = ["eval_protocol", "env_label", "algorithm_label", "shaping"]
IDENTITY = [*CONFIG, "seed"]
ISSUE_COLUMNS = ["issue", *IDENTITY, "run_id", "status", "detail"]
SCORE_COLUMNS = ["final", "auc", "steps_to_threshold", "wall_time", "sps", "last_step"]


@dataclass(frozen=True)
class EnvInfo:
    """What normalisation needs about an environment."""

    random_score: float | None = None
    solved_threshold: float | None = None


@dataclass(frozen=True)
class Scored:
    """Scored runs (``runs`` with SCORE_COLUMNS), their curves, and the runs that were not scored."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    issues: pd.DataFrame
    attempted: pd.DataFrame
    """Every chosen run per identity (scored or not): counts finished/failed per configuration."""


def env_infos(data: RunData, registry: Any) -> dict[str, EnvInfo]:
    """Random score and solved threshold per environment name, from the plugin registry."""
    from harness.envs import resolve_env

    infos = {}
    for name in sorted(set(data.runs["env"])):
        try:
            spec = resolve_env(registry, name)
            infos[name] = EnvInfo(spec.random_score, spec.solved_threshold)
        except Exception:  # an env whose plugin is gone still gets a report, unnormalised
            infos[name] = EnvInfo()
    return infos


def score_runs(data: RunData, infos: dict[str, EnvInfo], suite: Any = None) -> Scored:
    """Choose one run per identity, score the finished ones, list all the others."""
    runs, issues = data.runs.copy(), []
    if suite is not None:
        runs, missing, stale = _against_suite(runs, suite)
        issues += [missing, _issue_rows(stale, "not in suite", "run_key not produced by the current suite file")]
    else:
        issues.append(_inferred_missing(runs))
    chosen, superseded = _choose(runs)
    issues.append(_issue_rows(superseded, "superseded", "an older attempt; a newer run of the same seed is used"))
    status = chosen["status"]
    issues.append(_issue_rows(chosen[status.isin(["FAILED", "KILLED"])], "failed", None))
    issues.append(_issue_rows(chosen[status.isin(["RUNNING", "SCHEDULED"])], "running", "not finished yet"))
    finished = chosen[status == "FINISHED"]
    curves = data.curves[data.curves["run_id"].isin(set(finished["run_id"]))]
    scored = _per_run(finished, curves, infos)
    partial = scored["last_step"].isna() | (scored["last_step"] < scored["budget"].astype(float))
    issues.append(_issue_rows(scored[partial], "partial", "no final evaluation at the budget"))
    scored = scored[~partial].reset_index(drop=True)
    curves = curves[curves["run_id"].isin(set(scored["run_id"]))].reset_index(drop=True)
    table = pd.concat([i for i in issues if len(i)] or [pd.DataFrame(columns=ISSUE_COLUMNS)], ignore_index=True)
    table = table.sort_values(["issue", *IDENTITY, "run_id"], kind="stable").reset_index(drop=True)
    return Scored(scored, curves, table, chosen.reset_index(drop=True))


def _issue_rows(runs: pd.DataFrame, issue: str, detail: str | None) -> pd.DataFrame:
    rows = runs[[*IDENTITY, "run_id", "status"]].copy()
    rows.insert(0, "issue", issue)
    if detail is None:
        rows["detail"] = runs["error"].where(runs["error"] != "", "(no error recorded)")
    else:
        rows["detail"] = detail
    return rows[ISSUE_COLUMNS]


def _against_suite(runs: pd.DataFrame, suite: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    expected = {spec.run_key: spec for spec in suite.runs}
    known = runs["run_key"].isin(set(expected))
    present = set(runs.loc[known, "run_key"])
    missing = [
        {"issue": "missing", "eval_protocol": _protocol(spec.evaluation), "env_label": spec.env_label,
         "algorithm_label": spec.algorithm_label, "shaping": spec.shaping, "seed": spec.seed,
         "run_id": "", "status": "", "detail": "no run in MLflow"}
        for key, spec in expected.items() if key not in present
    ]
    return runs[known], pd.DataFrame(missing, columns=ISSUE_COLUMNS), runs[~known]


def _protocol(evaluation: dict[str, Any]) -> str:
    kind = "deterministic" if evaluation["deterministic"] else "stochastic"
    return f"every={evaluation['every']};episodes={evaluation['episodes']};{kind}"


def _inferred_missing(runs: pd.DataFrame) -> pd.DataFrame:
    """Without a suite: a configuration lacking a seed that its protocol's other configurations ran."""
    rows = []
    for protocol, group in runs.groupby("eval_protocol", sort=True):
        seeds = set(group["seed"].dropna())
        for config, runs_of in group.groupby(CONFIG[1:], sort=True):
            for seed in sorted(seeds - set(runs_of["seed"].dropna())):
                rows.append({"issue": "missing", "eval_protocol": protocol, "env_label": config[0],
                             "algorithm_label": config[1], "shaping": config[2], "seed": seed, "run_id": "",
                             "status": "", "detail": "seed run elsewhere in this experiment (no suite given)"})
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)


def _choose(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One run per identity: the latest FINISHED one, else the latest."""
    order = runs.assign(_done=runs["status"] == "FINISHED", _start=runs["start_time"].fillna(-1))
    order = order.sort_values([*IDENTITY, "_done", "_start", "run_id"], kind="stable")
    last = ~order.duplicated(IDENTITY, keep="last")
    order = order.drop(columns=["_done", "_start"])
    return order[last].reset_index(drop=True), order[~last].reset_index(drop=True)


def _per_run(runs: pd.DataFrame, curves: pd.DataFrame, infos: dict[str, EnvInfo]) -> pd.DataFrame:
    """Final return, area under the curve, steps to threshold, wall time and speed per run."""
    scores: dict[str, dict[str, float]] = {}
    curves = curves.sort_values(["run_id", "step"])
    run_ids = curves["run_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, run_ids[1:] != run_ids[:-1]]) if len(run_ids) else np.array([], int)
    ends = np.r_[starts[1:], len(run_ids)]
    env_of = dict(zip(runs["run_id"], runs["env"], strict=True))
    step_all, ret_all = curves["step"].to_numpy(float), curves["return_mean"].to_numpy(float)
    wall_all, sps_all = curves["elapsed"].to_numpy(float), curves["sps"].to_numpy(float)
    for start, end in zip(starts, ends, strict=True):
        run_id = run_ids[start]
        if run_id not in env_of:
            continue
        ok = ~np.isnan(ret_all[start:end])
        steps, returns = step_all[start:end][ok], ret_all[start:end][ok]
        if not len(steps):
            continue
        threshold = infos.get(env_of[run_id], EnvInfo()).solved_threshold
        scores[run_id] = {
            "final": returns[-1],
            "auc": area_under_curve(steps, returns),
            "steps_to_threshold": steps_to_threshold(steps, returns, threshold),
            "wall_time": _last_finite(wall_all[start:end]),
            "sps": _last_finite(sps_all[start:end]),
            "last_step": steps[-1],
        }
    table = pd.DataFrame.from_dict(scores, orient="index", columns=SCORE_COLUMNS)
    return runs.join(table, on="run_id").reset_index(drop=True)


def area_under_curve(steps: np.ndarray, returns: np.ndarray) -> float:
    """Mean evaluation return over training: trapezoid area divided by the steps it spans."""
    if len(steps) < 2 or steps[-1] == steps[0]:
        return float(returns[-1])
    return float(np.trapezoid(returns, steps) / (steps[-1] - steps[0]))


def steps_to_threshold(steps: np.ndarray, returns: np.ndarray, threshold: float | None) -> float:
    """First evaluation step whose mean return reaches ``threshold`` (NaN if none does)."""
    if threshold is None:
        return float("nan")
    reached = np.flatnonzero(returns >= threshold)
    return float(steps[reached[0]]) if len(reached) else float("nan")


def _last_finite(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else float("nan")
