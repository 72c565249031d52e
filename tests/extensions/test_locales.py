"""Every text the UI extensions show exists in English and in each of the other four languages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.extensions.conftest import EXTENSIONS, ROOT

LANGUAGES = ("el", "ro", "th", "zh-CN")
# t('key' …), t(`prefix.${…}` …) and the shared helpers' keys.
_LITERAL = re.compile(r"\bt\(\s*'([A-Za-z0-9_.]+)'")
_PREFIX = re.compile(r"\bt\(\s*`([A-Za-z0-9_]+)\.\$\{")


def _keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict) and not set(value) <= {"zero", "one", "two", "few", "many", "other"}:
            out |= _keys(value, f"{prefix}{key}.")
        else:
            out.add(prefix + key)
    return out


def _load(extension: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "extensions" / extension / "locales" / name).read_text("utf-8"))
    return data


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_every_language_has_every_text(extension: str) -> None:
    english = _keys(_load(extension, "en.default.json"))
    for language in LANGUAGES:
        assert _keys(_load(extension, f"{language}.json")) == english, language


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_every_text_the_code_asks_for_is_there(extension: str) -> None:
    english = _load(extension, "en.default.json")
    keys = _keys(english)
    sources = list((ROOT / "extensions" / extension / "src").glob("*.jsx"))
    shared = (ROOT / "extensions" / "shared" / "regulars.js").read_text("utf-8")
    used: set[str] = set()
    for path in sources:
        code = path.read_text("utf-8")
        used |= set(_LITERAL.findall(code))
        assert all(p in english for p in _PREFIX.findall(code)), path
        if "earnRate" in code:
            used.add("earnOrder")
        if "orderSentence" in code:
            used |= {"orderPending", "orderEarned"} | {f"orderNone.{k}" for k in english.get("orderNone", {})}
        if re.search(r"\bpoints\(", code):
            used.add("points")
    assert "'points'" in shared  # the helper the check above stands for
    assert used - keys == set()
    assert set(english.get("orderNone", {})) >= {"processing", "test_order", "cancelled", "refunded", "not_paid",
                                                 "gift_card", "nothing_eligible"} or "orderNone" not in english


def test_every_language_has_its_own_file_per_extension() -> None:
    for extension in EXTENSIONS:
        names = {p.name for p in (ROOT / "extensions" / extension / "locales").glob("*.json")}
        assert names == {"en.default.json"} | {f"{lang}.json" for lang in LANGUAGES}, extension
        assert Path(ROOT / "extensions" / extension / "shopify.extension.toml").exists()
