"""CSV exports of members and of the ledger, streamed in pages so a 200k-member shop never sits in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from app.extensions import db
from app.models import LedgerEntry, Member

_BATCH = 2000
MEMBER_COLUMNS = ("customer_id", "email", "first_name", "last_name", "tier", "points_available", "points_pending",
                  "lifetime_points", "lifetime_spent", "orders_count", "first_order_at", "last_order_at",
                  "enrolled_at", "referral_code")
LEDGER_COLUMNS = ("id", "customer_id", "points", "kind", "source", "source_id", "status", "reason", "note",
                  "actor", "created_at", "occurred_at")


def _line(values: tuple[object, ...]) -> str:
    buf = io.StringIO()
    # Cells starting with = + - @ are prefixed so a spreadsheet never runs them as formulas.
    csv.writer(buf).writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@" else
                              ("" if v is None else v.isoformat() if hasattr(v, "isoformat") else v) for v in values])
    return buf.getvalue()


def members_csv(shop_id: int, tier_names: dict[int, str]) -> Iterator[str]:
    yield _line(MEMBER_COLUMNS)
    last_id = 0
    while True:
        rows = db.session.execute(select(Member).where(Member.shop_id == shop_id, Member.id > last_id,
                                                       Member.deleted_at.is_(None), Member.enrolled_at.is_not(None))
                                  .order_by(Member.id).limit(_BATCH)).scalars().all()
        if not rows:
            return
        for m in rows:
            yield _line((str(m.customer_id), m.email, m.first_name, m.last_name, tier_names.get(m.tier_id or 0, ""),
                         m.points_available, m.points_pending, m.lifetime_points, str(m.lifetime_spent),
                         m.orders_count, m.first_order_at, m.last_order_at, m.enrolled_at, m.referral_code))
        last_id = rows[-1].id
        db.session.expunge_all()


def ledger_csv(shop_id: int) -> Iterator[str]:
    yield _line(LEDGER_COLUMNS)
    last_id = 0
    while True:
        rows = db.session.execute(
            select(LedgerEntry, Member.customer_id).join(Member, Member.id == LedgerEntry.member_id)
            .where(LedgerEntry.shop_id == shop_id, LedgerEntry.id > last_id).order_by(LedgerEntry.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        for e, customer_id in rows:
            yield _line((e.id, str(customer_id), e.points, e.kind, e.source, e.source_id, e.status, e.reason, e.note,
                         e.actor, e.created_at, e.occurred_at))
        last_id = rows[-1][0].id
        db.session.expunge_all()
