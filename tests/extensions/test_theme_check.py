"""The theme app extension passes Shopify's Theme Check (theme-app-extension config: Liquid, schema, `t:` keys
in every locale, asset sizes) with no offense at all, and its files keep within what Theme Check caps."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess

from tests.extensions.conftest import ROOT, _unavailable

THEME = ROOT / "extensions" / "regulars-theme"


def test_theme_check_is_clean() -> None:
    if shutil.which("node") is None:
        _unavailable("node is not installed (Theme Check needs Node.js 20 and npm)")
    if not (ROOT / "node_modules" / "@shopify" / "theme-check-node").exists():
        _unavailable("node_modules is missing: run `npm ci` first")
    done = subprocess.run(["node", "scripts/extensions/theme-check.mjs"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b0 offenses\b", done.stdout), done.stdout


def test_assets_are_the_schemas_and_within_the_caps() -> None:
    for block in ("rewards", "launcher"):
        schema = json.loads(re.search(r"{% schema %}(.*?){% endschema %}",
                                      (THEME / "blocks" / f"{block}.liquid").read_text(), re.S).group(1))
        assert (schema["javascript"], schema["stylesheet"]) == ("regulars.js", "regulars.css"), block
        assert all(s["label"].startswith("t:") for s in schema["settings"]) and schema["name"].startswith("t:")
        proxy = next(s for s in schema["settings"] if s["id"] == "proxy_path")
        assert proxy["default"] == "/apps/regulars"  # shopify.app.toml's [app_proxy] (test_app_config checks it)
    js = (THEME / "assets" / "regulars.js").read_bytes()
    assert len(gzip.compress(js)) <= 10_000 and len(js) <= 10_000
    assert len((THEME / "assets" / "regulars.css").read_bytes()) <= 100_000
    # No proxy path written into the script: it reads the block's.
    assert b"/apps/" not in js
    assert sorted(p.name for p in (THEME / "assets").iterdir()) == ["regulars.css", "regulars.js"]
