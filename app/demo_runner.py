"""The demo: the stand-in Shopify and the app side by side, a demo shop seeded through the real webhook path."""

from __future__ import annotations

import random
import threading
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.extensions import db
from app.models import Member, Order, WebhookDelivery

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
    from app.services import setup, shops

    shop = shops.get_shop(DEMO_SHOP)
    if shop is None:
        raise click.ClickException("the demo shop did not install")
    setup.complete_setup(shop, setup.defaults()["settings"], actor="demo")


def _seed(store: Any, rng: random.Random) -> list[dict[str, Any]]:
    """Customers and a year of orders, refunds and a cancellation, each sent as Shopify would send it."""
    now = datetime.now(UTC)
    customers = []
    for i in range(24):
        first, last = FIRST[i], LAST[i % len(LAST)]
        created = now - timedelta(days=rng.randint(40, 400))
        customers.append(store.create_customer(DEMO_SHOP, f"{first.lower()}.{last.lower()}@example.com", first,
                                               last, created_at=created.isoformat()))
    orders = []
    for c in customers:
        for _ in range(rng.choice([1, 1, 2, 2, 3, 4, 6])):
            lines = []
            for title, price in rng.sample(PRODUCTS, k=rng.randint(1, 3)):
                lines.append({"title": title, "price": price, "quantity": rng.randint(1, 2),
                              "gift_card": title == "Gift card"})
            when = now - timedelta(days=rng.randint(0, 360), hours=rng.randint(0, 23))
            orders.append(store.create_order(DEMO_SHOP, c["id"], lines, shipping="5.00", tax="0.00",
                                             browser_ip=f"203.0.113.{rng.randint(1, 250)}",
                                             created_at=when.isoformat()))
    for o in rng.sample(orders, k=max(1, len(orders) // 10)):
        store.refund(DEMO_SHOP, o["id"], [{"line_item_id": o["line_items"][0]["id"], "quantity": 1}])
    store.cancel_order(DEMO_SHOP, rng.choice(orders)["id"], "customer")
    return customers


def run_demo(*, host: str, port: int, store_port: int, serve: bool) -> None:
    devstore = _devstore()
    DevStore, serve_in_thread = devstore.DevStore, devstore.serve_in_thread

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    # The development secret is short by design; PyJWT's key-length advice is noise here.
    warnings.filterwarnings("ignore", message="The HMAC key is")
    cfg = app.config["REGULARS"]
    if cfg.production:
        raise click.ClickException("the demo is a development aid: set REGULARS_ENV=development (scripts/demo does)")
    store_url = f"http://{host}:{store_port}"
    if cfg.shopify_api_origin != store_url:
        raise click.ClickException(f"set SHOPIFY_API_ORIGIN={store_url} (scripts/demo does) so the app talks to the stand-in")

    from app.services import privacy

    # A fresh demo shop every run: whatever an earlier run left goes first.
    privacy.redact_shop(DEMO_SHOP)
    db.session.commit()

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
    db.session.remove()
    processed = db.session.execute(select(func.count()).select_from(WebhookDelivery)
                                   .where(WebhookDelivery.status == "processed")).scalar_one()
    members = db.session.execute(select(func.count()).select_from(Member)).scalar_one()
    orders = db.session.execute(select(func.count()).select_from(Order)).scalar_one()
    top = db.session.execute(select(Member).order_by(Member.points_available.desc()).limit(1)).scalar_one_or_none()
    who = top.customer_id if top else customers[0]["id"]
    code = top.referral_code if top and top.referral_code else None
    handle = DEMO_SHOP.removesuffix(".myshopify.com")

    admin_url = f"{cfg.app_url}/dev/login?shop={DEMO_SHOP}"
    click.echo("")
    click.echo(f"Seeded {members} members and {orders} orders; {processed} webhook deliveries processed.")
    click.echo("")
    click.echo(f"  Admin (dev sign-in):        {admin_url}")
    click.echo(f"  Widget, signed-in member:   {store_url}/store/{handle}/account?as={who}")
    click.echo(f"  Widget, visitor:            {store_url}/store/{handle}/account?as=")
    if code:
        click.echo(f"  Referral landing page:      {store_url}/store/{handle}/apps/regulars/r/{code}")
    click.echo(f"  Health:                     {cfg.app_url}/healthz")
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
