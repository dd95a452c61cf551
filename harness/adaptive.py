"""Adaptive seeding: a suite with ``[decision] seeds_per_round`` runs in rounds.

After each round the scores are read back from MLflow (the report's reader,
never in-memory state) and AdaStop's sequential test (:mod:`harness.sequential`)
is replayed from the first round on, so a resumed suite reaches the same
decisions as an uninterrupted one.  Configurations whose comparisons are all
decided get no more seeds; a baseline keeps running while any comparison
against it is open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.decide import Rule
from harness.sequential import CONTINUE, SequentialResult, SequentialRule, agents_needed, sequential
from harness.spec import RunSpec
from harness.suite import Suite

Agent = tuple[str, str, str]
"""(algorithm label, environment label, shaping)."""


@dataclass(frozen=True)
class Family:
    """The comparisons of a suite: agents (configurations) and (candidate, reference) index pairs."""

    agents: list[Agent]
    comparisons: list[tuple[int, int]]

    def label(self, i: int) -> str:
        (alg, env, shaping), (ref, _, ref_shaping) = (self.agents[j] for j in self.comparisons[i])
        if alg == ref:
            return f"{alg} [{shaping} vs {ref_shaping}] on {env}"
        shaped = "" if shaping == ref_shaping == "none" else f" [{shaping}]"
        return f"{alg} vs {ref}{shaped} on {env}"


def agent_of(spec: RunSpec) -> Agent:
    return spec.algorithm_label, spec.env_label, spec.shaping


def _decision(suite: Suite | None) -> Any:
    """The suite's ``[decision]`` table, or None (no suite, or a stand-in without a config)."""
    return getattr(getattr(suite, "config", None), "decision", None)


def fixed_rule(suite: Suite | None) -> Rule:
    """The report's rule for fixed seeds (defaults without a suite)."""
    decision = _decision(suite)
    if decision is None:
        return Rule()
    return Rule(decision.alpha, decision.statistic or "iqm", decision.margin)


def sequential_rule(suite: Suite | None) -> SequentialRule | None:
    """The suite's sequential rule, or None when its seeds are fixed."""
    decision = _decision(suite)
    if decision is None or decision.seeds_per_round is None or decision.max_rounds is None:
        return None
    return SequentialRule(decision.seeds_per_round, decision.max_rounds, decision.alpha)


def family(suite: Suite) -> Family:
    """Every comparison the suite declares (the report's pairs), on the suite's configurations."""
    from harness.report.tables import declared_pairs

    rows = pd.DataFrame([{"eval_protocol": "", "env_label": s.env_label, "algorithm_label": s.algorithm_label,
                          "shaping": s.shaping, "baseline": s.baseline or "",
                          "baseline_shaping": s.baseline_shaping or ""} for s in suite.runs])
    agents = list(dict.fromkeys(agent_of(s) for s in suite.runs))
    planned = {("", env, alg, shaping) for alg, env, shaping in agents}
    index = {("", env, alg, shaping): i for i, (alg, env, shaping) in enumerate(agents)}
    pairs = [(index[cand], index[ref]) for _, cand, ref in declared_pairs(rows, planned) if ref in index]
    return Family(agents, pairs)


def scored_runs(suite: Suite, tracking_uri: str) -> pd.DataFrame:
    """The suite's scored runs as the report reads them from MLflow (empty before the first run)."""
    from harness.report.data import ExperimentNotFound, load_runs
    from harness.report.scores import score_runs

    try:
        data = load_runs(suite.name, tracking_uri)
    except ExperimentNotFound:
        return pd.DataFrame()
    return score_runs(data, {}, suite).runs if len(data.runs) else pd.DataFrame()


def ordered_scores(suite: Suite, agents: list[Agent], runs: pd.DataFrame) -> list[np.ndarray]:
    """Scored runs (the report's ``Scored.runs``) -> each agent's final scores in suite seed order."""
    finals = {(r.algorithm_label, r.env_label, r.shaping, int(r.seed)): float(r.final)
              for r in runs.itertuples()}
    out = []
    for agent in agents:
        values = []
        for seed in suite.config.seeds:
            if (*agent, seed) not in finals:
                break
            values.append(finals[(*agent, seed)])
        out.append(np.array(values))
    return out


