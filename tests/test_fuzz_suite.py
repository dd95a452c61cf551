"""Fuzz: random bytes and mutated TOML as a suite file end in exit 0 or 2, never a traceback, nothing written."""

from __future__ import annotations

import contextlib
import io
import json
import math
import signal
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.executors.local import LocalExecutor

from tests.test_validation import GOOD

KEYS = ["name", "seeds", "budget", "device", "timeout", "workers", "executor", "baseline", "baseline_shaping",
        "description", "label", "preset", "params", "environments", "every", "episodes", "deterministic",
        "video", "steps", "shapers", "algorithms", "noise", "fail_at_step"]


def toml_literal(value: object) -> str:
    """``value`` spelled as TOML (floats' nan/inf included; strings as JSON-escaped basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(value) if isinstance(value, str) else repr(value)


scalars = st.one_of(st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                    st.sampled_from([0, -1, 2**63 - 1, 10**10 + 1, 1e-300, "1000", "toy.search", "CartPole-v1"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3), max_leaves=8)


@st.composite
def suite_files(draw) -> bytes:
    lines = GOOD.strip().splitlines()
    kind = draw(st.sampled_from(["bytes", "replace", "insert", "splice"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "replace":  # one existing key gets a random value
        index = draw(st.sampled_from([i for i, line in enumerate(lines) if " = " in line]))
        lines[index] = lines[index].split(" = ")[0] + " = " + toml_literal(draw(values))
    elif kind == "insert":  # a key (known or not) with a random value, anywhere
        key = draw(st.sampled_from(KEYS) | st.from_regex(r"[a-z_]{1,8}", fullmatch=True))
        lines.insert(draw(st.integers(0, len(lines))), f"{key} = {toml_literal(draw(values))}")
    text = "\n".join(lines) + "\n"
    if kind == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=20)) + text[at:]
    return text.encode("utf-8", "surrogatepass")


def cli(*args: str) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        return main(list(args)), stderr.getvalue()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=suite_files())
def test_fuzzed_suite_file_is_valid_or_one_line_errors(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "suite.toml"
        path.write_bytes(content)
        code, stderr = cli("validate", str(path))
        assert code in (0, 2)
        if code == 2:
            lines = stderr.splitlines()
            assert lines and all(line.startswith("error: ") for line in lines), stderr
            # the same file given to `run` stops before anything is written (no store, no report folder)
            sigterm = signal.getsignal(signal.SIGTERM)
            with mock.patch.object(LocalExecutor, "prestart"):  # no fork server for a suite that never runs
                code, again = cli("run", str(path), "--tracking-uri", f"sqlite:///{folder}/mlflow.db",
                                  "--out", f"{folder}/reports")
            signal.signal(signal.SIGTERM, sigterm)
            assert (code, again) == (2, stderr)
        assert [p.name for p in Path(folder).iterdir()] == ["suite.toml"]
