"""User-facing errors: one line each, naming the file and the key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Longest echo of a user's value in an error line (a 10 MB name must not flood the terminal).
ECHO_LIMIT = 60
#: Longest key and message of one error line.
KEY_LIMIT, MESSAGE_LIMIT = 120, 600


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when it was longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` cut short: how an error line echoes a user's value."""
    return clip(repr(value), limit)


@dataclass(frozen=True)
class ConfigError:
    path: Path | str
    key: str
    message: str

    def __str__(self) -> str:
        message = clip(" ".join(self.message.split()), MESSAGE_LIMIT)  # one line, whatever a plugin raised
        key = clip(self.key, KEY_LIMIT)
        return f"{self.path}: {key}: {message}" if key else f"{self.path}: {message}"


class SuiteErrors(Exception):
    """Everything wrong with a suite file; the CLI prints one line per error, exit code 2."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class InputError(Exception):
    """Bad input outside the suite file (a flag, a path, a name): the CLI prints one line, exit code 2."""
