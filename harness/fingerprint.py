"""The software fingerprint: what produced a run besides its spec.

A finished run may stand in for another one (reuse, the bank) only when both its
run_key and its fingerprint match.  The fingerprint holds the versions of the
libraries that decide the numbers, every plugin distribution, the platform and the
CPU model: the same seed on another CPU or another torch can give other numbers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import layout

#: Distributions whose versions enter the fingerprint (besides every plugin distribution).
LIBRARIES = ("torch", "numpy", "gymnasium", "stable-baselines3", "sb3-contrib", "mlflow")
#: Fingerprint fields in display order (``plugins`` maps distribution -> version).
FIELDS = ("python", *LIBRARIES, "plugins", "platform", "cpu")


def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def _base() -> tuple[tuple[str, str], ...]:
    values = {"python": platform.python_version()}
    values.update({name: version(name) for name in LIBRARIES})
    values["platform"] = platform.platform()
    values["cpu"] = cpu_model()
    return tuple(values.items())


def fingerprint(plugins: dict[str, str]) -> dict[str, object]:
    """This process's fingerprint; ``plugins`` maps each plugin distribution to its version."""
    values: dict[str, object] = dict(_base())
    values["plugins"] = dict(sorted(plugins.items()))
    return {field: values[field] for field in FIELDS}


def fingerprint_id(values: dict[str, object]) -> str:
    """A short hash of a fingerprint: two runs match when their ids are equal."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def differences(a: dict[str, object], b: dict[str, object]) -> dict[str, tuple[object, object]]:
    """``{field: (a's value, b's value)}`` for the fields that differ (plugins per distribution)."""
    out: dict[str, tuple[object, object]] = {}
    for field in sorted(set(a) | set(b)):
        left, right = a.get(field), b.get(field)
        if field == "plugins" and isinstance(left, dict) and isinstance(right, dict):
            for name in sorted(set(left) | set(right)):
                if left.get(name) != right.get(name):
                    out[f"plugins.{name}"] = (left.get(name), right.get(name))
        elif left != right:
            out[field] = (left, right)
    return out


#: The MLflow tags that carry a run's fingerprint (JSON) and its id.
TAG_JSON, TAG_ID = layout.FINGERPRINT, layout.FINGERPRINT_ID


def plugin_versions(registry: Any) -> dict[str, str]:
    """``{distribution: version}`` of every plugin distribution the registry holds."""
    return {e.provider.distribution: e.provider.version for e in registry.entries()}


def fingerprint_tags(registry: Any) -> dict[str, str]:
    """The tags a run gets from the process that trains it."""
    values = fingerprint(plugin_versions(registry))
    return {TAG_JSON: json.dumps(values, sort_keys=True), TAG_ID: fingerprint_id(values)}
