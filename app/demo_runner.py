"""The demo: the stand-in Shopify and the app side by side, a demo shop seeded through the real webhook path."""

from __future__ import annotations

import random
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from werkzeug.serving import make_server

from app.extensions import db
from app.services import demo_shop, setup, shops
from app.services.deliveries import pending_count

DEMO_SHOP = "regulars-demo.myshopify.com"
FIRST = ["Ana", "Bogdan", "Chloé", "Dimitra", "Eleni", "Farid", "Grace", "Hiro", "Ioana", "Jun", "Kanya", "Liam",
         "Maya", "Niko", "Olga", "Pim", "Qi", "Radu", "Somchai", "Tess", "Uma", "Vera", "Wei", "Yara"]
LAST = ["Lima", "Popescu", "Martin", "Papadaki", "Georgiou", "Haddad", "Okafor", "Tanaka", "Ionescu", "Li",
        "Srisuk", "Walsh", "Cohen", "Kostas", "Ivanova", "Chai", "Zhang", "Dinu", "Boonmee", "Reyes"]
PRODUCTS = [("Organic cotton tee", "24.00"), ("Merino beanie", "32.00"), ("Canvas tote", "18.50"),
            ("Ceramic mug", "14.00"), ("Linen apron", "39.90"), ("Gift card", "25.00")]


def _devstore() -> Any:
    """devstore/, the stand-in Shopify: in the source tree for the demo and the tests, never installed with the
    app (pyproject.toml packages app/ alone), so it is imported only when the demo runs."""
    try:
        import devstore
    except ModuleNotFoundError as exc:
        if exc.name != "devstore":
            raise
        raise click.ClickException(
            "the demo needs devstore/ (the stand-in Shopify), which is in the source tree and not installed "
            "with the app: run scripts/demo from a checkout of the repository") from None
    return devstore


def _install(app: Flask) -> None:
    """Installs the demo shop exactly as Shopify admin would: the first admin load exchanges a session token."""
    mint_session_token = _devstore().mint_session_token

    cfg = app.config["REGULARS"]
    token = mint_session_token(DEMO_SHOP, cfg.api_key, cfg.api_secret)
    resp = app.test_client().get(f"/?shop={DEMO_SHOP}&host=ZGVtbw&embedded=1&id_token={token}")
    if resp.status_code != 200:
        raise click.ClickException(f"demo install failed: HTTP {resp.status_code} {resp.data[:200]!r}")


def _apply_program_defaults(app: Flask) -> None:
    """The admin's first-run setup with its defaults (three tiers, two rewards, referral offer)."""
    shop = shops.get_shop(DEMO_SHOP)
    if shop is None:
        raise click.ClickException("the demo shop did not install")
    setup.complete_setup(shop, setup.defaults(shop.currency)["settings"], actor="demo")


