"""The suite file schema (pydantic) and its loading from TOML.

This module checks shape and types only; :mod:`harness.suite` checks what
needs the plugins (names, presets, parameters, action spaces).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.errors import ConfigError, SuiteErrors

SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
MAX_SEED = 2**30 - 1

Label = Annotated[str, Field(pattern=SAFE_NAME)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evaluation(Strict):
    """The evaluation protocol: recorded with every run, never pooled across."""

    every: PositiveInt = 10_000
    """Evaluate every this many environment steps (and always at the end)."""
    episodes: PositiveInt = 10
    """Episodes per evaluation, each from its own evaluation seed."""
    deterministic: bool = True
    """Act greedily/with the mean action during evaluation."""
    video: bool = False
    """Record a GIF of the final policy as an artifact."""

    def describe(self) -> str:
        kind = "deterministic" if self.deterministic else "stochastic"
        return f"every={self.every};episodes={self.episodes};{kind}"


class AlgorithmEntry(Strict):
    name: str
    label: Label | None = None
    """Distinguishes two entries of one algorithm; defaults to ``name``."""
    preset: str | None = None
    params: dict[str, Any] = {}
    environments: list[str] | None = None
    """Run only on these environment labels (default: all of them)."""
    baseline: str | None = None
    """Label of the algorithm entry this one is compared against."""

    @property
    def key(self) -> str:
        return self.label or self.name


class EnvironmentEntry(Strict):
    name: str
    label: Label | None = None
    kwargs: dict[str, Any] = {}
    budget: PositiveInt | None = None
    """Environment steps per run here; overrides the suite budget."""
    vector: Literal["auto", "envpool", "sync"] = "sync"
    """Backend of native agents' vectorised training envs (see harness/vector.py)."""

    @property
    def key(self) -> str:
        return self.label or self.name


class ShaperStep(Strict):
    name: str
    preset: str | None = None
    params: dict[str, Any] = {}


class ShapingEntry(Strict):
    """One reward-shaping configuration: shapers composed in the order given."""

    label: Label
    steps: list[ShaperStep] = []


class SuiteConfig(Strict):
    name: Annotated[str, Field(pattern=SAFE_NAME)]
    description: str = ""
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] | PositiveInt
    """A list of seeds, or a count ``n`` meaning seeds ``0..n-1``."""
    budget: PositiveInt
    """Environment steps per run."""
    evaluation: Evaluation = Evaluation()
    device: str = "auto"
    timeout: PositiveFloat | None = None
    """Seconds a run may take before it is stopped and marked FAILED."""
    workers: PositiveInt | None = None
    executor: str = "local"
    baseline: str | None = None
    """Label of the algorithm every other one is compared against."""
    baseline_shaping: str | None = None
    """Label of the shaping configuration others are compared against."""
    algorithms: list[AlgorithmEntry] = Field(min_length=1)
    environments: list[EnvironmentEntry] = Field(min_length=1)
    shapers: list[ShapingEntry] = [ShapingEntry(label="none")]

    @field_validator("seeds")
    @classmethod
    def _seed_list(cls, value: list[int] | int) -> list[int]:
        if isinstance(value, int):
            return list(range(value))
        duplicates = sorted({s for s in value if value.count(s) > 1})
        if duplicates:
            raise ValueError(f"duplicate seeds {duplicates}")
        if not value:
            raise ValueError("at least one seed is needed")
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError(f"invalid device {value!r} (allowed: auto, cpu, cuda, cuda:N)")
        return value

    @model_validator(mode="after")
    def _unique_labels(self) -> SuiteConfig:
        for field, keys in (
            ("algorithms", [a.key for a in self.algorithms]),
            ("environments", [e.key for e in self.environments]),
            ("shapers", [s.label for s in self.shapers]),
        ):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            if twice:
                raise ValueError(f"{field}: label(s) {twice} appear twice; give each entry a distinct 'label'")
        return self


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning every failure into a one-line ConfigError."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SuiteErrors([ConfigError(path, "", "file not found")]) from None
    except tomllib.TOMLDecodeError as error:
        raise SuiteErrors([ConfigError(path, "", f"invalid TOML: {error}")]) from None


def parse_suite(path: Path) -> SuiteConfig:
    """Load and type-check a suite file; raise :class:`SuiteErrors` on any problem."""
    data = load_toml(path)
    try:
        return SuiteConfig.model_validate(data)
    except ValidationError as error:
        raise SuiteErrors([_config_error(path, e) for e in error.errors()]) from None


def _config_error(path: Path, error: Any) -> ConfigError:
    loc = error["loc"]
    key = format_loc(loc)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc[:-1]))
        return ConfigError(path, key, f"unknown key {loc[-1]!r} (allowed: {allowed})")
    if error["type"] == "missing":
        return ConfigError(path, key, "required key is missing")
    if error["type"] == "string_pattern_mismatch":
        message = "must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"
        return ConfigError(path, key, f"{message} (got {error.get('input')!r})")
    message = error["msg"].removeprefix("Value error, ")
    return ConfigError(path, key, f"{message} (got {error.get('input')!r})")


def format_loc(loc: tuple[Any, ...]) -> str:
    """``("algorithms", 0, "name")`` -> ``algorithms[0].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("list[int]", "int", "constrained-int", "function-after[_seed_list(), union[list[int],int]]"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = SuiteConfig
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        model = _model_in(annotation)
    return sorted(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found:
            return found
    return None
