"""What Shopify takes from the app's configuration (shopify.app.toml) when the app is deployed: the app proxy's
path and the app-owned metafield definitions (`[<owner>.metafields.app.<key>]`, namespace `$app`)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APP_TOML = Path(__file__).resolve().parent.parent / "shopify.app.toml"
# shopify.app.toml's owner names → Shopify's MetafieldOwnerType.
OWNER_TYPES = {"customer": "CUSTOMER", "order": "ORDER", "product": "PRODUCT", "shop": "SHOP"}


@dataclass(frozen=True)
class MetafieldDefinition:
    owner_type: str  # CUSTOMER, …
    key: str
    type: str
    name: str
    description: str | None
    admin: str  # merchant_read (the default of an app-owned definition), merchant_read_write
    storefront: str  # none (default), public_read
    customer_account: str  # none (default), read, read_write


@dataclass(frozen=True)
class AppConfig:
    app_proxy_path: str
    definitions: dict[tuple[str, str], MetafieldDefinition]  # (owner type, key) under $app


def load_app_config(path: Path | None = APP_TOML) -> AppConfig:
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else {}
    proxy = data.get("app_proxy") or {}
    proxy_path = f"/{proxy.get('prefix', 'apps')}/{proxy.get('subpath', 'regulars')}"
    definitions: dict[tuple[str, str], MetafieldDefinition] = {}
    for owner, owner_type in OWNER_TYPES.items():
        for key, spec in ((data.get(owner) or {}).get("metafields", {}).get("app") or {}).items():
            access = spec.get("access") or {}
            definitions[(owner_type, key)] = MetafieldDefinition(
                owner_type=owner_type, key=key, type=spec["type"], name=spec.get("name") or key,
                description=spec.get("description"), admin=access.get("admin", "merchant_read"),
                storefront=access.get("storefront", "none"), customer_account=access.get("customer_account", "none"),
            )
    return AppConfig(proxy_path, definitions)


__all__ = ["APP_TOML", "AppConfig", "MetafieldDefinition", "load_app_config"]
