"""python -m bench.automations [--members N] [--events N] [--reuse]: the two figures of issue 15.

1. Deciding and firing the due automation steps for N members (default 1,000,000) in one shop with every
   flow on (10 % holdout): members are loaded with COPY, spread over two years of sign-ups and orders so
   that a large share is due somewhere (reactivation alone takes ≈ 40 %), then `run_shop` runs once; the
   time per flow and in total is printed. Target: ≤ 2 min for 1M members.
2. The relay: N events (default 20,000) of 2,000 members to a local webhook receiver (devstore/receiver.py
   in its own process), fan-out and delivery timed together. Target: ≥ 1,000 events/s.

The machine's speed (bench/speed.py) is printed before and after: figures mean little without it.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import func, select, text

from app import create_app
from bench.speed import describe, loop_seconds
from tests.conftest import make_config

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "regulars_bench_automations"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
SHOP = "bench.myshopify.com"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _app(prefix: str):
    # Redis with a prefix nobody works: a commit's relay request is queued, not run inside the timing.
    return create_app(make_config(env="development", database_url=URL, redis_url=REDIS, queue_prefix=prefix))


def build(members: int) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    app = create_app(make_config(database_url=URL))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
    rng = random.Random(15)
    t0 = time.perf_counter()
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        shop_id = conn.execute(
            "INSERT INTO shops (domain, currency, money_format, settings, installed_at, access_token, created_at,"
            " updated_at) VALUES (%s, 'USD', '${{amount}}', '{}', now(), 'shpat', now(), now()) RETURNING id",
            (SHOP,)).fetchone()[0]
        with conn.cursor().copy("COPY members (shop_id, customer_id, email, points_available, points_pending,"
                                " lifetime_points, lifetime_spent, orders_count, enrolled_at, first_order_at,"
                                " last_order_at, birthday_month, birthday_day, created_at, updated_at) FROM STDIN") as cp:
            for c in range(1, members + 1):
                enrolled = NOW - timedelta(days=rng.random() * 730)
                orders = rng.choice((0, 1, 1, 2, 3, 5))
                first = last = None
                if orders:
                    first = enrolled + timedelta(days=rng.random() * max(1.0, (NOW - enrolled).days))
                    last = first if orders == 1 else first + (NOW - first) * rng.random()
                cp.write_row((shop_id, 10**15 + c, f"m{c}@x.test", rng.randint(0, 3000), 0, 0, 0, orders, enrolled,
                              first, last, rng.randint(1, 12), rng.randint(1, 28), enrolled, enrolled))
        member_ids = [r[0] for r in conn.execute("SELECT id FROM members WHERE shop_id = %s", (shop_id,))]
        with conn.cursor().copy("COPY orders (shop_id, order_id, member_id, financial_status, cancelled, test,"
                                " processed_at, paid_at, subtotal, total_price, eligible_amount, points_target,"
                                " points_given, points_pending, counted, version, created_at, updated_at) FROM STDIN") as cp:
            for o in range(members // 4):
                at = NOW - timedelta(days=rng.random() * 200)
                cp.write_row((shop_id, o + 1, rng.choice(member_ids), "paid", False, False, at, at, 40, 40, 40,
                              0, 0, 0, True, 0, at, at))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {members:,} members and {members // 4:,} orders in {time.perf_counter() - t0:.1f} s")


def bench_decide() -> None:
    from app.extensions import db
    from app.loyalty.automations import FLOW_KEYS
    from app.models import AutomationStepRun, Shop
    from app.services.automation_runs import run_flow
    from app.services.automations import patch_automation

    prefix = f"bench{secrets.token_hex(3)}-"
    app = _app(prefix)
    with app.app_context():
        shop = db.session.execute(select(Shop).where(Shop.domain == SHOP)).scalar_one()
        for key in FLOW_KEYS:
            patch_automation(shop, key, {"enabled": True})
        members = db.session.execute(select(func.count()).select_from(text("members"))).scalar_one()
        total = 0.0
        for key in FLOW_KEYS:
            t0 = time.perf_counter()
            run = run_flow(shop, key, NOW)
            took = time.perf_counter() - t0
            total += took
            fired = sum((run.fired or {}).values())
            held = sum((run.holdout or {}).values())
            print(f"  {key:<16} {took:7.1f} s   entered {run.entered:>8,}   fired {fired:>8,}   holdout {held:>7,}")
        runs = db.session.execute(select(func.count()).select_from(AutomationStepRun)).scalar_one()
        print(f"decided and fired the due steps of {members:,} members in {total:.1f} s "
              f"({runs:,} step runs; target ≤ 120 s)")
        t0 = time.perf_counter()
        for key in FLOW_KEYS:
            run_flow(shop, key, NOW + timedelta(minutes=15))
        print(f"the next run 15 minutes later (nothing new due): {time.perf_counter() - t0:.1f} s")
        db.session.remove()
        _clear_queues(app)


def _clear_queues(app) -> None:
    from app.jobs import QUEUES, jobs_for

    jobs = jobs_for(app)
    for q in QUEUES:
        jobs.queue(q).delete(delete_jobs=True)
    jobs.redis.delete(f"regulars:{jobs.prefix}relay-requested")


def bench_relay(events: int) -> None:
    from app.extensions import db
    from app.models import EventDelivery, Shop
    from app.services.events import create_endpoint
    from app.services.relay import relay

    proc = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from devstore.receiver import Receiver; r = Receiver().start();"
        " print(r.port, flush=True); time.sleep(3600)")], stdout=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    port = int(proc.stdout.readline())
    prefix = f"bench{secrets.token_hex(3)}-"
    app = _app(prefix)
    try:
        with app.app_context():
            shop = db.session.execute(select(Shop).where(Shop.domain == SHOP)).scalar_one()
            db.session.execute(text("UPDATE outbox_events SET processed_at = now() WHERE processed_at IS NULL"))
            db.session.commit()
            create_endpoint(shop, {"url": f"http://127.0.0.1:{port}/hooks"}, development=True)
            # Events of 2,000 members, interleaved (as a busy shop writes them), in id order.
            db.session.execute(text(
                "INSERT INTO outbox_events (shop_id, member_id, kind, payload, created_at)"
                " SELECT :s, m.ids[1 + (g % 2000)], 'points_earned', CAST(:payload AS jsonb), now()"
                " FROM generate_series(0, :n - 1) g,"
                " (SELECT array_agg(id ORDER BY id) AS ids FROM (SELECT id FROM members WHERE shop_id = :s"
                "  ORDER BY id LIMIT 2000) x) m ORDER BY g"),
                {"s": shop.id, "n": events, "payload": '{"points": 10, "points_available": 100}'})
            db.session.commit()
            t0 = time.perf_counter()
            run = relay()
            took = time.perf_counter() - t0
            delivered = db.session.execute(select(func.count()).select_from(EventDelivery)
                                           .where(EventDelivery.status == "delivered")).scalar_one()
            print(f"relayed {run.delivered:,} events ({delivered:,} delivered in all) to a local receiver in "
                  f"{took:.1f} s: {run.delivered / took:,.0f} events/s (target ≥ 1,000)")
            db.session.remove()
            _clear_queues(app)
    finally:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--reuse", action="store_true", help="decide again on the database built last time")
    args = parser.parse_args()
    print(describe(loop_seconds()))
    if not args.reuse:
        build(args.members)
    else:
        with psycopg.connect(URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("TRUNCATE automation_step_runs, automation_enrollments, automations, event_deliveries,"
                         " webhook_endpoints, outbox_events")
    bench_decide()
    bench_relay(args.events)
    print(describe(loop_seconds()))


if __name__ == "__main__":
    main()
