"""The relay: the outbox's one reader. It hands every event to each enabled destination (Shopify Flow,
Klaviyo, merchants' webhook endpoints) at least once, in order per member, with the event's stable id,
retrying with backoff until a dead letter the merchant sees and replays (app/services/events.py).

Two steps, each its own transaction, so a crash anywhere loses nothing:
1. fan-out: outbox events not yet relayed become one `event_deliveries` row per destination, and the
   event is marked relayed, in one commit;
2. delivery: due deliveries are claimed (SKIP LOCKED, none while an earlier one of the same member to the
   same destination is still pending) under a lease, sent, and their outcome committed. A relay killed
   between sending and committing sends again after the lease: destinations drop repeats by the event id.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import (
    EventDelivery,
    OutboxEvent,
    Shop,
    ShopIntegration,
    WebhookEndpoint,
    utcnow,
)
from app.services.destinations import (
    KLAVIYO_EVENTS,
    Claimed,
    Job,
    Outcome,
    default_poster,
    flow_send,
    prepare,
)
from app.services.events import event_type
from app.shopify.flow import trigger_handle
from app.signed_webhooks import WebhookPoster

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FAN_OUT_BATCH = 2000
DELIVER_BATCH = 1000
THREADS = 16


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 10 s, 40 s, 160 s, ≈ 11 min, ≈ 43 min, ≈ 3 h, then 6 h."""
    return timedelta(seconds=min(6 * 3600, 10 * 4 ** max(0, attempts - 1)))


@dataclass
class RelayRun:
    fanned_out: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0

    def add(self, other: RelayRun) -> None:
        for k in ("fanned_out", "delivered", "retried", "dead", "skipped"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("fanned_out", "delivered", "retried", "dead", "skipped")}


# ----------------------------------------------------------------------------------------- fan-out


@dataclass
class _ShopDestinations:
    active: bool
    webhooks: list[tuple[int, frozenset[str]]] = field(default_factory=list)
    flow_all: bool = False
    flow_handles: frozenset[str] = frozenset()
    klaviyo: bool = False

    def for_event(self, etype: str, data: dict[str, Any], member: bool = True) -> list[str]:
        if not self.active:
            return []
        out = [f"webhook:{eid}" for eid, types in self.webhooks if not types or etype in types]
        handle = trigger_handle(etype, data)
        if handle and (self.flow_all or handle in self.flow_handles):
            out.append("flow")
        if self.klaviyo and (etype in KLAVIYO_EVENTS or member):
            out.append("klaviyo")
        return out


def _destinations(shop_ids: Iterable[int]) -> dict[int, _ShopDestinations]:
    ids = sorted(set(shop_ids))
    shops = {s.id: s for s in db.session.execute(select(Shop).where(Shop.id.in_(ids))).scalars()}
    out = {sid: _ShopDestinations(active=bool(s.active)) for sid, s in shops.items()}
    for ep in db.session.execute(select(WebhookEndpoint).where(
            WebhookEndpoint.shop_id.in_(ids), WebhookEndpoint.deleted_at.is_(None))).scalars():
        if ep.shop_id in out:
            out[ep.shop_id].webhooks.append((ep.id, frozenset(ep.events or [])))
    for row in db.session.execute(select(ShopIntegration).where(ShopIntegration.shop_id.in_(ids))).scalars():
        d = out.get(row.shop_id)
        if d is None:
            continue
        has_token = bool(shops[row.shop_id].access_token)
        d.flow_all = bool(row.flow_enabled) and has_token
        d.flow_handles = frozenset(h for h, on in (row.flow_triggers or {}).items() if on) if has_token else frozenset()
        d.klaviyo = bool(row.klaviyo_enabled and row.klaviyo_private_key)
    return out


