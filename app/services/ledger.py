"""Posting to the ledger: one entry per change, idempotent per shop, cached balances moved under the member lock.

Every other service changes points only through `post_entry`, inside its own transaction, with the
member row locked by `lock_member` first. Callers commit (services own the transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.loyalty import ledger as rules
from app.models import LedgerEntry, Member, OutboxEvent, utcnow

# Kinds that count as activity for inactivity expiry: earning or spending, not expiry or admin fixes.
_ACTIVITY_KINDS = rules.EARNING_KINDS | {rules.REDEEM}


def lock_member(member_id: int) -> Member:
    """The member row, locked FOR UPDATE until the transaction ends: balances move one writer at a time."""
    member = db.session.execute(
        select(Member).where(Member.id == member_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    return member


def find_entry(shop_id: int, idempotency_key: str) -> LedgerEntry | None:
    return db.session.execute(
        select(LedgerEntry).where(LedgerEntry.shop_id == shop_id, LedgerEntry.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


def post_entry(
    member: Member,
    *,
    points: int,
    kind: str,
    source: str,
    idempotency_key: str,
    status: str = rules.AVAILABLE,
    source_id: str | None = None,
    snapshot: dict[str, Any] | None = None,
    available_at: datetime | None = None,
    order_ref_id: int | None = None,
    reason: str | None = None,
    note: str | None = None,
    actor: str | None = None,
    forgiven_points: int = 0,
    now: datetime | None = None,
    emit: str | None = None,
    emit_payload: dict[str, Any] | None = None,
) -> tuple[LedgerEntry, bool]:
    """Appends one entry unless its idempotency key is already used; returns (entry, created).

    The member must be locked by this transaction (lock_member). The cached balances, lifetime points
    and last activity move in the same transaction; the write-back is requested and, when `emit` names
    a domain event, it goes to the outbox with the entry.
    """
    if kind not in rules.ENTRY_KINDS:
        raise ValueError(f"unknown ledger kind {kind!r}")
    if status not in rules.STATUSES:
        raise ValueError(f"unknown ledger status {status!r}")
    existing = find_entry(member.shop_id, idempotency_key)
    if existing is not None:
        return existing, False
    now = now or utcnow()
    entry = LedgerEntry(
        shop_id=member.shop_id, member_id=member.id, points=int(points), kind=kind, source=source,
        source_id=source_id, status=status, available_at=available_at, idempotency_key=idempotency_key,
        snapshot=snapshot, order_ref_id=order_ref_id, reason=reason, note=note, actor=actor,
        forgiven_points=forgiven_points, created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(entry)
            db.session.flush()
    except IntegrityError:
        # Someone else wrote the same key between our look and our insert (another member's lock).
        again = find_entry(member.shop_id, idempotency_key)
        if again is None:
            raise
        return again, False
    if status == rules.AVAILABLE:
        member.points_available = (member.points_available or 0) + entry.points
    else:
        member.points_pending = (member.points_pending or 0) + entry.points
    if kind in rules.EARNING_KINDS:
        member.lifetime_points = (member.lifetime_points or 0) + entry.points
    if kind in _ACTIVITY_KINDS and entry.points != 0:
        member.last_activity_at = now
    member.sync_requested_at = now
    if emit:
        emit_event(member.shop_id, member.id, emit, {
            "entry_id": entry.id, "points": entry.points, "kind": kind, "status": status,
            "points_available": member.points_available, "points_pending": member.points_pending,
            **(emit_payload or {}),
        }, now=now)
    return entry, True


def emit_event(shop_id: int, member_id: int | None, kind: str, payload: dict[str, Any],
               now: datetime | None = None) -> OutboxEvent:
    """Adds a domain event to the outbox in the caller's transaction (write-back consumes it; automations later)."""
    event = OutboxEvent(shop_id=shop_id, member_id=member_id, kind=kind, payload=payload, created_at=now or utcnow())
    db.session.add(event)
    return event


@dataclass(frozen=True)
class BalanceMismatch:
    member_id: int
    cached_available: int
    cached_pending: int
    ledger_available: int
    ledger_pending: int


def balance_mismatches(shop_id: int | None = None) -> list[BalanceMismatch]:
    """The check that proves the cache: every member whose cached balances differ from the sum of entries."""
    sums = (
        select(
            LedgerEntry.member_id.label("member_id"),
            func.coalesce(func.sum(case((LedgerEntry.status == rules.AVAILABLE, LedgerEntry.points), else_=0)), 0).label("a"),
            func.coalesce(func.sum(case((LedgerEntry.status == rules.PENDING, LedgerEntry.points), else_=0)), 0).label("p"),
        )
        .group_by(LedgerEntry.member_id)
        .subquery()
    )
    q = select(Member.id, Member.points_available, Member.points_pending,
               func.coalesce(sums.c.a, 0), func.coalesce(sums.c.p, 0)).outerjoin(sums, sums.c.member_id == Member.id)
    if shop_id is not None:
        q = q.where(Member.shop_id == shop_id)
    out = []
    for mid, ca, cp, la, lp in db.session.execute(q):
        if int(ca) != int(la) or int(cp) != int(lp):
            out.append(BalanceMismatch(mid, int(ca), int(cp), int(la), int(lp)))
    return out
