"""Fixtures for the rewards engineer's tests: an installed shop on the devstore, members, rewards."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from app.extensions import db
from app.models import Member, Reward, Shop, utcnow
from app.shopify.adapter import OfflineToken

SHOP = "alpha.myshopify.com"


@pytest.fixture
def env(devstore_env: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """devstore_env plus an installed shop (devstore token saved in the app) and an app context."""
    store = devstore_env["store"]
    store.add_shop(SHOP)
    token = store.issue_access_token(SHOP)
    app = devstore_env["app"]
    with app.app_context():
        from app.services.shops import save_install

        shop = save_install(SHOP, OfflineToken(access_token=token["access_token"], scope=token.get("scope", ""),
                                               expires_at=None, refresh_token=None, refresh_token_expires_at=None))
        shop.settings = {"pending_days": 14}
        db.session.commit()
        yield {**devstore_env, "shop_id": shop.id}
        db.session.remove()


def shop_of(env: dict[str, Any]) -> Shop:
    shop = db.session.get(Shop, env["shop_id"])
    assert shop is not None
    return shop


def make_member(env: dict[str, Any], email: str, points: int = 0, **kw: Any) -> Member:
    """A customer in the devstore (no webhook) and the member in the app, with `points` available."""
    from app.loyalty import ledger as rules
    from app.services.ledger import lock_member, post_entry

    c = env["store"].create_customer(SHOP, email, "Ann", "Lee", notify=False)
    member = Member(shop_id=env["shop_id"], customer_id=int(c["id"]), email=email, email_normalized=email.lower(),
                    points_available=0, points_pending=0, lifetime_points=0, orders_count=0,
                    enrolled_at=utcnow(), created_at=utcnow(), **kw)
    db.session.add(member)
    db.session.commit()
    if points:
        locked = lock_member(member.id)
        post_entry(locked, points=points, kind=rules.SIGNUP, source=rules.SOURCE_IMPORT,
                   idempotency_key=f"test-seed:{member.customer_id}")
        db.session.commit()
    return member


def make_reward(env: dict[str, Any], *, points_cost: int = 500, value: str = "5.00", type: str = "fixed_amount",
                **kw: Any) -> Reward:
    reward = Reward(shop_id=env["shop_id"], type=type, name=kw.pop("name", "5 off"), points_cost=points_cost,
                    value=Decimal(value), minimum_subtotal=Decimal(kw.pop("minimum_subtotal", "0")), active=True,
                    created_at=utcnow(), **kw)
    db.session.add(reward)
    db.session.commit()
    return reward
