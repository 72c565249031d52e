"""The audit log: every admin action (and every API-key action) recorded with who, what and on what."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import AuditLog, Shop, utcnow


def record(shop: Shop, actor: str, action: str, *, target_type: str | None = None,
           target_id: str | int | None = None, details: dict[str, Any] | None = None) -> AuditLog:
    """Adds an audit row in the caller's transaction (it commits with the change it describes)."""
    row = AuditLog(shop_id=shop.id, actor=actor, action=action, target_type=target_type,
                   target_id=str(target_id) if target_id is not None else None, details=details,
                   created_at=utcnow())
    db.session.add(row)
    return row
