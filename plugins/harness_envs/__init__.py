"""harness_envs: score metadata (random score, solved threshold) for common gymnasium tasks.

Registered through the ``harness`` entry-point group; the numbers live in :mod:`harness_envs.catalog`.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.api import EnvironmentSpec
from harness.hookspecs import hookimpl
from harness_envs.catalog import ENVIRONMENTS


@hookimpl
def harness_register_environments(register: Callable[[EnvironmentSpec], None]) -> None:
    """Register the built-in environments with their score metadata."""
    for spec in ENVIRONMENTS:
        register(spec)
