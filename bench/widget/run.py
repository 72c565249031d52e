"""Bench the member widget: /proxy/widget for a member with 2,000 ledger entries in a shop of 100,000 members.

Seeds its own PostgreSQL database with COPY, serves the app with gunicorn, and prints the server p95
(sequential requests: p50/p95/p99 of the time inside the WSGI call, from a Server-Timing header, and of the
client's request → response time) and wrk throughput as a ratio to a bare Flask endpoint under the same gunicorn
settings (worker class, workers and threads apply to both).

    python -m bench.widget.run [--members 100000] [--entries 2000] [--duration 10] [--worker-class sync|gthread]
                               [--workers 2] [--threads 4] [--repeat 1]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import psycopg

from devstore.tokens import app_proxy_query

PG = "postgresql://postgres@127.0.0.1:5432"
SECRET = "bench-secret"
SHOP = "bench-widget.myshopify.com"
CUSTOMER = 5_000_000_042


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def seeded_database(name: str, members: int, entries: int, *, drop: bool = True) -> Iterator[str]:
    """PostgreSQL database `name` with `members` members, CUSTOMER among them with `entries` ledger entries: created
    and seeded unless it exists already (a profile run may reuse one), dropped afterwards when `drop`. Yields its URL."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone() is not None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        if not exists:
            t0 = time.perf_counter()
            seed(name, members, entries)
            print(f"seeded {members:,} members, {entries:,} entries for the member in {time.perf_counter() - t0:.1f}s")
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        if drop:
            with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(db: str, members: int, entries: int) -> None:
    env = {**os.environ, "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
           "SHOPIFY_API_SECRET": SECRET, "REGULARS_ENV": "development"}
    subprocess.run([sys.executable, "-c", "from app import create_app\nfrom flask_migrate import upgrade\n"
                    "a=create_app()\nwith a.app_context(): upgrade(revision='heads')"], env=env, check=True,
                   capture_output=True)
    now = datetime.now(UTC)
    with psycopg.connect(f"{PG}/{db}") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO shops (domain, name, currency, money_format, settings, installed_at, access_token,"
                    " created_at, updated_at) VALUES (%s, 'Bench', 'EUR', '€{{amount_with_comma_separator}}', '{}',"
                    " now(), 'tok', now(), now()) RETURNING id", (SHOP,))
        shop_id = cur.fetchone()[0]
        for i, (name, threshold) in enumerate((("Bronze", 0), ("Silver", 1000), ("Gold", 5000), ("Platinum", 10**7))):
            cur.execute("INSERT INTO tiers (shop_id, name, handle, threshold, multiplier, entry_bonus, position,"
                        " created_at, updated_at) VALUES (%s, %s, %s, %s, 1, 0, %s, now(), now())",
                        (shop_id, name, name.lower(), threshold, i))
        for i in range(6):
            cur.execute("INSERT INTO rewards (shop_id, type, name, points_cost, value, minimum_subtotal, active,"
                        " position, created_at, updated_at) VALUES (%s, 'fixed_amount', %s, %s, %s, 0, true, %s,"
                        " now(), now())", (shop_id, f"{5 * (i + 1)} off", 500 * (i + 1), 5 * (i + 1), i))
        for key in ("newsletter", "instagram", "review"):
            cur.execute("INSERT INTO custom_actions (shop_id, key, name, points, \"limit\", honour_system, active,"
                        " created_at) VALUES (%s, %s, %s, 50, 'once', true, true, now())", (shop_id, key, key.title()))
        cols = ("shop_id, customer_id, email, enrolled_at, referral_code, points_available, points_pending,"
                " lifetime_points, lifetime_spent, orders_count, created_at, updated_at")
        buf = io.StringIO()
        for i in range(members):
            cid = CUSTOMER if i == 0 else 4_000_000_000 + i
            code = f"B{i:07d}"
            buf.write(f"{shop_id}\t{cid}\tm{i}@example.com\t{now.isoformat()}\t{code}\t{i % 3000}\t0\t"
                      f"{i % 3000}\t0\t0\t{now.isoformat()}\t{now.isoformat()}\n")
        with cur.copy(f"COPY members ({cols}) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        cur.execute("SELECT id FROM members WHERE shop_id=%s AND customer_id=%s", (shop_id, CUSTOMER))
        member_id = cur.fetchone()[0]
        # The member's history, plus other members' entries so the table is not just this member's.
        buf = io.StringIO()
        total = 0
        for j in range(entries):
            pts = 10 + j % 50
            total += pts
            at = (now - timedelta(minutes=entries - j)).isoformat()
            buf.write(f"{shop_id}\t{member_id}\t{pts}\tearn_order\torder\t{9000 + j}\tavailable\tb:{j}\t0\t{at}\n")
        for j in range(min(members, 50_000)):
            buf.write(f"{shop_id}\t{member_id + 1 + j}\t100\tsignup\taction\t\tavailable\ts:{j}\t0\t{now.isoformat()}\n")
        with cur.copy("COPY ledger_entries (shop_id, member_id, points, kind, source, source_id, status,"
                      " idempotency_key, forgiven_points, created_at) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        cur.execute("UPDATE members SET points_available=%s, lifetime_points=%s, tier_id=(SELECT id FROM tiers"
                    " WHERE shop_id=%s AND handle='gold') WHERE id=%s", (total, total, shop_id, member_id))
        conn.commit()
        cur.execute("ANALYZE")


BARE = "from flask import Flask\napp = Flask(__name__)\n@app.get('/')\ndef ok():\n    return 'ok'\n"


def serve(target: str, port: int, env: dict[str, str], gunicorn_args: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *gunicorn_args, "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", target], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn {target} did not start")


def widget_url(port: int) -> str:
    params = app_proxy_query(SHOP, "/apps/regulars", CUSTOMER, {"locale": "en"}, api_secret=SECRET)
    return f"http://127.0.0.1:{port}/proxy/widget?{urlencode(params, doseq=True)}"


def wrk(url: str, duration: int) -> float:
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{duration}s", url], capture_output=True, text=True,
                         check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if "Non-2xx" in out or match is None:
        raise RuntimeError(out)
    return float(match.group(1))


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(len(ordered) * q))]  # noqa: E731
    return statistics.median(ordered), at(0.95), at(0.99)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--entries", type=int, default=2_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=1, help="measure this many times on the same seed")
    args = ap.parse_args()
    db = f"regulars_bench_widget_{os.getpid()}"
    procs: list[subprocess.Popen[bytes]] = []
    database = ExitStack()
    try:
        url_of_db = database.enter_context(seeded_database(db, args.members, args.entries))
        env = {**os.environ, "DATABASE_URL": url_of_db,
               "SHOPIFY_API_SECRET": SECRET, "REGULARS_ENV": "development"}
        env.pop("REDIS_URL", None)
        app_port, bare_port = free_port(), free_port()
        gunicorn_args = ["-k", args.worker_class, "-w", str(args.workers)]
        if args.worker_class == "gthread":
            gunicorn_args += ["--threads", str(args.threads)]
        procs.append(serve("bench.widget.timed:app", app_port, env, gunicorn_args))
        bare_dir = f"/tmp/{db}"
        os.makedirs(bare_dir, exist_ok=True)
        with open(f"{bare_dir}/bare.py", "w") as fh:
            fh.write(BARE)
        procs.append(serve("bare:app", bare_port, {**env, "PYTHONPATH": bare_dir}, gunicorn_args))
        client = httpx.Client()
        page = client.get(widget_url(app_port))
        assert page.status_code == 200 and "data-points-available" in page.text, page.text[:300]
        assert page.text.count('<span class="regulars__pts') == 20, "expected 20 history lines"
        for _ in range(50):  # warm both workers' pools and caches
            client.get(widget_url(app_port))
        for run in range(1, args.repeat + 1):
            server, wall = [], []
            for _ in range(args.samples):
                url = widget_url(app_port)
                start = time.perf_counter()
                r = client.get(url)
                wall.append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200
                server.append(float(r.headers["Server-Timing"].split("dur=")[1]))
            p50, p95, p99 = percentiles(server)
            c50, c95, c99 = percentiles(wall)
            print(f"[run {run}] /proxy/widget server time (sequential, {args.samples} requests): p50 {p50:.2f} ms, "
                  f"p95 {p95:.2f} ms, p99 {p99:.2f} ms (target p95 <= 20 ms: {'OK' if p95 <= 20 else 'MISSED'}); "
                  f"at the client p50 {c50:.2f} ms, p95 {c95:.2f} ms, p99 {c99:.2f} ms")
            bare_rps = wrk(f"http://127.0.0.1:{bare_port}/", args.duration)
            widget_rps = wrk(widget_url(app_port), args.duration)
            print(f"[run {run}] gunicorn {' '.join(gunicorn_args)}, wrk -t2 -c16 -d{args.duration}s: bare Flask "
                  f"{bare_rps:,.0f} req/s, /proxy/widget {widget_rps:,.0f} req/s, ratio {widget_rps / bare_rps:.3f}")
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=10)
        database.close()


if __name__ == "__main__":
    main()
