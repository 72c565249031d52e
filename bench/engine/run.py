"""bench/engine: order events per second through the loyalty engine, end to end (enqueued → committed), with
real `rq worker` processes on PostgreSQL + Redis; SQL statements per order event; the workers' peak memory;
and the tier what-if preview over a large shop.

    .venv/bin/python -m bench.engine                       # 2 workers, ~6,000 order events
    .venv/bin/python -m bench.engine --orders 4000 --workers 2 --preview-members 200000

What it does:
1. a database of its own (`regulars_bench_<hex>`, migrated to heads, dropped at the end unless --keep);
2. the stand-in store (devstore, in memory) plays a shop's life: customers sign up, place orders (1–4
   lines, some gift cards, some test orders, 5 % guests and 5 % customers never seen before), part of the
   orders are refunded (refunds/create + orders/updated), edited, or cancelled; the payloads are
   Shopify's REST shapes, 3–8 KB each;
3. the sign-ups are stored and drained first (not timed), so members exist, as in a running shop;
4. timed: every order event is stored as the receiver would (COPY), then one drain per slot is
   enqueued (what the receiver does after its commit) and the workers run it; the clock stops at the
   last delivery's commit (its processed_at);
5. a single-process drain of fresh orders with a `before_cursor_execute` listener counts statements;
6. the workers' peak RSS (VmHWM of each worker and its work horse, sampled while they run);
7. with --preview-members N: N members and 3 earning entries each (COPY), then tiers.preview for the
   lifetime window (cached figures) and the rolling 12 months (one aggregate over the ledger).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text

from bench.chaos.procs import descendants
from bench.speed import describe, loop_seconds

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", os.environ.get("TEST_PG_ADMIN_URL",
                                                                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
SHOP = "bench.myshopify.com"
SECRET = "bench-secret-" + "x" * 24
ORDER_TOPICS = ("orders/paid", "orders/updated", "orders/cancelled", "refunds/create")


# --- workload ---------------------------------------------------------------------------------------


Events = list[tuple[str, str, dict[str, Any]]]  # (shop domain, topic, payload)


def workload(orders: int, customers: int, seed: int, shop: str = SHOP) -> tuple[Events, Events]:
    """(sign-up events, order events) of a shop's life, as devstore sends them. Ids restart with each
    stand-in store: give every life its own shop."""
    from devstore import DevStore

    rng = random.Random(seed)
    store = DevStore(api_key="k", api_secret=SECRET, rate_limit=False)
    store.sender.mode = "queue"
    domain = shop
    store.add_shop(domain)
    members = [store.create_customer(domain, f"c{i}@bench.example", f"First{i}", f"Last{i}")["id"]
               for i in range(customers)]
    signups = [(shop, e.topic, e.payload) for e in store.events]
    store.events.clear()
    strangers = [store.create_customer(domain, f"s{i}@bench.example", notify=False)["id"]
                 for i in range(max(1, customers // 20))]
    for _ in range(orders):
        roll = rng.random()
        customer = None if roll < 0.05 else rng.choice(strangers) if roll < 0.10 else rng.choice(members)
        lines = [{"title": f"Item {j}", "price": f"{rng.randint(5, 80)}.{rng.choice(['00', '50', '99'])}",
                  "quantity": rng.randint(1, 3)} for j in range(rng.randint(1, 4))]
        if rng.random() < 0.05:
            lines.append({"title": "Gift card", "price": "25.00", "gift_card": True})
        order = store.create_order(domain, customer, lines, shipping="5.00", tax="2.50", test=rng.random() < 0.02,
                                   browser_ip=f"198.51.100.{rng.randint(1, 250)}")
        fate = rng.random()
        first_line = order["line_items"][0]["id"]
        if fate < 0.20:
            store.refund(domain, order["id"], [{"line_item_id": first_line, "quantity": 1}])
        elif fate < 0.25:
            store.edit_order(domain, order["id"], add_lines=[{"title": "Extra", "price": "9.00"}])
        elif fate < 0.32:
            store.cancel_order(domain, order["id"])
    return signups, [(shop, e.topic, e.payload) for e in store.events]


# --- database and processes --------------------------------------------------------------------------


def make_database(keep: bool) -> tuple[str, str]:
    name = f"regulars_bench_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    return name, url


def drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_app(url: str, prefix: str, redis_url: str | None) -> Any:
    from app import create_app
    from app.config import Config

    return create_app(Config(env="development", api_key="bench-key", api_secret=SECRET, database_url=url,
                             redis_url=redis_url, queue_prefix=prefix))


def store_deliveries(url: str, events: Events) -> list[int]:
    """Stores deliveries as the receiver would (status received), with COPY; returns their ids."""
    import psycopg

    now = datetime.now(UTC)
    rows = []
    for domain, topic, payload in events:
        rows.append((domain, topic, str(uuid.uuid4()), str(uuid.uuid4()), now.isoformat(), "2026-10",
                     json.dumps(payload), "received", 0, now.isoformat(), now.isoformat()))
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        first = conn.execute("SELECT coalesce(max(id), 0) FROM webhook_deliveries").fetchone()[0]  # type: ignore[index]
        with conn.cursor() as cur, cur.copy(
            "COPY webhook_deliveries (shop_domain, topic, webhook_id, event_id, triggered_at, api_version, body, "
            "status, attempts, created_at, updated_at) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        ids = [r[0] for r in conn.execute("SELECT id FROM webhook_deliveries WHERE id > %s ORDER BY id", (first,))]
        conn.commit()
    return ids


def start_workers(n: int, url: str, prefix: str, logdir: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "REGULARS_QUEUE_PREFIX": prefix,
           "REGULARS_ENV": "development", "SHOPIFY_API_KEY": "bench-key", "SHOPIFY_API_SECRET": SECRET}
    procs = []
    for i in range(n):
        log = open(logdir / f"worker{i}.log", "ab")  # noqa: SIM115 - the child owns it
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "rq.cli", "worker", "--url", REDIS_URL, "--name", f"{prefix}w{i}",
             f"{prefix}webhooks"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    from redis import Redis
    from rq import Worker

    conn = Redis.from_url(REDIS_URL)
    deadline = time.time() + 60
    while time.time() < deadline:
        if len([w for w in Worker.all(connection=conn) if w.name.startswith(prefix)]) >= n:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("workers did not start; see " + str(logdir))
    return procs




def peak_rss_kib(pids: list[int]) -> dict[int, int]:
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    out[pid] = int(line.split()[1])
    return out


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


# --- phases ------------------------------------------------------------------------------------------


def wait_processed(url: str, ids: list[int], timeout: float, sample: Any = None) -> tuple[datetime, Counter[str]]:
    """Polls until every delivery in `ids` is done; returns the last commit time and the statuses."""
    eng = create_engine(url)
    lo, hi = min(ids), max(ids)
    deadline = time.time() + timeout
    try:
        while True:
            with eng.connect() as conn:
                left = conn.execute(text("SELECT count(*) FROM webhook_deliveries WHERE id BETWEEN :lo AND :hi "
                                         "AND status IN ('received', 'retry')"), {"lo": lo, "hi": hi}).scalar_one()
                if not left:
                    last = conn.execute(text("SELECT max(processed_at) FROM webhook_deliveries WHERE id BETWEEN :lo "
                                             "AND :hi"), {"lo": lo, "hi": hi}).scalar_one()
                    statuses = Counter(dict(conn.execute(text(
                        "SELECT status, count(*) FROM webhook_deliveries WHERE id BETWEEN :lo AND :hi GROUP BY status"),
                        {"lo": lo, "hi": hi}).all()))
                    return last, statuses
            if sample:
                sample()
            if time.time() > deadline:
                raise TimeoutError(f"{left} deliveries still waiting")
            time.sleep(0.1)
    finally:
        eng.dispose()


def timed_through_workers(app: Any, url: str, prefix: str, events: Events,
                          workers: list[subprocess.Popen[bytes]], slots: int) -> dict[str, Any]:
    from app.jobs import jobs_for

    ids = store_deliveries(url, events)
    jobs = jobs_for(app)
    peaks: dict[int, int] = {}
    last = {"at": 0.0}

    def sample(force: bool = False) -> None:
        # VmHWM is a high-water mark: one look a second sees the same peak as ten, and the walk over /proc
        # that finds the work horses costs CPU the workers share (ten a second took ≈ 6 % of a core).
        if not force and time.monotonic() - last["at"] < 1.0:
            return
        last["at"] = time.monotonic()
        pids = [pid for p in workers for pid in (p.pid, *descendants(p.pid))]
        for pid, kib in peak_rss_kib(pids).items():
            peaks[pid] = max(peaks.get(pid, 0), kib)

    with app.app_context():
        for slot in range(slots):
            jobs.redis.delete(jobs.drain_flag(slot))
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        for slot in range(slots):
            jobs.request_drain(slot)
    last_commit, statuses = wait_processed(url, ids, timeout=1800, sample=sample)
    sample(force=True)
    wall = time.perf_counter() - t0
    elapsed = (last_commit - started).total_seconds()
    return {"events": len(ids), "seconds": elapsed, "per_second": len(ids) / elapsed, "wall": wall,
            "statuses": dict(statuses), "peak_rss_mib": max(peaks.values(), default=0) / 1024,
            "peaks": peaks}


def counted_in_process(app: Any, url: str, signups: Events, events: Events) -> dict[str, Any]:
    """Drains `events` in this process with a statement counter on the engine (their sign-ups first, uncounted)."""
    from app.extensions import db
    from app.services.deliveries import drain
    from app.services.topics import dispatch

    store_deliveries(url, signups)
    with app.app_context():
        drain(dispatch, 5)
    store_deliveries(url, events)
    counts = {"n": 0}
    with app.app_context():
        engine = db.engine

        def count(*_: Any) -> None:
            counts["n"] += 1

        event.listen(engine, "before_cursor_execute", count)
        try:
            t0 = time.perf_counter()
            done = drain(dispatch, 5)
            seconds = time.perf_counter() - t0
        finally:
            event.remove(engine, "before_cursor_execute", count)
    return {"events": done, "statements": counts["n"], "per_event": counts["n"] / max(done, 1),
            "seconds": seconds, "per_second": done / seconds}


def statements_per_topic(app: Any, url: str, signups: Events, events: Events) -> dict[str, float]:
    """Statements of one delivery, by topic, measured one delivery at a time (claim to commit)."""
    from app.extensions import db
    from app.services.deliveries import drain, process_next
    from app.services.topics import dispatch

    store_deliveries(url, signups)
    with app.app_context():
        drain(dispatch, 5)
    store_deliveries(url, events)
    per: dict[str, list[int]] = {}
    with app.app_context():
        engine = db.engine
        counts = {"n": 0}

        def count(*_: Any) -> None:
            counts["n"] += 1

        event.listen(engine, "before_cursor_execute", count)
        try:
            for _, topic, _ in events:
                counts["n"] = 0
                if not process_next(dispatch, 5):
                    break
                per.setdefault(topic, []).append(counts["n"])
        finally:
            event.remove(engine, "before_cursor_execute", count)
    return {t: sum(v) / len(v) for t, v in per.items()}


def preview_bench(app: Any, url: str, members: int) -> dict[str, float]:
    """N members and 3 earning entries each (COPY), then the what-if preview: lifetime and rolling 12 months."""
    import psycopg

    from app.extensions import db
    from app.models import Shop
    from app.services import tiers

    rng = random.Random(7)
    now = datetime.now(UTC)
    with app.app_context():
        shop = Shop(domain="preview.myshopify.com", settings={"signup_points": 0}, installed_at=now,
                    access_token="t", created_at=now, updated_at=now)
        db.session.add(shop)
        db.session.commit()
        shop_id = shop.id
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn:
        with conn.cursor() as cur, cur.copy(
            "COPY members (shop_id, customer_id, enrolled_at, points_available, points_pending, lifetime_points, "
            "lifetime_spent, orders_count, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(members):
                points = rng.randint(0, 3000)
                copy.write_row((shop_id, 9_000_000_000 + i, now, points, 0, points, points / 5, rng.randint(0, 9), now, now))
        ids = [r[0] for r in conn.execute("SELECT id FROM members WHERE shop_id = %s ORDER BY id", (shop_id,))]
        with conn.cursor() as cur, cur.copy(
            "COPY ledger_entries (shop_id, member_id, points, kind, source, status, idempotency_key, forgiven_points, "
            "created_at) FROM STDIN"
        ) as copy:
            for mid in ids:
                for k in range(3):
                    at = now - timedelta(days=rng.randint(0, 700))
                    copy.write_row((shop_id, mid, rng.randint(10, 1000), "earn_order", "order", "available",
                                    f"bench:{mid}:{k}", 0, at))
        conn.execute("ANALYZE members; ANALYZE ledger_entries")
        conn.commit()
    specs = [{"name": "Silver", "threshold": "500"}, {"name": "Gold", "threshold": "1500"},
             {"name": "Platinum", "threshold": "2500"}]
    out = {}
    with app.app_context():
        shop = db.session.get(Shop, shop_id)
        for window in ("lifetime", "rolling_12_months", "calendar_year"):
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                result = tiers.preview(shop, specs, window=window)  # type: ignore[arg-type]
                best = min(best, time.perf_counter() - t0)
                db.session.rollback()
            out[window] = best
            assert sum(result["by_tier"].values()) == members
    return out


def add_shop(app: Any, domain: str) -> None:
    """An installed shop at the defaults (14 pending days), with Silver (500 points, ×1.25) and Gold (2,000, ×1.5)."""
    from app.extensions import db
    from app.models import Shop, Tier

    with app.app_context():
        now = datetime.now(UTC)
        shop = Shop(domain=domain, settings={}, installed_at=now, access_token="tok", created_at=now, updated_at=now)
        db.session.add(shop)
        db.session.flush()
        for i, (tier, threshold, mult) in enumerate((("Silver", 500, "1.25"), ("Gold", 2000, "1.5"))):
            db.session.add(Tier(shop_id=shop.id, name=tier, handle=tier.lower(), threshold=threshold,
                                multiplier=mult, entry_bonus=100, position=i, created_at=now, updated_at=now))
        db.session.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=4000, help="orders placed (each gives 1–3 order events)")
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--count-orders", type=int, default=300, help="orders of the single-process statement count")
    parser.add_argument("--preview-members", type=int, default=0, help="members for the what-if preview timing")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args(argv)

    import logging

    logging.disable(logging.INFO)
    name, url = make_database(args.keep)
    prefix = f"bench{secrets.token_hex(3)}-"
    logdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"regulars-bench-{prefix.rstrip('-')}"
    logdir.mkdir(parents=True, exist_ok=True)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        app = make_app(url, prefix, REDIS_URL)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=str(ROOT / "migrations"), revision="heads")
        add_shop(app, SHOP)
        print(f"workload: {args.orders} orders, {args.customers} customers …", flush=True)
        signups, order_events = workload(args.orders, args.customers, args.seed)
        topics = Counter(t for _, t, _ in order_events)
        print(f"  {len(signups)} sign-ups, {len(order_events)} order events {dict(topics)}", flush=True)

        speed_before = loop_seconds()
        workers = start_workers(args.workers, url, prefix, logdir)
        warm = timed_through_workers(app, url, prefix, signups, workers, args.workers)
        print(f"sign-ups drained (untimed warm-up): {warm['events']} in {warm['seconds']:.1f} s", flush=True)
        result = timed_through_workers(app, url, prefix, order_events, workers, args.workers)
        stop_workers(workers)
        workers = []
        speed_after = loop_seconds()
        # The counted runs are other shops' lives (new ids), sign-ups drained first, as in the timed run.
        add_shop(app, "count.myshopify.com")
        counted = counted_in_process(app, url, *workload(args.count_orders, 100, args.seed + 1, "count.myshopify.com"))
        add_shop(app, "topics.myshopify.com")
        per_topic = statements_per_topic(app, url, *workload(60, 20, args.seed + 2, "topics.myshopify.com"))

        print()
        print(f"{describe(speed_before)} before the timed runs, {speed_after:.2f} s after")
        print(f"order events, end to end (enqueued → committed), {args.workers} rq workers, PostgreSQL + Redis:")
        print(f"  {result['events']} events in {result['seconds']:.2f} s = {result['per_second']:.0f} order events/s"
              f"   (statuses {result['statuses']})")
        print(f"  peak RSS of a worker or its work horse: {result['peak_rss_mib']:.0f} MiB")
        print(f"single process (in-process drain, no workers), {counted['events']} order events:")
        print(f"  {counted['per_event']:.1f} SQL statements per event, {counted['per_second']:.0f} events/s")
        print("  statements per delivery by topic (claim → commit): "
              + ", ".join(f"{t} {v:.1f}" for t, v in sorted(per_topic.items())))
        if args.preview_members:
            print(f"tier what-if preview over {args.preview_members} members (3 ledger entries each), best of 3:")
            for window, seconds in preview_bench(app, url, args.preview_members).items():
                print(f"  {window}: {seconds * 1000:.0f} ms")
        return 0
    finally:
        stop_workers(workers)
        with contextlib.suppress(Exception):
            from redis import Redis
            from rq import Queue

            Queue(f"{prefix}webhooks", connection=Redis.from_url(REDIS_URL)).empty()
        if not args.keep:
            drop_database(name)
        else:
            print(f"kept database {name} ({url})")


if __name__ == "__main__":
    raise SystemExit(main())
