"""Report section ``group``: policy entropy over training, collapsed seeds, group statistics.

Shown only for experiments with a group-relative run (grpo, dapo, gspo, gmpo,
gpg).  It reads the training metrics ``policy/entropy``,
``group/all_equal_fraction`` and ``loss/clip_high_fraction`` from MLflow (the
harness's scored tables hold evaluation curves only).  A seed counts as
*collapsed* when its last logged entropy is below 10 % of its first and it
never reached the environment's solved threshold: the policy became
deterministic without having solved the task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

GROUP = {"grpo", "dapo", "gspo", "gmpo", "gpg"}
KEYS = {"policy/entropy": "entropy", "group/all_equal_fraction": "all_equal", "loss/clip_high_fraction": "clip_high"}
COLLAPSE = 0.1


def section(data: Any) -> Any:
    """The ``group`` report section, or None when the experiment has no group-relative run."""
    from harness.api import Image, ReportSection, Table, Text

    runs = data.runs
    if runs.empty or not set(runs["algorithm"]) & GROUP:
        return None
    history = training_history(data.tracking_uri, list(runs["run_id"]))
    if history.empty:
        return ReportSection("Group-relative methods", [Text("No training metrics found in MLflow.", "warning")])
    summary = summarise(runs, history)
    columns = ["environment", "algorithm", "seeds", "final return", "entropy start", "entropy end",
               "collapsed seeds", "all-equal groups", "clip-high fraction"]
    rows = [[str(r[c]) if not isinstance(r[c], float) else f"{r[c]:.3g}" for c in columns] for _, r in summary.iterrows()]
    blocks = [
        Text("Policy entropy (nats, mean over seeds, band = min..max) against env steps. "
             f"A seed is collapsed when its final entropy is below {COLLAPSE:.0%} of its initial entropy "
             "and it never reached the solved threshold. All-equal groups: mean share of sampled groups "
             "whose episodes all scored the same (no learning signal)."),
        Table(columns, rows, "entropy, collapse and group statistics per environment and algorithm"),
    ]
    path = entropy_plot(runs, history, data.folder / "plots" / "group-entropy.png")
    blocks.append(Image(str(path.relative_to(data.folder)), "policy entropy over training per environment"))
    return ReportSection("Group-relative methods: entropy and collapse", blocks)


def training_history(uri: str, run_ids: list[str]) -> pd.DataFrame:
    """``run_id, metric, step, value`` rows of the training metrics in :data:`KEYS`."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    rows = [(run_id, name, m.step, m.value)
            for run_id in run_ids for key, name in KEYS.items()
            for m in client.get_metric_history(run_id, key)]
    return pd.DataFrame(rows, columns=["run_id", "metric", "step", "value"])


def summarise(runs: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """One row per (environment, algorithm): entropy at start/end, collapsed seeds, group stats."""
    entropy = history[history["metric"] == "entropy"].sort_values(["run_id", "step"])
    first = entropy.groupby("run_id")["value"].first()
    last = entropy.groupby("run_id")["value"].last()
    means = history[history["metric"] != "entropy"].groupby(["run_id", "metric"])["value"].mean().unstack()
    table = runs.set_index("run_id")[["env_label", "algorithm_label", "final", "steps_to_threshold"]].copy()
    table["h0"], table["h1"] = first, last
    for name in ("all_equal", "clip_high"):
        table[name] = means.get(name, np.nan)
    table["collapsed"] = (table["h1"] < COLLAPSE * table["h0"]) & table["steps_to_threshold"].isna()
    grouped = table.groupby(["env_label", "algorithm_label"])
    return pd.DataFrame({
        "seeds": grouped.size(), "final return": grouped["final"].mean(),
        "entropy start": grouped["h0"].mean(), "entropy end": grouped["h1"].mean(),
        "collapsed seeds": grouped["collapsed"].sum().astype(int),
        "all-equal groups": grouped["all_equal"].mean(), "clip-high fraction": grouped["clip_high"].mean(),
    }).reset_index().rename(columns={"env_label": "environment", "algorithm_label": "algorithm"})


def entropy_plot(runs: pd.DataFrame, history: pd.DataFrame, path: Path) -> Path:
    """One panel per environment: mean entropy per algorithm with its min..max band over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entropy = history[history["metric"] == "entropy"].merge(
        runs[["run_id", "env_label", "algorithm_label"]], on="run_id")
    envs = sorted(entropy["env_label"].unique())
    fig, axes = plt.subplots(1, len(envs), figsize=(3.4 * len(envs), 2.8), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        for algorithm, part in entropy[entropy["env_label"] == env].groupby("algorithm_label"):
            grid = np.linspace(0, part["step"].max(), 50)
            curves = np.array([np.interp(grid, g["step"], g["value"]) for _, g in part.groupby("run_id")])
            line, = ax.plot(grid, curves.mean(0), label=algorithm, lw=1.2)
            ax.fill_between(grid, curves.min(0), curves.max(0), color=line.get_color(), alpha=0.15)
        ax.set_title(env, fontsize=9)
        ax.set_xlabel("env steps", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("policy entropy (nats)", fontsize=8)
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
