"""Privacy rules 2 and 3 (loyalty-rules.md) through the compliance webhooks: customers/data_request keeps,
for the merchant, a document of everything held on that customer (and nobody else's); shop/redact deletes
every row of that shop and of no other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, Member, Referral, Shop, WebhookDelivery, utcnow
from app.services import members
from tests.services.engine_fixtures import SHOP, Engine, new_id, order_payload

ASKED = datetime(2026, 1, 5, tzinfo=UTC)


def _someone_with_everything(eng: Engine, cid: int, email: str) -> tuple[int, int]:
    """A member with a tier change (Silver at 100 points, reached by the sign-up bonus), a birthday, an
    earning order and a referral they made. Returns (member id, order id)."""
    eng.join(cid, email=email)
    members.set_birthday(eng.shop(), cid, 3, 14, now=ASKED)
    oid = new_id()
    eng.post("orders/paid", order_payload(oid, cid, email=email))
    member = eng.member(cid)
    db.session.add(Referral(shop_id=eng.shop_id, advocate_member_id=member.id, friend_email=f"friend.of.{email}",
                            friend_email_normalized=f"friend.of.{email}", friend_code=f"FRIEND-{cid}",
                            status="invited", created_at=utcnow()))
    db.session.commit()
    return member.id, oid


def test_a_data_request_documents_everything_held_on_that_customer_only(engine_app: Engine) -> None:
    eng = engine_app
    eng.add_tier("Silver", "100")
    cid, other = new_id(), new_id()
    _, oid = _someone_with_everything(eng, cid, "ana@example.com")
    _, other_oid = _someone_with_everything(eng, other, "bob@example.com")
    eng.post("customers/data_request", {"shop_id": 1, "shop_domain": SHOP, "customer": {"id": cid},
                                        "orders_requested": [oid], "data_request": {"id": 7}})
    [details] = db.session.execute(select(AuditLog.details).where(
        AuditLog.action == "customer_data_request", AuditLog.target_id == str(cid))).scalars().all()
    doc: dict[str, Any] = details["document"]
    assert (doc["shop"], doc["customer_id"], details["data_request"]) == (SHOP, str(cid), {"id": 7})
    member = doc["member"]
    # 100 for signing up, 299 for the order of 59.90 × 5 (paid long ago: past its pending days).
    assert (member["email"], member["birthday"], member["points_available"]) == ("ana@example.com", "03-14", 399)
    assert sorted((e["kind"], e["points"]) for e in doc["ledger"]) == [("earn_order", 299), ("signup", 100)]
    assert [e["id"] for e in doc["ledger"]] == [e.id for e in eng.entries(cid)]  # hers, not Bob's alike ones
    assert [(o["order_id"], o["email"], o["points_given"]) for o in doc["orders"]] == [(str(oid), "ana@example.com", 299)]
    assert [r["friend_email"] for r in doc["referrals"]] == ["friend.of.ana@example.com"]
    assert [(t["from"], t["to"]) for t in doc["tier_changes"]] == [(None, "Silver")]
    assert "bob@example.com" not in str(doc) and str(other_oid) not in str(doc)


def test_shop_redact_deletes_every_row_of_that_shop_and_of_no_other(engine_app: Engine) -> None:
    eng = engine_app
    eng.add_tier("Silver", "100")
    _someone_with_everything(eng, new_id(), "ana@example.com")
    neighbour = Shop(domain="beta.myshopify.com", settings={}, installed_at=utcnow(), access_token="tok",
                     action_secret="s3cret", created_at=utcnow(), updated_at=utcnow())
    db.session.add(neighbour)
    db.session.flush()
    db.session.add(Member(shop_id=neighbour.id, customer_id=new_id(), email="cy@example.com", points_available=0,
                          points_pending=0, lifetime_points=0, orders_count=0, created_at=utcnow()))
    db.session.commit()
    shop_tables = [t for t in db.metadata.sorted_tables if "shop_id" in t.c]

    def rows_of(shop_id: int) -> dict[str, int]:
        counts = {t.name: db.session.execute(select(func.count()).select_from(t).where(t.c.shop_id == shop_id))
                  .scalar_one() for t in shop_tables}
        return {name: n for name, n in counts.items() if n}

    assert {"members", "ledger_entries", "orders", "referrals"} <= set(rows_of(eng.shop_id))
    before_neighbour = rows_of(neighbour.id)
    eng.post("shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    assert rows_of(eng.shop_id) == {}
    assert db.session.execute(select(Shop.domain)).scalars().all() == ["beta.myshopify.com"]
    # The shop/redact delivery itself stays (its status is the receipt), its body emptied; no other remains.
    deliveries = db.session.execute(select(WebhookDelivery.topic, WebhookDelivery.body)
                                    .where(WebhookDelivery.shop_domain == SHOP)).all()
    assert [(topic, body) for topic, body in deliveries] == [("shop/redact", '{"redacted": true}')]
    assert rows_of(neighbour.id) == before_neighbour == {"members": 1}
