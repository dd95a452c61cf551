"""The suite file schema (pydantic) and its loading from TOML.

This module checks shape and types only; :mod:`harness.suite` checks what
needs the plugins (names, presets, parameters, action spaces).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.errors import ConfigError, SuiteErrors, short

SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
MAX_SEED = 2**30 - 1
#: Upper bounds: beyond these a suite is a typo, not a plan (each error message states its limit).
MAX_BUDGET = 10**10
MAX_SEEDS = 1_000
MAX_EPISODES = 10_000
MAX_WORKERS = 1_024
MAX_TIMEOUT = 30 * 24 * 3600.0
MAX_RUNS = 100_000

Label = Annotated[str, Field(pattern=SAFE_NAME)]
Budget = Annotated[int, Field(gt=0, le=MAX_BUDGET)]


class Strict(BaseModel):
    """No coercion (``"1000"`` and ``true`` are not numbers), no NaN/inf, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Evaluation(Strict):
    """The evaluation protocol: recorded with every run, never pooled across."""

    every: Budget = 10_000
    """Evaluate every this many environment steps (and always at the end)."""
    episodes: Annotated[int, Field(gt=0, le=MAX_EPISODES)] = 10
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
    budget: Budget | None = None
    """Environment steps per run here; overrides the suite budget."""
    vector: Literal["auto", "gymnasium", "envpool", "sync"] = "sync"
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


class Decision(Strict):
    """How comparisons are decided; with ``seeds_per_round`` and ``max_rounds``, seeds are added adaptively."""

    alpha: float = Field(0.05, gt=0, lt=1)
    """Family-wise error rate: the chance of any false better/worse/equal in one report."""
    statistic: Literal["iqm", "mean"] | None = None
    """Compared statistic: iqm (default) or mean; the sequential test always uses the mean."""
    margin: Annotated[float, Field(gt=0)] | None = None
    """Differences within +-margin (score units) count as equal once shown to be."""
    seeds_per_round: Annotated[int, Field(ge=2)] | None = None
    """Seeds added per undecided configuration per round."""
    max_rounds: Annotated[int, Field(ge=1)] | None = None
    """At most this many rounds (seeds_per_round * max_rounds seeds per configuration)."""

    @model_validator(mode="after")
    def _sequential(self) -> Decision:
        if (self.seeds_per_round is None) != (self.max_rounds is None):
            raise ValueError("give both seeds_per_round and max_rounds, or neither")
        if self.seeds_per_round is not None and self.statistic == "iqm":
            raise ValueError("statistic 'iqm' is not available with seeds_per_round (the sequential test "
                             "compares means; allowed: mean)")
        if self.seeds_per_round is not None and self.margin is not None:
            raise ValueError("margin is not available with seeds_per_round (the sequential test has no "
                             "equivalence outcome)")
        return self


ReuseMode = Literal["exact", "any", "off"]
REUSE_MODES: tuple[str, ...] = get_args(ReuseMode)


class BankSettings(Strict):
    """Bank files a suite imports before its runs, and which finished runs it reuses instead of training."""

    files: list[str] = []
    """Bank files, relative to the suite file, imported before the runs (importing twice adds nothing)."""
    reuse: ReuseMode = "exact"
    """Same run_key and software fingerprint (exact), same run_key (any), never (off); ``--reuse`` overrides."""


