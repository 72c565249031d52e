"""The Automations page in headless Chromium, used as a merchant would: turn a flow on with a bonus and an
A/B level, see who got it against the holdout, add a webhook endpoint (its secret shown once), see the
delivery log and replay a dead letter. Fails on any console error or unexpected 4xx/5xx.

REGULARS_SCREENSHOTS=docs/screenshots saves admin-automations.png (off by default).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest

from app import create_app
from devstore.receiver import Receiver
from devstore.tokens import mint_session_token
from tests.admin.support import SHOP, install_shop, member
from tests.browser.test_admin_browser import answer_cdn, nav
from tests.conftest import TEST_KEY, TEST_SECRET, LiveServer, make_config

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page_env(pg_url: str) -> Any:
    from playwright.sync_api import sync_playwright

    from tests.conftest import truncate_all

    app = create_app(make_config(env="development", database_url=pg_url))
    with app.app_context():
        from app.extensions import db
        from app.models import utcnow

        shop = install_shop()
        shop.setup_completed_at = utcnow()
        for i in range(40):
            member(shop, 7_700_000_000_000_000 + i, email=f"m{i}@x.test", first=f"M{i}")
        db.session.commit()
    receiver = Receiver().start()
    token = mint_session_token(SHOP, TEST_KEY, TEST_SECRET, ttl=900)
    problems: list[str] = []
    with LiveServer(app) as live, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        # Shopify's CDN is out of reach: app-bridge.js and polaris.js answered by the development stand-ins.
        page.route("https://cdn.shopify.com/**", answer_cdn)
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(f"{live.url}/?shop={SHOP}&host=YWRtaW4&embedded=1&id_token={token}")
        yield {"page": page, "app": app, "receiver": receiver, "problems": problems}
        browser.close()
    receiver.stop()
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)


def test_turn_a_flow_on_see_its_lift_and_manage_where_events_go(page_env):
    page, app, receiver = page_env["page"], page_env["app"], page_env["receiver"]
    nav(page, "Automations")
    page.get_by_role("heading", name="Automations").wait_for()
    rows = page.locator("tbody tr[data-flow]")
    rows.first.wait_for()
    assert rows.count() == 8
    assert "Off" in page.locator('tr[data-flow="welcome"]').inner_text()

    # The editor, in the merchant's words: on, 25 % holdout, 50 bonus points, and 200 for the B half.
    page.get_by_role("link", name="Welcome").click()
    page.get_by_role("heading", name="Welcome").wait_for()
    page.get_by_label("Turn this flow on").check()
    page.get_by_label("Keep out as a holdout (%)").fill("25")
    step = page.locator('fieldset[data-step="welcome"]')
    step.get_by_label("Incentive").first.select_option("points")
    step.get_by_label("Bonus points").first.fill("50")
    step.locator("summary").click()
    step.get_by_label("Incentive").nth(1).select_option("points")
    step.get_by_label("Bonus points").nth(1).fill("200")
    page.screenshot(path="/tmp/automations-editor.png", full_page=True)
    page.get_by_role("button", name="Save").click()
    page.locator('tr[data-flow="welcome"]', has_text="On").wait_for()
    assert "25 %" in page.locator('tr[data-flow="welcome"]').inner_text()

    # A webhook endpoint: the secret is shown once.
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_test_id("endpoint-secret").inner_text()
    assert secret.startswith("whsec_")
    receiver.secret = secret

    # The schedule runs the flow: the holdout is counted, the rest get the step and their points.
    with app.app_context():
        from app.extensions import db
        from app.models import Shop, utcnow
        from app.services.automation_runs import run_flow

        shop = db.session.query(Shop).one()
        run_flow(shop, "welcome", utcnow() + timedelta(minutes=1))
    page.reload()
    row = page.locator('tr[data-flow="welcome"]')
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    entered, got, held = int(cells[2]), int(cells[3]), int(cells[5].split("/")[1])
    assert entered == 40 and got + held == 40 and 0 < held < 40
    steps_seen = {e["data"]["step"] for e in receiver.events() if e["type"] == "automation.step"}
    assert steps_seen == {"welcome"} and receiver.bad_signatures == 0
    step_events = [e for e in receiver.events() if e["type"] == "automation.step"]
    assert len(step_events) == got
    assert {e["data"]["incentive"]["points"] for e in step_events} == {50, 200}  # both A/B levels went out

    # The delivery log, and a dead letter replayed from it.
    log = page.locator("#deliveries")
    log.get_by_text("delivered").first.wait_for()
    with app.app_context():
        from app.models import EventDelivery

        dead = db.session.query(EventDelivery).order_by(EventDelivery.id).first()
        dead.status, dead.last_error = "dead", "HTTP 500: the endpoint was down"
        db.session.commit()
        dead_id = dead.id
        db.session.expunge(dead)
    page.get_by_label("Show").select_option("dead")
    with page.expect_response(lambda r: r.url.endswith(f"/event-deliveries/{dead_id}/replay")):
        page.locator(f'[data-replay="{dead_id}"]').click()
    page.locator("#deliveries", has_text="Nothing here.").wait_for()
    assert receiver.counts[str(dead.event_id)] == 2  # sent again at once (the receiver recognises it by id)
    folder = os.environ.get("REGULARS_SCREENSHOTS")
    # Some members order within the window: more of those who got the step than of the holdout.
    with app.app_context():
        from app.models import AutomationStepRun, Order

        runs = db.session.query(AutomationStepRun).order_by(AutomationStepRun.id).all()
        buyers = [r for r in runs if not r.holdout][:12] + [r for r in runs if r.holdout][:1]
        for i, r in enumerate(buyers):
            at = r.due_at + timedelta(hours=2)
            db.session.add(Order(shop_id=r.shop_id, order_id=90_000 + i, member_id=r.member_id, financial_status="paid",
                                 processed_at=at, paid_at=at, subtotal=45, total_price=45, eligible_amount=45,
                                 counted=True, created_at=at, updated_at=at))
        db.session.commit()
    page.goto(page.url.split("#")[0] + "#/automations")
    page.reload()
    row = page.locator('tr[data-flow="welcome"]')
    row.wait_for()
    assert row.locator("td").all_inner_texts()[4] == "12"  # converted, of those who got it
    page.evaluate("window.scrollTo(0, 0)")
    if folder:
        page.screenshot(path=os.path.join(folder, "admin-automations.png"), full_page=False)
    page.screenshot(path="/tmp/automations-page.png", full_page=True)
    assert page_env["problems"] == []
