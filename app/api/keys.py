"""API keys for the public API v1: created (the key shown once), named, listed, revoked (app/services/api_keys.py)."""

from __future__ import annotations

from typing import Any

from flask import g

from app.api import ApiError, api_auth, bp, json_body
from app.api.admin_forms import TOP_MESSAGE
from app.models import ApiKey, Shop
from app.services import api_keys


def key_json(k: ApiKey) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "prefix": k.prefix, "created_at": k.created_at.isoformat(),
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}


@bp.get("/admin/api-keys")
@api_auth(allow_api_key=False)
def list_keys() -> Any:
    return {"keys": [key_json(k) for k in api_keys.list_keys(g.shop)]}


@bp.post("/admin/api-keys")
@api_auth(allow_api_key=False)
def create_key() -> Any:
    """The raw key is in this answer only; what is kept is its SHA-256 and its first characters."""
    shop: Shop = g.shop
    name = json_body().get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise ApiError(422, "invalid", TOP_MESSAGE, {"name": "Enter a name of up to 128 characters, such as ERP"})
    key, raw = api_keys.create_key(shop, name.strip(), g.actor)
    return {**key_json(key), "key": raw}, 201


@bp.delete("/admin/api-keys/<int:key_id>")
@api_auth(allow_api_key=False)
def revoke_key(key_id: int) -> Any:
    try:
        key = api_keys.revoke_key(g.shop, key_id, g.actor)
    except LookupError:
        raise ApiError(404, "not_found", "no such API key") from None
    return key_json(key)
