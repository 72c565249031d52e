"""Posting to the ledger: one entry per change, idempotent per shop, cached balances moved under the member lock.

Every other service changes points only through `post_entry`, inside its own transaction, with the
member row locked by `lock_member` first. Callers commit (services own the transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from app.extensions import db
from app.loyalty import ledger as rules
from app.models import LedgerEntry, Member, OutboxEvent, utcnow

# Kinds that count as activity for inactivity expiry: earning or spending, not expiry or admin fixes.
_ACTIVITY_KINDS = rules.EARNING_KINDS | {rules.REDEEM}


_LOCK_MEMBER = select(Member).where(Member.id == bindparam("member_id")).with_for_update()


def lock_member(member_id: int) -> Member:
    """The member row, locked FOR UPDATE until the transaction ends: balances move one writer at a time."""
    member: Member = db.session.execute(
        _LOCK_MEMBER, {"member_id": member_id}, execution_options={"populate_existing": True}
    ).scalar_one()
    return member


# Built once per set of columns given (None values are left to the column's default, SQL NULL): the
# hot path then only binds parameters, with no statement construction or cache-key work per entry.
_ENTRY_INSERTS: dict[frozenset[str], Any] = {}


def _entry_insert(columns: frozenset[str]) -> Any:
    stmt = _ENTRY_INSERTS.get(columns)
    if stmt is None:
        table = LedgerEntry.__table__
        stmt = (
            pg_insert(table)
            .values({c: bindparam(c, type_=table.c[c].type) for c in sorted(columns)})
            .on_conflict_do_nothing(index_elements=["shop_id", "idempotency_key"])
            .returning(table.c.id)
        )
        _ENTRY_INSERTS[columns] = stmt
    return stmt


def adopt_inserted(model: type[Any], values: dict[str, Any]) -> Any:
    """The ORM object of a row this transaction just inserted with Core (values include the id): attached
    to the session as persistent, every column loaded, with no SELECT and no second INSERT."""
    columns = {c.key: None for c in model.__table__.columns}
    obj = model(**{**columns, **values})
    make_transient_to_detached(obj)
    db.session.add(obj)
    return obj


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
    occurred_at: datetime | None = None,
    emit: str | None = None,
    emit_payload: dict[str, Any] | None = None,
) -> tuple[LedgerEntry, bool]:
    """Appends one entry unless its idempotency key is already used; returns (entry, created).

    The member must be locked by this transaction (lock_member). The cached balances, lifetime points
    and last activity move in the same transaction; the write-back is requested and, when `emit` names
    a domain event, it goes to the outbox with the entry.

    `now` is when the entry is recorded (created_at); `occurred_at` when what it records happened (the
    order's payment, the refund, the moment pending points became spendable), `now` when not given and
    never later than `now`. Windows, expiry's inactivity and history read occurred_at.
    """
    if kind not in rules.ENTRY_KINDS:
        raise ValueError(f"unknown ledger kind {kind!r}")
    if status not in rules.STATUSES:
        raise ValueError(f"unknown ledger status {status!r}")
    now = now or utcnow()
    occurred = min(occurred_at, now) if occurred_at is not None else now
    values: dict[str, Any] = dict(
        shop_id=member.shop_id, member_id=member.id, points=int(points), kind=kind, source=source,
        source_id=source_id, status=status, available_at=available_at, idempotency_key=idempotency_key,
        snapshot=snapshot, order_ref_id=order_ref_id, reason=reason, note=note, actor=actor,
        forgiven_points=forgiven_points, occurred_at=occurred, created_at=now,
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # One statement on the hot path: the unique index on (shop, key) decides, with no read before the
        # insert and no savepoint around it. A key already used returns no row; the entry is read then.
        given = {k: v for k, v in values.items() if v is not None}
        new_id = db.session.execute(_entry_insert(frozenset(given)), given).scalar_one_or_none()
        if new_id is None:
            again = find_entry(member.shop_id, idempotency_key)
            if again is None:  # pragma: no cover - a conflict means the row exists
                raise RuntimeError(f"ledger key {idempotency_key!r} conflicted but is not there")
            return again, False
        entry = adopt_inserted(LedgerEntry, {**values, "id": new_id})
    else:
        existing = find_entry(member.shop_id, idempotency_key)
        if existing is not None:
            return existing, False
        entry = LedgerEntry(**values)
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
        # Inactivity runs from the latest activity by when it happened: a late webhook of an old order
        # does not make the member look active today.
        last = member.last_activity_at
        member.last_activity_at = occurred if last is None else max(last, occurred)
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
    """Adds a domain event to the outbox in the caller's transaction; its one reader is the relay (app.services.relay)."""
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
