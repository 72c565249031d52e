"""The embedded default under load, as README command (a) runs it: SQLite file, jobs in-process with the
schedule on, the threaded server. A burst of 200 webhooks arrives while a shopper redeems rewards in the
widget and a merchant opens the dashboard: no 5xx anywhere, no "database is locked" in the logs, every
delivery processed, and each redemption has both its debit and its code, or neither."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.jobs import jobs_for
from app.loyalty import ledger as rules
from app.models import LedgerEntry, Member, Redemption, WebhookDelivery
from app.services.ledger import balance_mismatches, lock_member, post_entry
from devstore.tokens import mint_session_token
from tests.conftest import TEST_KEY, TEST_SECRET, LiveServer, make_config
from tests.helpers import webhook
from tests.proxy.conftest import SHOP, proxy_url, seed_shop
from tests.services.engine_fixtures import customer_payload, new_id, order_payload

BURST = 200
REDEMPTIONS = 6


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        self.lines.append(text)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[dict[str, Any]]:
    from devstore import DevStore, serve_in_thread

    store = DevStore(api_key=TEST_KEY, api_secret=TEST_SECRET, app_url="http://127.0.0.1:9", rate_limit=False)
    store.add_shop(SHOP)
    server, _, store_url = serve_in_thread(store)
    app = create_app(make_config(database_url=f"sqlite:///{tmp_path}/burst.db", shopify_api_origin=store_url,
                                 in_process_schedule=True))
    with app.app_context():
        upgrade()
        token = store.issue_access_token(SHOP)["access_token"]
        ann = int(store.create_customer(SHOP, "ann@example.com", "Ann", notify=False)["id"])
        bob = int(store.create_customer(SHOP, "bob@example.com", "Bob", notify=False)["id"])
        seeded = seed_shop(access_token=token, customer_ids=(ann, bob))
        locked = lock_member(seeded.member_id)  # enough for every redemption of the test
        post_entry(locked, points=5000, kind=rules.ADMIN_ADJUSTMENT, source=rules.SOURCE_ADMIN,
                   idempotency_key="burst-balance", snapshot={"test": True})
        db.session.commit()
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    try:
        with LiveServer(app) as live:
            yield {"app": app, "url": live.url, "seeded": seeded, "store": store, "log": collect}
    finally:
        logging.getLogger().removeHandler(collect)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        server.shutdown()


def _deliveries() -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for i in range(BURST):
        cid = new_id()
        if i % 4 == 0:
            out.append(webhook("customers/create", customer_payload(cid, f"c{cid}@example.com"), shop=SHOP))
        else:
            out.append(webhook("orders/paid", order_payload(new_id(12_000_000_000_000_000), cid,
                                                            subtotal=f"{10 + i % 50}.00", email=f"c{cid}@x.test"),
                               shop=SHOP))
    return out


def _redeem(base: str, customer_id: int, reward_id: int, statuses: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        page = http.get(proxy_url("widget", customer_id))
        statuses.append(page.status_code)
        token = re.search(r'name="form_token" value="([^"]+)"', page.text)
        key = re.search(r'name="request_key" value="([^"]+)"', page.text)
        assert token and key, page.text[:500]
        resp = http.post(proxy_url("widget/redeem", customer_id),
                         data={"form_token": token.group(1), "request_key": key.group(1), "reward_id": str(reward_id)})
        statuses.append(resp.status_code)


def test_200_webhooks_while_a_shopper_redeems_and_the_merchant_looks(embedded: dict[str, Any]) -> None:
    base, seeded = embedded["url"], embedded["seeded"]
    bodies = _deliveries()
    statuses: dict[str, list[int]] = {"webhooks": [], "widget": [], "dashboard": []}
    session = mint_session_token(SHOP, TEST_KEY, TEST_SECRET, ttl=600)

    def send(item: tuple[bytes, dict[str, str]]) -> int:
        with httpx.Client(base_url=base, timeout=30) as http:
            return http.post("/webhooks", content=item[0], headers=item[1]).status_code

    def shopper() -> None:
        for _ in range(REDEMPTIONS):
            _redeem(base, seeded.customer_id, seeded.cheap_reward_id, statuses["widget"])

    def merchant() -> None:
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {session}"}) as http:
            for _ in range(3):
                for path in ("/api/admin/analytics/summary", "/api/admin/analytics/segments",
                             "/api/admin/analytics/cohorts", "/api/admin/members"):
                    statuses["dashboard"].append(http.get(path).status_code)

    others = [threading.Thread(target=shopper), threading.Thread(target=merchant)]
    for t in others:
        t.start()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses["webhooks"] = list(pool.map(send, bodies))
    for t in others:
        t.join(120)

    assert statuses["webhooks"] == [200] * BURST
    assert statuses["widget"] and all(s == 200 for s in statuses["widget"]), statuses["widget"]
    assert statuses["dashboard"] and all(s == 200 for s in statuses["dashboard"]), statuses["dashboard"]

    app = embedded["app"]
    deadline = time.monotonic() + 60
    while True:  # what was handed to the runner under the burst is processed right behind it
        with app.app_context():
            left = db.session.execute(select(func.count()).select_from(WebhookDelivery)
                                      .where(WebhookDelivery.status != "processed")).scalar_one()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert left == 0, jobs_for(app).inprocess.pending()
    problems = [line for line in embedded["log"].lines if "locked" in line or "Traceback" in line]
    assert problems == []

    with app.app_context():
        assert balance_mismatches() == []
        ann = db.session.get(Member, seeded.member_id)
        redemptions = list(db.session.execute(select(Redemption).where(Redemption.member_id == ann.id)).scalars())
        codes = {c["code"] for c in embedded["store"].discount_codes(SHOP)}
        debits = db.session.execute(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.member_id == ann.id, LedgerEntry.kind == rules.REDEEM)).scalar_one()
        reversals = db.session.execute(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.member_id == ann.id, LedgerEntry.kind == rules.REDEEM_REVERSED)).scalar_one()
        issued = [r for r in redemptions if r.status == "issued"]
        # Both or neither: every issued redemption has its code in Shopify and its debit; a failed one its
        # debit and the entry that gives it back.
        assert {r.code for r in issued} <= codes
        assert debits == len(redemptions) and reversals == len(redemptions) - len(issued)
        assert len(issued) == REDEMPTIONS and ann.points_available == 5700 - 500 * REDEMPTIONS
