"""The embedded admin in headless Chromium: setup, tier what-if, a member adjustment, and dashboard figures
checked against a data set worked out by hand. App Bridge's CDN script is answered by a local stand-in.

The screenshots in docs/screenshots come from test_admin_walkthrough.py (REGULARS_SCREENSHOTS=docs/screenshots).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from devstore.tokens import mint_session_token
from tests.admin.support import SHOP, install_shop, member, order
from tests.conftest import TEST_KEY, TEST_SECRET, LiveServer, make_config

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


def seed(app: Any) -> None:
    """Period 2026-01-01..2026-03-31 (90 days). Worked by hand:
    A (member): 100.00 on Jan 10, 50.00 on Feb 10        C (member): 20.00 Mar 5 (+ a cancelled and a test order)
    B: 30.00 Jan 20      D: 40.00 on 2025-03-15 only      E: 25.00 on 2025-12-01, 60.00 on Feb 1
    In the period: customers A B C E = 4, repeat A = 1 → 25.00 %; orders 5, revenue 260.00 → AOV 52.00;
    frequency 5 / 4 = 1.25. Active at start (ordered in the 90 days before Jan 1, the default window): E → S = 1
    (D's last order is 9 months old: lapsed before the period); active at the end: A B C E → E = 4; new: A B C →
    N = 3; E kept → churn 0/1 = 0.00 %; retention (4 − 3)/1 = 100.00 %. With a year as the window, D counts as
    active at the start and is lost: S = 2, churn 1/2 = 50.00 %, retention (4 − 3)/2 = 50.00 %.
    Second orders in the period: A after 31 days, E after 62 → median 46.50.
    Members A, C: 3 orders, 170.00 → AOV 56.67, share 65.38 %; non-members B, E: 2 orders, 90.00 → AOV 45.00.
    CLV = 52.00 × 5.07 (1.25 × 365/90 rounded) × (46.5 days / 365) = 33.59.
    Liability: A 1000 + C 200 points × 0.01 = 12.00 (12.50 after A gets +50)."""
    with app.app_context():
        from app.extensions import db

        shop = install_shop()
        a = member(shop, 501, email="ada@x.test", first="Ada", last="Lovelace", points=1000, spent="150")
        c = member(shop, 503, email="cy@x.test", first="Cy", last="Young", points=200, spent="20")
        order(shop, 501, at(2026, 1, 10), "100.00", member_id=a.id)
        order(shop, 501, at(2026, 2, 10), "50.00", member_id=a.id)
        order(shop, 502, at(2026, 1, 20), "30.00")
        order(shop, 503, at(2026, 3, 5), "20.00", member_id=c.id)
        order(shop, 503, at(2026, 3, 6), "999.00", member_id=c.id, cancelled=True)
        order(shop, 503, at(2026, 3, 7), "500.00", member_id=c.id, test=True)
        order(shop, 504, at(2025, 3, 15), "40.00")
        order(shop, 505, at(2025, 12, 1), "25.00")
        order(shop, 505, at(2026, 2, 1), "60.00")
        db.session.commit()


STANDIN = Path(__file__).resolve().parents[2] / "app" / "admin" / "standin"
TOKENS = Path(__file__).resolve().parents[2] / "app" / "static" / "admin" / "vendor" / "polaris-tokens.css"
CDN_FILES = {"app-bridge.js": STANDIN / "app-bridge.js", "polaris.js": STANDIN / "polaris.js",
             "standin.css": STANDIN / "standin.css", "polaris-tokens.css": TOKENS}


def answer_cdn(route: Any) -> None:
    """Shopify's CDN answered locally by the development stand-ins: the page under test is the production page
    (verified by its id_token), with app-bridge.js and polaris.js as the offline stand-ins define them."""
    name = route.request.url.split("?")[0].rsplit("/", 1)[-1]
    path = CDN_FILES.get(name)
    if path is None:
        route.fulfill(status=404, body="")
        return
    kind = "text/css" if name.endswith(".css") else "application/javascript"
    route.fulfill(status=200, content_type=kind, body=path.read_text(encoding="utf-8"))


def watch(page: Any) -> list[str]:
    """Every console error and every 4xx/5xx answer the page gets, to assert there are none."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


@pytest.fixture
def admin_page(pg_url: str) -> Any:
    from playwright.sync_api import sync_playwright

    from tests.conftest import truncate_all

    app = create_app(make_config(database_url=pg_url))
    seed(app)
    token = mint_session_token(SHOP, TEST_KEY, TEST_SECRET, ttl=900)
    with LiveServer(app) as live, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.route("https://cdn.shopify.com/**", answer_cdn)
        page.problems = watch(page)
        page.goto(f"{live.url}/?shop={SHOP}&host=YWRtaW4&embedded=1&id_token={token}")
        page.regulars_app = app
        page.live_url = live.url
        yield page
        browser.close()
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)


def nav(page: Any, name: str) -> None:
    """A click in App Bridge's navigation (the admin's sidebar; the stand-in draws it above the page)."""
    page.locator("s-app-nav").get_by_role("link", name=name, exact=True).click()


