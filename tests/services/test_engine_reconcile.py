"""Nightly reconciliation against the stand-in Shopify: an order whose webhooks were lost heals through
Admin GraphQL and the same order path; orders the webhooks already told about change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger as rules
from app.models import LedgerEntry, Member, Order, Shop
from app.services.reconcile import reconcile_all, reconcile_shop
from app.shopify.adapter import OfflineToken
from tests.services.engine_fixtures import check_ledger_invariants

pytestmark = pytest.mark.postgres
SHOP = "heal.myshopify.com"


@pytest.fixture
def healing(devstore_env: dict[str, Any]):
    store, app = devstore_env["store"], devstore_env["app"]
    store.add_shop(SHOP)
    token = store.issue_access_token(SHOP)
    with app.app_context():
        from app.services.shops import save_install

        shop = save_install(SHOP, OfflineToken(token["access_token"], token.get("scope", ""), None, None, None))
        shop.settings = {"pending_days": 0}
        db.session.commit()
        yield store, shop.id
        check_ledger_invariants()
        db.session.remove()


def _shop(shop_id: int) -> Shop:
    db.session.expire_all()
    shop = db.session.get(Shop, shop_id)
    assert shop is not None
    return shop


def test_an_order_without_its_webhook_is_healed_by_reconciliation(healing):
    store, shop_id = healing
    seen = store.create_customer(SHOP, "seen@example.com", "Sam", "Seen")  # customers/create delivered
    seen_order = store.create_order(SHOP, seen["id"], [{"title": "Tee", "price": "20.00", "quantity": 2}])
    lost = store.create_customer(SHOP, "lost@example.com", "Lou", "Lost", notify=False)
    lost_order = store.create_order(SHOP, lost["id"], [{"title": "Mug", "price": "12.00", "quantity": 1}],
                                    notify=False)
    db.session.expire_all()
    assert db.session.execute(select(Order).where(Order.order_id == lost_order["id"])).first() is None
    assert db.session.execute(select(Member.points_available).where(Member.customer_id == seen["id"])).scalar_one() == 300

    result = reconcile_shop(_shop(shop_id))
    assert result == {"seen": 2, "changed": 1, "failed": 0}
    healed = db.session.execute(select(Order).where(Order.order_id == lost_order["id"])).scalar_one()
    assert healed.points_given == 60 and healed.name == lost_order["name"]
    member = db.session.execute(select(Member).where(Member.customer_id == lost["id"])).scalar_one()
    assert member.enrolled_at is not None and member.email == "lost@example.com"
    assert member.points_available == 100 + 60  # joined with the order: sign-up bonus + 12.00 × 5

    # A refund whose webhooks are lost too: the next night takes the points back.
    line = lost_order["line_items"][0]["id"]
    store.refund(SHOP, lost_order["id"], [{"line_item_id": line, "quantity": 1}], notify=False)
    store.advance(2)
    assert reconcile_shop(_shop(shop_id))["changed"] == 1
    db.session.expire_all()
    assert db.session.execute(select(Member.points_available).where(Member.customer_id == lost["id"])).scalar_one() == 100
    assert db.session.execute(select(LedgerEntry.points).where(LedgerEntry.kind == rules.REVERSE_ORDER)).scalars().all() == [-60]
    # Nothing new: nothing changes, and the seen order (told by webhook) was never touched twice.
    assert reconcile_all()["changed"] == 0
    seen_row = db.session.execute(select(Order).where(Order.order_id == seen_order["id"])).scalar_one()
    assert seen_row.version == 1



def test_an_order_with_more_lines_than_a_page_is_read_whole(healing):
    """Twelve lines, the gift card last: a page reads 10 lines, so the order is read again on its own;
    the gift card is found and earns nothing (11 × 3.00 × 5 = 165)."""
    store, shop_id = healing
    customer = store.create_customer(SHOP, "many@example.com", notify=False)
    lines = [{"title": f"Item {i}", "price": "3.00"} for i in range(11)]
    lines.append({"title": "Gift card", "price": "50.00", "gift_card": True})
    order = store.create_order(SHOP, customer["id"], lines, notify=False)
    assert reconcile_shop(_shop(shop_id))["changed"] == 1
    row = db.session.execute(select(Order).where(Order.order_id == order["id"])).scalar_one()
    assert row.points_given == 165
    assert store.graphql_calls(SHOP, root_field="order")  # the single-order read happened
