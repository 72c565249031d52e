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


def _bundle(root: Path, name: str, target: str, size: int) -> None:
    import os

    (root / name / "dist").mkdir(parents=True)
    (root / name / "shopify.extension.toml").write_text(
        f'api_version = "2026-10"\n[[extensions]]\ntype = "ui_extension"\nhandle = "{name}"\n'
        f'[[extensions.targeting]]\ntarget = "{target}"\nmodule = "./src/index.jsx"\n')
    (root / name / "dist" / f"{name}.js").write_bytes(os.urandom(size))  # random bytes do not compress


def test_the_size_check_fails_over_shopifys_limits(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    script = str(ROOT / "scripts" / "extensions" / "sizes.mjs")
    _bundle(tmp_path, "page", "customer-account.page.render", 100 * 1024)
    _bundle(tmp_path, "block", "customer-account.profile.block.render", 60 * 1024)
    ok = subprocess.run(["node", script, str(tmp_path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "limit 128 KB" in ok.stdout and "limit 64 KB" in ok.stdout
    (tmp_path / "block" / "dist" / "block.js").write_bytes(__import__("os").urandom(70 * 1024))
    over = subprocess.run(["node", script, str(tmp_path)], capture_output=True, text=True)
    assert over.returncode == 1 and "block" in over.stdout and "OVER THE LIMIT" in over.stdout