def describe(fam: Family, result: SequentialResult, rule: SequentialRule, since: int = 0) -> list[str]:
    """Lines saying what interims ``since..`` decided and what continues."""
    lines = []
    for k in range(since, result.interims):
        decided = [f"{fam.label(i)}: {result.decisions[i]}" for i, at in enumerate(result.decided_at) if at == k]
        lines.append(f"Round {k + 1}/{rule.max_rounds} ({(k + 1) * rule.seeds_per_round} seeds per configuration): "
                     + ("decided " + "; ".join(decided) if decided else "nothing decided"))
    still = [fam.label(i) for i, d in enumerate(result.decisions) if d == CONTINUE]
    undecided = [fam.label(i) for i, d in enumerate(result.decisions) if d == "undecided"]
    if still:
        lines.append("  continuing: " + "; ".join(still))
    if undecided and result.interims == rule.max_rounds:
        lines.append("  undecided after the last round: " + "; ".join(undecided))
    return lines


def rounds(suite: Suite, tracking_uri: str, echo: Callable[[str], None] = print) -> Iterator[list[RunSpec]]:
    """The runs of each round in turn; decides from MLflow before each (all runs when seeds are fixed)."""
    rule = sequential_rule(suite)
    fam = family(suite)
    if rule is None or not fam.comparisons:
        yield suite.runs
        return
    seen, last = 0, -1
    index = {agent: i for i, agent in enumerate(fam.agents)}
    while True:
        scores = ordered_scores(suite, fam.agents, scored_runs(suite, tracking_uri))
        result = sequential(scores, fam.comparisons, rule)
        for line in describe(fam, result, rule, seen):
            echo(line)
        seen = result.interims
        if result.finished:
            return
        if result.interims == last:
            echo(f"Round {last + 1} is incomplete (failed runs?): rerun to retry them; decisions so far stand.")
            return
        last = result.interims
        needed = agents_needed(result, fam.comparisons) | (set(index.values()) if last == 0 else set())
        upto = (last + 1) * rule.seeds_per_round
        todo = {(agent, seed) for agent, i in index.items() if i in needed
                for seed in suite.config.seeds[len(scores[i]):upto]}
        yield [s for s in suite.runs if (agent_of(s), s.seed) in todo]


def config_decisions(suite: Suite, tracking_uri: str) -> dict[Agent, str]:
    """Per candidate configuration, its verdict(s) from MLflow, e.g. ``better (round 2)`` ({} for fixed seeds)."""
    if sequential_rule(suite) is None:
        return {}
    verdicts, _ = report_decisions(suite, scored_runs(suite, tracking_uri))
    out: dict[Agent, list[str]] = {}
    for (cand, _), text in verdicts.items():
        out.setdefault(cand, []).append(text)
    return {agent: "; ".join(texts) for agent, texts in out.items()}


def report_decisions(suite: Suite, runs: pd.DataFrame) -> tuple[dict[tuple[Agent, Agent], str], list[RunSpec]]:
    """Replayed from the report's scored runs: (candidate, reference) -> verdict, and the runs the rounds planned.

    A configuration is planned through the last round in which one of its
    comparisons was open (the first round when it has none); the suite's other
    runs were never needed.
    """
    rule = sequential_rule(suite)
    assert rule is not None
    fam = family(suite)
    result = sequential(ordered_scores(suite, fam.agents, runs), fam.comparisons, rule)
    verdicts, rounds_of = {}, dict.fromkeys(range(len(fam.agents)), 1)
    for i, (cand, ref) in enumerate(fam.comparisons):
        at, decision = result.decided_at[i], result.decisions[i]
        text = (f"open after round {result.interims}" if result.interims else "open") if decision == CONTINUE \
            else decision
        verdicts[(fam.agents[cand], fam.agents[ref])] = text + (f" (round {at + 1})" if at is not None else "")
        last = at + 1 if at is not None else min(result.interims + 1, rule.max_rounds)
        for agent in (cand, ref):
            rounds_of[agent] = max(rounds_of[agent], last)
    index = {agent: i for i, agent in enumerate(fam.agents)}
    seeds = suite.config.seeds
    planned = [s for s in suite.runs if s.seed in seeds[: rounds_of[index[agent_of(s)]] * rule.seeds_per_round]]
    return verdicts, planned


def count_runs(tracker: Any, experiment_id: str, suite: Suite) -> tuple[int, set[str]]:
    """Suite runs never started (their comparisons were decided first), and run keys FINISHED in MLflow."""
    existing = tracker.runs_by_key(experiment_id)
    keys = {spec.run_key for spec in suite.runs}
    finished = {k for k in keys if any(run.info.status == "FINISHED" for run in existing.get(k, []))}
    return len(keys - set(existing)), finished
