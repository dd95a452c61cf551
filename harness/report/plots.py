"""Seaborn/matplotlib figures for the report, written as PNG files.

Each function takes tables computed elsewhere (and, for curves, the runs'
evaluation points), draws one figure and saves it; no statistics beyond
interpolating curves onto a shared grid and calling :mod:`harness.report.stats`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from harness.report import stats
from harness.report.tables import AGGREGATE_METRICS, ALL_ENVS

GRID_POINTS = 50
PNG_OPTIONS = {"format": "png", "dpi": 90, "metadata": {"Software": None}}


def palette(labels: list[str]) -> dict[str, tuple]:
    """One stable colour per configuration label."""
    colours = sns.color_palette("colorblind" if len(labels) <= 10 else "husl", len(labels))
    return dict(zip(labels, colours, strict=True))


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **PNG_OPTIONS)
    plt.close(fig)
    return path


def _style():
    return sns.axes_style("whitegrid")


def _margins(fig: plt.Figure, left_chars: int = 6, top: float = 0.4, bottom: float = 0.55,
             wspace: float = 0.08, font_px: float = 6.3) -> None:
    """Fixed margins in inches (cheaper than ``tight_layout``, which renders the figure twice)."""
    width, height = fig.get_size_inches()
    left = (left_chars * font_px / PNG_OPTIONS["dpi"] + 0.55) / width
    fig.subplots_adjust(left=min(left, 0.6), right=1 - 0.15 / width, top=1 - top / height,
                        bottom=bottom / height, wspace=wspace)


def _per_run(curves: pd.DataFrame, x: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """run_id -> (x values, eval returns), sorted by x, without missing points."""
    table = curves[["run_id", x, "return_mean"]].dropna().sort_values(["run_id", x], kind="stable")
    ids = table["run_id"].to_numpy()
    xs, ys = table[x].to_numpy(float), table["return_mean"].to_numpy(float)
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    return {chunk[0]: (xv, yv) for chunk, xv, yv in
            zip(np.split(ids, cuts), np.split(xs, cuts), np.split(ys, cuts), strict=True) if len(chunk)}


def _interpolated(runs: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray) -> np.ndarray:
    """Each run's eval return at ``grid`` (its last value after it ended): ``(runs, points)``."""
    return np.array([np.interp(grid, xs, ys) for xs, ys in runs])


def learning_curves(curves: pd.DataFrame, labels: pd.Series, colours: dict[str, tuple], title: str,
                    threshold: float | None, path: Path) -> Path:
    """IQM of evaluation return over seeds with its 95% band, against env steps and wall time.

    ``curves``: eval points of one environment's runs; ``labels``: run_id -> configuration label.
    """
    with _style():
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
        for ax, x, xlabel in ((axes[0], "step", "environment steps"), (axes[1], "elapsed", "wall time (s)")):
            by_run = _per_run(curves, x)
            for label in sorted(set(labels)):
                runs = [by_run[r] for r in labels.index[labels == label] if r in by_run]
                end = max((xs[-1] for xs, _ in runs), default=0.0)
                if not runs or not np.isfinite(end) or end <= 0:
                    continue
                grid = np.linspace(0, end, GRID_POINTS)
                matrix = _interpolated(runs, grid)
                point, low, high = stats.curve_band(matrix, (title, label, x))
                ax.plot(grid, point, color=colours[label], label=f"{label} (n={len(matrix)})", lw=1.6)
                ax.fill_between(grid, low, high, color=colours[label], alpha=0.2, lw=0)
            if threshold is not None:
                ax.axhline(threshold, color="0.3", ls="--", lw=1, label="solved threshold")
            ax.set_xlabel(xlabel)
        axes[0].set_ylabel("eval return (IQM, 95% CI)")
        axes[0].legend(fontsize=8, loc="best")
        fig.suptitle(title)
        _margins(fig, top=0.45)
        return _save(fig, path)


def interval_estimates(aggregates: pd.DataFrame, colours: dict[str, tuple], path: Path) -> Path:
    """Aggregate metrics of normalised scores, one panel per metric, with 95% intervals."""
    labels = aggregates["label"].tolist()
    with _style():
        fig, axes = plt.subplots(1, len(AGGREGATE_METRICS), figsize=(12, 0.45 * len(labels) + 1.4), sharey=True)
        for ax, name in zip(axes, AGGREGATE_METRICS, strict=True):
            for y, (_, row) in enumerate(aggregates.iterrows()):
                colour = colours[row["label"]]
                ax.plot([row[f"{name} low"], row[f"{name} high"]], [y, y], color=colour, lw=6, alpha=0.6,
                        solid_capstyle="butt")
                ax.plot([row[name]], [y], marker="|", color="black", ms=14)
            ax.set_title(name)
            ax.set_yticks(range(len(labels)), labels)
            ax.set_xlabel("normalised score")
        _margins(fig, max(map(len, labels)), top=0.35, wspace=0.12)
        return _save(fig, path)


def performance_profiles(matrices: dict[str, np.ndarray], colours: dict[str, tuple], path: Path) -> Path:
    """Fraction of runs above each normalised score tau, with 95% bands."""
    values = np.concatenate([m.ravel() for m in matrices.values()])
    taus = np.linspace(min(0.0, values.min()), max(1.2, values.max()), 81)
    with _style():
        fig, ax = plt.subplots(figsize=(7, 4))
        for label, matrix in matrices.items():
            point, low, high = stats.profile(matrix, taus, ("profile", label))
            ax.plot(taus, point, color=colours[label], label=label, lw=1.6)
            ax.fill_between(taus, low, high, color=colours[label], alpha=0.2, lw=0)
        ax.set_xlabel("normalised score τ")
        ax.set_ylabel("fraction of runs with score > τ")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
        _margins(fig, top=0.15)
        return _save(fig, path)


def improvement(comparisons: pd.DataFrame, path: Path, limit: int = 40) -> Path:
    """P(candidate > reference) with 95% intervals, aggregated comparisons first."""
    rows = comparisons.dropna(subset=["poi"]).copy()
    rows["_first"] = rows["env_label"] != ALL_ENVS
    rows = rows.sort_values(["_first", "kind", "env_label", "algorithm_label", "shaping"]).head(limit)
    names = [f"{r.algorithm_label} [{r.shaping}] vs {r.reference} — {r.env_label}" for r in rows.itertuples()]
    colours = {"better": "#1b9e77", "worse": "#d95f02", "equal": "#e7298a", "undecided": "#7570b3"}
    with _style():
        fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.5))
        for y, row in enumerate(rows.itertuples()):
            colour = colours.get(row.verdict, "grey")
            ax.plot([row.poi_low, row.poi_high], [y, y], color=colour, lw=6, alpha=0.6, solid_capstyle="round")
            ax.plot([row.poi], [y], marker="o", color=colour, mec="black", ms=6)
        handles = [ax.plot([], [], color=colour, lw=6, alpha=0.6, label=f"verdict: {verdict}")[0]
                   for verdict, colour in colours.items()]
        ax.axvline(0.5, color="0.3", ls="--", lw=1)
        ax.set_yticks(range(len(rows)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(-0.03, 1.03)
        fig.legend(handles=handles, fontsize=8, loc="upper center", ncol=4, frameon=False)
        ax.set_xlabel("probability of improvement over the reference (95% CI)")
        _margins(fig, max(map(len, names), default=10), top=0.4, font_px=5.4)
        return _save(fig, path)
