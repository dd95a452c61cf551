"""Presets shared by the group variants: ``{preset: {env name or "*": {param: value}}}``."""

from __future__ import annotations

from typing import Any

from harness_group.catalog import TASKS

#: On the short seq/* episodes a batch holds few steps: larger steps, fewer passes (measured faster).
SEQ = {"learning_rate": 3e-3, "update_epochs": 2, "minibatches": 2}
#: Acrobot episodes run to 500 steps; 16 per batch keeps several updates inside a 50k budget.
ACROBOT = {"prompts_per_batch": 4, "group_size": 4}


def group_presets(dapo: bool = False, on_policy: bool = False) -> dict[str, dict[str, dict[str, Any]]]:
    """``paper``: the defaults; ``tuned``: what suites/group.toml uses, per environment.

    ``dapo`` switches the overlong punishment off on the control tasks, where reaching the
    time limit is not an unfinished answer; ``on_policy`` (GPG) keeps one pass per batch.
    """
    seq = {k: v for k, v in SEQ.items() if not (on_policy and k != "learning_rate")}
    control = {"overlong_buffer": 0.0} if dapo else {}
    tuned: dict[str, dict[str, Any]] = {"*": {}, "CartPole-v1": dict(control), "Acrobot-v1": {**ACROBOT, **control}}
    tuned.update({task.env_id: dict(seq) for task in TASKS})
    return {"paper": {"*": {}}, "tuned": tuned}