def fan_out(now: datetime | None = None, limit: int = FAN_OUT_BATCH) -> int:
    """Relays up to `limit` outbox events into deliveries; returns how many events. Commits."""
    now = now or utcnow()
    rows = db.session.execute(
        select(OutboxEvent.id, OutboxEvent.shop_id, OutboxEvent.member_id, OutboxEvent.kind, OutboxEvent.payload)
        .where(OutboxEvent.processed_at.is_(None)).order_by(OutboxEvent.id).limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        db.session.rollback()
        return 0
    dests = _destinations(r.shop_id for r in rows)
    deliveries = []
    for r in rows:
        d = dests.get(r.shop_id)
        for dest in d.for_event(event_type(r.kind), r.payload or {}, r.member_id is not None) if d else []:
            deliveries.append({"shop_id": r.shop_id, "event_id": r.id, "member_id": r.member_id, "destination": dest,
                               "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
                               "updated_at": now})
    if deliveries:
        db.session.execute(insert(EventDelivery), deliveries)
    db.session.execute(update(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in rows]))
                       .values(processed_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    return len(rows)


# ----------------------------------------------------------------------------------------- delivery


def claim(now: datetime, limit: int) -> list[Claimed]:
    """Due deliveries, oldest first, none behind an earlier pending one of the same member and destination;
    leased (next attempt pushed past the lease) and committed, so a second relay does not take them too."""
    earlier = aliased(EventDelivery)
    blocked = (select(earlier.id).where(
        earlier.destination == EventDelivery.destination, earlier.member_id == EventDelivery.member_id,
        earlier.status == "pending", earlier.id < EventDelivery.id).exists())
    due = (select(EventDelivery.id)
           .where(EventDelivery.status == "pending", EventDelivery.next_attempt_at <= now, ~blocked)
           .order_by(EventDelivery.id).limit(limit).with_for_update(skip_locked=True))
    lease = timedelta(seconds=current_app.config["REGULARS"].relay_lease_seconds)
    # One statement: lock, lease and read back (plain values: the commit would expire ORM objects).
    rows = sorted((Claimed(*r) for r in db.session.execute(
        update(EventDelivery).where(EventDelivery.id.in_(due.scalar_subquery())).values(next_attempt_at=now + lease)
        .returning(EventDelivery.id, EventDelivery.shop_id, EventDelivery.event_id, EventDelivery.member_id,
                   EventDelivery.destination, EventDelivery.attempts)
        .execution_options(synchronize_session=False)).all()), key=lambda c: c.id)
    db.session.commit()
    return rows


def _run_chain(chain: list[Job]) -> list[tuple[Job, Outcome | None]]:
    """One member's deliveries to one destination, in order; after a failure the rest wait (None)."""
    out: list[tuple[Job, Outcome | None]] = []
    failed = False
    for job in chain:
        if failed:
            out.append((job, None))
            continue
        try:
            outcome = job.send() if job.send else Outcome("dead", error="nothing to send")
        except Exception as exc:  # a bug in one sender must not stop the others
            log.exception("delivery %s failed", job.delivery_id)
            outcome = Outcome("retry", error=f"{type(exc).__name__}: {exc}"[:500])
        out.append((job, outcome))
        failed = outcome.status == "retry"
    return out


def deliver_due(now: datetime | None = None, limit: int = DELIVER_BATCH, *, threads: int = THREADS,
                poster: WebhookPoster | None = None) -> RelayRun:
    """Claims and sends one batch of due deliveries; commits their outcomes."""
    now = now or utcnow()
    rows = claim(now, limit)
    run = RelayRun()
    if not rows:
        return run
    poster = poster or default_poster()
    jobs = prepare(rows, poster)
    chains: dict[tuple[str, int], list[Job]] = defaultdict(list)
    for job in jobs:
        chains[(job.destination, job.member_id if job.member_id is not None else -job.delivery_id)].append(job)
    flow_chains = [c for k, c in chains.items() if k[0] == "flow"]
    http_chains = [c for k, c in chains.items() if k[0] != "flow"]
    results: list[tuple[Job, Outcome | None]] = []
    for chain in flow_chains:  # Admin GraphQL goes through the session (tokens): this thread only
        for job in chain:
            job.send = lambda job=job: flow_send(job)
        results += _run_chain(chain)
    if len(http_chains) > 1 and threads > 1:
        with ThreadPoolExecutor(max_workers=min(threads, len(http_chains))) as pool:
            for part in pool.map(_in_app(_run_chain), http_chains):
                results += part
    else:
        for chain in http_chains:
            results += _run_chain(chain)
    updates = []
    for job, outcome in results:
        if outcome is None:  # waited behind a failure: due again with the one it waits for
            continue
        attempts = job.attempts + (1 if outcome.counts else 0)
        status = outcome.status
        values: dict[str, Any] = {"id": job.delivery_id, "attempts": attempts, "updated_at": now,
                                  "last_status": outcome.http_status, "last_error": outcome.error}
        if status == "retry" and attempts >= MAX_ATTEMPTS:
            status = "dead"
        if status == "retry":
            wait = timedelta(seconds=outcome.retry_after) if outcome.retry_after else backoff(attempts)
            values.update(status="pending", next_attempt_at=now + wait)
            run.retried += 1
        elif status == "delivered":
            values.update(status="delivered", delivered_at=now, last_error=None)
            run.delivered += 1
        elif status == "skipped":
            values.update(status="skipped")
            run.skipped += 1
        else:
            values.update(status="dead")
            run.dead += 1
            log.warning("delivery %s to %s is dead: %s", job.delivery_id, job.destination, outcome.error)
        updates.append(values)
    waiting = [job.delivery_id for job, outcome in results if outcome is None]
    if updates:
        db.session.execute(update(EventDelivery), updates)
    if waiting:
        db.session.execute(update(EventDelivery).where(EventDelivery.id.in_(waiting))
                           .values(next_attempt_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    return run


def _in_app(fn: Callable[[list[Job]], list[tuple[Job, Outcome | None]]]) -> Callable[[list[Job]], Any]:
    """Runs fn in a worker thread inside the caller's app context (the Klaviyo client lives on the app)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run(chain: list[Job]) -> Any:
        with app.app_context():
            return fn(chain)

    return run


def relay(now: datetime | None = None, *, rounds: int = 50, poster: WebhookPoster | None = None,
          threads: int = THREADS) -> RelayRun:
    """Fan-out then delivery until nothing is due (bounded by `rounds`). What the relay job runs."""
    total = RelayRun()
    for _ in range(rounds):
        at = now or utcnow()
        total.fanned_out += fan_out(at)
        batch = deliver_due(at, poster=poster, threads=threads)
        total.add(batch)
        if not batch.delivered + batch.retried + batch.dead + batch.skipped and not _outbox_waiting():
            break
    return total


def _outbox_waiting() -> bool:
    return db.session.execute(select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None)).limit(1)).first() is not None


def work_waiting(now: datetime | None = None) -> bool:
    """Whether a relay run would find anything (outbox not relayed, or a delivery due)."""
    now = now or utcnow()
    if _outbox_waiting():
        return True
    return db.session.execute(select(EventDelivery.id).where(
        EventDelivery.status == "pending", EventDelivery.next_attempt_at <= now).limit(1)).first() is not None


__all__ = ["MAX_ATTEMPTS", "RelayRun", "backoff", "claim", "deliver_due", "fan_out", "relay", "work_waiting"]
