"""Text as Regulars may hold and show it, whoever typed it (Shopify, staff, shoppers): one cleaning rule.

PostgreSQL `text` and `jsonb` cannot hold U+0000 at all, and a lone surrogate (which JSON's `\\ud800` escape
produces) cannot be encoded as UTF-8: either would make every write of that value fail, so a customer's name
could stop all of their deliveries. C0 control characters other than tab, newline and carriage return are
removed (they have no printable meaning, and NUL is among them); lone surrogates become U+FFFD.
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def _replace(match: re.Match[str]) -> str:
    return REPLACEMENT if match.group() >= "\ud800" else ""


def clean_text(value: str) -> str:
    """`value` without the characters text may not hold (see the module); the same string when clean."""
    if _UNSAFE.search(value) is None:
        return value
    return _UNSAFE.sub(_replace, value)


def is_clean(value: str) -> bool:
    return _UNSAFE.search(value) is None


def clean_json(value: Any) -> Any:
    """A decoded JSON value with every string in it (object keys too) cleaned; other values as they are."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def json_text_may_need_cleaning(raw: str) -> bool:
    """Whether JSON text can decode to a string `clean_text` would change. Raw control characters are not
    valid JSON, so only escapes can produce them: \\u0000–\\u001f, \\b, \\f and surrogate escapes (\\ud8…–\\udf…).
    A cheap test that lets the common payload skip the walk over every value (false positives only cost the walk)."""
    return "\\u" in raw or "\\b" in raw or "\\f" in raw
