"""The MLflow layout, in one place: every ``harness.*`` tag, the run params, the run context.

Everything that writes or reads a harness tag imports its name from here: the
worker (:func:`run_tags`, :func:`run_params`, :func:`build_context`), the runner
(:func:`common_tags`), replay and the conformance kit (:func:`build_context`),
the report reader (:data:`TAGS`) and the summary.

**Adding a tag**: add one ``NAME = _tag("name", GROUP, "what it holds")`` line in
the group where it is written, set it where it is written, then paste
``python -m harness.layout`` into docs/mlflow-layout.md (tests/test_layout.py
fails until the docs list it).  Every registered tag becomes a column of the
report's run table (empty when a run lacks it).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the report reader imports this module: keep gymnasium out of its imports
    from harness.api import RunContext
    from harness.registry import Registry
    from harness.spec import RunSpec
    from harness.suite import Suite

PREFIX = "harness."

#: Groups: who writes a tag, and when.
RUN = "run"
"""Written by :func:`run_tags` when the run is created (from the RunSpec)."""
COMMON = "common"
"""Written by :func:`common_tags`: the same for every run of one ``harness run``."""
WORKER = "worker"
"""Set by the worker (or the driver) while or after the run executes."""
COPY = "copy"
"""Set only on a run copied rather than trained (a bank import or reuse, :mod:`harness.bank`)."""
REPORT = "report"
"""On the run that holds a report's artifacts, not on training runs."""
GROUPS = (RUN, COMMON, WORKER, COPY, REPORT)


@dataclass(frozen=True)
class Tag:
    key: str
    group: str
    doc: str

    @property
    def name(self) -> str:
        """The key without the prefix: the report's column name."""
        return self.key.removeprefix(PREFIX)


#: Every tag harness writes, by key, in the order of the docs.
TAGS: dict[str, Tag] = {}


def _tag(name: str, group: str, doc: str) -> str:
    key = PREFIX + name
    assert group in GROUPS and key not in TAGS, key
    TAGS[key] = Tag(key, group, doc)
    return key


# --- RUN: from the RunSpec, when the run is created ---------------------------------------------
SUITE = _tag("suite", RUN, "suite name (the experiment is named after it)")
RUN_KEY = _tag("run_key", RUN, "content hash of what in the resolved run spec changes results (no labels); "
               "a rerun skips keys that FINISHED")
ALGORITHM = _tag("algorithm", RUN, "algorithm plugin name, e.g. `sb3.ppo`")
ALGORITHM_LABEL = _tag("algorithm_label", RUN, "the suite's label for this algorithm entry (name, or name[preset])")
ENV = _tag("env", RUN, "environment name (plugin or gymnasium id)")
ENV_LABEL = _tag("env_label", RUN, "the suite's label for this environment entry")
SHAPING = _tag("shaping", RUN, "shaping label (`none` without shapers)")
SEED = _tag("seed", RUN, "the run's seed")
BUDGET = _tag("budget", RUN, "training budget in environment steps")
BASELINE = _tag("baseline", RUN, "label of the algorithm this run is compared against (empty: none)")
BASELINE_SHAPING = _tag("baseline_shaping", RUN, "shaping of the baseline runs compared against")
EVAL_PROTOCOL = _tag("eval_protocol", RUN, "evaluation protocol, e.g. `every=10000;episodes=10;deterministic`")
DEVICE = _tag("device", RUN, "device asked for (`auto`, `cpu`, `cuda:0`, ...)")
VECTOR = _tag("vector", RUN, "training-env backend asked for (`sync`, `gymnasium`, `envpool`, `auto`; docs/vector.md)")

# --- COMMON: provenance of one `harness run` invocation -----------------------------------------
VERSION = _tag("version", COMMON, "harness version")
SUITE_FILE = _tag("suite_file", COMMON, "path of the suite file")
SUITE_HASH = _tag("suite_hash", COMMON, "hash of the suite file's bytes")
GIT_COMMIT = _tag("git_commit", COMMON, "git commit of the suite's folder (empty outside git)")
PLUGIN_VERSIONS = _tag("plugin_versions", COMMON, "JSON: distribution -> version of every plugin loaded")

# --- WORKER: while or after the run executes ----------------------------------------------------
DEVICE_RESOLVED = _tag("device_resolved", WORKER, "device the run actually used")
VECTOR_RESOLVED = _tag("vector_resolved", WORKER, "training-env backend the run used")
VECTOR_NOTE = _tag("vector_note", WORKER, "why the run used `sync` where a fast backend was asked (empty otherwise)")
ERROR = _tag("error", WORKER, "one-line error of a FAILED or KILLED run (traceback in `error.txt`)")
OWNER_HOST = _tag("owner_host", WORKER, "host of the `harness run` that claimed the run (docs/stores.md)")
OWNER_PID = _tag("owner_pid", WORKER, "pid of the `harness run` that claimed the run")
HEARTBEAT = _tag("heartbeat", WORKER, "Unix time the claiming process last said it still holds the run")
STEPS_TRAINED = _tag("steps_trained", WORKER, "environment steps actually trained (may pass the budget by up to one "
                     "rollout; on FINISHED runs)")
