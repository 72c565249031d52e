"""The event bus: every outbox event reaches each enabled destination (signed webhooks, Klaviyo, Shopify
Flow) with its stable id, in order per member, retried with backoff into a visible, replayable dead letter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import EventDelivery, Member, OutboxEvent, Shop, utcnow
from app.services import events as events_service
from app.services.adjustments import adjust_points
from app.services.members import enroll
from app.services.relay import MAX_ATTEMPTS, backoff, deliver_due, relay
from devstore.klaviyo import FakeKlaviyo, serve_klaviyo
from devstore.receiver import Receiver
from tests.conftest import make_config, truncate_all
from tests.rewards_fixtures import SHOP, env, make_member, shop_of  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def dev_app(pg_url: str) -> Iterator[Any]:
    """The app in development (loopback endpoints allowed), jobs in-process, with an installed shop."""
    fake = FakeKlaviyo()
    server, url = serve_klaviyo(fake)
    app = create_app(make_config(env="development", database_url=pg_url, klaviyo_api_origin=url))
    with app.app_context():
        shop = Shop(domain=SHOP, settings={}, installed_at=utcnow(), access_token="tok", created_at=utcnow(),
                    updated_at=utcnow())
        db.session.add(shop)
        db.session.commit()
        app.config["TEST_SHOP_ID"] = shop.id
        app.config["TEST_KLAVIYO"] = fake
        yield app
        db.session.remove()
        db.engine.dispose()
    server.shutdown()
    truncate_all(pg_url)


def _shop(app: Any) -> Shop:
    shop = db.session.get(Shop, app.config["TEST_SHOP_ID"])
    assert shop is not None
    return shop


def _endpoint(app: Any, receiver: Receiver, events: list[str] | None = None) -> Any:
    ep = events_service.create_endpoint(_shop(app), {"url": receiver.url, **({"events": events} if events else {})},
                                        development=True)
    receiver.secret = ep.secret
    return ep


def _members(app: Any, n: int) -> list[Member]:
    return [enroll(_shop(app), 7_000_000_000_000_000 + i) for i in range(n)]


def _outbox_ids(shop_id: int) -> list[str]:
    return [str(i) for i in db.session.execute(select(OutboxEvent.id).where(OutboxEvent.shop_id == shop_id)
                                               .order_by(OutboxEvent.id)).scalars()]


def test_every_event_reaches_the_endpoint_signed_once_in_order_per_member(dev_app, receiver):
    _endpoint(dev_app, receiver)
    members = _members(dev_app, 3)  # sign-up bonuses: events committed, relayed right after the commit
    for round_ in range(4):
        for m in members:
            adjust_points(_shop(dev_app), m, points=10 + round_, reason="test", actor="test")
    relay()
    ids = _outbox_ids(dev_app.config["TEST_SHOP_ID"])
    assert sorted(receiver.ids(), key=int) == ids  # each event once, by its id
    assert receiver.bad_signatures == 0
    by_customer: dict[str, list[int]] = {}
    for event in receiver.events():
        assert set(event) >= {"id", "type", "shop", "occurred_at", "data"} and event["shop"] == SHOP
        by_customer.setdefault(event["customer_id"], []).append(int(event["id"]))
    assert all(seq == sorted(seq) for seq in by_customer.values()) and len(by_customer) == 3
    types = {e["type"] for e in receiver.events()}
    assert {"points.earned", "points.adjusted"} <= types
    first = receiver.received[0]
    assert first["headers"]["x-regulars-event-id"] == first["event"]["id"]
    body = json.dumps(first["event"], separators=(",", ":"), ensure_ascii=False).encode()
    want = base64.b64encode(hmac.new(receiver.secret.encode(), body, hashlib.sha256).digest()).decode()
    assert first["headers"]["x-regulars-hmac-sha256"] == want


def test_an_endpoint_gets_only_the_types_it_asked_for(dev_app, receiver):
    _endpoint(dev_app, receiver, events=["points.adjusted"])
    (m,) = _members(dev_app, 1)
    adjust_points(_shop(dev_app), m, points=5, reason="test", actor="test")
    relay()
    assert [e["type"] for e in receiver.events()] == ["points.adjusted"]


def test_a_failing_endpoint_is_retried_with_backoff_keeps_order_then_dead_and_replayed(dev_app, receiver):
    _endpoint(dev_app, receiver)
    receiver.fail_all = 503
    ana, bea = _members(dev_app, 2)
    adjust_points(_shop(dev_app), ana, points=5, reason="second", actor="test")
    receiver.fail_all = None
    receiver.fail_next = []
    now = utcnow()
    # Ana's first event failed once: her second waits behind it, Bea's (failed too) retries after 10 s.
    rows = db.session.execute(select(EventDelivery).order_by(EventDelivery.id)).scalars().all()
    assert [r.status for r in rows] == ["pending"] * 3 and rows[0].attempts == 1
    assert rows[0].next_attempt_at > now + timedelta(seconds=5)
    assert receiver.ids() == []
    receiver.fail_all = 500
    at = now
    for attempt in range(2, MAX_ATTEMPTS + 1):
        at += backoff(attempt - 1) + timedelta(seconds=1)
        deliver_due(at)
    db.session.expire_all()
    rows = db.session.execute(select(EventDelivery).order_by(EventDelivery.id)).scalars().all()
    assert [r.status for r in rows[:2]] == ["dead", "dead"]  # Ana's first, Bea's: each after MAX_ATTEMPTS
    assert rows[0].attempts == MAX_ATTEMPTS and "500" in (rows[0].last_error or "")
    # Ana's second was never sent before her first: in order per member.
    assert rows[2].attempts == 0
    receiver.fail_all = None
    deliver_due(at + timedelta(seconds=1))  # no longer blocked by a pending earlier one
    dead = events_service.list_deliveries(_shop(dev_app), status="dead")
    assert len(dead) == 2
    assert events_service.replay_deliveries(_shop(dev_app), dead=True) == 2
    relay()
    assert sorted(receiver.ids(), key=int) == _outbox_ids(dev_app.config["TEST_SHOP_ID"])


def test_klaviyo_gets_events_with_the_id_and_the_members_loyalty_properties(dev_app):
    fake: FakeKlaviyo = dev_app.config["TEST_KLAVIYO"]
    events_service.update_integrations(_shop(dev_app), {"klaviyo": {"private_key": "pk_test_0123456789"}})
    (ana,) = _members(dev_app, 1)
    adjust_points(_shop(dev_app), ana, points=40, reason="test", actor="test")  # points.adjusted: not a Klaviyo metric
    relay()
    earned = [e for e in fake.events if e["metric"] == "Points Earned"]
    assert len(earned) == 1
    assert earned[0]["unique_id"] == _outbox_ids(dev_app.config["TEST_SHOP_ID"])[0]
    assert earned[0]["revision"] == "2026-10-15"
    props = fake.profiles[str(ana.customer_id)]["properties"]
    assert props["Loyalty Points"] == 140 and props["Loyalty Points Pending"] == 0
    # A delivery replayed is dropped by Klaviyo by its unique_id: still one event.
    db.session.execute(EventDelivery.__table__.update().values(status="dead"))
    db.session.commit()
    events_service.replay_deliveries(_shop(dev_app), dead=True)
    relay()
    assert len([e for e in fake.events if e["metric"] == "Points Earned"]) == 1 and fake.duplicates == 1


def test_klaviyo_rate_limit_answer_is_retried_later_not_lost(dev_app):
    fake: FakeKlaviyo = dev_app.config["TEST_KLAVIYO"]
    events_service.update_integrations(_shop(dev_app), {"klaviyo": {"private_key": "pk_test_0123456789"}})
    fake.fail_next = [429]
    _members(dev_app, 1)
    rows = db.session.execute(select(EventDelivery)).scalars().all()
    assert [(r.status, r.last_status) for r in rows] == [("pending", 429)]
    deliver_due(utcnow() + timedelta(seconds=2))
    db.session.expire_all()
    assert [r.status for r in db.session.execute(select(EventDelivery)).scalars()] == ["delivered"]
    assert len(fake.events) == 1


def test_flow_triggers_go_to_shopify_only_once_turned_on(env):  # noqa: F811
    store = env["store"]
    with env["app"].app_context():
        shop = shop_of(env)
        ana = make_member(env, "ana@example.com", points=0)
        adjust_points(shop, ana, points=25, reason="before Flow", actor="test")
        relay()
        assert store.flow_triggers(SHOP) == []
        events_service.record_flow_lifecycle(shop_of(env), "regulars-points-earned", True)
        adjust_points(shop_of(env), ana, points=30, reason="still not a Flow trigger type", actor="test")
        from app.services.ledger import emit_event

        emit_event(shop_of(env).id, ana.id, "points_earned", {"points": 12, "points_available": 67})
        db.session.commit()
        relay()
        triggers = store.flow_triggers(SHOP)
        assert [t["handle"] for t in triggers] == ["regulars-points-earned"]
        assert triggers[0]["payload"]["customer_id"] == ana.customer_id
        assert triggers[0]["payload"]["Points"] == 12
        events_service.update_integrations(shop_of(env), {"flow": {"enabled": True}})
        from app.services.tiers import change_tier  # noqa: F401  (tier events go the same way)

        emit_event(shop_of(env).id, ana.id, "tier_changed", {"to": "Gold", "from": None, "direction": "up"})
        db.session.commit()
        relay()
        assert [t["handle"] for t in store.flow_triggers(SHOP)] == ["regulars-points-earned", "regulars-tier-changed"]


def test_outside_development_an_endpoint_resolving_to_a_private_address_is_refused(receiver):
    from app.signed_webhooks import WebhookPoster

    result = WebhookPoster(allow_private=False).post(receiver.url, b"{}", {"Content-Type": "application/json"})
    assert not result.ok and result.permanent and "public" in result.error
    assert receiver.ids() == []  # never connected
    assert WebhookPoster(allow_private=True).post(receiver.url, b'{"id": "1"}', {"X-Regulars-Event-Id": "1"}).ok
