"""The database's figures for GET /metrics, each from an indexed lookup whose cost does not grow with history.

- received: how far the deliveries' id sequence has gone. Every verified delivery that reached the INSERT took
  its next value, a duplicate too (ON CONFLICT refuses it after), and values are never handed out twice, so
  the figure only grows: a counter. (SQLite, which takes no id for a refused row: the highest id.) A count(*)
  over webhook_deliveries would read every delivery ever stored.
- pending (received / retry), due, drain lag: the partial indexes that the drain's claim uses hold only
  the deliveries still to do, so their cost is the backlog's, not the history's.
- redemptions: count(*), which PostgreSQL answers from an index (one row per reward spent: far fewer
  rows than deliveries or orders).
- write-back backlog: members flagged for the write-back (ix_members_sync_pending) in shops it can write
  to, and the age of the oldest flag.
Processed and failed deliveries are counted by the drain itself (app/jobs/stats.py), not here: finding
them in the table would mean reading all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, text

from app.extensions import db
from app.models import PENDING_STATUSES, Member, Redemption, Shop, WebhookDelivery, utcnow

# A scrape never holds the database for long, whatever the backlog: past this it fails and says so.
STATEMENT_TIMEOUT = "2s"


@dataclass(frozen=True)
class DatabaseFigures:
    deliveries_received: int
    deliveries_pending: dict[str, int]  # by status: received, retry
    deliveries_due: int
    drain_lag_seconds: float  # age of the oldest due delivery; 0 when none is due
    redemptions: int
    writeback_backlog: int
    writeback_oldest_seconds: float  # age of the oldest write-back request; 0 when none waits


def _age(then: datetime | None, now: datetime) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


def database_figures() -> DatabaseFigures:
    """Reads the figures in one read-only transaction (rolled back, never committed)."""
    session = db.session
    try:
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            session.execute(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"))
        now = utcnow()
        d = WebhookDelivery
        if postgres:
            received = session.execute(text(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence('webhook_deliveries', 'id')::regclass)"
            )).scalar_one() or 0
        else:
            received = session.execute(select(func.max(d.id))).scalar_one() or 0
        pending = {status: 0 for status in PENDING_STATUSES}
        for status, n in session.execute(
            select(d.status, func.count()).where(d.status.in_(PENDING_STATUSES)).group_by(d.status)
        ):
            pending[status] = int(n)
        is_due = (d.status.in_(PENDING_STATUSES), or_(d.next_attempt_at.is_(None), d.next_attempt_at <= now))
        due = session.execute(select(func.count()).select_from(d).where(*is_due)).scalar_one()
        # The drain's own claim order (ix_webhook_deliveries_pending_id): the lowest due id is the oldest.
        oldest_due = session.execute(select(d.created_at).where(*is_due).order_by(d.id).limit(1)).scalar()
        redemptions = session.execute(select(func.count()).select_from(Redemption)).scalar_one()
        # The members writeback.sync_due would write (its filter): flagged, not redacted or deleted, in a shop
        # that is installed and has a token.
        flagged = (Member.sync_requested_at.is_not(None), Shop.uninstalled_at.is_(None),
                   Shop.access_token.is_not(None), Member.redacted_at.is_(None), Member.deleted_at.is_(None))
        backlog, oldest_flag = session.execute(
            select(func.count(), func.min(Member.sync_requested_at)).join(Shop, Shop.id == Member.shop_id)
            .where(*flagged)
        ).one()
        return DatabaseFigures(
            deliveries_received=int(received),
            deliveries_pending=pending,
            deliveries_due=int(due),
            drain_lag_seconds=_age(oldest_due, now),
            redemptions=int(redemptions),
            writeback_backlog=int(backlog),
            writeback_oldest_seconds=_age(oldest_flag, now),
        )
    finally:
        session.rollback()
