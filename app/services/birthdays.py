"""Birthdays (set by the member, changeable once per 12 months, awarded on the day once a year) and
account anniversaries (the day the member joined the program; off unless anniversary_points > 0).

The daily job awards in UTC days. Which day is a birthday or an anniversary is app.loyalty.actions'
(birthday_due, anniversary_due: a 29 February is celebrated on 28 February in other years); SQL only
pre-selects. Each award's key names the customer and the year, so a re-run of the day is a no-op.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Integer, and_, cast, extract, func, or_, select

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.actions import anniversary_due, birthday_due
from app.loyalty.dates import days_observed_on
from app.models import Member, Shop, utcnow
from app.services import tiers
from app.services.ledger import lock_member, post_entry
from app.services.members import BirthdayChangeRefused, set_birthday
from app.services.program import active_shops, settings_for

log = logging.getLogger(__name__)

__all__ = ["BirthdayChangeRefused", "award_anniversaries_for", "award_birthdays_for", "award_due", "set_birthday"]


def _day_matches(month_col: Any, day_col: Any, today: date) -> Any:
    """The SQL pre-selection of a yearly day, generated from app.loyalty.dates.days_observed_on (the rule's
    own calendar: 29 Feb counts on 28 Feb in a non-leap year); the domain's *_due decides each row."""
    return or_(*(and_(month_col == m, day_col == d) for m, d in days_observed_on(today)))


def birthdays_due_ids(shop_id: int, today: date) -> list[int]:
    """Ids of the shop's members whose birthday is `today` (app.loyalty.actions.birthday_due), in id order."""
    rows = db.session.execute(
        select(Member.id, Member.birthday_month, Member.birthday_day).where(
            Member.shop_id == shop_id, Member.enrolled_at.is_not(None), Member.deleted_at.is_(None),
            Member.redacted_at.is_(None), _day_matches(Member.birthday_month, Member.birthday_day, today),
        ).order_by(Member.id))
    return [mid for mid, month, day in rows if month and day and birthday_due(month, day, today)]


def award_birthdays_for(shop: Shop, now: datetime, batch: int = 500) -> int:
    settings = settings_for(shop)
    if not settings.enabled or settings.birthday_points <= 0:
        return 0
    today = now.date()
    ids = birthdays_due_ids(shop.id, today)
    awarded = 0
    for i, mid in enumerate(ids, 1):
        member = lock_member(mid)
        _, created = post_entry(
            member, points=settings.birthday_points, kind=rules.BIRTHDAY, source=rules.SOURCE_ACTION,
            idempotency_key=rules.birthday_key(member.customer_id, today.year), source_id=str(today.year),
            reason="Happy birthday", now=now, emit="points_earned",
            snapshot={"rule": "birthday_points", "birthday_points": settings.birthday_points, "year": today.year},
        )
        if created:
            awarded += 1
            tiers.upgrade_if_qualified(shop, member, settings, now, reason="birthday")
        if i % batch == 0:
            db.session.commit()
    db.session.commit()
    return awarded


def anniversaries_due(shop_id: int, today: date) -> list[tuple[int, int]]:
    """(member id, years completed) of the shop's members whose account anniversary is `today`
    (app.loyalty.actions.anniversary_due decides; the SQL only pre-selects the day), in id order.
    PostgreSQL only (the join day is read in UTC with timezone())."""
    joined = func.timezone("UTC", Member.enrolled_at)
    month, day = cast(extract("month", joined), Integer), cast(extract("day", joined), Integer)
    rows = db.session.execute(
        select(Member.id, Member.enrolled_at).where(
            Member.shop_id == shop_id, Member.enrolled_at.is_not(None), Member.deleted_at.is_(None),
            _day_matches(month, day, today),
        ).order_by(Member.id))
    due = ((mid, anniversary_due(enrolled.astimezone(UTC).date(), today)) for mid, enrolled in rows if enrolled)
    return [(mid, years) for mid, years in due if years is not None]


def award_anniversaries_for(shop: Shop, now: datetime, batch: int = 500) -> int:
    settings = settings_for(shop)
    if not settings.enabled or settings.anniversary_points <= 0:
        return 0
    today = now.date()
    awarded = 0
    for i, (mid, years) in enumerate(anniversaries_due(shop.id, today), 1):
        member = lock_member(mid)
        _, created = post_entry(
            member, points=settings.anniversary_points, kind=rules.ANNIVERSARY, source=rules.SOURCE_ACTION,
            idempotency_key=rules.anniversary_key(member.customer_id, today.year), source_id=str(today.year),
            reason=f"{years} year{'s' if years > 1 else ''} with us", now=now, emit="points_earned",
            snapshot={"rule": "anniversary_points", "anniversary_points": settings.anniversary_points, "years": years},
        )
        if created:
            awarded += 1
            tiers.upgrade_if_qualified(shop, member, settings, now, reason="anniversary")
        if i % batch == 0:
            db.session.commit()
    db.session.commit()
    return awarded


def award_due(now: datetime | None = None) -> dict[str, int]:
    """The daily job: birthdays and anniversaries of every installed shop."""
    now = now or utcnow()
    out = {"birthdays": 0, "anniversaries": 0}
    for shop in active_shops():
        try:
            out["birthdays"] += award_birthdays_for(shop, now)
            out["anniversaries"] += award_anniversaries_for(shop, now)
        except Exception:
            db.session.rollback()
            log.exception("birthday/anniversary awards failed for %s", shop.domain)
    return out
