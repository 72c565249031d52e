"""Time-based rules fire on time in the embedded default (SQLite, no Redis): the in-process runner's timers
and schedule do what RQ's scheduler and `rq cron` do with Redis. Time is moved with app.clock; nothing here
calls a job or a sweep itself: the app's own runner must do it, within seconds of the moment."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app import clock, create_app
from app.extensions import db
from app.jobs import jobs_for
from app.loyalty import ledger as rules
from app.loyalty.tiers import tier_handle
from app.models import LedgerEntry, Member, OutboxEvent, Referral, Shop, Tier, TierChange, utcnow
from app.shopify.adapter import OfflineToken
from tests.conftest import TEST_KEY, TEST_SECRET, make_config
from tests.helpers import post_webhook
from tests.services.engine_fixtures import customer_payload, new_id, order_payload

SHOP = "alpha.myshopify.com"


class Embedded:
    def __init__(self, app: Any, shop_id: int) -> None:
        self.app = app
        self.shop_id = shop_id

    def configure(self, **settings: Any) -> None:
        with self.app.app_context():
            shop = db.session.get(Shop, self.shop_id)
            shop.settings = {**(shop.settings or {}), **settings}
            db.session.commit()

    def post(self, topic: str, payload: dict[str, Any]) -> None:
        resp = post_webhook(self.app.test_client(), topic, payload, shop=SHOP)
        assert resp.status_code == 200, resp.get_data(as_text=True)

    def join(self, customer_id: int, email: str) -> None:
        self.post("customers/create", customer_payload(customer_id, email, created_at=utcnow().isoformat()))

    def entries(self, customer_id: int, kind: str) -> list[LedgerEntry]:
        with self.app.app_context():
            member = db.session.execute(select(Member).where(Member.customer_id == customer_id)).scalar_one()
            out = list(db.session.execute(select(LedgerEntry).where(
                LedgerEntry.member_id == member.id, LedgerEntry.kind == kind).order_by(LedgerEntry.id)).scalars())
            db.session.expunge_all()
            return out

    def has_member(self, customer_id: int) -> bool:
        with self.app.app_context():
            return db.session.execute(select(Member.id).where(Member.customer_id == customer_id)).first() is not None

    def member(self, customer_id: int) -> Member:
        with self.app.app_context():
            m = db.session.execute(select(Member).where(Member.customer_id == customer_id)).scalar_one()
            db.session.expunge(m)
            return m

    def eventually(self, what: Callable[[], Any], timeout: float = 20.0) -> Any:
        """What the runner does on its own: polled, never triggered."""
        deadline = time.monotonic() + timeout
        while True:
            got = what()
            if got:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"not done within {timeout} s: {jobs_for(self.app).inprocess.pending()}")
            time.sleep(0.1)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    """The embedded default: SQLite file, no Redis, the schedule on (as outside tests), the stand-in Shopify."""
    from app.services.shops import save_install
    from devstore import DevStore, serve_in_thread

    store = DevStore(api_key=TEST_KEY, api_secret=TEST_SECRET, app_url="http://127.0.0.1:9", rate_limit=False)
    store.add_shop(SHOP)
    server, _, store_url = serve_in_thread(store)
    app = create_app(make_config(database_url=f"sqlite:///{tmp_path}/embedded.db", shopify_api_origin=store_url,
                                 in_process_schedule=True))
    with app.app_context():
        upgrade()
        token = store.issue_access_token(SHOP)
        shop = save_install(SHOP, OfflineToken(access_token=token["access_token"], scope=token.get("scope", ""),
                                               expires_at=None, refresh_token=None, refresh_token_expires_at=None))
        shop.settings = {"signup_points": 100, "pending_days": 14}
        db.session.commit()
        shop_id = shop.id
    inprocess = jobs_for(app).inprocess
    assert inprocess.start_schedule()
    deadline = time.monotonic() + 30
    while inprocess.busy() and time.monotonic() < deadline:  # the start-up sweeps, as after an app starts
        time.sleep(0.05)
    try:
        yield Embedded(app, shop_id)
    finally:
        clock.reset()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        server.shutdown()


def _referral(env: Embedded, advocate: int, code: str) -> int:
    # The sign-up's delivery is drained by its own request, or, when the runner is inside a scheduled job at that
    # moment, right after that job: seconds, not the minute sweep.
    env.eventually(lambda: env.has_member(advocate), timeout=10)
    with env.app.app_context():
        member = db.session.execute(select(Member).where(Member.customer_id == advocate)).scalar_one()
        ref = Referral(shop_id=env.shop_id, advocate_member_id=member.id, friend_email="bea@example.com",
                       friend_code=code, status="invited")
        db.session.add(ref)
        db.session.commit()
        return ref.id


def _friend_order(env: Embedded, code: str, paid: datetime) -> int:
    friend, order_id = new_id(), new_id(12_000_000_000_000_000)
    env.post("orders/paid", order_payload(order_id, friend, subtotal="40.00", processed_at=paid, updated_at=paid,
                                          codes=(code,), email="bea@example.com"))
    return friend


def test_advocate_rewarded_with_the_paid_order_when_pending_days_is_0(embedded: Embedded) -> None:
    env = embedded
    env.configure(pending_days=0, referral_advocate_points=500)
    advocate = new_id()
    env.join(advocate, "ada@example.com")
    ref_id = _referral(env, advocate, "FRIEND-ZERO")
    _friend_order(env, "FRIEND-ZERO", utcnow())
    # No sweep: the friend's delivery itself rewards the advocate, at once or, when the runner is inside a
    # scheduled job (the relay, a timer), as soon as that job ends; well within the minute sweep's period.
    rewarded = env.eventually(lambda: env.entries(advocate, rules.REFERRAL_ADVOCATE), timeout=10)
    assert [e.points for e in rewarded] == [500]
    with env.app.app_context():
        assert db.session.get(Referral, ref_id).status == "completed"


def test_advocate_rewarded_the_moment_the_pending_period_ends(embedded: Embedded) -> None:
    env = embedded
    env.configure(pending_days=3, referral_advocate_points=500)
    advocate = new_id()
    env.join(advocate, "ada@example.com")
    _referral(env, advocate, "FRIEND-THREE")
    paid = utcnow()
    _friend_order(env, "FRIEND-THREE", paid)
    assert env.entries(advocate, rules.REFERRAL_ADVOCATE) == []
    clock.advance(timedelta(days=2, hours=23))
    time.sleep(1.0)  # the runner has looked at the clock several times: not due yet
    assert env.entries(advocate, rules.REFERRAL_ADVOCATE) == []
    clock.advance(timedelta(hours=1, seconds=5))
    entry = env.eventually(lambda: env.entries(advocate, rules.REFERRAL_ADVOCATE))[0]
    assert entry.points == 500
    assert abs(entry.occurred_at - (paid + timedelta(days=3))) < timedelta(seconds=2)


def test_pending_points_become_spendable_at_their_time(embedded: Embedded) -> None:
    env = embedded
    env.configure(pending_days=2, signup_points=0)
    cid = new_id()
    paid = utcnow()
    env.post("orders/paid", order_payload(new_id(12_000_000_000_000_000), cid, subtotal="30.00", processed_at=paid,
                                          updated_at=paid))
    m = env.member(cid)
    assert (m.points_available, m.points_pending) == (0, 150)
    clock.advance(timedelta(days=2, seconds=5))
    env.eventually(lambda: env.member(cid).points_pending == 0)
    m = env.member(cid)
    assert m.points_available == 150
    released = [e for e in env.entries(cid, rules.PENDING_RELEASED) if e.points > 0]
    assert abs(released[0].occurred_at - (paid + timedelta(days=2))) < timedelta(seconds=2)


def test_birthday_points_on_the_day(embedded: Embedded) -> None:
    from app.services.members import set_birthday

    env = embedded
    env.configure(birthday_points=100)
    cid = new_id()
    env.join(cid, "ana@example.com")
    day = utcnow() + timedelta(days=2)
    with env.app.app_context():
        set_birthday(db.session.get(Shop, env.shop_id), cid, day.month, day.day)
    time.sleep(0.5)
    assert env.entries(cid, rules.BIRTHDAY) == []
    clock.set_now(day.replace(hour=9, minute=0, second=0, microsecond=0))
    entry = env.eventually(lambda: env.entries(cid, rules.BIRTHDAY))[0]
    assert entry.points == 100 and entry.occurred_at.date() == day.date()


def test_expiry_reminder_and_expiry_on_their_dates(embedded: Embedded) -> None:
    env = embedded
    env.configure(expiry_mode="inactivity", expiry_days=40, expiry_reminder_days=[7])
    cid = new_id()
    env.join(cid, "ana@example.com")
    joined = env.member(cid).last_activity_at
    assert joined is not None and env.member(cid).points_available == 100

    def reminders() -> list[OutboxEvent]:
        with env.app.app_context():
            rows = list(db.session.execute(select(OutboxEvent).where(OutboxEvent.kind == "points_expiring")).scalars())
            db.session.expunge_all()
            return rows

    clock.set_now(joined + timedelta(days=33, hours=1))
    assert env.eventually(reminders)[0].payload["days_before"] == 7
    clock.set_now(joined + timedelta(days=40, minutes=30))
    entry = env.eventually(lambda: env.entries(cid, rules.EXPIRY))[0]
    assert entry.points == -100
    assert abs(entry.occurred_at - (joined + timedelta(days=40))) < timedelta(seconds=2)
    assert env.member(cid).points_available == 0


def test_downgrade_after_the_grace_days(embedded: Embedded) -> None:
    env = embedded
    env.configure(signup_points=0, tier_metric="points_earned", tier_window="rolling_12_months",
                  downgrade_grace_days=30, pending_days=0)
    with env.app.app_context():
        silver = Tier(shop_id=env.shop_id, name="Silver", handle=tier_handle("Silver"), threshold=Decimal(100),
                      multiplier=Decimal(1), entry_bonus=0, position=0, created_at=utcnow(), updated_at=utcnow())
        db.session.add(silver)
        db.session.commit()
        silver_id = silver.id
    cid = new_id()
    # An order of 360 days ago (a late webhook, or one that has aged): Silver at once, dated by the order.
    paid = utcnow() - timedelta(days=360)
    env.post("orders/paid", order_payload(new_id(12_000_000_000_000_000), cid, subtotal="30.00", processed_at=paid,
                                          updated_at=paid))
    member = env.member(cid)
    assert member.tier_id == silver_id
    assert abs(member.tier_since - paid) < timedelta(seconds=2)
    # Ten days on, the order is out of the 12 months: the daily evaluation starts the grace period ...
    clock.advance(timedelta(days=10))
    env.eventually(lambda: env.member(cid).tier_below_since is not None)
    assert env.member(cid).tier_id == silver_id
    # ... and once the grace days are over, the next daily evaluation moves the member down.
    clock.advance(timedelta(days=31))

    def downgrades() -> list[TierChange]:
        with env.app.app_context():
            rows = list(db.session.execute(select(TierChange).where(TierChange.direction == "down")).scalars())
            db.session.expunge_all()
            return rows

    change = env.eventually(downgrades)[0]
    assert change.from_tier_id == silver_id and change.to_tier_id is None
    assert env.member(cid).tier_id is None
