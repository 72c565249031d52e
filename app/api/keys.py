"""API keys for the public API v1: created (the key shown once), named, listed, revoked; stored hashed."""

from __future__ import annotations

import secrets
from typing import Any

from flask import g
from sqlalchemy import select

from app.api import ApiError, api_auth, bp, hash_api_key, json_body
from app.extensions import db
from app.models import ApiKey, Shop, utcnow
from app.services import audit

KEY_PREFIX = "rgl_"


def key_json(k: ApiKey) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "prefix": k.prefix, "created_at": k.created_at.isoformat(),
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}


@bp.get("/admin/api-keys")
@api_auth(allow_api_key=False)
def list_keys() -> Any:
    shop: Shop = g.shop
    rows = db.session.execute(select(ApiKey).where(ApiKey.shop_id == shop.id).order_by(ApiKey.id.desc())).scalars()
    return {"keys": [key_json(k) for k in rows]}


@bp.post("/admin/api-keys")
@api_auth(allow_api_key=False)
def create_key() -> Any:
    """The raw key is in this answer only; what is kept is its SHA-256 and its first characters."""
    shop: Shop = g.shop
    name = json_body().get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise ApiError(422, "invalid", "the key needs a name", {"name": "a name of 1 to 128 characters is required"})
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(shop_id=shop.id, name=name.strip(), prefix=raw[:12], key_hash=hash_api_key(raw), created_at=utcnow())
    db.session.add(key)
    db.session.flush()
    audit.record(shop, g.actor, "api_key.created", target_type="api_key", target_id=key.id,
                 details={"name": key.name, "prefix": key.prefix})
    db.session.commit()
    return {**key_json(key), "key": raw}, 201


@bp.delete("/admin/api-keys/<int:key_id>")
@api_auth(allow_api_key=False)
def revoke_key(key_id: int) -> Any:
    shop: Shop = g.shop
    key = db.session.get(ApiKey, key_id)
    if key is None or key.shop_id != shop.id:
        raise ApiError(404, "not_found", "no such API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(shop, g.actor, "api_key.revoked", target_type="api_key", target_id=key.id,
                     details={"name": key.name, "prefix": key.prefix})
        db.session.commit()
    return key_json(key)
