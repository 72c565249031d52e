"""The fault-injection run: the whole pipeline under worker kills, a Redis restart and a PostgreSQL cut, checked
against an independent oracle. `python -m bench.chaos --webhooks 20000 --customers 2000` (or `--short`).

Production-like: gunicorn (gthread workers), real forking `rq worker` processes, PostgreSQL (a database of
the run's own, migrated by `flask --app app db upgrade heads`) and a redis-server of the run's own (so it
can be restarted). REGULARS_ENV=development because production insists on an https APP_URL and real secrets.
The program stays at its defaults except pending_days=0, so the oracle stays small (see oracle.py).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.chaos import procs
from bench.chaos.oracle import MemberExpectation, expected_ledger
from bench.chaos.workload import WorkloadStats, generate

SHOP = "chaos.myshopify.com"
API_KEY = "chaos-api-key"
API_SECRET = "chaos-api-secret"
REWARD_COST = 100


@dataclass
class Options:
    webhooks: int = 20_000
    customers: int = 2_000
    kill_every: float = 3.0
    workers: int = 2
    seed: int = 20261122
    duplicate_rate: float = 0.25
    shuffle_window: int = 20
    bad_hmac_rate: float = 0.01
    redemption_members: int = 10
    redemptions: int = 100
    drain_timeout: float = 900.0
    sweep_every: float = 3.0
    pg_admin_url: str = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    keep: bool = False

    @classmethod
    def short(cls, **kw: Any) -> Options:
        return cls(**{"webhooks": 2_000, "customers": 200, "kill_every": 4.0, "drain_timeout": 420.0, **kw})


@dataclass
class Report:
    rows: list[tuple[str, Any]] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    logdir: str = ""

    def add(self, name: str, value: Any) -> None:
        self.rows.append((name, value))

    def promise(self, ok: bool, what: str) -> None:
        if not ok:
            self.broken.append(what)

    def table(self) -> str:
        width = max(len(n) for n, _ in self.rows) if self.rows else 10
        lines = [f"{'':-<{width + 16}}"]
        lines += [f"{name:<{width}}  {value!s:>12}" for name, value in self.rows]
        lines.append(f"{'':-<{width + 16}}")
        lines += [f"BROKEN: {b}" for b in self.broken] or ["every promise kept"]
        return "\n".join(lines)


class Chaos:
    """The faults, on a background thread: a worker SIGKILL every few seconds, Redis restarted once, and
    PostgreSQL's connections to the run's database cut once; plus the sweeper, as `rq cron` would run it."""

    def __init__(self, opts: Options, workers: procs.Workers, redis: procs.RedisServer, app: Any, pg_admin: Any,
                 dbname: str) -> None:
        self.opts = opts
        self.workers = workers
        self.redis = redis
        self.app = app
        self.pg_admin = pg_admin
        self.dbname = dbname
        self.progress = 0.0  # fraction of webhooks sent, set by the sender
        self.stop = threading.Event()
        self.kill_stop = threading.Event()
        self.pg_cuts = 0
        self.pg_terminated = 0
        self.sweeps = 0
        self.sweep_errors = 0
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self.stop.set()
        self._thread.join(timeout=60)

    def sweep_once(self) -> None:
        from app.jobs.webhooks import sweep

        try:
            with self.app.app_context():
                sweep()
            self.sweeps += 1
        except Exception as exc:  # Redis or PostgreSQL down at that moment: the next sweep tries again
            self.sweep_errors += 1
            self.errors.append(f"sweep: {type(exc).__name__}: {str(exc)[:120]}")

    def cut_pg(self) -> None:
        with self.pg_admin.connect() as conn:
            n = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": self.dbname}).scalar_one()
        self.pg_cuts += 1
        self.pg_terminated += int(n)

    def _run(self) -> None:
        last_kill = last_sweep = time.monotonic()
        redis_done = pg_done = False
        while not self.stop.is_set():
            now = time.monotonic()
            try:
                if not self.kill_stop.is_set() and now - last_kill >= self.opts.kill_every:
                    self.workers.kill_one()
                    last_kill = now
                if not redis_done and self.progress >= 0.3:
                    self.redis.restart()
                    redis_done = True
                if not pg_done and self.progress >= 0.6:
                    self.cut_pg()
                    pg_done = True
                self.workers.revive()
                if now - last_sweep >= self.opts.sweep_every:
                    self.sweep_once()
                    last_sweep = now
            except Exception as exc:
                self.errors.append(f"chaos: {type(exc).__name__}: {str(exc)[:160]}")
            self.stop.wait(0.2)


def _env(db_url: str, redis_url: str, store_url: str, app_url: str, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
        "SHOPIFY_API_ORIGIN": store_url, "APP_URL": app_url, "REGULARS_ENV": "development",
        "REGULARS_QUEUE_PREFIX": prefix, "REGULARS_DRAIN_SLOTS": "2", "PYTHONUNBUFFERED": "1",
    }


def _migrate(env: dict[str, str], logdir: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade", "heads"], env=env,
                         cwd=procs.ROOT, capture_output=True, text=True, timeout=300)
    (logdir / "migrate.log").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise RuntimeError(f"migration failed: {out.stderr[-2000:]}")


def _install_shop(app: Any, token: str) -> int:
    from app.extensions import db
    from app.models import Reward, Shop, utcnow

    with app.app_context():
        shop = Shop(domain=SHOP, name="Chaos", access_token=token, scopes="read_customers,write_customers,"
                    "read_orders,write_discounts,write_app_proxy", installed_at=utcnow(), settings={"pending_days": 0})
        db.session.add(shop)
        db.session.flush()
        reward = Reward(shop_id=shop.id, type="fixed_amount", name="1.00 off", points_cost=REWARD_COST,
                        value=Decimal("1.00"), minimum_subtotal=Decimal("0"), active=True)
        db.session.add(reward)
        db.session.commit()
        return int(reward.id)


def _db_state(app: Any) -> dict[str, Any]:
    """Deliveries and points as the database has them."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import LedgerEntry, Member, WebhookDelivery
    from app.services.ledger import balance_mismatches

    with app.app_context():
        deliveries = db.session.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.status,
                                               WebhookDelivery.body.contains('"note":"forged"'))).all()
        members = {int(cid): (int(a or 0), int(p or 0), redacted is not None) for cid, a, p, redacted in db.session.execute(
            select(Member.customer_id, Member.points_available, Member.points_pending, Member.redacted_at))}
        sums = {int(cid): int(s) for cid, s in db.session.execute(
            select(Member.customer_id, func.coalesce(func.sum(LedgerEntry.points), 0))
            .join(LedgerEntry, LedgerEntry.member_id == Member.id).group_by(Member.customer_id))}
        mismatches = balance_mismatches()
        errors = db.session.execute(select(WebhookDelivery.topic, WebhookDelivery.last_error).where(
            WebhookDelivery.status != "processed", WebhookDelivery.last_error.is_not(None)).limit(5)).all()
        db.session.rollback()
    return {"deliveries": deliveries, "members": members, "sums": sums, "balance_mismatches": mismatches,
            "errors": errors}