FINGERPRINT = _tag("fingerprint", WORKER, "JSON: python, library and plugin versions, platform, CPU of the worker "
                   "(harness/fingerprint.py)")
FINGERPRINT_ID = _tag("fingerprint_id", WORKER, "hash of `fingerprint`: reuse needs it and `run_key` to match")

# --- COPY: on a run copied from a bank file or another experiment (harness/bank) -----------------
SOURCE = _tag("source", COPY, "`bank` (imported from a bank file) or `reused` (copied from another experiment)")
ORIGIN = _tag("origin", COPY, "the bank file, or `experiment/run_id`, it was copied from")
BANK_ID = _tag("bank_id", COPY, "the run id where it was first trained (an import skips ids already present)")

# --- REPORT: the run holding a report's artifacts -----------------------------------------------
KIND = _tag("kind", REPORT, "`report` on the run that stores a report (it has no `run_key`)")


def columns() -> tuple[str, ...]:
    """Column names of the report's run table: every tag of a training run, without the prefix."""
    return tuple(tag.name for tag in TAGS.values() if tag.group != REPORT)


def strip(tags: dict[str, str]) -> dict[str, str]:
    """``harness.*`` tags of a run by column name (other tags dropped)."""
    return {key[len(PREFIX):]: value for key, value in tags.items() if key.startswith(PREFIX)}


def run_tags(spec: RunSpec) -> dict[str, str]:
    """The RUN tags, from a resolved run spec."""
    from harness.config import Evaluation

    return {
        SUITE: spec.suite, RUN_KEY: spec.run_key, ALGORITHM: spec.algorithm,
        ALGORITHM_LABEL: spec.algorithm_label, ENV: spec.env, ENV_LABEL: spec.env_label,
        SHAPING: spec.shaping, SEED: str(spec.seed), BUDGET: str(spec.budget),
        BASELINE: spec.baseline or "", BASELINE_SHAPING: spec.baseline_shaping or "",
        EVAL_PROTOCOL: Evaluation(**spec.evaluation).describe(), DEVICE: spec.device, VECTOR: spec.vector,
    }


def common_tags(suite: Suite, registry: Registry) -> dict[str, str]:
    """The COMMON tags: provenance carried by every run of this invocation."""
    from harness import __version__

    versions = {e.provider.distribution: e.provider.version for e in registry.entries()}
    return {
        VERSION: __version__,
        SUITE_FILE: str(suite.path),
        SUITE_HASH: suite.file_hash,
        GIT_COMMIT: git_commit(suite.path.parent),
        PLUGIN_VERSIONS: json.dumps(versions, sort_keys=True),
    }


def git_commit(directory: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def run_params(spec: RunSpec) -> dict[str, Any]:
    """MLflow params of a run: ``seed``, ``budget``, ``algo.*``, ``env.*``, ``shaper.N.*``, ``eval.*``."""
    from harness.params import flatten

    params = {"seed": spec.seed, "budget": spec.budget}
    params.update(flatten(spec.params, "algo."))
    params.update(flatten(spec.env_kwargs, "env."))
    for i, step in enumerate(spec.shapers):
        params[f"shaper.{i}.name"] = step["name"]
        params.update(flatten(step["params"], f"shaper.{i}."))
    params.update(flatten(spec.evaluation, "eval."))
    return params


def build_context(registry: Registry, env: str, seed: int, device: str, env_kwargs: dict[str, Any] | None = None,
                  shapers: list[dict[str, Any]] | None = None,
                  on_episode: Callable[[dict[str, Any]], None] = lambda _: None,
                  vector_env: Callable[[int], Any] | None = None) -> RunContext:
    """The :class:`RunContext` an agent gets: shaped, seeded training envs; finished episodes go to ``on_episode``.

    ``vector_env``: a fast backend's ``n -> VectorEnv`` (see :func:`harness.vector.training_vector_env`).
    """
    from harness.api import RunContext
    from harness.envs import resolve_env, train_env_seeds, training_env_factory

    make_env = training_env_factory(registry, resolve_env(registry, env), env_kwargs or {}, shapers or [],
                                    seed, on_episode)
    return RunContext(env, seed, device, make_env, env_seeds=lambda n: train_env_seeds(seed, n), vector_env=vector_env)


def tags_markdown() -> str:
    """The tag table of docs/mlflow-layout.md (tests/test_layout.py checks the docs hold it)."""
    lines = ["| tag | written | holds |", "|---|---|---|"]
    lines += [f"| `{tag.key}` | {tag.group} | {tag.doc} |" for tag in TAGS.values()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(tags_markdown())
