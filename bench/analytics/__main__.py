"""python -m bench.analytics [--orders N --customers N | --reuse] [--database NAME]: builds the shop with COPY, rebuilds the
analytics rollups (the job), times the order path's refresh_customer, and prints each dashboard endpoint's warm
time (median of 3 after one warm-up). The endpoints read only the rollups, never rebuild them. The machine's speed
is printed before and after (bench/speed.py): compare figures only at a similar speed."""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import create_engine, text

from app import create_app
from bench.speed import describe, loop_seconds
from devstore.tokens import mint_session_token
from tests.conftest import make_config

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "regulars_bench_analytics"
SHOP = "bench.myshopify.com"


def set_database(name: str) -> None:
    global DB
    DB = name


def build(orders: int, customers: int) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
    app = create_app(make_config(database_url=url))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
    rng = random.Random(7)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        shop_id = conn.execute(
            "INSERT INTO shops (domain, currency, money_format, settings, installed_at, access_token, created_at,"
            " updated_at) VALUES (%s, 'USD', '${{amount}}', '{}', now(), 'shpat', now(), now()) RETURNING id",
            (SHOP,)).fetchone()[0]
        with conn.cursor().copy("COPY members (shop_id, customer_id, email, first_name, points_available, "
                                "points_pending, lifetime_points, lifetime_spent, orders_count, enrolled_at, "
                                "created_at, updated_at, last_order_at) FROM STDIN") as cp:
            for c in range(1, customers + 1):
                if c % 2 == 0:  # half the customers are members
                    cp.write_row((shop_id, c, f"c{c}@x.test", f"C{c}", rng.randint(0, 3000), rng.randint(0, 200),
                                  rng.randint(0, 5000), rng.randint(0, 2000), rng.randint(0, 20), now, now, now,
                                  now - timedelta(days=rng.randint(0, 700))))
        member_ids = dict(conn.execute("SELECT customer_id, id FROM members WHERE shop_id = %s", (shop_id,)).fetchall())
        with conn.cursor().copy("COPY orders (shop_id, order_id, customer_id, member_id, financial_status, cancelled,"
                                " test, processed_at, paid_at, subtotal, total_price, eligible_amount, points_target,"
                                " points_given, points_pending, counted, version, created_at, updated_at)"
                                " FROM STDIN") as cp:
            for o in range(1, orders + 1):
                c = rng.randint(1, customers)
                at = now - timedelta(days=rng.random() * 730)
                price = round(rng.uniform(10, 300), 2)
                status = "paid" if rng.random() < 0.95 else "refunded"
                cp.write_row((shop_id, o, c, member_ids.get(c), status, False, False, at, at, price, price, price,
                              0, 0, 0, True, 0, at, at))
        with conn.cursor().copy("COPY ledger_entries (shop_id, member_id, points, kind, source, status, "
                                "idempotency_key, forgiven_points, created_at) FROM STDIN") as cp:
            ids = list(member_ids.values())
            for i in range(orders):
                kind, pts = ("redeem", -500) if i % 10 == 0 else ("earn_order", rng.randint(50, 1500))
                cp.write_row((shop_id, rng.choice(ids), pts, kind, "order", "available", f"k{i}", 0,
                              now - timedelta(days=rng.random() * 730)))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {orders:,} orders, {customers:,} customers, {orders:,} ledger entries in "
          f"{time.perf_counter() - t0:.1f} s")
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="time the endpoints on the database built last time")
    parser.add_argument("--database", default=DB, help="database to build (two runs at once need two names)")
    args = parser.parse_args()
    set_database(args.database)
    print(describe(loop_seconds()), flush=True)
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}" if args.reuse else build(args.orders, args.customers)
    app = create_app(make_config(database_url=url))
    with app.app_context():
        from app.extensions import db
        from app.services import analytics

        t0 = time.perf_counter()
        shop_id = db.session.execute(text("SELECT id FROM shops WHERE domain = :d"), {"d": SHOP}).scalar_one()
        if not args.reuse:
            n = analytics.refresh_shop(shop_id)
            print(f"rollup rebuild (the job, never in a request): {n:,} customers in {time.perf_counter() - t0:.2f} s")
        # The order path's upkeep: one customer's rollup rows recomputed in the order's transaction.
        t0 = time.perf_counter()
        for customer in range(1, 201):
            analytics.refresh_customer(shop_id, customer)
            db.session.commit()
        print(f"refresh_customer (order path): {(time.perf_counter() - t0) / 200 * 1000:.2f} ms per call")
    client = app.test_client()
    today = datetime.now(UTC).date()
    endpoints = [
        f"/api/admin/analytics/summary?from={today - timedelta(days=89)}&to={today}",
        f"/api/admin/analytics/summary?from={today - timedelta(days=729)}&to={today}",
        f"/api/admin/analytics/cohorts?from={today - timedelta(days=364)}&to={today}",
        "/api/admin/analytics/segments",
        "/api/admin/analytics/trends",
        "/api/admin/analytics/trends?period=week&periods=104",
        "/api/admin/members?sort=balance",
        "/api/admin/members?sort=spend&page=500",
        "/api/admin/members?sort=last_order&segment=lapsed",
        "/api/admin/members?q=c1234",
    ]
    for path in endpoints:
        times = []
        for i in range(4):
            token = mint_session_token(SHOP, "test-api-key", "test-api-secret")
            t = time.perf_counter()
            r = client.get(path, headers={"Authorization": f"Bearer {token}"})
            if i:
                times.append(time.perf_counter() - t)
            assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
        print(f"{statistics.median(times) * 1000:8.0f} ms  {path}")
    create_engine(url).dispose()
    print(describe(loop_seconds()))


if __name__ == "__main__":
    main()