class SuiteConfig(Strict):
    name: Annotated[str, Field(pattern=SAFE_NAME)]
    description: str = ""
    seeds: list[int]
    """A list of seeds, or a count ``n`` meaning seeds ``0..n-1``."""
    budget: Budget
    """Environment steps per run (a minimum for algorithms that train in whole rollouts)."""
    evaluation: Evaluation = Evaluation()
    device: str = "auto"
    timeout: Annotated[float, Field(gt=0, le=MAX_TIMEOUT)] | None = None
    """Seconds a run may take before it is stopped and marked FAILED."""
    workers: Annotated[int, Field(gt=0, le=MAX_WORKERS)] | None = None
    executor: str = "local"
    baseline: str | None = None
    """Label of the algorithm every other one is compared against."""
    baseline_shaping: str | None = None
    """Label of the shaping configuration others are compared against."""
    algorithms: list[AlgorithmEntry] = Field(min_length=1)
    environments: list[EnvironmentEntry] = Field(min_length=1)
    shapers: list[ShapingEntry] = [ShapingEntry(label="none")]
    decision: Decision = Decision()
    bank: BankSettings = BankSettings()

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_list(cls, value: Any) -> list[int]:
        """A count ``n`` -> ``[0..n-1]``; a list is checked seed by seed (one clear message, no union noise)."""
        if _is_int(value):
            if not 1 <= value <= MAX_SEEDS:
                raise ValueError(f"a seed count must be 1..{MAX_SEEDS}")
            return list(range(value))
        if not isinstance(value, list):
            raise ValueError("expected a seed count or a list of seeds")
        if not value or len(value) > MAX_SEEDS:
            raise ValueError(f"a list of 1..{MAX_SEEDS} seeds is needed")
        bad = [s for s in value if not (_is_int(s) and 0 <= s <= MAX_SEED)]
        if bad:
            raise ValueError(f"seeds must be integers 0..{MAX_SEED}, not {short(bad[0])}")
        duplicates = sorted({s for s in value if value.count(s) > 1})
        if duplicates:
            raise ValueError(f"duplicate seeds {short(duplicates)}")
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
        rounds = self.decision.seeds_per_round, self.decision.max_rounds
        if rounds[0] and len(self.seeds) != rounds[0] * rounds[1]:
            raise ValueError(f"decision: seeds must hold seeds_per_round * max_rounds = {rounds[0] * rounds[1]} "
                             f"seeds (got {len(self.seeds)})")
        return self


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning every failure into a one-line ConfigError."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        message = "file not found"
    except IsADirectoryError:
        message = "is a directory, not a suite file"
    except PermissionError:
        message = "permission denied: cannot read the file"
    except OSError as error:
        message = f"cannot read the file: {error.strerror or type(error).__name__}"
    except UnicodeDecodeError as error:
        message = f"not UTF-8 text (byte {error.start}); TOML files are UTF-8"
    except RecursionError:
        message = "invalid TOML: nested too deeply"
    except tomllib.TOMLDecodeError as error:
        message = f"invalid TOML: {error}"
    raise SuiteErrors([ConfigError(path, "", message)])


def parse_suite(path: Path) -> SuiteConfig:
    """Load and type-check a suite file; raise :class:`SuiteErrors` on any problem."""
    data = load_toml(path)
    try:
        return SuiteConfig.model_validate(data)
    except ValidationError as error:
        raise SuiteErrors([_config_error(path, e) for e in error.errors()]) from None
    except RecursionError:  # nesting TOML parsed but pydantic cannot walk
        raise SuiteErrors([ConfigError(path, "", "nested too deeply")]) from None


def _config_error(path: Path, error: Any) -> ConfigError:
    """One pydantic error -> one short line: the key, a plain message, the offending value cut short."""
    loc = error["loc"]
    key = format_loc(loc)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc[:-1]))
        return ConfigError(path, key, f"unknown key {short(loc[-1])} (allowed: {allowed})")
    if error["type"] == "missing":
        return ConfigError(path, key, "required key is missing")
    if error["type"] == "string_pattern_mismatch":
        message = "must be 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"
        return ConfigError(path, key, f"{message} (got {short(error.get('input'))})")
    message = error["msg"].removeprefix("Value error, ")
    if not loc:  # a whole-suite check: its input is the whole file
        return ConfigError(path, key, message)
    return ConfigError(path, key, f"{message} (got {short(error.get('input'))})")


def format_loc(loc: tuple[Any, ...]) -> str:
    """``("algorithms", 0, "name")`` -> ``algorithms[0].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
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
