"""Admin test helpers: an installed shop, session-token headers, and orders/members seeded straight into the DB."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.extensions import db
from app.models import Member, Order, Shop, utcnow
from devstore.tokens import mint_session_token
from tests.conftest import TEST_KEY, TEST_SECRET

SHOP = "alpha.myshopify.com"
_ids = itertools.count(1000)


def install_shop(domain: str = SHOP) -> Shop:
    """A shop that already holds an offline token, so a session token needs no exchange."""
    shop = Shop(domain=domain, settings={}, installed_at=utcnow(), access_token="shpat_test", scopes="read_orders",
                action_secret="s3cret-action", created_at=utcnow())
    db.session.add(shop)
    db.session.commit()
    return shop


def auth(domain: str = SHOP, user_id: int = 7) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_session_token(domain, TEST_KEY, TEST_SECRET, user_id=user_id)}


def member(shop: Shop, customer_id: int, *, email: str, first: str = "", last: str = "", points: int = 0,
           spent: str = "0", last_order_at: datetime | None = None, tier_id: int | None = None) -> Member:
    m = Member(shop_id=shop.id, customer_id=customer_id, email=email, email_normalized=email.lower(),
               first_name=first, last_name=last, enrolled_at=utcnow(), points_available=points,
               lifetime_points=max(points, 0), lifetime_spent=Decimal(spent), last_order_at=last_order_at,
               tier_id=tier_id, referral_code=f"R{customer_id:07d}"[-8:])
    db.session.add(m)
    db.session.flush()
    return m


def order(shop: Shop, customer_id: int | None, at: datetime, total: str, *, member_id: int | None = None,
          status: str = "paid", cancelled: bool = False, test: bool = False, order_id: int | None = None) -> Order:
    o = Order(shop_id=shop.id, order_id=order_id or next(_ids), customer_id=customer_id, member_id=member_id,
              financial_status=status, cancelled=cancelled, test=test, processed_at=at, paid_at=at,
              subtotal=Decimal(total), total_price=Decimal(total), eligible_amount=Decimal(total))
    db.session.add(o)
    return o


def api(client: Any, method: str, path: str, **kw: Any) -> Any:
    headers = {**auth(), **kw.pop("headers", {})}
    return client.open(path, method=method, headers=headers, **kw)
