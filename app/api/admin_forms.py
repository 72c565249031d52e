"""The admin's form errors in a merchant's words: field paths as the form names them, messages without internal keys."""

from __future__ import annotations

import re
from collections.abc import Mapping

TOP_MESSAGE = "Check the highlighted fields"

# Settings whose numbers count something the merchant thinks of by name: the message says what to enter.
_UNITS = (("_points", "points"), ("_days", "days"), ("days", "days"), ("_limit", "referrals"))

_AT_LEAST = re.compile(r"(?:at least|greater than or equal to) (-?\d+(?:\.\d+)?)")
_ABOVE = re.compile(r"must be greater than (-?\d+(?:\.\d+)?)")
_AT_MOST = re.compile(r"must be at most (-?\d+(?:\.\d+)?)")
_BETWEEN = re.compile(r"must be between (-?\d+) and (-?\d+)")


def _unit(field: str) -> str | None:
    name = field.rsplit(".", 1)[-1]
    if name in ("points_cost", "points", "entry_bonus", "min_points", "max_points"):
        return "points"
    return next((unit for suffix, unit in _UNITS if name.endswith(suffix)), None)


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{int(value):,}" if value == int(value) else text


def plain_message(field: str, message: str) -> str:
    """One field's error as a merchant reads it. Messages already in plain words (they start with a capital)
    pass as they are; the domain's terse "must be …" forms are reworded; option lists never show."""
    if message[:1].isupper():
        return message
    unit = _unit(field)
    whole = f"a whole number of {unit}" if unit else "a whole number"
    m = _BETWEEN.search(message)
    if m:
        return f"Enter {whole} from {_number(m[1])} to {_number(m[2])}"
    if "whole number" in message:
        m = _AT_LEAST.search(message)
        example = {"points": "100", "days": "30"}.get(unit or "", "10")
        return f"Enter {whole}, {_number(m[1])} or more" if m else f"Enter {whole}, such as {example}"
    m = _AT_LEAST.search(message)
    if m:
        return f"Enter {whole if unit else 'a number'}, {_number(m[1])} or more"
    m = _ABOVE.search(message)
    if m:
        return f"Enter a number above {_number(m[1])}, such as 1.5"
    m = _AT_MOST.search(message)
    if m:
        return f"Enter {whole if unit else 'a number'}, {_number(m[1])} or less"
    if "number" in message:
        return "Enter a number such as 1.5"
    if "true or false" in message:
        return "Choose on or off"
    if message.startswith("must be one of") or message.startswith("one of "):
        return "Choose one of the options"
    if message in ("unknown setting", "unknown field"):
        return "This field is not part of the form"
    if "same threshold" in message:
        return "Two tiers cannot start at the same value"
    if "same handle" in message:
        return "Two tiers cannot have the same name"
    if "needs a name" in message or message.startswith("a name"):
        return "Enter a name"
    if message.startswith("unknown") or message.startswith("no such"):
        return "Choose one of the options"
    return message[:1].upper() + message[1:]


def plain_fields(fields: Mapping[str, str] | None, prefix: str = "") -> dict[str, str]:
    """Every field error keyed by its form path (`prefix` + the body's key, dotted) in plain words."""
    out: dict[str, str] = {}
    for key, message in (fields or {}).items():
        path = f"{prefix}.{key}" if prefix and key != prefix else str(key)
        out[path] = plain_message(path, str(message))
    return out
