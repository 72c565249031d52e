"""With Redis: work due at a moment goes to RQ's scheduler (`enqueue_at`/`enqueue_in`) and a real
`rq worker --with-scheduler` runs it then, with no `rq cron` running. The advocate of a paid referral is
rewarded within seconds of the order (at once with pending_days 0, at the end of the period otherwise) and
the order's pending points become spendable at their moment."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.loyalty import ledger as rules
from app.models import LedgerEntry, Member, Order, Referral, Shop, utcnow
from tests.conftest import make_config, truncate_all
from tests.helpers import post_webhook
from tests.services.engine_fixtures import customer_payload, new_id, order_payload

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]
SHOP = "alpha.myshopify.com"
# Shopify calls of the write-back go nowhere, fast (nothing listens on the discard port).
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def rq_app(pg_url: str, redis_url: str) -> Iterator[Any]:
    prefix = f"due{secrets.token_hex(4)}-"
    app = create_app(make_config(database_url=pg_url, redis_url=redis_url, queue_prefix=prefix,
                                 shopify_api_origin=NOWHERE))
    with app.app_context():
        db.session.add(Shop(domain=SHOP, settings={"signup_points": 100, "referral_advocate_points": 500},
                            installed_at=utcnow(), access_token="tok"))
        db.session.commit()
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "REGULARS_QUEUE_PREFIX": prefix,
           "REGULARS_ENV": "development", "SHOPIFY_API_KEY": "test-api-key", "SHOPIFY_API_SECRET": "test-api-secret",
           "SHOPIFY_API_ORIGIN": NOWHERE}
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--url", redis_url,
         f"{prefix}webhooks", f"{prefix}sync", f"{prefix}bulk"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    app.worker = worker
    try:
        yield app
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate(timeout=10)
        with app.app_context():
            from rq import Queue

            jobs = app.extensions["regulars.jobs"]
            for name in ("webhooks", "sync", "bulk"):
                Queue(jobs.queue_name(name), connection=jobs.redis).empty()
            db.session.remove()
            db.engine.dispose()
        truncate_all(pg_url)


def _configure(app: Any, **settings: Any) -> None:
    with app.app_context():
        shop = db.session.execute(select(Shop)).scalar_one()
        shop.settings = {**shop.settings, **settings}
        db.session.commit()


def _eventually(app: Any, what: Callable[[], Any], timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            got = what()
            db.session.rollback()
        if got:
            return got
        if time.monotonic() > deadline:
            out = app.worker.stdout.read1(20000).decode(errors="replace") if app.worker.poll() is not None else ""
            raise AssertionError(f"not done within {timeout} s {out[-2000:]}")
        time.sleep(0.2)


def _advocate_with_referral(app: Any, code: str) -> tuple[int, int]:
    advocate = new_id()
    post_webhook(app.test_client(), "customers/create", customer_payload(advocate, "ada@example.com"), shop=SHOP)
    member_id = _eventually(app, lambda: db.session.execute(
        select(Member.id).where(Member.customer_id == advocate, Member.enrolled_at.is_not(None))).scalar_one_or_none())
    with app.app_context():
        shop = db.session.execute(select(Shop)).scalar_one()
        ref = Referral(shop_id=shop.id, advocate_member_id=member_id, friend_email="bea@example.com",
                       friend_code=code, status="invited")
        db.session.add(ref)
        db.session.commit()
        return advocate, ref.id


def _rewards(advocate: int) -> list[int]:
    return list(db.session.execute(
        select(LedgerEntry.points).join(Member, Member.id == LedgerEntry.member_id)
        .where(Member.customer_id == advocate, LedgerEntry.kind == rules.REFERRAL_ADVOCATE)).scalars())


def test_pending_days_0_rewards_the_advocate_with_the_order(rq_app: Any) -> None:
    _configure(rq_app, pending_days=0)
    advocate, ref_id = _advocate_with_referral(rq_app, "FRIEND-RQ0")
    paid = utcnow()
    post_webhook(rq_app.test_client(), "orders/paid",
                 order_payload(new_id(12_000_000_000_000_000), new_id(), subtotal="40.00", processed_at=paid,
                               updated_at=paid, codes=("FRIEND-RQ0",), email="bea@example.com"), shop=SHOP)
    assert _eventually(rq_app, lambda: _rewards(advocate)) == [500]
    with rq_app.app_context():
        assert db.session.get(Referral, ref_id).status == "completed"


def test_reward_and_pending_points_come_at_the_end_of_the_period(rq_app: Any) -> None:
    """pending_days 1 and an order paid a day ago minus a few seconds: nothing is due at receipt, both fall
    due seconds later, and only RQ's scheduler can run them then (no cron here)."""
    _configure(rq_app, pending_days=1)
    advocate, _ = _advocate_with_referral(rq_app, "FRIEND-RQ1")
    friend, order_id = new_id(), new_id(12_000_000_000_000_000)
    paid = utcnow() - timedelta(days=1) + timedelta(seconds=6)
    post_webhook(rq_app.test_client(), "orders/paid",
                 order_payload(order_id, friend, subtotal="40.00", processed_at=paid, updated_at=paid,
                               codes=("FRIEND-RQ1",), email="bea@example.com"), shop=SHOP)
    pending = _eventually(rq_app, lambda: db.session.execute(
        select(Order.points_pending).where(Order.order_id == order_id, Order.points_given > 0)).scalar_one_or_none())
    assert pending == 200
    with rq_app.app_context():
        assert _rewards(advocate) == []
    assert _eventually(rq_app, lambda: _rewards(advocate)) == [500]
    _eventually(rq_app, lambda: db.session.execute(
        select(Order.points_pending).where(Order.order_id == order_id)).scalar_one() == 0)
    with rq_app.app_context():
        friend_member = db.session.execute(select(Member).where(Member.customer_id == friend)).scalar_one()
        assert (friend_member.points_available, friend_member.points_pending) == (300, 0)  # 100 sign-up + 200
