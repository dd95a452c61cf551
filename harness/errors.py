"""User-facing errors: one line each, naming the file and the key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConfigError:
    path: Path | str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.key}: " if self.key else f"{self.path}: "
        return where + self.message


class SuiteErrors(Exception):
    """Everything wrong with a suite file; the CLI prints one line per error, exit code 2."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
