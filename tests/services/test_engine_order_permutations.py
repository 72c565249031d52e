"""Property: whatever order Shopify's webhooks arrive in, and however often, an order ends with the same
points as when every event arrives once and in order — on PostgreSQL, through the order service.

The events are the ones the stand-in Shopify (devstore) sends for a real sequence of changes: paid,
partial refunds (refunds/create + orders/updated), an order edit, a shipping refund, a cancellation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.extensions import db
from app.models import Member, Order, Shop, utcnow
from app.services import orders as order_service
from devstore import DevStore
from tests.conftest import truncate_all
from tests.services.engine_fixtures import check_ledger_invariants

pytestmark = pytest.mark.postgres

SHOP = "perm.myshopify.com"


def _events(ops: dict[str, bool]) -> list[tuple[str, dict[str, Any]]]:
    """The webhooks devstore emits for: a paid order, then the chosen changes, in Shopify's order."""
    store = DevStore(rate_limit=False)
    store.sender.mode = "queue"
    store.add_shop(SHOP)
    customer = store.create_customer(SHOP, "ana@example.com", "Ana", "Lima", notify=False)
    order = store.create_order(SHOP, customer["id"], [
        {"title": "Tee", "price": "20.00", "quantity": 3},
        {"title": "Mug", "price": "12.50", "quantity": 2},
        {"title": "Gift card", "price": "25.00", "quantity": 1, "gift_card": True},
    ], shipping="7.00", tax="4.10")
    tee, mug = order["line_items"][0]["id"], order["line_items"][1]["id"]
    if ops["refund"]:
        store.refund(SHOP, order["id"], [{"line_item_id": tee, "quantity": 1}])
    if ops["edit"]:
        store.edit_order(SHOP, order["id"], remove_lines=[{"line_item_id": mug, "quantity": 1}])
    if ops["shipping"]:
        store.refund(SHOP, order["id"], [], shipping="7.00")
    if ops["second_refund"]:
        store.refund(SHOP, order["id"], [{"line_item_id": tee, "quantity": 1}])
    if ops["cancel"]:
        store.cancel_order(SHOP, order["id"])
    return [(e.topic, e.payload) for e in store.events]


def _apply(shop: Shop, events: list[tuple[str, dict[str, Any]]], now: Any) -> None:
    for topic, payload in events:
        if topic == "refunds/create":
            order_service.apply_refund_event(shop, payload, None, now=now)
        else:
            order_service.apply_order_event(shop, topic, payload, None, now=now)
        db.session.commit()  # each delivery is its own transaction, as in the drain


def _outcome(shop_id: int) -> tuple[int, int, int, int]:
    db.session.expire_all()
    member = db.session.execute(select(Member).where(Member.shop_id == shop_id)).scalar_one()
    order = db.session.execute(select(Order).where(Order.shop_id == shop_id)).scalar_one()
    return (member.points_available + member.points_pending, order.points_given, member.orders_count,
            int(member.lifetime_spent * 100))


scenario = st.fixed_dictionaries({k: st.booleans() for k in ("refund", "edit", "shipping", "second_refund", "cancel")})
program = st.fixed_dictionaries({
    "include_shipping": st.booleans(), "include_taxes": st.booleans(),
    "pending_days": st.sampled_from([0, 14]), "reversal_policy": st.sampled_from(["allow_negative", "cap_at_zero"]),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=scenario, rules=program, data=st.data())
def test_any_permutation_with_duplicates_gives_the_in_order_result(pg_app, pg_url, ops, rules, data):
    events = _events(ops)
    order = data.draw(st.permutations(range(len(events))), label="arrival order")
    dupes = data.draw(st.lists(st.integers(0, len(events) - 1), max_size=4), label="duplicates")
    arrival = list(order)
    for i, d in enumerate(dupes):
        arrival.insert(data.draw(st.integers(0, len(arrival)), label=f"dup {i} at"), d)
    now = utcnow() + timedelta(days=1)
    truncate_all(pg_url)  # every example starts from an empty database
    with pg_app.app_context():
        shops = []
        for domain in ("inorder.myshopify.com", "shuffled.myshopify.com"):
            shop = Shop(domain=domain, settings=dict(rules, signup_points=0), installed_at=utcnow(),
                        access_token="t", created_at=utcnow(), updated_at=utcnow())
            db.session.add(shop)
            shops.append(shop)
        db.session.commit()
        _apply(shops[0], events, now)
        _apply(shops[1], [events[i] for i in arrival], now)
        expected, got = _outcome(shops[0].id), _outcome(shops[1].id)
        assert got == expected, ([events[i][0] for i in arrival], expected, got)
        check_ledger_invariants()
        db.session.remove()
