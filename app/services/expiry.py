"""Points expiry by inactivity: reminders before (outbox `points_expiring`), then one expiry entry per
member and expiry date (outbox `points_expired`).

Inactivity runs from the member's last earning or redeeming (Member.last_activity_at, kept by
post_entry; a member who never earned nor redeemed counts from joining). Only available points
expire, never pending ones, and a negative balance has nothing to expire. Each reminder is sent once
per (member, expiry date, days before): its key rides in the outbox event and is looked up first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.loyalty import expiry as domain
from app.loyalty import ledger as rules
from app.models import Member, OutboxEvent, Shop, utcnow
from app.services.ledger import emit_event, lock_member, post_entry
from app.services.program import active_shops, settings_for

log = logging.getLogger(__name__)


def _last_activity(member: Member) -> datetime:
    return member.last_activity_at or member.enrolled_at or member.created_at


def _reminder_sent(member_id: int, key: str) -> bool:
    found = db.session.execute(
        select(OutboxEvent.id).where(OutboxEvent.member_id == member_id, OutboxEvent.kind == "points_expiring",
                                     OutboxEvent.payload["key"].as_string() == key).limit(1)
    ).first()
    return found is not None


def run_for(shop: Shop, now: datetime, batch: int = 500) -> dict[str, int]:
    """Reminders and expiries due today for one shop. Commits every `batch` members."""
    settings = settings_for(shop)
    out = {"reminded": 0, "expired": 0, "points": 0}
    if settings.expiry_mode != "inactivity":
        return out
    horizon = max([0, *settings.expiry_reminder_days])
    # Everyone whose expiry is at most `horizon` days away (or past): the only ones with work today.
    cutoff = now - timedelta(days=settings.expiry_days - horizon - 1)  # a day of slack: reminders go by date
    activity = func.coalesce(Member.last_activity_at, Member.enrolled_at, Member.created_at)
    ids = list(db.session.execute(
        select(Member.id).where(Member.shop_id == shop.id, Member.points_available > 0,
                                Member.deleted_at.is_(None), activity <= cutoff).order_by(Member.id)
    ).scalars())
    today = now.date()
    for i, mid in enumerate(ids, 1):
        member = lock_member(mid)
        last = _last_activity(member)
        expires_at = domain.expiry_date(last, settings.expiry_days)
        if domain.expiry_due(last, settings.expiry_days, now):
            points = domain.expiry_amount(member.points_available or 0)
            if points > 0:
                _, created = post_entry(
                    member, points=-points, kind=rules.EXPIRY, source=rules.SOURCE_EXPIRY,
                    idempotency_key=rules.expiry_key(member.customer_id, expires_at), source_id=expires_at.date().isoformat(),
                    reason=f"Points expired after {settings.expiry_days} days without activity", now=now,
                    occurred_at=expires_at,
                    snapshot={"expiry_days": settings.expiry_days, "last_activity_at": last.isoformat()},
                    emit="points_expired", emit_payload={"expires_on": expires_at.date().isoformat()},
                )
                if created:
                    out["expired"] += 1
                    out["points"] += points
        else:
            for days_before in domain.reminders_due(last, settings.expiry_days, settings.expiry_reminder_days, today):
                key = rules.expiry_reminder_key(member.customer_id, expires_at, days_before)
                if _reminder_sent(member.id, key):
                    continue
                emit_event(shop.id, member.id, "points_expiring", {
                    "key": key, "days_before": days_before, "expires_on": expires_at.date().isoformat(),
                    "points": member.points_available,
                }, now=now)
                out["reminded"] += 1
        if i % batch == 0:
            db.session.commit()
    db.session.commit()
    return out


def run_due(now: datetime | None = None) -> dict[str, int]:
    """The daily job over every installed shop with inactivity expiry."""
    now = now or utcnow()
    totals = {"reminded": 0, "expired": 0, "points": 0}
    for shop in active_shops():
        try:
            for k, v in run_for(shop, now).items():
                totals[k] += v
        except Exception:
            db.session.rollback()
            log.exception("expiry failed for %s", shop.domain)
    return totals
