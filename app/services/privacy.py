"""Privacy duties: redact a customer (keep the amounts), answer a data request, delete a shop's data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select, text, update

from app.extensions import db
from app.models import (
    AuditLog,
    LedgerEntry,
    Member,
    Order,
    Redemption,
    Referral,
    Shop,
    TierChange,
    WebhookDelivery,
    utcnow,
)
from app.services.member_rows import get_or_create_member
from app.services.shops import get_shop


def _customer_id(payload: dict[str, Any]) -> int | None:
    customer = payload.get("customer") or {}
    raw = customer.get("id") if isinstance(customer, dict) else None
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def redact_customer(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    """customers/redact: names, email, birthday, addresses and IPs go; points and amounts stay.

    The redaction is kept, not only applied: the member row (created when Regulars had not met the customer
    yet) and each named order carry `redacted_at`, so a delivery that arrives later, of any date, brings
    none of it back (members.apply_customer_fields, orders._forget_buyer)."""
    if shop is None:
        return
    cid = _customer_id(payload)
    if cid is None:
        raise ValueError("customers/redact payload has no customer id")
    now = utcnow()
    member, _ = get_or_create_member(shop.id, cid)
    email_normalized = member.email_normalized
    member.email = None
    member.email_normalized = None
    member.first_name = None
    member.last_name = None
    member.birthday_month = None
    member.birthday_day = None
    member.address_fingerprint = None
    member.redacted_at = member.redacted_at or now
    friend = Referral.friend_customer_id == cid
    if email_normalized:
        friend = or_(friend, Referral.friend_email_normalized == email_normalized)
    db.session.execute(
        update(Referral).where(Referral.shop_id == shop.id, friend)
        .values(friend_email=None, friend_email_normalized=None)
    )
    order_ids = [int(o) for o in payload.get("orders_to_redact") or []
                 if isinstance(o, int | str) and not isinstance(o, bool) and str(o).isascii() and str(o).isdigit()
                 and 0 < int(o) < 2**63]
    conds = [Order.customer_id == cid]
    if order_ids:
        conds.append(Order.order_id.in_(order_ids))
    db.session.execute(
        update(Order).where(Order.shop_id == shop.id, or_(*conds))
        .values(email=None, browser_ip=None, address_fingerprint=None, knowledge=None,
                redacted_at=func.coalesce(Order.redacted_at, now))
    )
    # Data-request documents made earlier hold the same personal data: they keep only that one was answered.
    db.session.execute(
        update(AuditLog)
        .where(AuditLog.shop_id == shop.id, AuditLog.action == "customer_data_request",
               AuditLog.target_type == "customer", AuditLog.target_id == str(cid))
        .values(details={"redacted": True})
    )
    # Stored deliveries of this customer's webhooks hold the same personal data.
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.shop_domain == shop.domain, WebhookDelivery.id != delivery.id,
               WebhookDelivery.status.in_(("processed", "skipped", "failed")),
               WebhookDelivery.body.contains(str(cid)))
        .values(body='{"redacted": true}')
    )
    delivery.body = '{"redacted": true}'


def customer_document(shop: Shop, customer_id: int) -> dict[str, Any]:
    """Everything Regulars holds on one customer, as one JSON document."""
    member = db.session.execute(
        select(Member).where(Member.shop_id == shop.id, Member.customer_id == customer_id)
    ).scalar_one_or_none()
    doc: dict[str, Any] = {"shop": shop.domain, "customer_id": str(customer_id), "member": None,
                           "ledger": [], "orders": [], "redemptions": [], "referrals": [], "tier_changes": []}
    orders = db.session.execute(select(Order).where(Order.shop_id == shop.id, Order.customer_id == customer_id)).scalars()
    doc["orders"] = [
        {"order_id": str(o.order_id), "name": o.name, "email": o.email, "financial_status": o.financial_status,
         "subtotal": str(o.subtotal), "points_given": o.points_given, "browser_ip": o.browser_ip,
         "processed_at": o.processed_at.isoformat() if o.processed_at else None}
        for o in orders
    ]
    if member is None:
        return doc
    doc["member"] = {
        "email": member.email, "first_name": member.first_name, "last_name": member.last_name,
        "birthday": f"{member.birthday_month:02d}-{member.birthday_day:02d}" if member.birthday_month and member.birthday_day else None,
        "enrolled_at": member.enrolled_at.isoformat() if member.enrolled_at else None,
        "points_available": member.points_available, "points_pending": member.points_pending,
        "referral_code": member.referral_code, "redacted_at": member.redacted_at.isoformat() if member.redacted_at else None,
    }
    doc["ledger"] = [
        {"id": e.id, "points": e.points, "kind": e.kind, "source": e.source, "status": e.status,
         "note": e.note, "occurred_at": e.occurred_at.isoformat(), "created_at": e.created_at.isoformat()}
        for e in db.session.execute(select(LedgerEntry).where(LedgerEntry.member_id == member.id).order_by(LedgerEntry.id)).scalars()
    ]
    doc["redemptions"] = [
        {"code": r.code, "reward": r.reward_name, "points": r.points, "status": r.status, "created_at": r.created_at.isoformat()}
        for r in db.session.execute(select(Redemption).where(Redemption.member_id == member.id)).scalars()
    ]
    doc["referrals"] = [
        {"friend_email": r.friend_email, "status": r.status, "created_at": r.created_at.isoformat()}
        for r in db.session.execute(select(Referral).where(Referral.advocate_member_id == member.id)).scalars()
    ]
    doc["tier_changes"] = [
        {"from": t.from_name, "to": t.to_name, "reason": t.reason, "created_at": t.created_at.isoformat()}
        for t in db.session.execute(select(TierChange).where(TierChange.member_id == member.id)).scalars()
    ]
    return doc


def customer_data_request(shop: Shop | None, payload: dict[str, Any], delivery: WebhookDelivery) -> None:
    """customers/data_request: the document is kept for the merchant in the audit log (admin shows it)."""
    if shop is None:
        return
    cid = _customer_id(payload)
    if cid is None:
        raise ValueError("customers/data_request payload has no customer id")
    document = customer_document(shop, cid)
    db.session.add(AuditLog(
        shop_id=shop.id, actor="shopify", action="customer_data_request", target_type="customer",
        target_id=str(cid), details={"data_request": payload.get("data_request"), "document": document},
        created_at=utcnow(),
    ))
    if document["member"] is not None and document["member"]["redacted_at"] is not None:
        # Shopify's request names the customer (email, phone): not kept for a redacted one either.
        delivery.body = '{"redacted": true}'


def redact_shop(domain: str, delivery: WebhookDelivery | None = None) -> None:
    """shop/redact: every row of the shop goes (the ledger too: this is the one place it may be deleted)."""
    shop = get_shop(domain)
    if db.session.get_bind().dialect.name == "postgresql":
        # The ledger's append-only trigger lets a delete through only with this transaction-local flag.
        db.session.execute(text("SET LOCAL regulars.allow_ledger_delete = 'on'"))
    if shop is not None:
        db.session.execute(delete(Shop).where(Shop.id == shop.id))
    q = delete(WebhookDelivery).where(WebhookDelivery.shop_domain == domain)
    if delivery is not None:
        q = q.where(WebhookDelivery.id != delivery.id)
        delivery.body = '{"redacted": true}'
    db.session.execute(q)
