"""Shopify Flow actions (the app's `flow_action` extensions): "add or remove points" and "set tier".

Flow sends `{"shop_id", "shopify_domain", "action_run_id", "handle", "properties": {...}}`; the customer
comes as the customer reference (`customer_id`). Flow may retry an action: its `action_run_id` is the
idempotency key, so a retry changes nothing twice. Commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.extensions import db
from app.loyalty import tiers as tier_rules
from app.models import Member, Shop, TierChange, utcnow
from app.services.adjustments import AdjustmentInvalid, adjust_points
from app.services.ledger import lock_member
from app.services.members import find_member
from app.services.tiers import change_tier, tier_rows
from app.shopify.flow import customer_id_of

ADJUST_POINTS = "regulars-adjust-points"
SET_TIER = "regulars-set-tier"
HANDLES = (ADJUST_POINTS, SET_TIER)


class FlowActionRefused(ValueError):
    """The action cannot be done: `status` 404 (unknown action or customer) or 422 (bad properties)."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


def _member(shop: Shop, properties: Mapping[str, Any]) -> Member:
    raw = properties.get("customer_id", properties.get("customer"))
    if isinstance(raw, Mapping):
        raw = raw.get("id") or raw.get("admin_graphql_api_id")
    cid = customer_id_of(raw)
    if cid is None:
        raise FlowActionRefused(422, "the customer reference is missing", {"customer_id": "a customer is required"})
    member = find_member(shop.id, cid)
    if member is None or member.deleted_at is not None or member.enrolled_at is None:
        raise FlowActionRefused(404, "this customer is not a member of the program")
    return member


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def run_action(shop: Shop, handle: str, body: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Does one Flow action; returns what Flow shows as the action's return value."""
    now = now or utcnow()
    if handle not in HANDLES:
        raise FlowActionRefused(404, f"no Flow action {handle!r}")
    properties = body.get("properties")
    if not isinstance(properties, Mapping):
        raise FlowActionRefused(422, "properties are missing", {"properties": "must be an object"})
    run_id = str(body.get("action_run_id") or "").strip()
    if not run_id or len(run_id) > 128:
        raise FlowActionRefused(422, "action_run_id is missing", {"action_run_id": "required"})
    member = _member(shop, properties)
    if handle == ADJUST_POINTS:
        points = _int(properties.get("points"))
        reason = str(properties.get("reason") or "Shopify Flow").strip()[:255] or "Shopify Flow"
        if points is None:
            raise FlowActionRefused(422, "points must be a whole number", {"points": "must be a whole number"})
        try:
            entry = adjust_points(shop, member, points=points, reason=reason, actor="shopify_flow",
                                  idempotency_key=f"flow:{run_id}"[:200], note=f"Flow action run {run_id}"[:2000])
        except AdjustmentInvalid as exc:
            raise FlowActionRefused(422, str(exc), exc.errors) from None
        db.session.refresh(member)
        return {"entry_id": str(entry.id), "points": entry.points, "points_available": member.points_available}
    return _set_tier(shop, member, properties, run_id, now)


def _set_tier(shop: Shop, member: Member, properties: Mapping[str, Any], run_id: str, now: datetime) -> dict[str, Any]:

    wanted = str(properties.get("tier") or "").strip()
    ladder = tier_rows(shop.id)
    tier = next((t for t in ladder if wanted.lower() in (t.name.lower(), (t.handle or "").lower(), str(t.id))), None) \
        if wanted else None
    if wanted and tier is None:
        raise FlowActionRefused(422, f"no tier {wanted!r}", {"tier": "must be a tier's name or handle"})
    locked = lock_member(member.id)
    # A retried action run finds its change already made.
    if db.session.query(TierChange.id).filter(TierChange.member_id == locked.id,
                                              TierChange.reason.like(f"%flow run {run_id})")).first():
        db.session.commit()
        return {"tier": tier.name if tier else None, "changed": False}
    if (tier.id if tier else None) == locked.tier_id:
        db.session.commit()
        return {"tier": tier.name if tier else None, "changed": False}
    order = {t.id: i for i, t in enumerate(ladder)}  # tier_rows: lowest first, in the ladder's one order
    old_rank = order.get(locked.tier_id or -1, -1)
    new_rank = order.get(tier.id, -1) if tier else -1
    change = tier_rules.TierChange(locked.tier_id, tier.id if tier else None, "up" if new_rank > old_rank else "down",
                                   "set by Shopify Flow")
    change_tier(shop, locked, change, ladder, now, reason=f"flow run {run_id}")
    db.session.commit()
    return {"tier": tier.name if tier else None, "changed": True}