def _pending(app: Any) -> int:
    from app.extensions import db
    from app.services.deliveries import pending_count

    with app.app_context():
        try:
            return pending_count(due_only=False)
        finally:
            db.session.rollback()


def _compare(expected: dict[int, MemberExpectation], members: dict[int, tuple[int, int, bool]],
             sums: dict[int, int], redeemed: Counter[int] | None = None) -> list[str]:
    """Every member whose points differ from the oracle's, one line each (cached and summed entries)."""
    redeemed = redeemed or Counter()
    out = []
    for cid in sorted(set(expected) | set(members) | set(sums)):
        want = (expected[cid].total if cid in expected else 0) - redeemed[cid] * REWARD_COST
        avail, pending, _ = members.get(cid, (0, 0, False))
        summed = sums.get(cid, 0)
        if avail != want or pending != 0 or summed != want:
            out.append(f"customer {cid}: oracle {want}, available {avail}, pending {pending}, entries sum {summed}")
    return out


def _redeem(opts: Options, app_url: str, reward_id: int, expected: dict[int, MemberExpectation],
            members: dict[int, tuple[int, int, bool]], report: Report) -> Counter[int]:
    """Fires `redemptions` concurrent requests at members whose balances cover exactly N rewards each."""
    import warnings

    from devstore import mint_session_token

    # The run's API secret is a short test string; PyJWT's advice about key length is noise here.
    warnings.filterwarnings("ignore", message="The HMAC key is")
    rng = random.Random(opts.seed)
    fits = [cid for cid, m in sorted(expected.items())
            if 1 <= m.total // REWARD_COST <= 9 and not m.redacted and members.get(cid, (0, 0, False))[0] == m.total]
    chosen = rng.sample(fits, min(opts.redemption_members, len(fits)))
    if not chosen:
        report.promise(False, "no member with a balance of 100..999 points to redeem against")
        return Counter()
    per_member = max(1, opts.redemptions // len(chosen))
    want = {cid: expected[cid].total // REWARD_COST for cid in chosen}
    jobs = [cid for cid in chosen for _ in range(per_member)]
    rng.shuffle(jobs)
    barrier = threading.Barrier(len(jobs), timeout=30)

    def one(cid: int) -> tuple[int, int, str | None]:
        token = mint_session_token(SHOP, API_KEY, API_SECRET, ttl=300)
        with httpx.Client(timeout=60) as client:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            try:
                r = client.post(f"{app_url}/api/v1/members/{cid}/redemptions",
                                json={"reward_id": reward_id, "idempotency_key": str(uuid.uuid4())},
                                headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                return cid, 0, f"{type(exc).__name__}"
            code = None
            if r.status_code in (200, 201):
                try:
                    code = r.json().get("code")
                except ValueError:
                    code = None
            return cid, r.status_code, code

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(one, jobs))
    ok: Counter[int] = Counter(cid for cid, status, code in results if status in (200, 201) and code)
    statuses = Counter(status for _, status, _ in results)
    report.add("redemption requests", len(results))
    report.add("  members × requests each", f"{len(chosen)}×{per_member}")
    report.add("  succeeded (codes answered)", sum(ok.values()))
    report.add("  expected (Σ N)", sum(want.values()))
    report.add("  refused 409", statuses.get(409, 0))
    report.add("  other answers", ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items()) if s not in (200, 201, 409))
               or "none")
    if statuses.get(404, 0) == len(results):
        report.promise(False, "POST /api/v1/members/{customer_id}/redemptions answered 404 to every request: "
                              "the route (contract.md, public API v1) does not exist yet")
    wrong = {cid: (ok[cid], want[cid]) for cid in chosen if ok[cid] != want[cid]}
    report.add("  members with ≠ N codes", len(wrong))
    report.promise(not wrong, f"redemptions: members got (codes, N) {dict(list(wrong.items())[:5])}")
    report.promise(not any(s >= 500 or s == 0 for s in statuses), f"redemptions answered {dict(statuses)}")
    return ok


def run(opts: Options, out: Any = sys.stdout) -> Report:
    """Runs everything, prints progress and the table to `out`, returns the report (broken promises listed)."""
    from app import create_app
    from app.config import Config
    from devstore import DevStore, serve_in_thread

    report = Report()
    # create_app logs at INFO; a line per HTTP request would bury the table.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logdir = Path(tempfile.mkdtemp(prefix="regulars-chaos-"))
    report.logdir = str(logdir)

    def say(msg: str) -> None:
        print(f"[chaos] {msg}", file=out, flush=True)

    dbname = f"regulars_chaos_{secrets.token_hex(4)}"
    pg_admin = create_engine(opts.pg_admin_url, isolation_level="AUTOCOMMIT")
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    db_url = opts.pg_admin_url.rsplit("/", 1)[0] + f"/{dbname}"
    redis = procs.RedisServer(procs.free_port(), logdir)
    gunicorn: procs.Gunicorn | None = None
    workers: procs.Workers | None = None
    store_server = None
    app = None
    chaos: Chaos | None = None
    try:
        redis.start()
        app_port = procs.free_port()
        app_url = f"http://127.0.0.1:{app_port}"
        store = DevStore(api_key=API_KEY, api_secret=API_SECRET, app_url=app_url, rate_limit=False)
        store.sender.mode = "queue"
        store_server, _thread, store_url = serve_in_thread(store, "127.0.0.1", 0)
        prefix = f"chaos{secrets.token_hex(3)}-"
        env = _env(db_url, redis.url, store_url, app_url, prefix)
        say(f"database {dbname}, redis :{redis.port}, app {app_url}, logs {logdir}")
        _migrate(env, logdir)
        app = create_app(Config(env="development", api_key=API_KEY, api_secret=API_SECRET, app_url=app_url,
                                database_url=db_url, redis_url=redis.url, shopify_api_origin=store_url,
                                queue_prefix=prefix, drain_slots=2))
        store.add_shop(SHOP)
        reward_id = _install_shop(app, store.issue_access_token(SHOP)["access_token"])

        events_wanted = int(opts.webhooks / (1 + opts.duplicate_rate + opts.bad_hmac_rate))
        stats: WorkloadStats = generate(store, SHOP, events=events_wanted, customers=opts.customers, seed=opts.seed)
        events = store.sender.queued
        expected = expected_ledger((e.topic, e.payload) for e in events)
        say(f"{len(events)} events queued for {stats.customers} customers")

        gunicorn = procs.Gunicorn(app_port, env, logdir)
        gunicorn.start()
        workers = procs.Workers(opts.workers, env, redis.url, [f"{prefix}webhooks", f"{prefix}sync", f"{prefix}bulk"],
                                logdir)
        workers.start()
        chaos = Chaos(opts, workers, redis, app, pg_admin, dbname)
        chaos.start()

        # The sender reports progress to the chaos thread through the delivery list it appends to.
        planned = int(len(events) * (1 + opts.duplicate_rate + opts.bad_hmac_rate))
        sending = threading.Event()

        def watch_progress() -> None:
            while not sending.wait(0.2):
                chaos.progress = len(store.sender.deliveries) / max(1, planned)

        watcher = threading.Thread(target=watch_progress, daemon=True)
        watcher.start()
        t0 = time.monotonic()
        sent = store.sender.flush(duplicate_rate=opts.duplicate_rate, shuffle_window=opts.shuffle_window,
                                  seed=opts.seed, bad_hmac_rate=opts.bad_hmac_rate)
        sending.set()
        chaos.progress = 1.0
        t_sent = time.monotonic()
        say(f"{len(sent)} deliveries sent in {t_sent - t0:.1f} s")
        # Shopify retries what was not answered 2xx (a 5xx while PostgreSQL was cut, a reset connection).
        redelivered = 0
        for _ in range(8):
            again = store.sender.redeliver_failed()
            if not again:
                break
            redelivered += len(again)
            time.sleep(1.0)

        deadline = time.monotonic() + opts.drain_timeout
        left = _pending(app)
        while left and time.monotonic() < deadline:
            time.sleep(1.0)
            left = _pending(app)
            if time.monotonic() - t_sent > 30:
                # The kills have made their point; let the retries' backoff finish without more.
                chaos.kill_stop.set()
        chaos.kill_stop.set()
        chaos.sweep_once()
        t_drained = time.monotonic()
        say(f"drained: {left} left after {t_drained - t_sent:.1f} s")

        deliveries = store.sender.deliveries
        authentic = [d for d in deliveries if d.authentic]
        forged = [d for d in deliveries if not d.authentic]
        authentic_ids = {d.webhook_id for d in authentic}
        answered_ids = {d.webhook_id for d in authentic if d.status is not None and 200 <= d.status < 300}
        forged_ids = {d.webhook_id for d in forged}
        non_2xx = Counter(str(d.status or d.error or "?")[:24] for d in authentic if not (d.status and d.status < 300))
        state = _db_state(app)
        stored = Counter(wid for wid, _, _ in state["deliveries"])
        statuses = Counter(status for _, status, _ in state["deliveries"])
        forged_bodies = sum(1 for _, _, is_forged in state["deliveries"] if is_forged)
        mism = _compare(expected, state["members"], state["sums"])
        total_expected = sum(m.total for m in expected.values())
        total_ledger = sum(state["sums"].values())

        r = report
        r.add("events (authentic)", len(events))
        r.add("deliveries sent", len(deliveries))
        r.add("  duplicates sent", sum(1 for d in deliveries if d.duplicate))
        r.add("  bad HMAC sent", len(forged))
        r.add("  redelivered (non-2xx)", redelivered)
        r.add("  authentic non-2xx answers", ", ".join(f"{k}×{v}" for k, v in non_2xx.items()) or "none")
        r.add("  bad HMAC answered 401", sum(1 for d in forged if d.status == 401))
        r.add("stored deliveries", sum(stored.values()))
        r.add("  authentic webhook ids", len(authentic_ids))
        r.add("  stored more than once", sum(1 for n in stored.values() if n > 1))
        r.add("  authentic never stored", len(authentic_ids - set(stored)))
        r.add("  bad-HMAC traces stored", len(forged_ids & set(stored)) + forged_bodies)
        r.add("processed", statuses.get("processed", 0))
        r.add("skipped", statuses.get("skipped", 0))
        r.add("received/retry left", statuses.get("received", 0) + statuses.get("retry", 0))
        r.add("failed", statuses.get("failed", 0))
        r.add("members (oracle / database)", f"{len(expected)} / {len(state['members'])}")
        r.add("points total (oracle)", total_expected)
        r.add("points total (ledger)", total_ledger)
        r.add("ledger mismatches vs oracle", len(mism))
        r.add("balance_mismatches()", len(state["balance_mismatches"]))
        r.add("worker SIGKILLs", workers.kills)
        r.add("worker (re)starts", workers.restarts)
        r.add("redis restarts", redis.restarts)
        r.add("postgres cuts (backends)", f"{chaos.pg_cuts} ({chaos.pg_terminated})")
        r.add("sweeps (errors)", f"{chaos.sweeps} ({chaos.sweep_errors})")
        r.add("time to send (s)", f"{t_sent - t0:.1f}")
        r.add("time to drain (s)", f"{t_drained - t_sent:.1f}")

        r.promise(answered_ids == authentic_ids, f"{len(authentic_ids - answered_ids)} authentic deliveries never got a 2xx")
        r.promise(set(stored) <= authentic_ids and authentic_ids <= set(stored), "stored webhook ids ≠ authentic ones")
        r.promise(all(n == 1 for n in stored.values()), "a delivery was stored more than once")
        r.promise(not (forged_ids & set(stored)) and forged_bodies == 0, "a bad-HMAC delivery left a trace")
        r.promise(all(d.status == 401 for d in forged), "a bad-HMAC delivery was not answered 401")
        r.promise(statuses.get("received", 0) + statuses.get("retry", 0) + statuses.get("failed", 0) == 0,
                  f"deliveries left unprocessed: {dict(statuses)}; e.g. {[(t, (e or '')[:200]) for t, e in state['errors']]}")
        r.promise(not mism, f"{len(mism)} members differ from the oracle, e.g. {mism[:3]}")
        r.promise(not state["balance_mismatches"], f"cached balances ≠ entries: {state['balance_mismatches'][:3]}")
        r.promise(len(state["members"]) >= stats.customers, "some created customers have no member")

        # Redemptions against the live gunicorn, after the drain so the balances are known exactly.
        ok = _redeem(opts, app_url, reward_id, expected, state["members"], r)
        codes = Counter(c for d in store.discount_codes(SHOP) for c in d["customer_ids"] if not d["deleted"])
        r.add("  discount codes in the store", sum(codes.values()))
        r.promise(all(codes[cid] == n for cid, n in ok.items()) and sum(codes.values()) == sum(ok.values()),
                  f"store codes {dict(codes)} ≠ answered codes {dict(ok)}")
        after = _db_state(app)
        mism_after = _compare(expected, after["members"], after["sums"], ok)
        r.add("ledger mismatches after redemptions", len(mism_after))
        r.promise(not mism_after, f"after redemptions: {mism_after[:3]}")
        r.promise(not after["balance_mismatches"], "cached balances ≠ entries after redemptions")
        if chaos.errors:
            say(f"chaos thread notes ({len(chaos.errors)}): {chaos.errors[:5]}")
    finally:
        if chaos is not None:
            chaos.join()
        if workers is not None:
            workers.close()
        if gunicorn is not None:
            gunicorn.close()
        redis.close()
        if store_server is not None:
            store_server.shutdown()
        if app is not None:
            from app.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        if not opts.keep:
            with pg_admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
            if not report.broken:
                shutil.rmtree(logdir, ignore_errors=True)
        pg_admin.dispose()
    print(report.table(), file=out, flush=True)
    if report.broken:
        print(f"[chaos] logs kept in {logdir}", file=out, flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=None, help="deliveries to send (default 20000)")
    parser.add_argument("--customers", type=int, default=None, help="customers created (default 2000)")
    parser.add_argument("--short", action="store_true", help="the CI size: about 2,000 webhooks, fewer kills")
    parser.add_argument("--kill-every", type=float, default=None, help="seconds between worker SIGKILLs")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args(argv)
    kw = {k: v for k, v in {"webhooks": args.webhooks, "customers": args.customers, "kill_every": args.kill_every,
                            "seed": args.seed, "keep": args.keep or None}.items() if v is not None}
    opts = Options.short(**kw) if args.short else Options(**kw)
    report = run(opts)
    return 1 if report.broken else 0
