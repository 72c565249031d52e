"""python -m bench.admin [--members N] [--orders N] [--reuse]: the admin's Web Vitals with 100k members.

Seeds a shop with COPY (bench/analytics's builder: half the customers are members), completes its setup and
rebuilds its analytics rollups, serves the app in development (the stand-ins for Shopify's CDN scripts) on
loopback, and opens each page of the admin's own navigation, read from the served page, in headless Chromium.
Per page: LCP and CLS (PerformanceObserver, buffered, from the first byte of a fresh document) and INP (Event
Timing: the page's main control clicked once, the interaction's duration). Built for Shopify reads the same
three through App Bridge; the targets are ours, tighter than Shopify's bar."""

from __future__ import annotations

import argparse
import json
import logging
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from sqlalchemy import text

from app import create_app
from bench.analytics import __main__ as data
from bench.speed import describe, loop_seconds
from tests.conftest import LiveServer, make_config

DB = "regulars_bench_admin"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TARGETS = {"lcp": 1.0, "cls": 0.02, "inp": 100.0}  # seconds, score, milliseconds
SHOPIFY_BAR = {"lcp": 2.5, "cls": 0.1, "inp": 200.0}
NAV_CONTAINERS = {"nav", "s-app-nav", "ui-nav-menu"}
NAV_LINKS = {"a", "s-link"}

# Installed before any script of the page: the three figures as web-vitals computes them. CLS is the largest
# session window (shifts under 1 s apart, at most 5 s long) of shifts without recent input; INP, for a single
# interaction, its longest event duration (first-input is reported whatever its duration, events from 16 ms).
VITALS_JS = r"""
(() => {
  const v = window.__vitals = {lcp: null, cls: 0, inp: null};
  const observe = (type, cb, extra) => {
    try { new PerformanceObserver((l) => l.getEntries().forEach(cb)).observe({type, buffered: true, ...extra}); }
    catch (e) { v[type] = "unsupported"; }
  };
  observe("largest-contentful-paint", (e) => { v.lcp = e.startTime; });
  let value = 0, first = 0, last = 0;
  let biggest = 0;
  const name = (n) => !n || !n.tagName ? "?" : n.tagName.toLowerCase() + (n.id ? "#" + n.id : "")
    + (typeof n.className === "string" && n.className ? "." + n.className.trim().split(/\s+/).join(".") : "");
  observe("layout-shift", (e) => {
    if (e.hadRecentInput) return;
    if (e.value > biggest) {  // what moved most, to say where a shift comes from
      biggest = e.value;
      v.shifted = (e.sources || []).map((s) => name(s.node)).join(", ");
    }
    if (value && e.startTime - last < 1000 && e.startTime - first < 5000) value += e.value;
    else { value = e.value; first = e.startTime; }
    last = e.startTime;
    v.cls = Math.max(v.cls, value);
  });
  const interaction = (e) => { if (e.interactionId || e.entryType === "first-input") v.inp = Math.max(v.inp || 0, e.duration); };
  observe("event", interaction, {durationThreshold: 16});
  observe("first-input", interaction);
})();
"""

# The page's main control: the title bar's primary action, else the first primary button, submit, button,
# disclosure or link in the page's content, shown and enabled. Marked for Playwright to click like a person would.
MAIN_CONTROL_JS = """
() => {
  const picks = ['ui-title-bar button[variant="primary"]', 'main [slot="primary-action"]',
                 'main s-button[variant="primary"]', 'main button[type="submit"]', 'main s-button', 'main button',
                 'main summary', 'main a[href]'];
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden"
    && !el.disabled && !el.hasAttribute("disabled") && el.getAttribute("aria-disabled") !== "true";
  for (const sel of picks) {
    const el = [...document.querySelectorAll(sel)].find(shown);
    if (el) { el.setAttribute("data-bench-main", ""); return (el.textContent || el.getAttribute("aria-label") || sel).trim().slice(0, 40); }
  }
  return null;
}
"""


