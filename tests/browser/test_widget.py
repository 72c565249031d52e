"""The widget in headless Chromium, loaded by the theme extension's own block and JS through a stand-in app proxy.

Set REGULARS_SCREENSHOTS=1 to (re)write docs/screenshots/widget.png; the normal run writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from devstore.theme import CDN_PREFIX, ThemeExtension
from devstore.tokens import app_proxy_query
from tests.conftest import TEST_SECRET, LiveServer
from tests.proxy.conftest import SHOP, Seeded, live  # noqa: F401  (the fixture, shared with tests/proxy)

playwright_api = pytest.importorskip("playwright.sync_api")
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# The account page with the app block as Shopify renders blocks/rewards.liquid, its assets from a CDN-like path.
PAGE = """<!doctype html><html lang="{locale}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Account</title>
{head}<style>body{{font-family:sans-serif;background:#f6f6f7;margin:0;padding:24px}}</style>
</head><body><h1>My account</h1>
{block}</body></html>"""
THEME = ThemeExtension()


def _account_page(locale: str) -> str:
    rendered = THEME.render([("rewards", {})], locale=locale)
    return PAGE.format(locale=locale, head=rendered.head, block=rendered.blocks["rewards"])


class Storefront:
    """A storefront that, like Shopify, forwards /apps/regulars/<path> to <app>/proxy/<path>: cookies stripped,
    the signed query appended with the signed-in customer (who is chosen by a storefront cookie)."""

    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.http = httpx.Client(timeout=15.0, follow_redirects=False)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        customer = req.cookies.get("customer") or None
        if req.path == "/account":
            resp = Response(_account_page(req.args.get("locale", "en")), mimetype="text/html")
        elif req.path.startswith(CDN_PREFIX) and (body := THEME.asset(req.path.rsplit("/", 1)[-1])) is not None:
            kind = "text/css" if req.path.endswith(".css") else "application/javascript"
            resp = Response(body, mimetype=kind)
        elif req.path.startswith("/apps/regulars/"):
            own = {k: (v if len(v) > 1 else v[0]) for k, v in req.args.lists()}
            params = app_proxy_query(SHOP, "/apps/regulars", customer, own, api_secret=TEST_SECRET,
                                     timestamp=int(time.time()))
            sub = req.path.removeprefix("/apps/regulars/")
            headers = {k: v for k, v in req.headers.items()
                       if k.lower() not in ("host", "cookie", "content-length", "accept-encoding")}
            up = self.http.request(req.method, f"{self.app_url}/proxy/{sub}?{urlencode(params, doseq=True)}",
                                   headers=headers, content=req.get_data())
            resp = Response(up.content, status=up.status_code, content_type=up.headers.get("content-type"))
            if "location" in up.headers:
                resp.headers["Location"] = up.headers["location"]
        else:
            resp = Response("not found", status=404)
        return resp(environ, start_response)


@pytest.fixture
def storefront(request: pytest.FixtureRequest, devstore_env: dict[str, Any]) -> Iterator[tuple[str, Seeded]]:
    _, seeded = request.getfixturevalue("live")
    with LiveServer(Storefront(devstore_env["app_url"])) as server:
        yield server.url, seeded


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _page(browser: Any, base: str, customer: int | None, locale: str = "en") -> Any:
    context = browser.new_context(viewport={"width": 760, "height": 1000})
    with contextlib.suppress(Exception):  # the copied text is shown on the page either way
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    if customer is not None:
        context.add_cookies([{"name": "customer", "value": str(customer), "url": base}])
    page = context.new_page()
    page.goto(f"{base}/account?locale={locale}")
    page.wait_for_selector("[data-regulars-root]")
    return page


def test_member_redeems_and_copies_the_referral_link(storefront: tuple[str, Seeded], browser: Any) -> None:
    base, seeded = storefront
    page = _page(browser, base, seeded.customer_id)
    assert page.inner_text("[data-points-available]") == "700"
    reward = page.locator(f'[data-reward="{seeded.cheap_reward_id}"]')
    reward.get_by_role("button", name="Redeem").click()
    flash = page.locator('[data-flash="flash_redeemed"]')
    flash.wait_for()
    code = page.inner_text("[data-code]")
    assert code.startswith("REG-") and code in flash.inner_text()
    assert page.inner_text("[data-points-available]") == "200"
    assert page.get_attribute("a:has-text('Apply to cart')", "href").startswith(f"/discount/{code}")
    page.locator("[data-regulars-referral]").get_by_role("button", name="Copy").click()
    link = "https://widget-shop.myshopify.com/apps/regulars/r/ABCD2345"
    page.wait_for_selector(f"text=Copied! {link}")
    # Where clipboard reading is not granted, the shown text above already proves the copy ran.
    with contextlib.suppress(playwright_api.Error):
        assert page.evaluate("navigator.clipboard.readText()") == link
    if os.environ.get("REGULARS_SCREENSHOTS"):
        out = ROOT / "docs" / "screenshots" / "widget.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        page.locator("[data-regulars-root]").screenshot(path=str(out))
    page.context.close()


def test_visitor_sees_the_explainer(storefront: tuple[str, Seeded], browser: Any) -> None:
    base, _ = storefront
    page = _page(browser, base, None)
    assert page.is_visible("text=Join our rewards program")
    assert page.get_attribute("text=Sign in", "href") == "/account/login"
    page.context.close()


def test_member_page_in_thai(storefront: tuple[str, Seeded], browser: Any) -> None:
    base, seeded = storefront
    page = _page(browser, base, seeded.customer_id, locale="th")
    assert page.is_visible("text=ประวัติคะแนน")
    assert page.is_visible("text=สะสมอีก 180 คะแนนเพื่อขึ้นเป็น Silver")
    if os.environ.get("REGULARS_SCREENSHOTS"):
        page.locator("[data-regulars-root]").screenshot(path=str(ROOT / "docs" / "screenshots" / "widget-th.png"))
    page.context.close()


def _redemptions(devstore_env: dict[str, Any], seeded: Seeded) -> tuple[int, int]:
    """(issued redemptions of the member, codes in Shopify) as the database and the stand-in hold them."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Redemption

    with devstore_env["app"].app_context():
        issued = db.session.execute(select(func.count()).select_from(Redemption).where(
            Redemption.member_id == seeded.member_id, Redemption.status == "issued")).scalar_one()
        db.session.remove()
    return int(issued), len(devstore_env["store"].discount_codes(SHOP))


def test_a_redemption_whose_answer_is_lost_shows_the_code_and_the_balance_with_a_plain_message(
        storefront: tuple[str, Seeded], browser: Any, devstore_env: dict[str, Any]) -> None:
    """The request reaches the app and succeeds, but what comes back is an error page (a proxy or server
    failure after the commit): the shopper sees the widget as it now stands, code and new balance, with a
    message in the widget's own look, never the raw error page."""
    base, seeded = storefront
    page = _page(browser, base, seeded.customer_id)

    def lose_the_answer(route: Any) -> None:
        route.fetch()  # the app does the work
        route.fulfill(status=502, content_type="text/html", body="<html><h1>502 Bad Gateway</h1></html>")

    page.route("**/apps/regulars/widget/redeem*", lose_the_answer)
    page.locator(f'[data-reward="{seeded.cheap_reward_id}"]').get_by_role("button", name="Redeem").click()
    page.locator('[data-flash="error_unreachable"]').wait_for()
    assert "Bad Gateway" not in page.inner_text("body")
    assert page.locator("[data-regulars-root] .regulars__flash--error").count() == 1
    assert page.inner_text("[data-points-available]") == "200"
    assert page.inner_text("[data-code]").startswith("REG-")
    assert _redemptions(devstore_env, seeded) == (1, 1)  # both: the points and the code
    page.context.close()


def test_a_redemption_that_never_reaches_the_app_changes_nothing_and_says_so(
        storefront: tuple[str, Seeded], browser: Any, devstore_env: dict[str, Any]) -> None:
    base, seeded = storefront
    page = _page(browser, base, seeded.customer_id)
    page.route("**/apps/regulars/widget/redeem*", lambda route: route.abort("connectionreset"))
    page.locator(f'[data-reward="{seeded.cheap_reward_id}"]').get_by_role("button", name="Redeem").click()
    flash = page.locator('[data-flash="error_unreachable"]')
    flash.wait_for()
    assert "try again" in flash.inner_text()
    assert page.inner_text("[data-points-available]") == "700"
    assert page.locator("[data-code]").count() == 0
    assert _redemptions(devstore_env, seeded) == (0, 0)  # neither
    # The shopper can simply try again.
    page.unroute("**/apps/regulars/widget/redeem*")
    page.locator(f'[data-reward="{seeded.cheap_reward_id}"]').get_by_role("button", name="Redeem").click()
    page.locator('[data-flash="flash_redeemed"]').wait_for()
    assert page.inner_text("[data-points-available]") == "200"
    page.context.close()
