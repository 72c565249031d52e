"""The engine's test kit: an installed shop on the migrated PostgreSQL, Shopify-shaped payloads written
by hand (so a merchant can follow the numbers), and the ledger invariants checked after every scenario."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import case, func, select

from app.extensions import db
from app.loyalty import ledger as rules
from app.models import LedgerEntry, Member, Order, OutboxEvent, Shop, Tier, WebhookDelivery, utcnow
from app.services.ledger import balance_mismatches
from tests.helpers import post_webhook

SHOP = "alpha.myshopify.com"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday afternoon, long past any pending period
_ids = itertools.count(1)


def new_id(base: int = 5_000_000_000_000_000) -> int:
    """Shopify-sized ids (beyond 2^53)."""
    return base + next(_ids)


def money_set(amount: Decimal | str) -> dict[str, Any]:
    return {"shop_money": {"amount": str(amount), "currency_code": "USD"},
            "presentment_money": {"amount": str(amount), "currency_code": "USD"}}


def customer_payload(customer_id: int, email: str = "ana@example.com", **extra: Any) -> dict[str, Any]:
    return {"id": customer_id, "email": email, "first_name": "Ana", "last_name": "Lima",
            "created_at": "2026-01-10T09:00:00-05:00", "updated_at": "2026-01-10T09:00:00-05:00", **extra}


def line(price: str, quantity: int = 1, *, gift_card: bool = False, line_id: int | None = None,
         current_quantity: int | None = None) -> dict[str, Any]:
    return {"id": line_id or new_id(13_000_000_000_000_000), "price": price, "price_set": money_set(price),
            "quantity": quantity, "current_quantity": quantity if current_quantity is None else current_quantity,
            "gift_card": gift_card, "title": "Gift card" if gift_card else "Tee"}


def refund_payload(order_id: int, refund_id: int, lines: list[tuple[int, int, str]] = (),  # type: ignore[assignment]
                   shipping: str | None = None, at: datetime = T0) -> dict[str, Any]:
    """refunds/create: lines are (line_item_id, quantity, subtotal); `shipping` refunded as an adjustment."""
    payload: dict[str, Any] = {
        "id": refund_id, "order_id": order_id, "created_at": at.isoformat(),
        "refund_line_items": [
            {"id": refund_id + i + 1, "line_item_id": lid, "quantity": qty, "subtotal": float(sub),
             "subtotal_set": money_set(sub), "total_tax": 0.0, "total_tax_set": money_set("0.00"),
             "line_item": {"id": lid, "gift_card": False}}
            for i, (lid, qty, sub) in enumerate(lines)
        ],
        "order_adjustments": [],
    }
    if shipping:
        payload["order_adjustments"].append({"id": refund_id + 99, "kind": "shipping_refund",
                                             "amount": f"-{shipping}", "amount_set": money_set(f"-{shipping}")})
    return payload


def order_payload(order_id: int, customer_id: int | None, *, subtotal: str = "59.90", shipping: str = "5.00",
                  tax: str = "0.00", status: str = "paid", updated_at: datetime = T0, processed_at: datetime = T0,
                  lines: list[dict[str, Any]] | None = None, refunds: list[dict[str, Any]] | None = None,
                  cancelled_at: datetime | None = None, test: bool = False, codes: tuple[str, ...] = (),
                  email: str = "ana@example.com", name: str = "#1001") -> dict[str, Any]:
    """An orders/paid|updated|cancelled body as Shopify sends it (the fields the engine reads, and a few more)."""
    total = Decimal(subtotal) + Decimal(shipping) + Decimal(tax)
    return {
        "id": order_id, "name": name, "email": email, "currency": "USD", "test": test,
        "financial_status": status, "cancelled_at": cancelled_at.isoformat() if cancelled_at else None,
        "created_at": processed_at.isoformat(), "processed_at": processed_at.isoformat(),
        "updated_at": updated_at.isoformat(),
        "current_subtotal_price": subtotal, "current_subtotal_price_set": money_set(subtotal),
        "subtotal_price": subtotal, "current_total_price": str(total), "total_price": str(total),
        "current_shipping_price_set": money_set(shipping), "total_shipping_price_set": money_set(shipping),
        "current_total_tax": tax, "current_total_tax_set": money_set(tax),
        "customer": customer_payload(customer_id, email) if customer_id else None,
        "line_items": lines if lines is not None else [line(subtotal)],
        "refunds": refunds or [],
        "discount_codes": [{"code": c, "amount": "0.00", "type": "fixed_amount"} for c in codes],
        "browser_ip": "203.0.113.9",
        "shipping_address": {"address1": "1 Main St", "city": "Cluj", "zip": "400000", "country_code": "RO"},
    }


@dataclass
class Engine:
    """An installed shop in an app context, and the ways a test pokes it."""

    app: Any
    shop_id: int

    @property
    def client(self) -> Any:
        return self.app.test_client()

    def shop(self) -> Shop:
        shop = db.session.get(Shop, self.shop_id)
        assert shop is not None
        return shop

    def configure(self, **settings: Any) -> None:
        shop = self.shop()
        shop.settings = {**(shop.settings or {}), **settings}
        db.session.commit()

    def post(self, topic: str, payload: dict[str, Any], **kw: Any) -> None:
        """Through the real webhook endpoint (jobs run in-process); fails if the delivery did not process."""
        resp = post_webhook(self.client, topic, payload, shop=SHOP, **kw)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        db.session.expire_all()
        bad = db.session.execute(select(WebhookDelivery).where(
            WebhookDelivery.status.not_in(("processed", "skipped")))).scalars().all()
        assert not bad, [(d.topic, d.status, d.last_error) for d in bad]

    def member(self, customer_id: int) -> Member:
        db.session.expire_all()
        m = db.session.execute(select(Member).where(Member.shop_id == self.shop_id,
                                                    Member.customer_id == customer_id)).scalar_one()
        return m

    def order(self, order_id: int) -> Order:
        db.session.expire_all()
        return db.session.execute(select(Order).where(Order.shop_id == self.shop_id,
                                                      Order.order_id == order_id)).scalar_one()

    def entries(self, customer_id: int | None = None, kind: str | None = None) -> list[LedgerEntry]:
        q = select(LedgerEntry).where(LedgerEntry.shop_id == self.shop_id).order_by(LedgerEntry.id)
        if customer_id is not None:
            q = q.where(LedgerEntry.member_id == self.member(customer_id).id)
        if kind is not None:
            q = q.where(LedgerEntry.kind == kind)
        return list(db.session.execute(q).scalars())

    def events(self, kind: str) -> list[OutboxEvent]:
        return list(db.session.execute(select(OutboxEvent).where(OutboxEvent.kind == kind)
                                       .order_by(OutboxEvent.id)).scalars())

    def add_tier(self, name: str, threshold: str, multiplier: str = "1", entry_bonus: int = 0) -> Tier:
        from app.loyalty.tiers import tier_handle

        tier = Tier(shop_id=self.shop_id, name=name, handle=tier_handle(name), threshold=Decimal(threshold),
                    multiplier=Decimal(multiplier), entry_bonus=entry_bonus, position=0, created_at=utcnow(),
                    updated_at=utcnow())
        db.session.add(tier)  # written behind the services' back, on purpose: the catalogue still notices
        db.session.commit()
        return tier

    def join(self, customer_id: int, email: str = "ana@example.com") -> Member:
        """customers/create through the webhook: the customer joins (sign-up bonus)."""
        self.post("customers/create", customer_payload(customer_id, email))
        return self.member(customer_id)


def check_ledger_invariants(shop_id: int | None = None) -> None:
    """What must hold after any scenario: cached balances = sums of entries; each order's earn/reverse
    entries = its points given, its pending entries = its pending points; lifetime points = earning
    entries; every entry carries the rules it was computed with."""
    db.session.rollback()
    assert balance_mismatches(shop_id) == []
    per_order = dict(
        (oid, (int(given), int(pending)))
        for oid, given, pending in db.session.execute(
            select(LedgerEntry.order_ref_id,
                   func.coalesce(func.sum(case((LedgerEntry.kind.in_((rules.EARN_ORDER, rules.REVERSE_ORDER)),
                                                LedgerEntry.points), else_=0)), 0),
                   func.coalesce(func.sum(case((LedgerEntry.status == rules.PENDING, LedgerEntry.points), else_=0)), 0))
            .where(LedgerEntry.order_ref_id.is_not(None), LedgerEntry.kind != rules.CAMPAIGN_BONUS)
            .group_by(LedgerEntry.order_ref_id))
    )
    for order in db.session.execute(select(Order)).scalars():
        assert per_order.get(order.id, (0, 0)) == (order.points_given, order.points_pending), order.order_id
    lifetime = dict(db.session.execute(
        select(LedgerEntry.member_id, func.sum(LedgerEntry.points))
        .where(LedgerEntry.kind.in_(sorted(rules.EARNING_KINDS))).group_by(LedgerEntry.member_id)).all())
    for m in db.session.execute(select(Member)).scalars():
        assert int(lifetime.get(m.id, 0)) == m.lifetime_points, m.customer_id
    missing = db.session.execute(select(func.count()).select_from(LedgerEntry)
                                 .where(LedgerEntry.snapshot.is_(None))).scalar_one()
    assert missing == 0
    db.session.rollback()


@pytest.fixture
def engine_app(pg_app: Any) -> Iterator[Engine]:
    """An installed shop with the default program, in an app context; invariants checked afterwards."""
    with pg_app.app_context():
        shop = Shop(domain=SHOP, settings={}, installed_at=utcnow(), access_token="tok", action_secret="s3cret",
                    created_at=utcnow(), updated_at=utcnow())
        db.session.add(shop)
        db.session.commit()
        yield Engine(pg_app, shop.id)
        check_ledger_invariants()
        db.session.remove()


def dump(obj: Any) -> str:
    return json.dumps(obj, default=str, indent=1)


def days(n: float) -> timedelta:
    return timedelta(days=n)
