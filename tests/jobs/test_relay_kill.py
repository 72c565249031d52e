"""A real `rq worker` relaying events is killed with SIGKILL mid-way; after a restart every event reaches the
endpoint, each one by its id (a repeat of one in flight at the kill is recognised by that id), in order per
member, and nothing is left pending."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.jobs import current_jobs
from app.jobs.events import relay_events
from app.models import EventDelivery, Member, OutboxEvent, Shop, utcnow
from app.services.events import create_endpoint
from app.services.ledger import emit_event
from bench.chaos.procs import descendants
from devstore.receiver import Receiver
from tests.conftest import make_config, truncate_all

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE = 3
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


@pytest.fixture
def relay_env(pg_url, redis_url):
    prefix = f"t{secrets.token_hex(4)}-"
    app = create_app(make_config(env="development", database_url=pg_url, redis_url=redis_url, queue_prefix=prefix,
                                 relay_lease_seconds=LEASE))
    receiver = Receiver().start()
    receiver.delay = 0.02
    yield app, prefix, receiver
    receiver.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)


def _worker(app, prefix, *, burst):
    cfg = app.config["REGULARS"]
    env = {**os.environ, "DATABASE_URL": cfg.database_url, "REDIS_URL": cfg.redis_url, "REGULARS_QUEUE_PREFIX": prefix,
           "REGULARS_ENV": "development", "SHOPIFY_API_KEY": cfg.api_key, "SHOPIFY_API_SECRET": cfg.api_secret,
           "REGULARS_RELAY_LEASE_SECONDS": str(LEASE)}
    args = [sys.executable, "-m", "rq.cli", "worker", "--url", cfg.redis_url, f"{prefix}sync"]
    if burst:
        args.insert(4, "--burst")
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_relay_worker_killed_mid_way_delivers_every_event_by_id_after_restart(relay_env):
    app, prefix, receiver = relay_env
    with app.app_context():
        shop = Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="tok",
                    created_at=utcnow(), updated_at=utcnow())
        db.session.add(shop)
        db.session.commit()
        receiver.secret = create_endpoint(shop, {"url": receiver.url}, development=True).secret
        members = [Member(shop_id=shop.id, customer_id=8_400_000_000_000_000 + i, enrolled_at=utcnow(),
                          points_available=0, points_pending=0, lifetime_points=0, orders_count=0,
                          created_at=utcnow(), updated_at=utcnow()) for i in range(40)]
        db.session.add_all(members)
        db.session.commit()
        for n in range(15):
            for m in members:
                emit_event(shop.id, m.id, "points_earned", {"points": n + 1, "n": n})
        db.session.commit()  # the commit asks for a relay run: one job on the sync queue
        expected = [str(i) for i in db.session.execute(select(OutboxEvent.id).order_by(OutboxEvent.id)).scalars()]
        assert len(expected) == 600
        customer_of = dict(db.session.execute(select(Member.id, Member.customer_id)).all())
        owner = {str(e.id): customer_of[e.member_id] for e in db.session.execute(select(OutboxEvent)).scalars()}
        time.sleep(0.3)  # the kicker thread has enqueued it

    worker = _worker(app, prefix, burst=False)
    deadline = time.time() + 60
    while time.time() < deadline and len(receiver.unique_ids()) < 120:
        time.sleep(0.02)
    got_before_kill = len(receiver.unique_ids())
    for pid in [*descendants(worker.pid), worker.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)
    assert 120 <= got_before_kill < 600, "the relay was not killed mid-way"
    stalled = len(receiver.unique_ids())
    time.sleep(LEASE + 1)  # the dead relay's lease runs out
    assert len(receiver.unique_ids()) == stalled  # nothing else relays meanwhile
    with app.app_context():
        assert current_jobs().enqueue("sync", relay_events)  # what the minute sweeper does
    out, _ = _worker(app, prefix, burst=True).communicate(timeout=120)
    with app.app_context():
        statuses = dict(db.session.execute(select(EventDelivery.status, func.count()).group_by(EventDelivery.status)).all())
        db.session.rollback()
    assert statuses == {"delivered": 600}, (statuses, out.decode()[-3000:])
    assert sorted(receiver.unique_ids(), key=int) == expected  # every event, by its id
    assert receiver.bad_signatures == 0
    repeats = [eid for eid, n in receiver.counts.items() if n > 1]
    # Only what the dead relay had claimed but not recorded came twice (a receiver drops it by id): one claim
    # holds at most one delivery per member (the next waits in order), so at most one repeat per member.
    assert len(repeats) <= len(members)
    assert len({owner[eid] for eid in repeats}) == len(repeats)
    first_seen: dict[int, list[int]] = {}
    seen: set[str] = set()
    for eid in receiver.ids():
        if eid not in seen:
            seen.add(eid)
            first_seen.setdefault(owner[eid], []).append(int(eid))
    assert all(ids == sorted(ids) for ids in first_seen.values())  # in order per member


def test_events_committed_while_redis_is_down_are_relayed_by_the_sweeper_once_it_is_back(pg_url, redis_url):
    from app.jobs.events import sweep

    receiver = Receiver().start()
    down = create_app(make_config(env="development", database_url=pg_url, redis_url="redis://127.0.0.1:1/0",
                                  queue_prefix=f"t{secrets.token_hex(4)}-"))
    try:
        with down.app_context():
            shop = Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="tok",
                        created_at=utcnow(), updated_at=utcnow())
            db.session.add(shop)
            db.session.commit()
            receiver.secret = create_endpoint(shop, {"url": receiver.url}, development=True).secret
            for n in range(3):
                emit_event(shop.id, None, "points_earned", {"points": n})
                db.session.commit()  # the kick cannot reach Redis: the commit still goes through, no error
            ids = [str(i) for i in db.session.execute(select(OutboxEvent.id).order_by(OutboxEvent.id)).scalars()]
            assert len(ids) == 3
            db.session.remove()
        time.sleep(0.3)
        assert receiver.ids() == []
        back = create_app(make_config(env="development", database_url=pg_url, redis_url=redis_url,
                                      queue_prefix=f"t{secrets.token_hex(4)}-"))
        with back.app_context():
            assert sweep() == 3  # what rq cron's minute sweep does once Redis answers again
            db.session.remove()
            db.engine.dispose()
        assert sorted(receiver.ids(), key=int) == ids  # events of no member: no order to keep between them
    finally:
        receiver.stop()
        with down.app_context():
            db.engine.dispose()
        truncate_all(pg_url)
