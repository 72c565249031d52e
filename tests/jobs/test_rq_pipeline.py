"""Real Redis and real `rq worker` processes: deliveries survive Redis being down and workers dying."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, select, text

from app import create_app
from app.extensions import db
from app.jobs.webhooks import sweep
from app.models import Member, Shop, WebhookDelivery, utcnow
from bench.chaos.procs import descendants
from tests.conftest import make_config, truncate_all
from tests.helpers import post_webhook

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def rq_env(pg_url, redis_url):
    prefix = f"t{secrets.token_hex(4)}-"
    app = create_app(make_config(database_url=pg_url, redis_url=redis_url, queue_prefix=prefix))
    with app.app_context():
        db.session.add(Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="tok"))
        db.session.commit()
    yield app, prefix
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)


def _worker(app, prefix, *, burst=True):
    cfg = app.config["REGULARS"]
    env = {**os.environ, "DATABASE_URL": cfg.database_url, "REDIS_URL": cfg.redis_url,
           "REGULARS_QUEUE_PREFIX": prefix, "REGULARS_ENV": "development",
           "SHOPIFY_API_KEY": cfg.api_key, "SHOPIFY_API_SECRET": cfg.api_secret}
    args = [sys.executable, "-m", "rq.cli", "worker", "--url", cfg.redis_url, f"{prefix}webhooks"]
    if burst:
        args.insert(4, "--burst")
    return subprocess.Popen(args, env=env, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)




def _statuses(app):
    with app.app_context():
        rows = db.session.execute(select(WebhookDelivery.status)).scalars().all()
        db.session.rollback()
        return rows


def test_real_worker_processes_stored_delivery(rq_env):
    app, prefix = rq_env
    resp = post_webhook(app.test_client(), "customers/create", {"id": 11, "email": "w@x.y"})
    assert resp.status_code == 200
    assert _statuses(app) == ["received"]  # acknowledged before any worker ran
    out, _ = _worker(app, prefix).communicate(timeout=60)
    assert _statuses(app) == ["processed"], out.decode()[-2000:]
    with app.app_context():
        assert db.session.execute(select(Member.email)).scalar_one() == "w@x.y"


def test_redis_down_at_receipt_then_swept_when_back(rq_env, pg_url):
    app, prefix = rq_env
    # Same database, Redis address where nothing listens: the receiver must still store and answer 200.
    down = create_app(make_config(database_url=pg_url, redis_url="redis://127.0.0.1:1/0", queue_prefix=prefix))
    with down.app_context():
        db.session.add(Shop(domain="beta.myshopify.com", settings={}, installed_at=utcnow(), access_token="t"))
        db.session.commit()
    resp = post_webhook(down.test_client(), "customers/create", {"id": 12, "email": "r@x.y"}, shop="beta.myshopify.com")
    assert resp.status_code == 200
    assert _statuses(app) == ["received"]
    with down.app_context():
        db.engine.dispose()
    # Redis is back: the sweeper (rq cron runs it every minute) re-kicks the drain.
    with app.app_context():
        result = sweep()
    assert result["pending"] == 1 and result["kicked"] >= 1
    _worker(app, prefix).communicate(timeout=60)
    assert _statuses(app) == ["processed"]


def test_worker_killed_mid_job_is_processed_again_to_the_same_result(rq_env, pg_url):
    app, prefix = rq_env
    client = app.test_client()
    post_webhook(client, "customers/create", {"id": 13, "email": "first@x.y"})
    _worker(app, prefix).communicate(timeout=60)
    # Hold the member's row lock so the next delivery's job blocks mid-transaction, then kill its worker.
    eng = create_engine(pg_url)
    conn = eng.connect()
    tx = conn.begin()
    conn.execute(text("SELECT id FROM members WHERE customer_id = 13 FOR UPDATE"))
    post_webhook(client, "customers/update", {"id": 13, "email": "second@x.y"})
    worker = _worker(app, prefix, burst=False)
    deadline = time.time() + 30
    while time.time() < deadline:
        # Asked on its own connection: inside a transaction pg_stat_activity is a frozen snapshot.
        with eng.connect() as probe:
            waiting = probe.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )).scalar_one()
        if waiting:
            break
        time.sleep(0.1)
    if not waiting:
        tx.rollback()
        conn.close()
        os.killpg(worker.pid, signal.SIGKILL)
        pytest.fail("the job never reached the locked row: " + worker.stdout.read1(20000).decode()[-3000:])
    # RQ runs the job in a forked work horse in its own session: kill it and its parent, as an OOM kill would.
    for pid in [*descendants(worker.pid), worker.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)
    tx.rollback()
    conn.close()
    eng.dispose()
    time.sleep(0.5)  # PostgreSQL notices the dead client and rolls its transaction back
    assert sorted(_statuses(app)) == ["processed", "received"]
    with app.app_context():
        assert db.session.execute(select(Member.email)).scalar_one() == "first@x.y"
        sweep()
    _worker(app, prefix).communicate(timeout=60)
    assert _statuses(app) == ["processed", "processed"]
    with app.app_context():
        member = db.session.execute(select(Member)).scalar_one()
        assert member.email == "second@x.y"
