"""The embedded default (SQLite, no Redis, jobs and schedule in-process, the threaded server scripts/demo
uses) under a burst of webhooks while a shopper redeems: webhook answer times, how long until every delivery
is processed, redemption answer times, and any 5xx or "database is locked".

    python -m bench.embedded [--webhooks 200] [--concurrency 16] [--redemptions 6]
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.loyalty import ledger as rules
from app.models import WebhookDelivery
from app.services.ledger import lock_member, post_entry
from bench.speed import describe, loop_seconds
from devstore import DevStore, serve_in_thread
from tests.conftest import TEST_KEY, TEST_SECRET, LiveServer, make_config
from tests.helpers import webhook
from tests.proxy.conftest import SHOP, proxy_url, seed_shop
from tests.services.engine_fixtures import customer_payload, new_id, order_payload


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--redemptions", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    locked: list[str] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
            if "locked" in text:
                locked.append(text)

    logging.getLogger().addHandler(Watch())
    print(describe(loop_seconds()))
    store = DevStore(api_key=TEST_KEY, api_secret=TEST_SECRET, app_url="http://127.0.0.1:9", rate_limit=False)
    store.add_shop(SHOP)
    server, _, store_url = serve_in_thread(store)
    folder = tempfile.mkdtemp(prefix="regulars-embedded-")
    app = create_app(make_config(database_url=f"sqlite:///{folder}/bench.db", shopify_api_origin=store_url,
                                 in_process_schedule=True))
    with app.app_context():
        upgrade()
        token = store.issue_access_token(SHOP)["access_token"]
        ann = int(store.create_customer(SHOP, "ann@example.com", "Ann", notify=False)["id"])
        bob = int(store.create_customer(SHOP, "bob@example.com", "Bob", notify=False)["id"])
        seeded = seed_shop(access_token=token, customer_ids=(ann, bob))
        post_entry(lock_member(seeded.member_id), points=500 * args.redemptions, kind=rules.ADMIN_ADJUSTMENT,
                   source=rules.SOURCE_ADMIN, idempotency_key="bench", snapshot={"bench": True})
        db.session.commit()
    bodies = []
    for i in range(args.webhooks):
        cid = new_id()
        payload = (customer_payload(cid, f"c{cid}@x.test") if i % 4 == 0 else
                   order_payload(new_id(12_000_000_000_000_000), cid, subtotal=f"{10 + i % 50}.00"))
        bodies.append(webhook("customers/create" if i % 4 == 0 else "orders/paid", payload, shop=SHOP))

    with LiveServer(app) as live:
        statuses: list[int] = []
        hook_times: list[float] = []
        redeem_times: list[float] = []

        def send(item: tuple[bytes, dict[str, str]]) -> None:
            with httpx.Client(base_url=live.url, timeout=60) as http:
                t = time.perf_counter()
                statuses.append(http.post("/webhooks", content=item[0], headers=item[1]).status_code)
                hook_times.append(time.perf_counter() - t)

        def shopper() -> None:
            with httpx.Client(base_url=live.url, timeout=60) as http:
                for _ in range(args.redemptions):
                    page = http.get(proxy_url("widget", seeded.customer_id)).text
                    form = dict(re.findall(r'name="(form_token|request_key)" value="([^"]+)"', page))
                    t = time.perf_counter()
                    resp = http.post(proxy_url("widget/redeem", seeded.customer_id),
                                     data={**form, "reward_id": str(seeded.cheap_reward_id)})
                    redeem_times.append(time.perf_counter() - t)
                    statuses.append(resp.status_code)

        start = time.perf_counter()
        other = threading.Thread(target=shopper)
        other.start()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(send, bodies))
        answered = time.perf_counter() - start
        other.join()
        while True:
            with app.app_context():
                left = db.session.execute(select(func.count()).select_from(WebhookDelivery)
                                          .where(WebhookDelivery.status != "processed")).scalar_one()
            if not left:
                break
            time.sleep(0.05)
        processed = time.perf_counter() - start
    server.shutdown()
    errors = sum(1 for s in statuses if s >= 500)
    print(f"{args.webhooks} webhooks from {args.concurrency} clients, {args.redemptions} redemptions alongside")
    print(f"webhook answers: p50 {statistics.median(hook_times) * 1000:.0f} ms, p99 {_ms(hook_times, 0.99):.0f} ms, "
          f"max {max(hook_times) * 1000:.0f} ms; all answered after {answered:.2f} s")
    print(f"all deliveries processed after {processed:.2f} s ({args.webhooks / processed:.0f} deliveries/s)")
    print(f"redemptions: p50 {statistics.median(redeem_times) * 1000:.0f} ms, max {max(redeem_times) * 1000:.0f} ms")
    print(f"5xx answers: {errors}; 'database is locked' logged: {len(locked)}")
    print(describe(loop_seconds()))


if __name__ == "__main__":
    main()
