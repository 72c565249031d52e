"""The theme app extension (extensions/regulars-theme) as a Shopify storefront renders it.

Each block's Liquid is rendered with python-liquid (the schema's settings with their defaults, the merchant's
values over them, `request.locale`, the signed-in `customer` with the app's metafields, and the `t` filter over
the extension's `locales/`). The assets each schema names (`javascript`, `stylesheet`) are included once per
page whatever blocks name them, from a CDN-like path that carries the extension's version, as Shopify's CDN
does (`https://cdn.shopify.com/extensions/<id>/<version>/assets/<file>`); `asset_url` gives the same URLs.
Files are read on each render, so an edited block shows on the next page load.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liquid import Environment
from liquid.filter import with_context

EXTENSION = Path(__file__).resolve().parent.parent / "extensions" / "regulars-theme"
CDN_PREFIX = "/cdn/extensions"
_SCHEMA = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.S)
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Block:
    name: str  # the file's name in blocks/, without .liquid
    schema: dict[str, Any]
    source: str  # the Liquid without its schema

    @property
    def defaults(self) -> dict[str, Any]:
        return {s["id"]: s.get("default") for s in self.schema.get("settings", []) if "id" in s}


@dataclass
class RenderedPage:
    """The blocks of one page as Shopify puts them in: each block's markup, and the assets once, for <head>."""

    blocks: dict[str, str] = field(default_factory=dict)
    stylesheets: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)

    @property
    def head(self) -> str:
        tags = [f'<link rel="stylesheet" href="{html.escape(u)}">' for u in self.stylesheets]
        tags += [f'<script src="{html.escape(u)}" defer></script>' for u in self.scripts]
        return "\n".join(tags)


class _Metafield(dict):
    """A metafield as Liquid sees it: `.value`, `.type`, and the value when output directly."""

    def __str__(self) -> str:
        return str(self.get("value", ""))


class ThemeExtension:
    def __init__(self, root: Path = EXTENSION, handle: str = "regulars-theme") -> None:
        self.root = root
        self.handle = handle
        self.env = Environment()
        self.env.filters["t"] = self._translate
        self.env.filters["asset_url"] = lambda name: self.asset_url(str(name))
        self.env.filters["stylesheet_tag"] = lambda url: f'<link href="{html.escape(str(url))}" rel="stylesheet">'

    # --- files ---------------------------------------------------------------------------------------------

    def block(self, name: str) -> Block:
        text = (self.root / "blocks" / f"{name}.liquid").read_text(encoding="utf-8")
        found = _SCHEMA.search(text)
        schema = json.loads(found.group(1)) if found else {}
        source = text[:found.start()] + text[found.end():] if found else text
        return Block(name, schema, source)

    def version(self) -> str:
        """Changes whenever an asset does, like the version in a Shopify CDN URL."""
        digest = hashlib.sha256()
        for path in sorted((self.root / "assets").iterdir()):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:10]

    def asset_url(self, name: str) -> str:
        return f"{CDN_PREFIX}/{self.handle}/{self.version()}/assets/{name}"

    def asset(self, name: str) -> bytes | None:
        """An asset's bytes, or None for anything that is not a file in assets/."""
        if not _ASSET_NAME.match(name):
            return None
        path = self.root / "assets" / name
        return path.read_bytes() if path.is_file() else None

    def _locale_file(self, locale: str) -> dict[str, Any]:
        for name in (f"{locale}.json", "en.default.json"):
            path = self.root / "locales" / name
            if path.is_file():
                data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                return data
        return {}

    @with_context
    def _translate(self, key: Any, *, context: Any) -> str:
        locale = str(context.resolve("request")["locale"]["iso_code"])
        for table in (self._locale_file(locale), self._locale_file("en")):
            node: Any = table
            for part in str(key).split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, str):
                return node
        return f"translation missing: {locale}.{key}"  # what Shopify prints

    # --- rendering -----------------------------------------------------------------------------------------

    def render(self, blocks: list[tuple[str, dict[str, Any]]], *, locale: str,
               customer: dict[str, Any] | None = None) -> RenderedPage:
        """The given blocks (name, the merchant's settings) on one page; each asset once, in first-use order."""
        page = RenderedPage()
        for index, (name, settings) in enumerate(blocks):
            block = self.block(name)
            values = {**block.defaults, **settings}
            context = {
                "block": {"id": f"{name}-{index}", "settings": values, "shopify_attributes": ""},
                "request": {"locale": {"iso_code": locale}},
                "customer": customer,
                "routes": {"root_url": "/" if locale == "en" else f"/{locale}"},
            }
            page.blocks[name] = self.env.from_string(block.source).render(**context)
            for key, into in (("stylesheet", page.stylesheets), ("javascript", page.scripts)):
                if block.schema.get(key):
                    url = self.asset_url(block.schema[key])
                    if url not in into:
                        into.append(url)
        return page


def liquid_customer(customer_id: int, metafields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The `customer` object: `customer.metafields['<namespace>'].<key>` from `{"namespace.key": {...}}`."""
    by_namespace: dict[str, dict[str, _Metafield]] = {}
    for full, m in metafields.items():
        namespace, key = full.rsplit(".", 1)
        by_namespace.setdefault(namespace, {})[key] = _Metafield(value=m["value"], type=m["type"])
    return {"id": customer_id, "metafields": by_namespace}


__all__ = ["CDN_PREFIX", "RenderedPage", "ThemeExtension", "liquid_customer"]
