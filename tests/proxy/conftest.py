"""Fixtures for the storefront widget: a shop with tiers, rewards and actions, members, and signed proxy URLs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from app.extensions import db
from app.models import CustomAction, Member, Reward, Shop, Tier, utcnow
from app.services.ledger import lock_member, post_entry
from devstore.tokens import app_proxy_query
from tests.conftest import TEST_SECRET

SHOP = "widget-shop.myshopify.com"


@dataclass
class Seeded:
    shop_id: int
    member_id: int
    customer_id: int
    other_customer_id: int
    cheap_reward_id: int
    dear_reward_id: int
    gold_reward_id: int


def proxy_url(path: str, customer_id: int | None = None, *, locale: str | None = "en", shop: str = SHOP,
              extra: dict[str, Any] | None = None, timestamp: int | None = None, secret: str = TEST_SECRET) -> str:
    """The app's /proxy URL as Shopify calls it: the shopper's own params plus the signed proxy query."""
    own: dict[str, Any] = dict(extra or {})
    if locale is not None:
        own["locale"] = locale
    params = app_proxy_query(shop, "/apps/regulars", customer_id, own, api_secret=secret, timestamp=timestamp)
    return f"/proxy/{path.lstrip('/')}?{urlencode(params, doseq=True)}"


def seed_shop(*, domain: str = SHOP, access_token: str | None = "tok", money_format: str = "${{amount}}",
              settings: dict[str, Any] | None = None, ledger_lines: int = 4,
              customer_ids: tuple[int, int] = (7001, 7002)) -> Seeded:
    """A shop with Bronze/Silver/Gold on points earned, three rewards, two actions, and one member with history."""
    shop = Shop(domain=domain, name="Widget Shop", settings=settings or {}, installed_at=utcnow(),
                access_token=access_token, money_format=money_format)
    db.session.add(shop)
    db.session.flush()
    bronze = Tier(shop_id=shop.id, name="Bronze", handle="bronze", threshold=Decimal(0), position=0)
    silver = Tier(shop_id=shop.id, name="Silver", handle="silver", threshold=Decimal(1000), position=1)
    gold = Tier(shop_id=shop.id, name="Gold", handle="gold", threshold=Decimal(5000), position=2, perks="Free shipping")
    db.session.add_all([bronze, silver, gold])
    db.session.flush()
    cheap = Reward(shop_id=shop.id, type="fixed_amount", name="5.00 off", points_cost=500, value=Decimal("5.00"))
    dear = Reward(shop_id=shop.id, type="fixed_amount", name="50.00 off", points_cost=5000, value=Decimal("50.00"))
    gold_only = Reward(shop_id=shop.id, type="percentage", name="20% off", points_cost=100, value=Decimal(20),
                       tier_id=gold.id)
    db.session.add_all([cheap, dear, gold_only])
    db.session.add_all([
        CustomAction(shop_id=shop.id, key="newsletter", name="Join the newsletter", points=50, limit="once",
                     honour_system=True),
        CustomAction(shop_id=shop.id, key="review", name="Write a review", points=20, limit="unlimited"),
    ])
    member = Member(shop_id=shop.id, customer_id=customer_ids[0], email="ann@example.com", first_name="Ann",
                    enrolled_at=utcnow() - timedelta(days=30), referral_code="ABCD2345", tier_id=bronze.id)
    other = Member(shop_id=shop.id, customer_id=customer_ids[1], email="bob@example.com", first_name="Bob",
                   enrolled_at=utcnow(), referral_code="WXYZ6789", tier_id=bronze.id)
    db.session.add_all([member, other])
    db.session.commit()
    locked = lock_member(member.id)
    post_entry(locked, points=100, kind="signup", source="signup", idempotency_key=f"signup:{customer_ids[0]}")
    for i in range(max(ledger_lines - 2, 0)):
        post_entry(locked, points=300, kind="earn_order", source="order", source_id=str(9000 + i),
                   idempotency_key=f"order:{i}")
    post_entry(locked, points=120, kind="earn_order", source="order", source_id="9999", status="pending",
               idempotency_key="order:pending")
    db.session.commit()
    return Seeded(shop.id, member.id, customer_ids[0], customer_ids[1], cheap.id, dear.id, gold_only.id)


@pytest.fixture
def seeded(pg_app: Any) -> Seeded:
    with pg_app.app_context():
        return seed_shop()


@pytest.fixture
def live(devstore_env: dict[str, Any]) -> tuple[Any, Seeded]:
    """The app wired to the stand-in Shopify, with the shop installed there (so discount codes can be made)."""
    store, app = devstore_env["store"], devstore_env["app"]
    store.add_shop(SHOP)
    token = store.issue_access_token(SHOP)["access_token"]
    ann = store.create_customer(SHOP, "ann@example.com", "Ann", notify=False)["id"]
    bob = store.create_customer(SHOP, "bob@example.com", "Bob", notify=False)["id"]
    with app.app_context():
        seeded = seed_shop(access_token=token, customer_ids=(int(ann), int(bob)))
    return app.test_client(), seeded
