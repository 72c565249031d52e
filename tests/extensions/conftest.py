"""A shop whose member data arrives the production way (the stand-in Shopify's webhooks into the running app),
the session tokens Shopify gives UI extensions, and the built extension bundles rendered by node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.extensions import db
from app.models import CustomAction, Member, Order, Reward, Shop, Tier, utcnow
from app.shopify.adapter import OfflineToken
from devstore.tokens import mint_extension_token
from tests.conftest import IN_CI, TEST_KEY, TEST_SECRET

SHOP = "ext-shop.myshopify.com"
ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = ("regulars-account", "regulars-account-blocks", "regulars-thank-you")


@dataclass
class ExtSeed:
    app: Any
    store: Any
    app_url: str
    shop_id: int
    ann: int  # a member: points, a pending order, a code, a birthday
    bob: int  # another member, with his own order
    carol: int  # a signed-in customer who has not joined
    paid_order: int  # Ann's, 299 points pending
    test_order: int  # Ann's, a test order (earns nothing)
    gift_order: int  # Ann's, gift cards only (earns nothing)
    bob_order: int
    cheap_reward: int  # 500 points, redeemable by Ann
    dear_reward: int  # 5,000 points, not redeemable by Ann
    code: str  # Ann's active code

    def token(self, customer_id: int | None) -> str:
        return mint_extension_token(SHOP, TEST_KEY, TEST_SECRET, customer_id=customer_id)


def _wait(what: str, check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        db.session.rollback()
        time.sleep(0.05)


def _member(shop_id: int, customer_id: int) -> Member | None:
    return db.session.query(Member).filter_by(shop_id=shop_id, customer_id=customer_id).one_or_none()


def _order(shop_id: int, order_id: int) -> Order | None:
    return db.session.query(Order).filter_by(shop_id=shop_id, order_id=order_id).one_or_none()


@pytest.fixture
def ext(devstore_env: dict[str, Any]) -> Iterator[ExtSeed]:
    from app.services import redemption
    from app.services.adjustments import adjust_points
    from app.services.members import set_birthday
    from app.services.shops import save_install

    store, app = devstore_env["store"], devstore_env["app"]
    store.add_shop(SHOP, currency="EUR", name="Ext Shop")
    token = store.issue_access_token(SHOP)
    with app.app_context():
        shop = save_install(SHOP, OfflineToken(access_token=token["access_token"], scope=token.get("scope", ""),
                                               expires_at=None, refresh_token=None, refresh_token_expires_at=None))
        shop.settings = {"pending_days": 14}
        shop.currency = "EUR"
        shop.name = "Ext Shop"
        db.session.add_all([
            Tier(shop_id=shop.id, name="Bronze", handle="bronze", threshold=Decimal(0), position=0),
            Tier(shop_id=shop.id, name="Silver", handle="silver", threshold=Decimal(1000), position=1,
                 perks="Early access to sales"),
            Tier(shop_id=shop.id, name="Gold", handle="gold", threshold=Decimal(5000), position=2),
        ])
        cheap = Reward(shop_id=shop.id, type="fixed_amount", name="5 off", points_cost=500, value=Decimal("5.00"),
                       minimum_subtotal=Decimal(0), active=True, position=0, created_at=utcnow())
        dear = Reward(shop_id=shop.id, type="fixed_amount", name="50 off", points_cost=5000, value=Decimal("50.00"),
                      minimum_subtotal=Decimal("100.00"), active=True, position=1, created_at=utcnow())
        db.session.add_all([cheap, dear, CustomAction(shop_id=shop.id, key="newsletter", name="Join the newsletter",
                                                      points=50, limit="once", honour_system=True)])
        db.session.commit()
        shop_id = shop.id

        # Customers and orders through the real webhook endpoint.
        ann = int(store.create_customer(SHOP, "ann@example.com", "Ann", "Lee")["id"])
        bob = int(store.create_customer(SHOP, "bob@example.com", "Bob", "Ray")["id"])
        carol = int(store.create_customer(SHOP, "carol@example.com", "Carol", notify=False)["id"])
        member = _wait("Ann's sign-up", lambda: (m := _member(shop_id, ann)) is not None and m.enrolled_at and m)
        _wait("Bob's sign-up", lambda: (m := _member(shop_id, bob)) is not None and m.enrolled_at)
        paid = int(store.create_order(SHOP, ann, [{"title": "Tee", "price": "59.90"}])["id"])
        test = int(store.create_order(SHOP, ann, [{"title": "Tee", "price": "20.00"}], test=True)["id"])
        gift = int(store.create_order(SHOP, ann, [{"title": "Gift card", "price": "25.00", "gift_card": True}])["id"])
        bob_order = int(store.create_order(SHOP, bob, [{"title": "Mug", "price": "12.00"}])["id"])
        for oid in (paid, test, gift, bob_order):
            _wait(f"order {oid}", lambda oid=oid: (o := _order(shop_id, oid)) is not None and o.knowledge is not None)
        _wait("Ann's order points", lambda: (o := _order(shop_id, paid)) is not None and o.points_pending > 0)

        shop = db.session.get(Shop, shop_id)
        assert shop is not None
        member = _member(shop_id, ann)
        assert member is not None
        adjust_points(shop, member, points=1300, reason="goodwill", note="Thanks for your patience",
                      actor="staff:test", idempotency_key="seed")
        set_birthday(shop, member, 3, 14)
        member = _member(shop_id, ann)
        assert member is not None
        code = redemption.redeem(shop, member, cheap.id, idempotency_key="seed-code", actor="staff:test").code
        db.session.rollback()
        yield ExtSeed(app, store, devstore_env["app_url"], shop_id, ann, bob, carol, paid, test, gift, bob_order,
                      cheap.id, dear.id, code)
        db.session.remove()


# --- the built bundles and node ----------------------------------------------------------------------------


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(why)
    pytest.skip(why)


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


@pytest.fixture(scope="session")
def bundles() -> Path:
    """The extensions as `npm run build` (Shopify CLI) builds them; rebuilt here when a source is newer."""
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed (the UI extension tests need Node.js 20 and npm)")
    if not (ROOT / "node_modules" / "happy-dom").exists():
        _unavailable("node_modules is missing: run `npm ci` first")
    sources = [p for e in EXTENSIONS for p in (ROOT / "extensions" / e).rglob("*")
               if p.is_file() and "dist" not in p.parts and p.name != "shopify.d.ts"]
    sources += list((ROOT / "extensions" / "shared").glob("*.js")) + [ROOT / "shopify.app.toml"]
    built = [ROOT / "extensions" / e / "dist" / f"{e}.js" for e in EXTENSIONS]
    if not all(b.exists() for b in built) or min(b.stat().st_mtime for b in built) < _newest(sources):
        env = {**os.environ, "SHOPIFY_CLI_NO_ANALYTICS": "1"}
        done = subprocess.run(["npm", "run", "build"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr
    return ROOT


def render(seed: ExtSeed, extension: str, target: str, *, locale: str = "en", customer_id: int | None,
           order_id: int | None = None, auth_state: str | None = None, clicks: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a shopper sees of one target, rendered by node from the built bundle against the running app."""
    payload = {"extension": extension, "target": target, "locale": locale, "token": seed.token(customer_id),
               "backend": seed.app_url, "order_id": None if order_id is None else str(order_id), "auth_state": auth_state, "clicks": list(clicks)}
    done = subprocess.run(["node", str(ROOT / "tests" / "extensions" / "render.mjs")], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert out["errors"] == [], out["errors"]
    for call in out["fetches"]:
        assert call["status"] < 500, out["fetches"]
    return out
