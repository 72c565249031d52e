"""README command (a) as shipped, used as a person would: `scripts/demo` is started on free ports with a
temporary SQLite file, and the URLs it prints are opened in headless Chromium.

The merchant opens the dashboard first thing; the shopper redeems a reward and sees the code and the new
balance without a reload, copies the referral link, claims a friend's code on the landing page and switches
the storefront to Thai; the merchant then adjusts the shopper's points. Any console error, failed request
or HTTP 4xx/5xx fails the test (no step here expects one), and so does "database is locked" in the demo's log.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import free_port

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
URL_LINE = re.compile(r"^[ ]+([A-Z][^:\n]+?):[ ]+(http\S+)$", re.M)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """scripts/demo as README command (a) runs it, on free ports and a temporary SQLite file."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    db_file = tmp_path_factory.mktemp("demo") / "demo.db"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SHOPIFY_API_ORIGIN", "APP_URL")}
    env.update(PORT=str(free_port()), STORE_PORT=str(free_port()), DATABASE_URL=f"sqlite:///{db_file}")
    log_path = db_file.with_suffix(".log")
    log = open(log_path, "w+", encoding="utf-8")  # noqa: SIM115  (kept open for the demo's whole life)
    proc = subprocess.Popen([str(ROOT / "scripts" / "demo")], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.time() + 240
        output = ""
        while time.time() < deadline and "Serving" not in output:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
            output = log_path.read_text(encoding="utf-8", errors="replace")
        assert "Serving" in output, output[-3000:]
        urls = dict(URL_LINE.findall(output))
        members = re.findall(r"^\s{4}(\d{14,})\s", output, re.M)
        yield {"urls": urls, "members": members, "output": output, "log": log_path}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def shot(page: Any, name: str) -> None:
    """REGULARS_DEMO_SHOTS=<folder> keeps a screenshot of each step there (to look at; never committed)."""
    folder = os.environ.get("REGULARS_DEMO_SHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


class Watch:
    """Everything a person would notice going wrong: console errors, failed requests, 4xx/5xx answers."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.method} {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def check(self, step: str) -> None:
        assert self.problems == [], f"{step}: {self.problems}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_the_demo_as_a_shopper_and_a_merchant_use_it(demo: dict[str, Any], browser: Any) -> None:
    urls = demo["urls"]
    assert {"Admin (dev sign-in)", "Widget, signed-in member", "Widget, visitor", "Referral landing page",
            "Widget in Thai"} <= set(urls), demo["output"][-2000:]
    shopper_url = urls["Widget, signed-in member"]
    shopfront = "{0.scheme}://{0.netloc}".format(urlsplit(shopper_url))
    customer_id = shopper_url.rsplit("as=", 1)[1]
    assert demo["members"] and demo["members"][0] == customer_id  # the printed ids are real members

    # --- the merchant opens the dashboard first thing --------------------------------------------------
    admin = browser.new_context(viewport={"width": 1200, "height": 900})
    page = admin.new_page()
    watch = Watch(page)
    page.goto(urls["Admin (dev sign-in)"])
    page.get_by_role("heading", name="Retention dashboard").wait_for()
    page.locator('[data-metric="repeat_customer_rate"]').wait_for()
    page.locator('[data-metric="points_liability"]').wait_for()
    assert "USD" in page.locator('[data-metric="points_liability"]').inner_text()
    watch.check("dashboard")
    shot(page, "1-dashboard")

    # --- the shopper, signed in, on the account page ---------------------------------------------------
    shop = browser.new_context(viewport={"width": 900, "height": 1100})
    with contextlib.suppress(Exception):
        shop.grant_permissions(["clipboard-read", "clipboard-write"], origin=shopfront)
    spage = shop.new_page()
    swatch = Watch(spage)
    spage.goto(shopper_url)
    spage.wait_for_selector("[data-regulars-root]")
    # The widget is styled by the theme extension's stylesheet (from the stand-in's CDN path, not the app proxy).
    radius = spage.eval_on_selector(".regulars__card", "el => getComputedStyle(el).borderTopLeftRadius")
    assert radius == "10px"
    dates = spage.locator("[data-regulars-history] li span.regulars__muted").all_inner_texts()
    assert len(set(dates)) > 1, dates  # the history reads like a year, not one seeding day
    before = int(spage.inner_text("[data-points-available]").replace(",", ""))
    spage.evaluate("window.__noReload = true")
    reward = spage.locator("[data-regulars-rewards] li").first
    cost = int(re.search(r"([\d,]+) points", reward.inner_text()).group(1).replace(",", ""))
    reward.get_by_role("button", name="Redeem").click()
    flash = spage.locator('[data-flash="flash_redeemed"]')
    flash.wait_for()
    code = spage.locator("[data-code]").first.inner_text()
    assert code.startswith("REG-") and code in flash.inner_text()
    assert int(spage.inner_text("[data-points-available]").replace(",", "")) == before - cost
    assert spage.evaluate("window.__noReload") is True  # no reload: the widget updated in place
    swatch.check("redeem")
    shot(spage, "2-redeemed")

    # Copy the referral link.
    referral = spage.locator("[data-regulars-referral]")
    link = referral.locator("[data-referral-link]").input_value()
    assert re.fullmatch(r"https://regulars-demo\.myshopify\.com/apps/regulars/r/[0-9A-Z]{8}", link), link
    referral.get_by_role("button", name="Copy").click()
    spage.wait_for_selector(f"text=Copied! {link}")
    with contextlib.suppress(playwright_api.Error):  # where clipboard reading is granted
        assert spage.evaluate("navigator.clipboard.readText()") == link
    swatch.check("copy")

    # A friend opens the link: the shop lives at the stand-in's origin in the demo, same path.
    friend = browser.new_context(viewport={"width": 900, "height": 900})
    fpage = friend.new_page()
    fwatch = Watch(fpage)
    fpage.goto(shopfront + urlsplit(link).path)
    fpage.locator("[data-regulars-landing][data-known=yes]").wait_for()
    shot(fpage, "3-landing")
    assert fpage.eval_on_selector(".regulars__card", "el => getComputedStyle(el).borderTopLeftRadius") == "10px"
    fpage.get_by_label(re.compile("email", re.I)).fill("friend.of.the.shopper@example.com")
    fpage.locator("form button[type=submit]").click()
    fpage.locator("[data-discount]").wait_for()
    friend_code = fpage.get_attribute("[data-discount]", "data-discount")
    assert friend_code.startswith("FRIEND-")
    assert urlsplit(fpage.url).path == f"/discount/{friend_code}"
    fwatch.check("referral landing")
    shot(fpage, "4-friend-code")
    friend.close()

    # Switch the storefront to Thai.
    spage.locator("[data-languages] a[hreflang=th]").click()
    spage.wait_for_url(re.compile(r"/th/account"))
    spage.wait_for_selector("[data-regulars-root][lang=th]")
    assert spage.is_visible("text=ประวัติคะแนน")
    swatch.check("Thai")
    shot(spage, "5-thai")

    # --- the merchant adjusts the shopper's points -----------------------------------------------------
    page.goto(page.url.split("#")[0] + f"#/member/{customer_id}")
    page.get_by_test_id("available").wait_for()
    available = int(page.get_by_test_id("available").inner_text().replace(",", ""))  # "2,300": by locale
    assert available == before - cost
    page.get_by_label("Points (negative to remove)").fill("50")
    page.get_by_label("Reason").fill("Parcel arrived late")
    page.get_by_label("Note to the shopper").fill("Sorry for the wait")
    page.get_by_role("button", name="Adjust").click()
    page.locator("#ledger", has_text="Sorry for the wait").wait_for()
    assert int(page.get_by_test_id("available").inner_text().replace(",", "")) == available + 50
    watch.check("adjust")
    shot(page, "6-member")

    # The shopper sees it on the next look.
    spage.reload()
    spage.wait_for_selector("[data-regulars-root]")
    assert int(spage.inner_text("[data-points-available]").replace(",", "")) == available + 50
    swatch.check("after the adjustment")
    shop.close()
    admin.close()

    log = Path(demo["log"]).read_text(encoding="utf-8", errors="replace")
    assert "database is locked" not in log and "Traceback" not in log, log[-3000:]
    assert not re.search(r'" 5\d\d -', log), [line for line in log.splitlines() if re.search(r'" 5\d\d -', line)]
