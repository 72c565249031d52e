"""The theme app extension as a shopper meets it, in headless Chromium: the stand-in's storefront renders the
extension's own Liquid (the rewards block on the account page and the launcher embed on every page) with its
assets from a CDN-like path, and forwards the app proxy to the running app.

With the block and the launcher on one page the loader runs once: one script and one stylesheet, one fetch
per widget, the panel opens on the first click, and a redemption in the panel shows in the block too.
Any console error, failed request or HTTP 4xx/5xx fails a test, except the answers a test forces itself.
Set REGULARS_THEME_SHOTS=<folder> to keep screenshots there (to look at; never committed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from devstore.storefront import storefront_url
from tests.proxy.conftest import SHOP, Seeded, live  # noqa: F401  (the fixture, shared with tests/proxy)

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Watch:
    """What a person would notice going wrong, and every request the page made."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.allowed: set[int] = set()
        page.on("console", lambda m: m.type == "error" and not self._forced(m.text)
                and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.method} {r.url} {r.failure}"))
        page.on("request", lambda r: self.requests.append((r.method, r.url)))
        page.on("response", lambda r: r.status >= 400 and r.status not in self.allowed
                and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def _forced(self, text: str) -> bool:
        # Chromium logs each 4xx/5xx answer; those a test forces on purpose are not problems.
        return any(f"status of {status} " in text for status in self.allowed)

    def count(self, pattern: str, method: str = "GET") -> int:
        return sum(1 for m, url in self.requests if m == method and re.search(pattern, url))

    def check(self, step: str) -> None:
        assert self.problems == [], f"{step}: {self.problems}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def shop(live: tuple[Any, Seeded], devstore_env: dict[str, Any]) -> tuple[str, Seeded, Any]:  # noqa: F811
    _, seeded = live
    return storefront_url(devstore_env["store_url"], SHOP), seeded, devstore_env["store"]


def _open(browser: Any, url: str) -> tuple[Any, Watch]:
    context = browser.new_context(viewport={"width": 1000, "height": 1100})
    page = context.new_page()
    watch = Watch(page)
    page.goto(url)
    return page, watch


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("REGULARS_THEME_SHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


BLOCK = ".regulars-host:not([data-lazy])"
PANEL = "[data-regulars-panel]"


def test_block_and_launcher_on_one_page_load_once_and_open_on_the_first_click(
        shop: tuple[str, Seeded, Any], browser: Any) -> None:
    origin, seeded, _ = shop
    page, watch = _open(browser, f"{origin}/account?as={seeded.customer_id}")
    page.locator(f"{BLOCK} [data-regulars-root]").wait_for()
    assert page.inner_text(f"{BLOCK} [data-points-available]") == "700"
    # One script and one stylesheet for both blocks, from the CDN path, none through the app proxy.
    assert watch.count(r"/cdn/extensions/regulars-theme/[0-9a-f]+/assets/regulars\.js$") == 1
    assert watch.count(r"/cdn/extensions/regulars-theme/[0-9a-f]+/assets/regulars\.css$") == 1
    assert watch.count(r"/apps/regulars/static/") == 0
    assert watch.count(r"/apps/regulars/widget\?") == 1  # the block's; the panel loads on first open
    assert page.evaluate("document.querySelectorAll('script[src*=\"regulars.js\"]').length") == 1
    # The widget is styled by the extension's stylesheet.
    assert page.eval_on_selector(f"{BLOCK} .regulars__card", "el => getComputedStyle(el).borderTopLeftRadius") == "10px"
    shot(page, "1-account-with-block-and-launcher")

    # A theme that also pulls the script in itself (or an older copy of a block): it still installs once.
    script = page.get_attribute('script[src*="regulars.js"]', "src")
    page.add_script_tag(url=script)
    page.get_by_role("button", name="Rewards").click()  # one click opens the panel
    panel = page.locator(PANEL)
    panel.locator("[data-regulars-root]").wait_for()
    assert panel.is_visible()
    assert page.get_attribute("[data-regulars-open]", "aria-expanded") == "true"
    assert watch.count(r"/apps/regulars/widget\?") == 2  # the panel's widget, once
    shot(page, "2-panel-open")

    # Redeem in the panel: the code and the new balance at once, and the block on the page shows it too.
    page.evaluate("window.__noReload = true")
    panel.locator(f'[data-reward="{seeded.cheap_reward_id}"]').get_by_role("button", name="Redeem").click()
    panel.locator('[data-flash="flash_redeemed"]').wait_for()
    code = panel.locator("[data-code]").first.inner_text()
    assert code.startswith("REG-") and code in panel.locator('[data-flash="flash_redeemed"]').inner_text()
    assert panel.locator("[data-points-available]").inner_text() == "200"
    page.wait_for_function(f"document.querySelector('{BLOCK} [data-points-available]').textContent === '200'")
    assert page.evaluate("window.__noReload") is True
    assert watch.count(r"/apps/regulars/widget/redeem\?", "POST") == 1
    shot(page, "3-redeemed-in-panel")

    # Closed and opened again: the same widget, nothing fetched again.
    widget_gets = watch.count(r"/apps/regulars/widget\?")
    page.get_by_role("button", name="Close").click()
    assert not panel.is_visible()
    page.get_by_role("button", name="Rewards").click()
    assert panel.is_visible() and panel.locator("[data-code]").first.inner_text() == code
    assert watch.count(r"/apps/regulars/widget\?") == widget_gets
    watch.check("block and launcher")
    page.context.close()


def test_the_launcher_alone_in_thai_on_any_page(shop: tuple[str, Seeded, Any], browser: Any) -> None:
    origin, seeded, _ = shop
    page, watch = _open(browser, f"{origin}/th/?as={seeded.customer_id}")  # home: the launcher embed only
    assert page.locator(BLOCK).count() == 0
    page.get_by_role("button", name="รางวัล").click()
    page.locator(f"{PANEL} [data-regulars-root][lang=th]").wait_for()
    assert page.locator(PANEL).get_by_text("ประวัติคะแนน").is_visible()
    shot(page, "4-launcher-thai")
    watch.check("launcher in Thai")
    page.context.close()


def test_a_failed_answer_shows_a_plain_message_in_the_widgets_look(shop: tuple[str, Seeded, Any], browser: Any) -> None:
    origin, seeded, _ = shop
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    watch.allowed = {503}
    page.route("**/apps/regulars/widget?*", lambda route: route.fulfill(
        status=503, content_type="text/html", body="<html><h1>Service Unavailable</h1></html>"))
    page.goto(f"{origin}/account?as={seeded.customer_id}")
    alert = page.locator(f"{BLOCK} [data-regulars-unavailable]")
    alert.wait_for()
    assert "can’t be shown right now" in alert.inner_text()
    assert "Service Unavailable" not in page.inner_text("body")
    assert page.eval_on_selector(f"{BLOCK} .regulars__flash--error", "el => getComputedStyle(el).borderTopLeftRadius") \
        == "8px"  # the widget's own look, from the extension's stylesheet
    # The panel says so too, and tries again on the next open once the app answers.
    page.get_by_role("button", name="Rewards").click()
    page.locator(f"{PANEL} [data-regulars-unavailable]").wait_for()
    page.unroute("**/apps/regulars/widget?*")
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Rewards").click()
    page.locator(f"{PANEL} [data-regulars-root]").wait_for()
    shot(page, "5-unavailable")
    watch.check("failed answer")
    context.close()


def test_a_merchant_proxy_subpath_is_followed_everywhere(shop: tuple[str, Seeded, Any], browser: Any) -> None:
    """The merchant changed the proxy's subpath in the admin and set it in both blocks: the widget loads and
    redeems through that path; nothing asks for /apps/regulars."""
    origin, seeded, store = shop
    store.app_proxy_path = "/apps/loyalty"
    store.theme_blocks = {"rewards": {"proxy_path": "/apps/loyalty"}, "launcher": {"proxy_path": "/apps/loyalty/"}}
    page, watch = _open(browser, f"{origin}/account?as={seeded.customer_id}")
    page.locator(f"{BLOCK} [data-regulars-root]").wait_for()
    page.get_by_role("button", name="Rewards").click()
    page.locator(f"{PANEL} [data-regulars-root]").wait_for()
    page.locator(BLOCK).locator(f'[data-reward="{seeded.cheap_reward_id}"]').get_by_role("button", name="Redeem").click()
    page.locator(f'{BLOCK} [data-flash="flash_redeemed"]').wait_for()
    page.wait_for_function(f"document.querySelector('{PANEL} [data-points-available]').textContent === '200'")
    assert watch.count(r"/apps/loyalty/widget/redeem\?", "POST") == 1
    assert watch.count(r"/apps/regulars/") == 0 and watch.count(r"/apps/regulars/", "POST") == 0
    watch.check("merchant subpath")
    page.context.close()
