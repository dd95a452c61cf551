"""Presets shared by the group variants: ``{preset: {env name or "*": {param: value}}}``."""

from __future__ import annotations

from typing import Any


def group_presets(dapo: bool = False) -> dict[str, dict[str, dict[str, Any]]]:
    """``paper``: the defaults; ``tuned``: what suites/group.toml uses, per environment."""
    control: dict[str, Any] = {}
    if dapo:
        control["overlong_buffer"] = 0  # a CartPole/Acrobot time limit is not an unfinished answer
    return {
        "paper": {"*": {}},
        "tuned": {"*": {}, "CartPole-v1": dict(control), "Acrobot-v1": dict(control)},
    }
