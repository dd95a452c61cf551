"""Hyperparameter dataclasses: defaults <- preset <- user params, type-checked."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError


class ParamsError(ValueError):
    """Bad parameters; ``key`` is the offending field (empty when not one field)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


def field_docs(params_class: type) -> dict[str, str]:
    """Field name -> its documentation (``metadata["doc"]`` or attribute docstring)."""
    docs = {}
    for f in dataclasses.fields(params_class):
        docs[f.name] = f.metadata.get("doc", "")
    return docs


def preset_overrides(
    presets: Mapping[str, Mapping[str, Mapping[str, Any]]], preset: str | None, env_name: str
) -> dict[str, Any]:
    """The overrides a preset gives for one environment (``"*"`` applies to all)."""
    if preset is None:
        return {}
    if preset not in presets:
        raise ParamsError("preset", f"unknown preset {preset!r} (allowed: {', '.join(sorted(presets)) or 'none'})")
    table = presets[preset]
    if env_name not in table and "*" not in table:
        envs = ", ".join(sorted(k for k in table if k != "*"))
        raise ParamsError("preset", f"preset {preset!r} has no entry for {env_name!r} (has: {envs})")
    return {**table.get("*", {}), **table.get(env_name, {})}


def build_params(params_class: type, overrides: Mapping[str, Any]) -> Any:
    """An instance of ``params_class`` with ``overrides`` applied and type-checked."""
    names = [f.name for f in dataclasses.fields(params_class)]
    for key in overrides:
        if key not in names:
            raise ParamsError(key, f"unknown parameter {key!r} (allowed: {', '.join(names)})")
    missing = [name for name in required_fields(params_class) if name not in overrides]
    if missing:
        raise ParamsError(missing[0], f"required parameter (no default in {params_class.__name__}): "
                                      f"set {missing[0]} in params or in a preset")
    try:
        return TypeAdapter(params_class).validate_python(dict(overrides))
    except ValidationError as error:
        first = error.errors()[0]
        if not first["loc"]:  # raised by the dataclass's own __post_init__ check
            raise ParamsError("", str(first.get("ctx", {}).get("error", first["msg"]))) from None
        raise ParamsError(str(first["loc"][0]), f"{first['msg']} (got {first.get('input')!r})") from None


def required_fields(params_class: type) -> list[str]:
    """Fields without a default: a suite (or preset) must set them."""
    missing = dataclasses.MISSING
    return [f.name for f in dataclasses.fields(params_class) if f.default is missing and f.default_factory is missing]


def params_dict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (for MLflow params)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
