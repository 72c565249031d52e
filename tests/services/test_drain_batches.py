"""The drain processes several deliveries per transaction, isolated by savepoints (one per chunk of deliveries,
and one of its own for a delivery that broke its chunk). What must hold:

- a delivery that meets another transaction's lock (past the drain's lock wait) is left exactly as it was,
  with no attempt counted, and the rest of its batch commits; the next claim processes it;
- a handler's exception marks only its own delivery (retry, attempt counted, error kept);
- two drains running at once over deliveries that share members and orders (they deadlock without the lock
  wait) end with the ledger a single in-order drain gives, no delivery failed or retried, the cached balances
  equal to the ledger and the dashboard's rollup equal to a full rebuild.

On PostgreSQL, with real concurrent transactions (threads, each with its own app context and session).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from app.extensions import db
from app.models import LedgerEntry, Member, Order, OutboxEvent, Shop, WebhookDelivery, utcnow
from app.services import analytics, deliveries
from app.services.deliveries import drain, process_batch, store_delivery
from app.services.ledger import balance_mismatches
from app.services.topics import dispatch
from bench.engine.run import workload
from tests.services.engine_fixtures import customer_payload, order_payload

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app: Any) -> Any:
    """conftest's app on PostgreSQL (its in-process jobs are unused here: deliveries are stored and drained by
    hand)."""
    return pg_app


def add_shop(app: Any, domain: str, **settings: Any) -> int:
    with app.app_context():
        now = utcnow()
        shop = Shop(domain=domain, settings=dict(settings), installed_at=now, access_token="tok", created_at=now,
                    updated_at=now)
        db.session.add(shop)
        db.session.commit()
        return int(shop.id)


def shop_with_two_members(app: Any, domain: str) -> int:
    """A shop (no pending days) whose customers 1 and 2 signed up, their sign-ups drained; returns its id."""
    shop_id = add_shop(app, domain, pending_days=0)
    store(app, [(domain, "customers/create", customer_payload(c, email=f"c{c}@x.test")) for c in (1, 2)])
    with app.app_context():
        assert drain(dispatch, 5) == 2
    return shop_id


def store(app: Any, events: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    """Stores (shop domain, topic, payload) deliveries as the receiver does, committed, not processed yet."""
    ids = []
    with app.app_context():
        for domain, topic, payload in events:
            new, _ = store_delivery(shop_domain=domain, topic=topic, webhook_id=str(uuid.uuid4()),
                                    event_id=str(uuid.uuid4()), triggered_at=utcnow(), api_version="2026-10",
                                    body=json.dumps(payload))
            assert new is not None
            ids.append(new)
    return ids


def delivery_rows(app: Any, ids: list[int] | None = None) -> dict[int, tuple[str, int, str | None, Any]]:
    with app.app_context():
        q = select(WebhookDelivery.id, WebhookDelivery.status, WebhookDelivery.attempts, WebhookDelivery.last_error,
                   WebhookDelivery.next_attempt_at)
        if ids is not None:
            q = q.where(WebhookDelivery.id.in_(ids))
        rows = {r[0]: tuple(r[1:]) for r in db.session.execute(q)}
        db.session.rollback()
        return rows  # type: ignore[return-value]


def ledger_of(app: Any, shop_id: int) -> Counter[tuple[Any, ...]]:
    """Every entry of the shop, by customer (member ids differ between shops), as a multiset."""
    with app.app_context():
        rows = db.session.execute(
            select(Member.customer_id, LedgerEntry.idempotency_key, LedgerEntry.kind, LedgerEntry.status,
                   LedgerEntry.points, LedgerEntry.forgiven_points)
            .join(Member, Member.id == LedgerEntry.member_id).where(LedgerEntry.shop_id == shop_id)).all()
        db.session.rollback()
        return Counter(tuple(r) for r in rows)


def outcome_of(app: Any, shop_id: int) -> tuple[dict[int, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    """What must not depend on the order events were processed in: members' balances and order figures,
    and each order's points (as the engine's permutation property states it)."""
    with app.app_context():
        members = {m.customer_id: (m.points_available + m.points_pending, m.orders_count, m.lifetime_spent,
                                   m.enrolled_at is not None)
                   for m in db.session.execute(select(Member).where(Member.shop_id == shop_id)).scalars()}
        orders = {o.order_id: (o.points_given, o.points_target, o.counted, o.eligible_amount, o.cancelled,
                               o.subtotal, o.total_price)
                  for o in db.session.execute(select(Order).where(Order.shop_id == shop_id)).scalars()}
        db.session.rollback()
        return members, orders


def rollup_of(app: Any, shop_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with app.app_context():
        facts = db.session.execute(text(
            "SELECT id, customer_id, processed_at, total_price, first_at, prev_at, prev2_at, member_before_at, "
            "member_after_at FROM analytics_orders WHERE shop_id = :s ORDER BY id"), {"s": shop_id}).all()
        customers = db.session.execute(text(
            "SELECT customer_id, is_member, first_order_at, second_order_at, last_order_at, orders_count, revenue "
            "FROM analytics_customers WHERE shop_id = :s ORDER BY customer_id"), {"s": shop_id}).all()
        db.session.rollback()
        return [tuple(r) for r in facts], [tuple(r) for r in customers]


def run_together(app: Any, work: list[Callable[[], Any]]) -> list[Any]:
    """Runs each callable in its own thread with its own app context (so its own session and connection)."""
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with app.app_context():
                results[i] = work[i]()
                db.session.remove()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a drain never finished"
    if errors:
        raise errors[0]
    return results


# --- contention: left as it was, the batch commits ------------------------------------------------------


def test_a_delivery_meeting_a_held_lock_is_left_untouched_and_the_rest_of_its_batch_commits(app: Any, pg_url: str):
    domain = "lock.myshopify.com"
    shop_id = shop_with_two_members(app, domain)
    ids = store(app, [(domain, "orders/paid", order_payload(101, 1, name="#101")),
                      (domain, "orders/paid", order_payload(102, 2, name="#102")),
                      (domain, "orders/paid", order_payload(103, 1, name="#103"))])

    # Another transaction (an admin adjustment, say) holds member 1's row for longer than the drain waits.
    eng = create_engine(pg_url)
    conn = eng.connect()
    tx = conn.begin()
    conn.execute(text("SELECT id FROM members WHERE customer_id = 1 FOR UPDATE"))
    try:
        with app.app_context():
            result = process_batch(dispatch, 5, batch=10)
        assert (result.claimed, result.handled, result.contended) == (3, 1, 2)
        rows = delivery_rows(app, ids)
        # Untouched: still due, no attempt counted, no error, no backoff.
        assert rows[ids[0]] == ("received", 0, None, None)
        assert rows[ids[2]] == ("received", 0, None, None)
        assert rows[ids[1]][:3] == ("processed", 0, None)
        with app.app_context():
            assert db.session.execute(select(Order.order_id).where(Order.shop_id == shop_id)).scalars().all() == [102]
            db.session.rollback()
    finally:
        tx.rollback()
        conn.close()
        eng.dispose()

    # The lock is gone: the next claim takes the two left behind.
    with app.app_context():
        assert drain(dispatch, 5) == 2
        assert balance_mismatches(shop_id) == []
    assert {r[:3] for r in delivery_rows(app, ids).values()} == {("processed", 0, None)}
    members, orders = outcome_of(app, shop_id)
    assert orders[101][0] == orders[103][0] > 0 and orders[102][0] > 0


def test_a_handler_exception_marks_only_its_delivery_and_the_rest_of_the_batch_commits(app: Any):
    domain = "fail.myshopify.com"
    shop_id = shop_with_two_members(app, domain)
    ids = store(app, [(domain, "orders/paid", order_payload(201, 1, name="#201")),
                      (domain, "orders/paid", order_payload(202, 2, name="#202")),
                      (domain, "orders/paid", order_payload(203, 1, name="#203"))])

    def flaky(delivery: WebhookDelivery) -> str:
        outcome = dispatch(delivery)  # its writes happen, then it fails: they must all be rolled back
        if delivery.id == ids[1]:
            raise RuntimeError("handler broke")
        return outcome

    with app.app_context():
        result = process_batch(flaky, 5, batch=10)
    assert (result.claimed, result.handled, result.contended) == (3, 3, 0)
    rows = delivery_rows(app, ids)
    assert rows[ids[0]][:3] == ("processed", 0, None) and rows[ids[2]][:3] == ("processed", 0, None)
    status, attempts, error, retry_at = rows[ids[1]]
    assert (status, attempts) == ("retry", 1) and "handler broke" in (error or "") and retry_at is not None
    _, orders = outcome_of(app, shop_id)
    assert sorted(orders) == [201, 203]
    with app.app_context():
        assert balance_mismatches(shop_id) == []
        # The chunk ran again after the failure (see deliveries._process): what the first run did was rolled
        # back with it, so each order earned once and told the outbox once.
        earned = db.session.execute(select(LedgerEntry.source_id).where(
            LedgerEntry.shop_id == shop_id, LedgerEntry.kind == "earn_order")).scalars().all()
        assert sorted(earned) == ["201", "203"]
        told = [e.payload.get("order_id") for e in db.session.execute(select(OutboxEvent).where(
            OutboxEvent.shop_id == shop_id, OutboxEvent.kind == "points_earned")).scalars()]
        assert sorted(o for o in told if o) == ["201", "203"]
        db.session.rollback()


def test_a_rollup_refresh_failing_at_the_end_of_the_batch_is_marked_on_its_delivery_alone(app: Any,
                                                                                          monkeypatch: Any):
    """The rollup is refreshed once per customer at the end of the batch. If that fails, the batch is done again
    with each delivery refreshing its own customers, so the failure lands on the delivery that caused it."""
    domain = "rollup.myshopify.com"
    shop_id = shop_with_two_members(app, domain)
    ids = store(app, [(domain, "orders/paid", order_payload(401, 1, name="#401")),
                      (domain, "orders/paid", order_payload(402, 2, name="#402"))])
    real = analytics.refresh_customers

    def refresh(shop: int, customers: Any) -> None:
        customers = list(customers)
        if 2 in customers:
            raise RuntimeError("rollup broke on customer 2")
        real(shop, customers)

    monkeypatch.setattr(analytics, "refresh_customers", refresh)
    with app.app_context():
        result = process_batch(dispatch, 5, batch=10)
    assert (result.claimed, result.handled, result.contended) == (2, 2, 0)
    rows = delivery_rows(app, ids)
    assert rows[ids[0]][:3] == ("processed", 0, None)
    status, attempts, error, _ = rows[ids[1]]
    assert (status, attempts) == ("retry", 1) and "rollup broke on customer 2" in (error or "")
    _, orders = outcome_of(app, shop_id)
    assert sorted(orders) == [401]
    facts, customers = rollup_of(app, shop_id)
    assert [c[0] for c in customers] == [1] and len(facts) == 1


# --- two drains at once ---------------------------------------------------------------------------------


def test_two_drains_crossing_on_two_members_do_not_fail_a_delivery(app: Any, monkeypatch: Any):
    """Drain A holds member 1 and wants member 2 while drain B holds member 2 and wants member 1: a deadlock
    for PostgreSQL. The lock wait ends it before the deadlock detector would; nothing fails, nothing is
    retried with backoff, and the deliveries left behind are processed by the next claim."""
    domain = "cross.myshopify.com"
    shop_id = shop_with_two_members(app, domain)
    ids = store(app, [(domain, "orders/paid", order_payload(301, 1, name="#301")),
                      (domain, "orders/paid", order_payload(302, 2, name="#302")),
                      (domain, "orders/paid", order_payload(303, 2, name="#303")),
                      (domain, "orders/paid", order_payload(304, 1, name="#304"))])
    # Both drains have done their first delivery (and hold its member) before either starts its second.
    barrier = threading.Barrier(2, timeout=30)
    seen: dict[int, int] = {}

    def crossing(delivery: WebhookDelivery) -> str:
        key = threading.get_ident()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            barrier.wait()
        return dispatch(delivery)

    first, second = run_together(app, [lambda: process_batch(crossing, 5, batch=2),
                                       lambda: process_batch(crossing, 5, batch=2)])
    assert first.claimed == second.claimed == 2
    assert first.contended + second.contended >= 1
    rows = delivery_rows(app, ids)
    assert all(attempts == 0 and error is None and status in ("received", "processed")
               for status, attempts, error, _ in rows.values()), rows
    with app.app_context():
        drain(dispatch, 5)
        assert balance_mismatches(shop_id) == []
    assert {r[:3] for r in delivery_rows(app, ids).values()} == {("processed", 0, None)}
    _, orders = outcome_of(app, shop_id)
    assert sorted(orders) == [301, 302, 303, 304] and all(o[0] > 0 for o in orders.values())


def _drained_once_and_twice(app: Any, make_events: Callable[[str], list[tuple[str, str, dict[str, Any]]]],
                            sign_ups: Callable[[str], list[tuple[str, str, dict[str, Any]]]],
                            monkeypatch: Any, batch: int) -> tuple[int, int]:
    """The same shop life twice (same customer and order ids, each shop its own): one in order by a single
    drain, one by two drains at once. Returns the two shop ids."""
    monkeypatch.setattr(deliveries, "DRAIN_BATCH", batch)
    ids = {}
    for domain in ("single.myshopify.com", "pair.myshopify.com"):
        ids[domain] = add_shop(app, domain, pending_days=0)
        store(app, sign_ups(domain))
        with app.app_context():
            drain(dispatch, 5)
    store(app, make_events("single.myshopify.com"))
    with app.app_context():
        drain(dispatch, 5)
    stored = store(app, make_events("pair.myshopify.com"))
    done = run_together(app, [lambda: drain(dispatch, 5), lambda: drain(dispatch, 5)])
    assert sum(done) == len(stored) and all(done)  # both drains took part
    rows = delivery_rows(app)
    assert Counter(status for status, *_ in rows.values()) == Counter({"processed": len(rows)})
    assert all(attempts == 0 and error is None for _, attempts, error, _ in rows.values())
    with app.app_context():
        assert balance_mismatches() == []
    return ids["single.myshopify.com"], ids["pair.myshopify.com"]


@pytest.mark.parametrize("batch", [5, 20])
def test_two_drains_over_shared_members_give_exactly_the_in_order_ledger(app: Any, monkeypatch: Any, batch: int):
    """Paid orders from a handful of members, so the two drains' batches keep meeting on the same members
    (and a crossing deadlocks without the lock wait): the ledger is the in-order drain's, entry for entry."""
    customers = list(range(1, 7))

    def sign_ups(domain: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [(domain, "customers/create", customer_payload(c, email=f"c{c}@x.test")) for c in customers]

    def events(domain: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [(domain, "orders/paid", order_payload(1000 + i, customers[(i * 7) % len(customers)],
                                                      subtotal=f"{10 + i % 37}.50", name=f"#{1000 + i}"))
                for i in range(120)]

    single, pair = _drained_once_and_twice(app, events, sign_ups, monkeypatch, batch)
    assert ledger_of(app, pair) == ledger_of(app, single)
    assert outcome_of(app, pair) == outcome_of(app, single)
    assert rollup_of(app, pair)[1] == rollup_of(app, single)[1]


def test_two_drains_over_a_shop_life_give_the_in_order_outcome_and_rollup(app: Any, monkeypatch: Any):
    """A shop's life as the stand-in store plays it (paid orders, partial refunds with their orders/updated,
    edits, cancellations, guests, customers never seen) over few customers: two drains end where one in-order
    drain ends (balances, order figures and points), and the rollup equals a full rebuild."""
    lives = {d: workload(150, 12, 7, shop=d) for d in ("single.myshopify.com", "pair.myshopify.com")}
    single, pair = _drained_once_and_twice(app, lambda d: lives[d][1], lambda d: lives[d][0], monkeypatch, 10)
    assert outcome_of(app, pair) == outcome_of(app, single)
    kept = rollup_of(app, pair)
    assert kept[0]
    with app.app_context():
        analytics.refresh_shop(pair)
    assert rollup_of(app, pair) == kept
