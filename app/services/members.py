"""Members from Shopify customers: created, updated, deleted, found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Member, Shop, WebhookDelivery, utcnow


def parse_shopify_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def customer_id_of(payload: dict[str, Any]) -> int:
    raw = payload.get("id")
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError("customer payload has no id")
    cid = int(raw)
    if cid <= 0 or cid >= 2**63:
        raise ValueError("customer id out of range")
    return cid


def find_member(shop_id: int, customer_id: int, *, lock: bool = False) -> Member | None:
    q = select(Member).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    if lock:
        q = q.with_for_update()
    return db.session.execute(q).scalar_one_or_none()


def upsert_customer(shop: Shop, payload: dict[str, Any]) -> Member:
    """Creates or refreshes the member row of a Shopify customer payload (no points here). Does not commit."""
    cid = customer_id_of(payload)
    member = find_member(shop.id, cid, lock=True)
    if member is None:
        member = Member(shop_id=shop.id, customer_id=cid, points_available=0, points_pending=0,
                        lifetime_points=0, orders_count=0, created_at=utcnow())
        db.session.add(member)
    if member.redacted_at is None:
        email = payload.get("email")
        member.email = email if isinstance(email, str) else member.email
        member.email_normalized = normalize_email(member.email)
        for field in ("first_name", "last_name"):
            value = payload.get(field)
            if isinstance(value, str) or value is None:
                setattr(member, field, value[:255] if isinstance(value, str) else getattr(member, field))
    created = parse_shopify_time(payload.get("created_at"))
    if created and member.customer_created_at is None:
        member.customer_created_at = created
    db.session.flush()
    return member


def normalize_email(email: str | None) -> str | None:
    if not email:
        return None
    try:
        from app.loyalty.referrals import normalize_email as domain_normalize
    except ImportError:  # the domain module arrives with the loyalty engine
        return email.strip().lower()
    return domain_normalize(email)


def customer_created(shop: Shop, payload: dict[str, Any], delivery: WebhookDelivery) -> Member:
    return upsert_customer(shop, payload)


def customer_updated(shop: Shop, payload: dict[str, Any], delivery: WebhookDelivery) -> Member:
    return upsert_customer(shop, payload)


def customer_deleted(shop: Shop, payload: dict[str, Any], delivery: WebhookDelivery) -> Member | None:
    """The customer is gone from Shopify: the member is marked deleted, the ledger kept for the books."""
    member = find_member(shop.id, customer_id_of(payload), lock=True)
    if member is not None and member.deleted_at is None:
        member.deleted_at = utcnow()
    return member
