"""bench/webhooks: verified-and-stored webhooks per second through gunicorn (production settings, PostgreSQL +
Redis) against a bare Flask endpoint under the same server settings, plus p50/p99 at a paced 200 req/s.

Run: .venv/bin/python -m bench.webhooks.run [--seconds 10] [--rounds 3] [--workers 2] [--connections 16]
Needs PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379 and Debian's wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.chaos.procs import descendants, free_port
from bench.speed import describe, loop_seconds

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-" + "x" * 24
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def order_body() -> bytes:
    """About 1.5 KB, the shape of a small orders/paid payload."""
    payload = {
        "id": 12000000000000001, "admin_graphql_api_id": "gid://shopify/Order/12000000000000001", "name": "#1001",
        "email": "ana@example.com", "created_at": "2026-11-22T09:00:00-05:00", "updated_at": "2026-11-22T09:00:05-05:00",
        "processed_at": "2026-11-22T09:00:00-05:00", "financial_status": "paid", "test": False, "currency": "USD",
        "subtotal_price": "59.90", "current_subtotal_price": "59.90",
        "current_subtotal_price_set": {"shop_money": {"amount": "59.90", "currency_code": "USD"},
                                       "presentment_money": {"amount": "59.90", "currency_code": "USD"}},
        "total_shipping_price_set": {"shop_money": {"amount": "5.00", "currency_code": "USD"}},
        "current_total_tax": "0.00", "total_discounts": "0.00", "discount_codes": [], "browser_ip": "203.0.113.9",
        "customer": {"id": 11000000000000001, "email": "ana@example.com", "first_name": "Ana", "last_name": "Lima"},
        "shipping_address": {"address1": "1 Main St", "city": "Springfield", "zip": "12345", "country_code": "US"},
        "line_items": [{"id": 13000000000000000 + i, "title": f"Item {i}", "quantity": 1, "price": "19.95",
                        "price_set": {"shop_money": {"amount": "19.95", "currency_code": "USD"}}, "gift_card": False,
                        "sku": f"SKU-{i:04d}", "vendor": "Regulars Demo"} for i in range(3)],
        "refunds": [],
    }
    return json.dumps(payload).encode()




@contextmanager
def bench_database() -> Iterator[str]:
    name = f"regulars_bench_webhooks_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def gunicorn(target: str, env: dict[str, str], workers: int, threads: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    kind = ["-k", "gthread", "--threads", str(threads)] if threads > 1 else ["-k", "sync"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), *kind, "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--backlog", "2048", target],
        cwd=ROOT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/healthz", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of these processes, from /proc (a process gone since counts nothing)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def serving_pids(eng: Any, gunicorn_pid: int) -> dict[str, list[int]]:
    """Everything that works for a request, by part: the gunicorn tree, the PostgreSQL backends of the bench's
    database (not this process's own) with the WAL writer and checkpointer, and Redis."""
    with eng.connect() as c:
        pg = list(c.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() AND pid <> pg_backend_pid()) "
            "OR backend_type IN ('walwriter', 'checkpointer', 'background writer')")).scalars())
    redis = [int(p) for p in os.listdir("/proc") if p.isdigit() and _comm(int(p)) == "redis-server"]
    return {"python": [gunicorn_pid, *descendants(gunicorn_pid)], "postgres": pg, "redis": redis}


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def wrk(url: str, seconds: int, connections: int, env: dict[str, str],
        parts: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """wrk's figures, and with `parts` the CPU microseconds per request of each part and of wrk itself."""
    parts = parts or {}
    before = {name: cpu_seconds(pids) for name, pids in parts.items()}
    wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(Path(__file__).with_name("post.lua")), url],
        capture_output=True, text=True, env=env, check=True,
    ).stdout
    wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {name: cpu_seconds(pids) - before[name] for name, pids in parts.items()}
    cpu["wrk"] = (wrk1.ru_utime + wrk1.ru_stime) - (wrk0.ru_utime + wrk0.ru_stime)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    per_request = {name: seconds / max(total, 1) * 1e6 for name, seconds in cpu.items()}
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "requests": total,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "cpu_us": sum(per_request.values()),
            "cpu_parts": per_request}


