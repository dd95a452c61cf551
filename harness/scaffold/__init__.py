"""``harness new algorithm|environment|shaper NAME``: a pip-installable plugin package that works as is.

It writes ``pyproject.toml`` (with the entry point), the package (spec registration and a working
implementation), a README, a pytest file using the conformance kit and a ``suite.toml`` that runs
it against ``sb3.ppo``.  Templates are the ``*.tmpl`` files next to this module.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from string import Template

KINDS = ("algorithm", "environment", "shaper")
#: Registered names: an algorithm or shaper like ``my.cem``; an environment like ``my/Corridor-v0``.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-/]{0,60}$")


class ScaffoldError(ValueError):
    """Bad kind, name or target folder; nothing was written."""


def package_name(name: str) -> str:
    """``my.cem`` -> ``harness_my_cem``: the Python package of the generated plugin."""
    return "harness_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def new_plugin(kind: str, name: str, directory: Path | None = None) -> Path:
    """Write the plugin package into ``directory`` (default ``./<distribution>``) and return it."""
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r} (allowed: {', '.join(KINDS)})")
    if not NAME.match(name):
        raise ScaffoldError(f"name {name!r}: use letters, digits, '_', '.', '-' or '/', starting with a letter")
    package = package_name(name)
    values = {"kind": kind, "name": name, "package": package, "entry": package, "dist": package.replace("_", "-")}
    target = Path(directory or values["dist"]).resolve()
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another --dir")
    files = {
        "pyproject.toml": "common/pyproject.toml.tmpl",
        "README.md": "common/README.md.tmpl",
        "suite.toml": f"{kind}/suite.toml.tmpl",
        f"{package}/__init__.py": f"{kind}/__init__.py.tmpl",
        f"{package}/{kind}.py": f"{kind}/{kind}.py.tmpl",
        f"tests/test_{package}.py": f"{kind}/test.py.tmpl",
    }
    templates = resources.files(__name__)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:  # all files or none
        staging = Path(tmp) / "package"
        for relative, template in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(templates.joinpath(template).read_text()).substitute(values))
        shutil.move(staging, target)
    return target
