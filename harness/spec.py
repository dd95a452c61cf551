"""RunSpec: one fully resolved, serialisable run, identified by a content hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: Fields that do not change a run's results and so stay out of its run_key: where the run
#: belongs (suite, baseline) and what it is called there (labels).  Two suites that ask for
#: the same training get the same key, so a finished run can be reused by the other.
NOT_IN_KEY = ("suite", "timeout", "baseline", "baseline_shaping", "algorithm_label", "env_label", "shaping")


@dataclass(frozen=True)
class RunSpec:
    suite: str
    algorithm: str
    algorithm_label: str
    params: dict[str, Any]
    env: str
    env_label: str
    env_kwargs: dict[str, Any]
    shaping: str
    shapers: list[dict[str, Any]]
    """``[{"name": ..., "params": {...}}, ...]`` in the order they wrap."""
    seed: int
    budget: int
    evaluation: dict[str, Any]
    device: str
    timeout: float | None = None
    baseline: str | None = None
    baseline_shaping: str | None = None
    vector: str = "sync"
    """Training-env backend asked for ``ctx.make_vec_env`` (auto, gymnasium, envpool, sync; see harness.vector)."""
    run_key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.run_key:
            object.__setattr__(self, "run_key", compute_run_key(self))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**data)

    @property
    def title(self) -> str:
        shaping = "" if self.shaping == "none" else f" [{self.shaping}]"
        return f"{self.algorithm_label} / {self.env_label}{shaping} / seed {self.seed}"


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def compute_run_key(spec: RunSpec) -> str:
    """sha256 of the canonical JSON of everything that changes the results."""
    data = {k: v for k, v in asdict(spec).items() if k not in (*NOT_IN_KEY, "run_key")}
    if data["vector"] == "sync":  # the backend every run used before the field existed: keys stay as they were
        del data["vector"]
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:20]
