"""Hook specifications: the one place that says what a plugin can register.

Every hook receives a ``register`` callable; the core collects what is
registered and rejects two plugins that register the same name.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from harness.api import (
    AlgorithmSpec,
    EnvironmentSpec,
    ExecutorSpec,
    ReportSectionSpec,
    ShaperSpec,
)

PROJECT = "harness"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- learning -------------------------------------------------------------
@hookspec
def harness_register_algorithms(register: Callable[[AlgorithmSpec], None]) -> None:
    """Register algorithms: call ``register(AlgorithmSpec(...))`` once per algorithm."""


@hookspec
def harness_register_environments(register: Callable[[EnvironmentSpec], None]) -> None:
    """Register environments and their score metadata with ``register(EnvironmentSpec(...))``."""


@hookspec
def harness_register_shapers(register: Callable[[ShaperSpec], None]) -> None:
    """Register reward shapers with ``register(ShaperSpec(...))``."""


# --- running and reporting ---------------------------------------------------
@hookspec
def harness_register_executors(register: Callable[[ExecutorSpec], None]) -> None:
    """Register run executors with ``register(ExecutorSpec(...))``."""


@hookspec
def harness_register_report_sections(register: Callable[[ReportSectionSpec], None]) -> None:
    """Register extra report sections with ``register(ReportSectionSpec(...))``."""