class NavLinks(HTMLParser):
    """(text, href) of the links inside the page's navigation (App Bridge's s-app-nav or ui-nav-menu, or <nav>)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in NAV_CONTAINERS:
            self.depth += 1
        elif self.depth and tag in NAV_LINKS:
            self._href, self._text = dict(attrs).get("href"), []

    def handle_endtag(self, tag: str) -> None:
        if tag in NAV_CONTAINERS:
            self.depth -= 1
        elif tag in NAV_LINKS and self._href is not None:
            self.links.append((" ".join("".join(self._text).split()), self._href))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)


def admin_pages(html: str, page_url: str, shop: str) -> list[tuple[str, str]]:
    """Each nav entry as (name, absolute URL) on this server, the shop kept in the query (deep links of the
    development sign-in need it)."""
    parser = NavLinks()
    parser.feed(html)
    out: list[tuple[str, str]] = []
    for name, href in parser.links:
        parts = urlsplit(urljoin(page_url, href))
        query = dict(parse_qsl(parts.query))
        query.setdefault("shop", shop)
        # The nav's home is its base + "/" ("/dev/login/" in development), which the server routes without the slash.
        path = parts.path.rstrip("/") if parts.path != "/" else parts.path
        url = urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), parts.fragment))
        if url not in (u for _, u in out):
            out.append((name or href, url))
    return out


def seed(members: int, orders: int) -> str:
    """The shop with `members` members (and as many customers who are not), `orders` orders, a completed setup
    and fresh rollups. Returns the database URL."""
    data.set_database(DB)
    url = data.build(orders, members * 2)
    app = create_app(make_config(database_url=url))
    with app.app_context():
        from app.extensions import db
        from app.models import Shop
        from app.services import analytics, setup

        shop = db.session.execute(db.select(Shop).where(Shop.domain == data.SHOP)).scalar_one()
        setup.complete_setup(shop, setup.defaults()["settings"], "bench")
        t0 = time.perf_counter()
        analytics.refresh_shop(shop.id)
        count = db.session.execute(text("SELECT count(*) FROM members WHERE shop_id = :s"), {"s": shop.id}).scalar()
        print(f"setup completed; {count:,} members; rollups rebuilt in {time.perf_counter() - t0:.1f} s")
        db.session.remove()
        db.engine.dispose()
    return url


def measure(page: Any, url: str) -> dict[str, Any]:
    page.goto("about:blank")  # a fresh document each time, even when only the hash differs
    t0 = time.perf_counter()
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle", timeout=30_000)
    page.wait_for_timeout(300)  # the frame after the last answer is painted
    ready = time.perf_counter() - t0
    before = page.evaluate("() => ({...window.__vitals})")
    control = page.evaluate(MAIN_CONTROL_JS)
    vitals = dict(before)
    if control is not None:
        try:
            page.locator("[data-bench-main]").first.click(timeout=5_000)
            page.wait_for_timeout(500)  # the interaction's next paint, and its entries delivered
            vitals = page.evaluate("() => ({...window.__vitals})")
        except Exception as exc:  # the click left the document (a link to another page): its entries went with it
            vitals = {**before, "inp": None, "note": type(exc).__name__}
    vitals["lcp"] = before["lcp"]  # LCP stops at the first input
    return {"control": control, "ready_s": ready, **vitals}


def verdict(lcp: float | None, cls: float, inp: float | None) -> str:
    misses = [name for name, value in (("lcp", lcp), ("cls", cls), ("inp", inp))
              if value is not None and value > TARGETS[name]]
    return "meets targets" if not misses else "misses " + ", ".join(misses)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--reuse", action="store_true", help="measure on the database seeded last time")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    for noisy in ("werkzeug", "alembic"):  # a line per request or migration would bury the figures
        logging.getLogger(noisy).setLevel(logging.WARNING)
    print(describe(loop_seconds()), flush=True)
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}" if args.reuse else seed(args.members, args.orders)
    app = create_app(make_config(database_url=url, env="development"))

    from playwright.sync_api import sync_playwright

    results = []
    with LiveServer(app) as live, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(VITALS_JS)
        origin = live.url.rstrip("/")

        def route(r: Any) -> None:
            # Loopback only: Shopify's CDN (a preload header may name it) gets an empty script, anything else none.
            if r.request.url.startswith(origin):
                r.continue_()
            elif r.request.url.startswith("https://cdn.shopify.com/"):
                r.fulfill(status=200, content_type="application/javascript", body="")
            else:
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        home = f"{origin}/dev/login?shop={data.SHOP}"
        served = page.request.get(home).text()
        pages = admin_pages(served, home, data.SHOP)
        if not pages:
            raise SystemExit("the served admin page has no navigation to follow")
        print(f"{len(pages)} pages from the admin's navigation; targets LCP ≤ {TARGETS['lcp']} s, "
              f"CLS ≤ {TARGETS['cls']}, INP ≤ {TARGETS['inp']:.0f} ms (Shopify's bar: {SHOPIFY_BAR['lcp']} s, "
              f"{SHOPIFY_BAR['cls']}, {SHOPIFY_BAR['inp']:.0f} ms)")
        # One unmeasured pass first, as bench/analytics warms its endpoints: the server process's first requests
        # (imports, statement caches, PostgreSQL's buffers) are not what a merchant opening the admin waits for.
        for i, (name, page_url) in enumerate(pages):
            page.goto("about:blank")
            page.goto(page_url, wait_until="load")
            page.wait_for_load_state("networkidle", timeout=60_000)
            if i == 0:
                page.wait_for_timeout(300)
                cold = page.evaluate("() => window.__vitals.lcp")
                print(f"unmeasured warm-up pass; its first page ({name}) on the cold server: LCP "
                      f"{'n/a' if not isinstance(cold, (int, float)) else f'{cold / 1000:.2f} s'}")
        print(f"{'page':<22}{'LCP':>9}{'CLS':>8}{'INP':>9}  main control clicked")
        for name, page_url in pages:
            m = measure(page, page_url)
            lcp = None if not isinstance(m["lcp"], (int, float)) else m["lcp"] / 1000
            inp = m["inp"] if isinstance(m["inp"], (int, float)) else None
            cls = float(m["cls"]) if isinstance(m["cls"], (int, float)) else 0.0
            results.append({"page": name, "url": page_url, "lcp_s": lcp, "cls": cls, "inp_ms": inp,
                            "control": m["control"], "largest_shift": m.get("shifted")})
            lcp_text = "n/a" if lcp is None else f"{lcp:.2f} s"
            inp_text = ("< 16 ms" if m["control"] and m.get("note") is None else "n/a") if inp is None \
                else f"{inp:.0f} ms"
            moved = f" (largest shift: {m['shifted']})" if cls > TARGETS["cls"] and m.get("shifted") else ""
            print(f"{name[:21]:<22}{lcp_text:>9}{cls:>8.3f}{inp_text:>9}  {m['control'] or '(none)'!s:<30} "
                  f"{verdict(lcp, cls, inp)}{moved}", flush=True)
        browser.close()
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
    if args.json:
        print(json.dumps(results))
    print(describe(loop_seconds()))


if __name__ == "__main__":
    main()