def _seed(store: Any, rng: random.Random) -> list[dict[str, Any]]:
    """A year of the shop's life, sent in the order it happened: accounts, orders (each after its customer's
    account), refunds a few days after their order and one cancellation. The stand-in's clock is moved to each
    moment first, so every payload and webhook says when it happened, as Shopify's would; the app records
    them now and dates each ledger entry, tier change and cohort by when it happened."""
    now = datetime.now(UTC).replace(microsecond=0)
    plan: list[tuple[datetime, int, str, Any]] = []  # (when, tie-break, what, details)
    seq = iter(range(10**6))
    for i in range(24):
        created = now - timedelta(days=rng.randint(40, 400), hours=rng.randint(0, 23))
        plan.append((created, next(seq), "customer", i))
        for _ in range(rng.choice([1, 1, 2, 2, 3, 4, 6])):
            lines = []
            for title, price in rng.sample(PRODUCTS, k=rng.randint(1, 3)):
                lines.append({"title": title, "price": price, "quantity": rng.randint(1, 2),
                              "gift_card": title == "Gift card"})
            span = int((now - created).total_seconds()) - 3600
            when = created + timedelta(seconds=rng.randint(3600, max(span, 3601)))
            plan.append((when, next(seq), "order", (i, lines, f"203.0.113.{rng.randint(1, 250)}")))
    order_plans = [p for p in plan if p[2] == "order"]
    cancelled = rng.choice(order_plans)
    plan.append((min(cancelled[0] + timedelta(days=1), now - timedelta(minutes=4)), next(seq), "cancel",
                 id(cancelled[3])))
    others = [p for p in order_plans if p is not cancelled]
    for when, _, _, details in rng.sample(others, k=max(1, len(order_plans) // 10)):
        plan.append((min(when + timedelta(days=rng.randint(1, 20)), now - timedelta(minutes=5)), next(seq),
                     "refund", id(details)))

    customers: dict[int, dict[str, Any]] = {}
    orders: dict[int, dict[str, Any]] = {}  # id(plan details) → the order payload
    try:
        for when, _, what, details in sorted(plan, key=lambda p: (p[0], p[1])):
            store.advance((when - store.now()).total_seconds())
            if what == "customer":
                first, last = FIRST[details], LAST[details % len(LAST)]
                customers[details] = store.create_customer(
                    DEMO_SHOP, f"{first.lower()}.{last.lower()}@example.com", first, last, created_at=when.isoformat())
            elif what == "order":
                who, lines, ip = details
                orders[id(details)] = store.create_order(DEMO_SHOP, customers[who]["id"], lines, shipping="5.00",
                                                         tax="0.00", browser_ip=ip, created_at=when.isoformat())
            elif what == "refund":
                o = orders[details]
                store.refund(DEMO_SHOP, o["id"], [{"line_item_id": o["line_items"][0]["id"], "quantity": 1}])
            else:
                store.cancel_order(DEMO_SHOP, orders[details]["id"], "customer")
    finally:
        # Back to today: the stand-in's clock runs with the app's again.
        store.advance((datetime.now(UTC) - store.now()).total_seconds())
    return [customers[i] for i in sorted(customers)]


def _wait_until_processed(timeout: float = 60.0) -> None:
    """Deliveries handed to the in-process runner under the seeding burst: done before the figures are read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = pending_count(due_only=True)
        db.session.rollback()
        if not waiting:
            return
        time.sleep(0.2)


def run_demo(*, host: str, port: int, store_port: int, serve: bool) -> None:
    devstore = _devstore()
    DevStore, serve_in_thread = devstore.DevStore, devstore.serve_in_thread
    from devstore.storefront import storefront_url

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    # The development secret is short by design; PyJWT's key-length advice is noise here.
    warnings.filterwarnings("ignore", message="The HMAC key is")
    cfg = app.config["REGULARS"]
    if cfg.production:
        raise click.ClickException("the demo is a development aid: set REGULARS_ENV=development (scripts/demo does)")
    store_url = f"http://{host}:{store_port}"
    if cfg.shopify_api_origin != store_url:
        raise click.ClickException(f"set SHOPIFY_API_ORIGIN={store_url} (scripts/demo does) so the app talks to the stand-in")

    # A fresh demo shop every run: whatever an earlier run left goes first.
    demo_shop.reset_shop(DEMO_SHOP)

    store = DevStore(api_key=cfg.api_key, api_secret=cfg.api_secret, app_url=cfg.app_url, rate_limit=False)
    store.add_shop(DEMO_SHOP, name="Regulars Demo")
    store_server, _, _ = serve_in_thread(store, host, store_port)
    app_server = make_server(host, port, app, threaded=True)
    app_thread = threading.Thread(target=app_server.serve_forever, name="regulars-app", daemon=True)
    app_thread.start()

    click.echo(f"stand-in Shopify on {store_url}; app on {cfg.app_url}; seeding {DEMO_SHOP} through POST /webhooks …")
    _install(app)
    _apply_program_defaults(app)
    customers = _seed(store, random.Random(7))
    _wait_until_processed()
    db.session.remove()
    seeded = demo_shop.figures()
    processed, members, orders, ranked, tier_names = (seeded.processed, seeded.members, seeded.orders,
                                                      seeded.ranked, seeded.tier_names)
    top = ranked[0] if ranked else None
    who = top.customer_id if top else customers[0]["id"]
    code = top.referral_code if top and top.referral_code else None
    shopfront = storefront_url(store_url, DEMO_SHOP)

    admin_url = f"{cfg.app_url}/dev/login?shop={DEMO_SHOP}"
    click.echo("")
    click.echo(f"Seeded {members} members and {orders} orders; {processed} webhook deliveries processed "
               "(a year of the shop, dated as it happened).")
    click.echo("")
    click.echo(f"  Admin (dev sign-in):        {admin_url}")
    click.echo(f"  Widget, signed-in member:   {shopfront}/account?as={who}")
    click.echo(f"  Widget in Thai:             {shopfront}/th/account?as={who}")
    click.echo(f"  Widget, visitor:            {shopfront}/account?as=")
    if code:
        click.echo(f"  Referral landing page:      {shopfront}/apps/regulars/r/{code}")
    click.echo(f"  Health:                     {cfg.app_url}/healthz")
    click.echo("")
    click.echo("  Members to sign in as (?as=<customer id> on any storefront page), most points first:")
    for m in ranked[:6]:
        name = f"{m.first_name or ''} {m.last_name or ''}".strip()
        click.echo(f"    {m.customer_id}  {name:<18} {m.points_available:>6,} points  {tier_names.get(m.tier_id or 0, '—')}")
    click.echo(f"  The storefront stand-in is {shopfront} (browsers resolve *.localhost to this machine); its")
    click.echo("  language links (or /el/, /ro/, /th/, /zh-CN/ before /account) choose the widget's language.")
    click.echo("")
    if not serve:
        app_server.shutdown()
        store_server.shutdown()
        return
    click.echo("Serving; Ctrl-C stops.")
    try:
        app_thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        app_server.shutdown()
        store_server.shutdown()
