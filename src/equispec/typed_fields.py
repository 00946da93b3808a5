"""Values from YAML, ``--set`` and ``model.json`` checked against a dataclass's declared field types and bounds,
so that ``optim.lr=abc`` or a multiplicity of 10^6 fails with one line naming the key, not deep in torch."""

from __future__ import annotations

import math
import typing
from dataclasses import fields
from typing import Any

from .errors import EquispecError, brief

__all__ = ["bounded", "check_fields"]


def bounded(low: float | None = None, high: float | None = None, low_open: bool = False) -> dict:
    """Field metadata: the value lies in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    return {"bounds": (low, high, low_open)}


def check_fields(cls, values: dict, where: str, error: type[EquispecError]) -> dict:
    """``values`` with every key a field of ``cls`` and every value of the field's type and within its
    ``bounded`` range; numbers written as strings (``lr: 1e-3`` is a string to YAML 1.1) become numbers.
    Raises ``error(where.key, problem)``."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    retired = getattr(cls, "RETIRED", {})
    checked = {}
    for key, value in values.items():
        name = f"{where}.{key}" if where else str(key)
        if key in retired and key not in known:  # older files still load where the option was off
            if value != retired[key]:
                raise error(name, f"this option was removed (measured not to help, see docs/training.md); "
                                  f"only its off value {retired[key]!r} is accepted, got {brief(value, 40)}")
            continue
        if key not in known:
            raise error(name, f"unknown key (known: {', '.join(sorted(known))})")
        value = _coerce(value, hints[key], name, error)
        bounds = known[key].metadata.get("bounds")
        if bounds and isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_bounds(value, *bounds, name=name, error=error)
        checked[key] = value
    return checked


def _coerce(value: Any, hint, name: str, error) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is typing.Union:  # Optional[X], or X | Y: the first arm that takes the value
        if value is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        for arm in arms[:-1]:
            try:
                return _coerce(value, arm, name, error)
            except error:
                pass
        return _coerce(value, arms[-1], name, error)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise error(name, f"expected true or false, got {_show(value)}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise error(name, f"expected an integer, got {_show(value)}")
    if hint is float:
        number = _number(value)
        if number is None:
            raise error(name, f"expected a number, got {_show(value)}")
        return number
    if hint is str:
        if isinstance(value, str):
            return value
        raise error(name, f"expected a string, got {_show(value)}")
    if hint is dict or origin is dict:
        if isinstance(value, dict):
            return value
        raise error(name, f"expected a mapping, got {_show(value)}")
    if hint is list or origin is list:
        if isinstance(value, list):
            return value
        raise error(name, f"expected a list, got {_show(value)}")
    return value  # nested dataclasses are checked by their own caller


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _check_bounds(value: float, low, high, low_open: bool, name: str, error) -> None:
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        if high is None:
            wanted = f"{'above' if low_open else 'at least'} {low:g}"
        elif low is None:
            wanted = f"at most {high:g}"
        else:
            wanted = f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        raise error(name, f"must be {wanted} (got {value:g})")


def _show(value: Any) -> str:
    return f"{type(value).__name__} {brief(value, 43)}"
