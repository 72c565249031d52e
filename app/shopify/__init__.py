"""The one adapter to Shopify: request verification, OAuth and token exchange, Admin GraphQL with rate limits.

Everything else in the app talks to Shopify through `shopify_for(app)` / `current_shopify()`.
"""

from __future__ import annotations

from flask import Flask, current_app

from app.shopify.adapter import (
    ExtensionCaller,
    GraphQLError,
    ShopifyAdapter,
    ShopifyUnavailable,
    ThrottledError,
    is_valid_shop_domain,
    normalize_shop_domain,
    numeric_id,
)

_EXT_KEY = "regulars.shopify"


def init_app(app: Flask) -> None:
    cfg = app.config["REGULARS"]
    app.extensions[_EXT_KEY] = ShopifyAdapter(
        api_key=cfg.api_key,
        api_secret=cfg.api_secret,
        api_version=cfg.api_version,
        api_origin=cfg.shopify_api_origin,
        scopes=cfg.scopes,
    )


def shopify_for(app: Flask) -> ShopifyAdapter:
    adapter: ShopifyAdapter = app.extensions[_EXT_KEY]
    return adapter


def current_shopify() -> ShopifyAdapter:
    return shopify_for(current_app)  # type: ignore[arg-type]


__all__ = [
    "ExtensionCaller",
    "GraphQLError",
    "ShopifyAdapter",
    "ShopifyUnavailable",
    "ThrottledError",
    "current_shopify",
    "init_app",
    "is_valid_shop_domain",
    "normalize_shop_domain",
    "numeric_id",
    "shopify_for",
]