def paced(url: str, body: bytes, signature: str, rate: int, seconds: int, run: str) -> dict[str, float]:
    """Open-loop load at a fixed rate (wrk cannot pace): each request is due on its schedule, and its latency
    runs from when it was due, so waiting for a free connection behind a slow request counts.

    One asyncio loop over raw keep-alive connections: a client of threads (httpx) spent more time waiting for
    its own GIL than the server took to answer (p99 ≈ 350 ms at the client against ≈ 30 ms measured inside
    gunicorn), and measured itself."""
    host, port = url.removeprefix("http://").split(":")
    total, connections = rate * seconds, 16

    def request(i: int) -> bytes:
        head = (f"POST /webhooks HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nX-Shopify-Topic: orders/paid\r\n"
                f"X-Shopify-Hmac-Sha256: {signature}\r\nX-Shopify-Shop-Domain: bench.myshopify.com\r\n"
                f"X-Shopify-Webhook-Id: p-{run}-{i}\r\nX-Shopify-Event-Id: pe-{run}-{i}\r\n\r\n")
        return head.encode() + body

    async def main() -> tuple[list[float], int]:
        queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
        latencies: list[float] = []
        errors = 0

        async def connection() -> None:
            nonlocal errors
            reader, writer = await asyncio.open_connection(host, int(port))
            while (job := await queue.get()) is not None:
                i, due = job
                try:
                    writer.write(request(i))
                    status = (await reader.readuntil(b"\r\n")).split()[1]
                    length, close = 0, False
                    while (line := (await reader.readuntil(b"\r\n")).lower()) != b"\r\n":
                        if line.startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                        close = close or line == b"connection: close\r\n"
                    await reader.readexactly(length)
                    errors += status != b"200"
                    if close:  # gunicorn's sync workers answer one request per connection
                        writer.close()
                        reader, writer = await asyncio.open_connection(host, int(port))
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies.append((time.perf_counter() - due) * 1000)
            writer.close()

        workers = [asyncio.create_task(connection()) for _ in range(connections)]
        start = time.perf_counter() + 0.2
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((i, due))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        return latencies, errors

    latencies, errors = asyncio.run(main())
    latencies.sort()
    return {"rate": rate, "p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1],
            "errors": errors, "requests": len(latencies)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8, help="gthread threads per worker (1 = sync workers)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="bare/app measurements, alternated")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    body = order_body()
    speed_before = loop_seconds()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    run = secrets.token_hex(4)
    with bench_database() as db_url:
        env = {**os.environ, "REGULARS_ENV": "production", "SHOPIFY_API_KEY": "bench-key",
               "SHOPIFY_API_SECRET": SECRET, "APP_URL": "https://bench.example", "DATABASE_URL": db_url,
               "REDIS_URL": REDIS_URL, "REGULARS_QUEUE_PREFIX": f"bench-{run}-",
               "BENCH_BODY": body.decode(), "BENCH_HMAC": signature, "BENCH_RUN": run}
        env.pop("SHOPIFY_API_ORIGIN", None)
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade", "heads"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        eng = create_engine(db_url)
        with eng.begin() as c:
            c.execute(text("INSERT INTO shops (domain, currency, money_format, settings, installed_at, access_token, "
                           "created_at, updated_at) VALUES ('bench.myshopify.com', 'USD', '${{amount}}', '{}', now(), "
                           "'tok', now(), now())"))
        # Both servers run side by side and the load alternates between them, round after round: on a shared
        # machine a background load that comes and goes then weighs on both sides of the ratio alike.
        with gunicorn("bench.webhooks.bare:app", env, args.workers, args.threads) as (bare_url, bare_pid), \
                gunicorn("app:create_app()", env, args.workers, args.threads) as (app_url, app_pid):
            wrk(bare_url + "/webhooks", 2, args.connections, env)  # warm-up
            wrk(app_url + "/webhooks", 2, args.connections, {**env, "BENCH_RUN": run + "w"})
            rounds: list[tuple[dict[str, float], dict[str, float], int]] = []
            for r in range(args.rounds):
                bare = wrk(bare_url + "/webhooks", args.seconds, args.connections, env, serving_pids(eng, bare_pid))
                with eng.connect() as c:
                    before = c.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar_one()
                app = wrk(app_url + "/webhooks", args.seconds, args.connections, {**env, "BENCH_RUN": f"{run}r{r}"},
                          serving_pids(eng, app_pid))
                with eng.connect() as c:
                    stored = c.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar_one() - before
                rounds.append((bare, app, stored))
            with eng.connect() as c:
                # Every row of one group commit carries the same created_at: rows per commit, as the server saw it.
                per_commit = c.execute(text("SELECT count(*)::float / count(DISTINCT created_at) "
                                            "FROM webhook_deliveries")).scalar_one()
            pace = paced(app_url, body, signature, args.rate, args.seconds, run)
        eng.dispose()
    speed_after = loop_seconds()
    server = f"gthread x{args.threads}" if args.threads > 1 else "sync"
    print(f"bench/webhooks  gunicorn -w {args.workers} {server}, wrk -t2 -c{args.connections} -d{args.seconds}s "
          f"x {args.rounds} rounds, 1.5 KB body")
    print(f"{'round':<7}{'endpoint':<32}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}{'cpu us':>8}"
          f"{'stored/s':>10}{'ratio':>8}")
    ratios = []
    for r, (bare, app, stored) in enumerate(rounds, 1):
        ratios.append(app["rps"] / bare["rps"])
        print(f"{r:<7}{'bare Flask 200':<32}{bare['rps']:>10.0f}{bare['p50']:>10.2f}{bare['p99']:>10.2f}"
              f"{bare['non2xx']:>10}{bare['cpu_us']:>8.0f}")
        print(f"{'':<7}{'POST /webhooks (verify+store)':<32}{app['rps']:>10.0f}{app['p50']:>10.2f}{app['p99']:>10.2f}"
              f"{app['non2xx']:>10}{app['cpu_us']:>8.0f}{stored / args.seconds:>10.0f}{ratios[-1]:>8.2f}")
    bare_total = sum(b["rps"] for b, _, _ in rounds)
    app_total = sum(a["rps"] for _, a, _ in rounds)
    print(f"verified-and-stored per second: {sum(s for _, _, s in rounds) / (args.seconds * args.rounds):.0f}"
          f"  (rows per group commit: {per_commit:.1f})")
    print(f"ratio to bare Flask: {app_total / bare_total:.2f} over all rounds, median round "
          f"{statistics.median(ratios):.2f}  (target >= 0.3, goal 0.5)")
    # CPU per request counts only this run's processes, so it holds on a machine shared with other work,
    # where req/s swings with the neighbours' load.
    bare_cpu = statistics.median(b["cpu_us"] for b, _, _ in rounds)
    app_cpu = statistics.median(a["cpu_us"] for _, a, _ in rounds)
    print(f"CPU per request (server processes, PostgreSQL, Redis and wrk; median round): bare {bare_cpu:.0f} us, "
          f"webhooks {app_cpu:.0f} us; ratio {bare_cpu / app_cpu:.2f}")
    for label, side in (("bare", 0), ("webhooks", 1)):
        names = rounds[0][side]["cpu_parts"]
        print(f"  {label:<9}" + ", ".join(
            f"{n} {statistics.median(r[side]['cpu_parts'][n] for r in rounds):.0f} us" for n in names))
    print(f"paced {pace['rate']} req/s for {args.seconds}s: p50 {pace['p50']:.2f} ms, p99 {pace['p99']:.2f} ms, "
          f"errors {pace['errors']} of {pace['requests']}  (target p99 <= 50 ms)")
    print(f"{describe(speed_before)} before the runs, {speed_after:.2f} s after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
