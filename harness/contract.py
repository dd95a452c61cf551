"""Checks of what a plugin hands back to the harness, with messages that name the mistake.

Used by evaluation (every action an agent takes there) and by the conformance kit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


class ActionError(TypeError):
    """``act()`` returned something the environment's action space cannot take."""


def check_action(action: Any, space: spaces.Space) -> None:
    """Raise :class:`ActionError` unless ``action`` fits ``space`` in type and shape.

    Box bounds are not checked (environments clip, as SB3's ``predict`` does); discrete values are.
    """
    expected = _expected(action, space)
    if expected:  # the f-string below is built only on failure: this runs for every evaluation step
        raise ActionError(f"act() returned {_describe(action)}; expected {expected} in {space}")


def _expected(action: Any, space: spaces.Space) -> str:
    """What was expected, or ``""`` when the action fits."""
    array = action if isinstance(action, np.ndarray) else np.asarray(action)
    if isinstance(space, spaces.Discrete):
        integer = isinstance(action, (int, np.integer)) and not isinstance(action, bool) or (
            array.shape == () and np.issubdtype(array.dtype, np.integer))
        return "" if integer and space.start <= int(action) < space.start + space.n else "an int"
    if isinstance(space, spaces.Box):
        ok = array.shape == space.shape and np.issubdtype(array.dtype, np.number)
        return "" if ok else f"an array of shape {space.shape}"
    if isinstance(space, (spaces.MultiDiscrete, spaces.MultiBinary)):
        return "" if space.contains(array.astype(space.dtype, copy=False)) and array.shape == space.shape \
            else f"an int array of shape {space.shape}"
    return "" if space.contains(action) else "an element"


def _describe(action: Any) -> str:
    if isinstance(action, np.ndarray):
        return f"ndarray shape {action.shape} dtype {action.dtype}"
    text = repr(action)
    return f"{type(action).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
