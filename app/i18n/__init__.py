"""The widget's languages: English, Greek, Romanian, Thai and Simplified Chinese, chosen by the storefront locale."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = ("en", "el", "ro", "th", "zh-CN")
DEFAULT_LOCALE = "en"
_DIR = Path(__file__).parent / "locales"
# Digit grouping people expect for whole numbers of points.
_THOUSANDS = {"en": ",", "el": ".", "ro": ".", "th": ",", "zh-CN": ","}


def pick_locale(value: str | None) -> str:
    """Shopify's `request.locale.iso_code` ("zh-CN", "el", "ro-RO", "EN") → one we speak, else English."""
    if not value:
        return DEFAULT_LOCALE
    text = value.strip().replace("_", "-")
    lowered = text.lower()
    for code in LOCALES:
        if lowered == code.lower():
            return code
    base = lowered.split("-", 1)[0]
    if base == "zh":
        return "zh-CN"
    return base if base in LOCALES else DEFAULT_LOCALE


@cache
def _messages(locale: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    return data


class Translator:
    """`t("key", n=3)`: the locale's text, else English; `{name}` placeholders filled in."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._own = _messages(locale)
        self._en = _messages(DEFAULT_LOCALE)

    def __call__(self, key: str, **params: Any) -> str:
        n = params.get("n")
        if n == 1 and f"{key}_one" in self._own:
            key = f"{key}_one"
        text = self._own.get(key) or self._en.get(key) or key
        return text.format(**params) if params else text

    def number(self, value: int) -> str:
        return f"{value:,}".replace(",", _THOUSANDS.get(self.locale, ","))

    def has(self, key: str) -> bool:
        return key in self._own or key in self._en


def translator(locale: str | None) -> Translator:
    return Translator(pick_locale(locale))
