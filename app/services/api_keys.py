"""API keys for the public API v1: created (the raw key handed back once), listed, revoked; stored hashed, audited."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, Shop, utcnow
from app.services import audit

KEY_PREFIX = "rgl_"


def hash_key(raw: str) -> str:
    """What is stored of a key: its SHA-256; a presented key is looked up by the same hash."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def shop_for_key(raw: str) -> tuple[Shop, ApiKey] | None:
    """The active shop and unrevoked key a presented API key belongs to (its last use noted), else None."""
    key = db.session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_key(raw), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if key is None:
        return None
    shop = db.session.get(Shop, key.shop_id)
    if shop is None or not shop.active:
        return None
    key.last_used_at = utcnow()
    return shop, key


def list_keys(shop: Shop) -> list[ApiKey]:
    return list(db.session.execute(select(ApiKey).where(ApiKey.shop_id == shop.id).order_by(ApiKey.id.desc()))
                .scalars())


def create_key(shop: Shop, name: str, actor: str) -> tuple[ApiKey, str]:
    """A new key named `name`: the row and the raw key, which is never stored. Commits."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(shop_id=shop.id, name=name, prefix=raw[:12], key_hash=hash_key(raw), created_at=utcnow())
    db.session.add(key)
    db.session.flush()
    audit.record(shop, actor, "api_key.created", target_type="api_key", target_id=key.id,
                 details={"name": key.name, "prefix": key.prefix})
    db.session.commit()
    return key, raw


def revoke_key(shop: Shop, key_id: int, actor: str) -> ApiKey:
    """Revokes the shop's key (once; again is a no-op). LookupError for an id not of this shop. Commits."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.shop_id != shop.id:
        raise LookupError("no such API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(shop, actor, "api_key.revoked", target_type="api_key", target_id=key.id,
                     details={"name": key.name, "prefix": key.prefix})
        db.session.commit()
    return key