def test_setup_tiers_member_and_dashboard(admin_page: Any) -> None:
    page = admin_page
    # First run lands on setup with the defaults filled in.
    page.get_by_role("heading", name="Set up your loyalty program").wait_for()
    page.get_by_label("Sign-up bonus (points)").fill("150")
    page.get_by_role("button", name="Start the program").click()
    page.get_by_role("heading", name="VIP tiers").wait_for()
    assert page.get_by_label("Tier 2 name").input_value() == "Silver"

    with page.regulars_app.app_context():  # members as the daily evaluation left them: Ada Silver, Cy Bronze
        from app.extensions import db
        from app.models import Member, Tier

        tiers = {t.name: t.id for t in db.session.query(Tier)}
        for m in db.session.query(Member):
            m.tier_id = tiers["Silver"] if m.customer_id == 501 else tiers["Bronze"]
        db.session.commit()
    # Raise Silver to 1200: Ada (1000 points, Silver) would fall to Bronze. Seen before saving, in plural forms
    # that follow the counts (0 members, 1 moves).
    page.get_by_label("Tier 2 threshold").fill("1200")
    page.get_by_role("region", name="Unsaved changes").wait_for()  # App Bridge's save bar
    page.get_by_role("button", name="Preview changes").click()
    what_if = page.get_by_test_id("what-if")
    what_if.wait_for()
    assert "0 members move up, 1 moves down, 1 stays where they are" in what_if.inner_text()
    page.get_by_role("button", name="Discard").click()
    page.get_by_role("region", name="Unsaved changes").wait_for(state="hidden")

    # The sign-up bonus chosen at setup is in Settings, under Earning, in words.
    nav(page, "Settings")
    page.get_by_role("heading", name="Earning").wait_for()
    assert page.get_by_label("Points for joining").input_value() == "150"

    # A manual adjustment with a reason and a note the shopper sees, reached as a merchant does.
    nav(page, "Customers")
    page.get_by_role("link", name="Ada Lovelace").click()
    page.get_by_role("heading", name="Ada Lovelace").wait_for()
    assert page.get_by_test_id("available").inner_text() == "1,000"
    page.get_by_label("Points (negative to remove)").fill("50")
    page.get_by_role("button", name="Adjust").click()
    # Without a reason the form does not go out: the browser flags the required field.
    assert page.get_by_label("Reason").evaluate("el => !el.validity.valid")
    assert page.get_by_test_id("available").inner_text() == "1,000"
    page.get_by_label("Reason").fill("Parcel arrived late")
    page.get_by_label("Note to the shopper").fill("Sorry for the wait")
    page.get_by_role("button", name="Adjust").click()
    page.locator("#ledger", has_text="Sorry for the wait").wait_for()
    assert page.get_by_test_id("available").inner_text() == "1,050"
    assert "Manual adjustment" in page.locator("#ledger").inner_text()

    nav(page, "Home")
    page.get_by_role("heading", name="Retention dashboard").wait_for()
    page.get_by_label("From").fill("2026-01-01")
    page.get_by_label("To", exact=True).fill("2026-03-31")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Figures for the 90 days from Jan 1, 2026 to Mar 31, 2026").wait_for()

    def figure(name: str) -> str:
        return page.locator(f'[data-metric="{name}"]').inner_text()

    # Figures by the browser's locale (en-US here), money in the shop's currency.
    assert figure("repeat_customer_rate") == "25%"
    assert figure("purchase_frequency") == "1.25"
    assert figure("average_order_value") == "$52.00 USD"
    assert figure("churn_rate") == "0%"
    assert figure("retention_rate") == "100%"
    assert figure("median_days_to_second_order") == "46.5"
    assert figure("customer_lifetime_value") == "$33.59 USD"
    assert figure("points_liability") == "$12.50 USD"
    # The windows are the merchant's to set: with a year, D counts as active at the start, and is lost.
    page.get_by_label("Churn window (days)").fill("365")
    page.get_by_label("Retention window (days)").fill("365")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("ordered in the 365 days before the period").wait_for()
    assert figure("churn_rate") == "50%"
    assert figure("retention_rate") == "50%"
    # Trends: one row per month behind each chart, the last twelve months.
    trends = page.locator("#trends s-section")
    assert trends.count() == 4
    for i in range(4):
        assert trends.nth(i).locator("svg[role=img]").get_attribute("aria-label")
        assert trends.nth(i).locator("tbody tr").count() == 12
    liability = trends.nth(3).locator("tbody tr").last.locator("td").text_content()  # behind "Show as a table"
    assert liability.startswith("$") and liability.endswith(" USD"), liability
    page.locator("details", has_text="How it is calculated").first.click()
    assert "customers with at least 1 order" in page.locator("details").first.inner_text()

    page.get_by_role("link", name="See all analytics").click()
    page.get_by_role("heading", name="Members and other customers").wait_for()
    members_row = page.locator('s-table-row[data-group="Members"]').inner_text()
    assert "$56.67 USD" in members_row and "65.38%" in members_row

    # Every admin action above is in the audit log, in words.
    nav(page, "Settings")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()
    log = page.locator("s-table#audit").inner_text()
    assert "Setup completed" in log and "Points adjusted" in log and "Staff member" in log
    assert "setup" + "_completed" not in log and "setup.completed" not in log and "staff:1" not in log
    assert page.problems == [], page.problems
