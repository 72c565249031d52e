"""Order points through the real webhook endpoint, one worked example per rule, checkable by hand.

Unless a test says otherwise: 5 points per 1.00, shipping and taxes excluded, orders paid on
2 March 2026 (long past the 14 pending days), allow_negative.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.loyalty import ledger as rules
from app.models import Campaign, LedgerEntry, Order, utcnow
from app.services import orders as order_service
from app.services.ledger import lock_member, post_entry
from app.services.pending import release_due
from tests.services.engine_fixtures import (
    T0,
    customer_payload,
    line,
    new_id,
    order_payload,
    refund_payload,
)

pytestmark = pytest.mark.postgres


def test_rule_book_example_gold_449_then_299_after_a_refund_of_20(engine_app):
    """59.90 subtotal + 5.00 shipping, 5 points per unit, Gold ×1.5: floor(59.90 × 5 × 1.5) = floor(449.25) = 449.
    A refund of 20.00 leaves 39.90: floor(39.90 × 5 × 1.5) = floor(299.25) = 299."""
    eng = engine_app
    eng.add_tier("Gold", "100", "1.5")  # points_earned, lifetime: the 100-point sign-up bonus reaches it
    cid, oid = new_id(), new_id()
    member = eng.join(cid)
    assert member.points_available == 100 and member.tier_id is not None  # upgraded at once by the bonus
    tee = line("59.90")
    eng.post("orders/paid", order_payload(oid, cid, lines=[tee]))
    assert eng.order(oid).points_given == 449
    assert eng.member(cid).points_available == 100 + 449

    refund = refund_payload(oid, new_id(), [(tee["id"], 1, "20.00")], at=T0 + timedelta(hours=1))
    eng.post("refunds/create", refund)
    eng.post("orders/updated", order_payload(oid, cid, subtotal="39.90", status="partially_refunded", lines=[tee],
                                             refunds=[refund], updated_at=T0 + timedelta(hours=1)))
    order = eng.order(oid)
    assert (order.points_target, order.points_given) == (299, 299)
    assert eng.member(cid).points_available == 100 + 299
    earn, reverse = eng.entries(cid, rules.EARN_ORDER), eng.entries(cid, rules.REVERSE_ORDER)
    assert [e.points for e in earn] == [449] and [e.points for e in reverse] == [-150]
    # The entries say which rules they were computed with.
    assert earn[0].snapshot["tier_multiplier"] == "1.500" and earn[0].snapshot["rate"] == "5"
    assert reverse[0].source == rules.SOURCE_REFUND


def test_shipping_and_taxes_only_when_the_shop_includes_them(engine_app):
    """59.90 + 5.00 shipping + 6.00 tax. Default: 59.90 × 5 = 299.5 → 299. With shipping: 64.90 × 5 = 324.5 → 324.
    With shipping and taxes: 70.90 × 5 = 354.5 → 354."""
    eng = engine_app
    results = []
    for settings in ({}, {"include_shipping": True}, {"include_shipping": True, "include_taxes": True}):
        eng.configure(**{"include_shipping": False, "include_taxes": False, **settings})
        cid, oid = new_id(), new_id()
        eng.post("orders/paid", order_payload(oid, cid, tax="6.00"))
        results.append(eng.order(oid).points_given)
    assert results == [299, 324, 354]


def test_gift_cards_never_earn(engine_app):
    """A 40.00 tee and a 25.00 gift card: current subtotal 65.00, eligible 40.00 → 200 points."""
    eng = engine_app
    cid, oid = new_id(), new_id()
    eng.post("orders/paid", order_payload(oid, cid, subtotal="65.00",
                                          lines=[line("40.00"), line("25.00", gift_card=True)]))
    assert eng.order(oid).eligible_amount == Decimal("40.00")
    assert eng.order(oid).points_given == 200


def test_test_orders_earn_only_when_the_shop_allows_them(engine_app):
    eng = engine_app
    cid, first, second = new_id(), new_id(), new_id()
    eng.post("orders/paid", order_payload(first, cid, subtotal="10.00", test=True))
    assert eng.order(first).points_given == 0
    eng.configure(allow_test_orders=True)
    eng.post("orders/paid", order_payload(second, cid, subtotal="10.00", test=True))
    assert eng.order(second).points_given == 50


def test_guest_orders_are_recorded_and_earn_nothing(engine_app):
    eng = engine_app
    oid = new_id()
    eng.post("orders/paid", order_payload(oid, None, subtotal="30.00"))
    order = eng.order(oid)
    assert order.member_id is None and order.points_given == 0
    assert order.counted and order.eligible_amount == Decimal("30.00") and order.subtotal == Decimal("30.00")
    assert eng.entries() == []


def test_a_paid_order_from_a_new_customer_enrolls_them_with_the_signup_bonus(engine_app):
    eng = engine_app
    cid, oid = new_id(), new_id()
    eng.post("orders/paid", order_payload(oid, cid, subtotal="20.00", email="new@example.com"))
    member = eng.member(cid)
    assert member.enrolled_at is not None and member.email == "new@example.com"
    assert sorted(e.kind for e in eng.entries(cid)) == [rules.EARN_ORDER, rules.SIGNUP]
    assert member.points_available == 100 + 100  # sign-up bonus + 20.00 × 5


def test_pending_points_are_released_after_the_pending_days(engine_app):
    """Paid now, 14 pending days: 299 pending; a refund of 20.00 during the period takes pending first
    (39.90 × 5 = 199.5 → 199 pending); released on day 14: −199 pending, +199 available."""
    eng = engine_app
    cid, oid, now = new_id(), new_id(), utcnow().replace(microsecond=0)
    eng.join(cid)
    tee = line("59.90")
    eng.post("orders/paid", order_payload(oid, cid, lines=[tee], processed_at=now, updated_at=now))
    member = eng.member(cid)
    assert (member.points_available, member.points_pending) == (100, 299)
    entry = eng.entries(cid, rules.EARN_ORDER)[0]
    assert entry.status == rules.PENDING and entry.available_at == now + timedelta(days=14)

    later = now + timedelta(minutes=5)
    refund = refund_payload(oid, new_id(), [(tee["id"], 1, "20.00")], at=later)
    eng.post("orders/updated", order_payload(oid, cid, subtotal="39.90", status="partially_refunded", lines=[tee],
                                             refunds=[refund], processed_at=now, updated_at=later))
    member = eng.member(cid)
    assert (member.points_available, member.points_pending) == (100, 199)

    assert release_due(now + timedelta(days=13)) == {"orders": 0, "points": 0}
    assert release_due(now + timedelta(days=14, minutes=1)) == {"orders": 1, "points": 199}
    assert release_due(now + timedelta(days=15)) == {"orders": 0, "points": 0}  # once
    member = eng.member(cid)
    assert (member.points_available, member.points_pending) == (100 + 199, 0)
    released = eng.entries(cid, rules.PENDING_RELEASED)
    assert sorted((e.points, e.status) for e in released) == [(-199, "pending"), (199, "available")]
    assert len(eng.events("pending_released")) == 1


def test_cap_at_zero_forgives_what_the_balance_cannot_cover(engine_app):
    """500 points earned and 400 spent; the order is cancelled. allow_negative would leave −400;
    cap_at_zero takes back the 100 left and records 400 as forgiven."""
    eng = engine_app
    eng.configure(reversal_policy="cap_at_zero", signup_points=0)
    cid, oid = new_id(), new_id()
    eng.post("orders/paid", order_payload(oid, cid, subtotal="100.00"))
    member = lock_member(eng.member(cid).id)
    post_entry(member, points=-400, kind=rules.REDEEM, source=rules.SOURCE_REWARD, idempotency_key="spent",
               snapshot={"test": True})
    db.session.commit()
    eng.post("orders/cancelled", order_payload(oid, cid, subtotal="0.00", status="refunded", lines=[line("100.00", 1, current_quantity=0)],
                                               cancelled_at=T0 + timedelta(hours=2), updated_at=T0 + timedelta(hours=2)))
    member = eng.member(cid)
    assert member.points_available == 0
    forgiven = eng.entries(cid, rules.FORGIVEN)
    assert [(e.points, e.forgiven_points) for e in forgiven] == [(400, 400)]
    assert [e.points for e in eng.entries(cid, rules.REVERSE_ORDER)] == [-500]
    assert eng.order(oid).points_given == 0


def test_allow_negative_lets_the_balance_go_below_zero(engine_app):
    eng = engine_app
    eng.configure(signup_points=0)
    cid, oid = new_id(), new_id()
    eng.post("orders/paid", order_payload(oid, cid, subtotal="100.00"))
    member = lock_member(eng.member(cid).id)
    post_entry(member, points=-400, kind=rules.REDEEM, source=rules.SOURCE_REWARD, idempotency_key="spent",
               snapshot={"test": True})
    db.session.commit()
    eng.post("orders/cancelled", order_payload(oid, cid, status="voided", cancelled_at=T0 + timedelta(hours=2),
                                               updated_at=T0 + timedelta(hours=2)))
    assert eng.member(cid).points_available == -400


def test_duplicates_older_payloads_and_refund_first_change_nothing_extra(engine_app):
    eng = engine_app
    eng.configure(signup_points=0)
    cid, oid = new_id(), new_id()
    tee = line("59.90")
    paid = order_payload(oid, cid, lines=[tee])
    refund = refund_payload(oid, new_id(), [(tee["id"], 1, "20.00")], at=T0 + timedelta(hours=1))
    updated = order_payload(oid, cid, subtotal="39.90", status="partially_refunded", lines=[tee], refunds=[refund],
                            updated_at=T0 + timedelta(hours=1))
    # The refund arrives first, then the newer update, then the (older) paid, and everything twice.
    for topic, body in [("refunds/create", refund), ("orders/updated", updated), ("orders/paid", paid),
                        ("orders/paid", paid), ("refunds/create", refund), ("orders/updated", updated)]:
        eng.post(topic, body)
    assert eng.order(oid).points_given == 199 and eng.member(cid).points_available == 199
    assert len(eng.entries(cid)) == 1  # booked once, at the final amount


def test_an_older_order_payload_arriving_late_changes_nothing(engine_app):
    """Paid at 59.90 (299 points), edited to 39.90 at +2h (199), cancelled at +3h (0); the +1h update
    (still 59.90, paid) arrives last of all. It is older than what was applied, so the ledger stays as
    the in-order delivery left it. Unlike a refund (which the engine nets out of an older payload
    anyway), an edit and a cancellation leave nothing else to hide a stale payload being applied."""
    eng = engine_app
    eng.configure(signup_points=0)
    cid, oid = new_id(), new_id()
    tee = line("59.90")
    eng.post("orders/paid", order_payload(oid, cid, lines=[tee]))
    eng.post("orders/updated", order_payload(oid, cid, subtotal="39.90", lines=[line("39.90")],
                                             updated_at=T0 + timedelta(hours=2)))
    assert eng.member(cid).points_available == 199
    late = order_payload(oid, cid, lines=[tee], updated_at=T0 + timedelta(hours=1))
    eng.post("orders/updated", late)
    assert (eng.order(oid).points_given, eng.member(cid).points_available) == (199, 199)
    cancelled_at = T0 + timedelta(hours=3)
    eng.post("orders/cancelled", order_payload(oid, cid, subtotal="39.90", lines=[line("39.90")], status="voided",
                                               cancelled_at=cancelled_at, updated_at=cancelled_at))
    eng.post("orders/updated", late)
    eng.post("orders/paid", order_payload(oid, cid, lines=[tee]))
    assert (eng.order(oid).points_given, eng.member(cid).points_available) == (0, 0)
    assert [e.points for e in eng.entries(cid)] == [299, -100, -199]


def test_the_snapshot_of_the_first_award_is_reused_whatever_the_rules_are_later(engine_app):
    """Awarded at 5 points per unit (100.00 → 500); the merchant moves to 10 per unit; a refund of 50.00
    is reversed at the order's own 5 per unit (−250), not at 10."""
    eng = engine_app
    eng.configure(signup_points=0)
    cid, oid = new_id(), new_id()
    tee = line("50.00", 2)
    eng.post("orders/paid", order_payload(oid, cid, subtotal="100.00", lines=[tee]))
    eng.configure(points_per_currency_unit="10")
    refund = refund_payload(oid, new_id(), [(tee["id"], 1, "50.00")], at=T0 + timedelta(hours=1))
    eng.post("orders/updated", order_payload(oid, cid, subtotal="50.00", status="partially_refunded", lines=[tee],
                                             refunds=[refund], updated_at=T0 + timedelta(hours=1)))
    assert eng.order(oid).points_given == 250
    assert eng.order(oid).snapshot["rate"] == "5"


def test_campaign_multiplier_and_bonus_apply_through_the_snapshot(engine_app):
    """Double points (×2) and a 50-point bonus during March: 59.90 × 5 × 2 = 599 + 50. A later order
    after the campaign earns 299. Cancelling the first takes back 599 and withdraws the bonus."""
    eng = engine_app
    eng.configure(signup_points=0)
    for kind, value in (("multiplier", Decimal(2)), ("bonus", Decimal(50))):
        db.session.add(Campaign(shop_id=eng.shop_id, name=f"March {kind}", kind=kind, value=value,
                                starts_at=T0 - timedelta(days=1), ends_at=T0 + timedelta(days=29), created_at=utcnow()))
    db.session.commit()
    cid, first, second = new_id(), new_id(), new_id()
    eng.post("orders/paid", order_payload(first, cid))
    eng.post("orders/paid", order_payload(second, cid, processed_at=T0 + timedelta(days=40),
                                          updated_at=T0 + timedelta(days=40)))
    assert eng.order(first).points_given == 599 and eng.order(second).points_given == 299
    assert eng.order(first).snapshot["campaign_multiplier"] == "2.000"
    assert eng.member(cid).points_available == 599 + 50 + 299
    eng.post("orders/cancelled", order_payload(first, cid, status="refunded", cancelled_at=T0 + timedelta(days=2),
                                               updated_at=T0 + timedelta(days=2)))
    assert eng.member(cid).points_available == 299
    assert sorted(e.points for e in eng.entries(cid, rules.CAMPAIGN_BONUS)) == [-50, 50]


def test_member_order_figures_follow_the_orders(engine_app):
    """Two paid orders (20.00 on day 0, 30.00 on day 5): 2 orders, 50.00 spent; cancelling the later one
    leaves 1 order, 20.00, and the last order date moves back."""
    eng = engine_app
    cid, first, second = new_id(), new_id(), new_id()
    eng.post("orders/paid", order_payload(first, cid, subtotal="20.00"))
    later = T0 + timedelta(days=5)
    eng.post("orders/paid", order_payload(second, cid, subtotal="30.00", processed_at=later, updated_at=later))
    m = eng.member(cid)
    assert (m.orders_count, m.lifetime_spent, m.first_order_at, m.last_order_at) == (2, Decimal("50.00"), T0, later)
    eng.post("orders/cancelled", order_payload(second, cid, subtotal="30.00", status="refunded", processed_at=later,
                                               cancelled_at=later + timedelta(hours=1),
                                               updated_at=later + timedelta(hours=1)))
    m = eng.member(cid)
    assert (m.orders_count, m.lifetime_spent, m.first_order_at, m.last_order_at) == (1, Decimal("20.00"), T0, T0)
    assert not eng.order(second).counted


def test_an_unpaid_order_earns_when_it_is_paid(engine_app):
    eng = engine_app
    eng.configure(signup_points=0)
    cid, oid = new_id(), new_id()
    eng.post("orders/updated", order_payload(oid, cid, subtotal="10.00", status="pending"))
    assert eng.order(oid).points_given == 0 and eng.member(cid).enrolled_at is None
    eng.post("orders/paid", order_payload(oid, cid, subtotal="10.00", updated_at=T0 + timedelta(minutes=1)))
    assert eng.order(oid).points_given == 50 and eng.member(cid).enrolled_at is not None


def test_the_ledger_is_append_only_in_the_database(engine_app):
    eng = engine_app
    cid = new_id()
    eng.join(cid)
    for statement in ("UPDATE ledger_entries SET points = 1", "DELETE FROM ledger_entries"):
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    # And the same key twice is refused by the unique index, not only by the code.
    entry = eng.entries(cid)[0]
    with pytest.raises(Exception, match="unique|duplicate"):
        db.session.add(LedgerEntry(shop_id=eng.shop_id, member_id=entry.member_id, points=1, kind="signup",
                                   source="action", status="available", idempotency_key=entry.idempotency_key,
                                   created_at=utcnow()))
        db.session.flush()
    db.session.rollback()


def test_order_services_never_commit(engine_app):
    """The drain commits the handler's writes with the delivery's 'processed' mark; a rollback leaves nothing."""
    eng = engine_app
    cid, oid = new_id(), new_id()
    order_service.apply_order_event(eng.shop(), "orders/paid", order_payload(oid, cid), None)
    db.session.rollback()
    assert db.session.execute(select(Order)).first() is None


def test_customer_payload_fields_land_on_the_member(engine_app):
    eng = engine_app
    cid = new_id()
    eng.post("customers/create", customer_payload(cid, "Jo.Doe+shop@GoogleMail.com",
                                                  default_address={"address1": "1 Main St", "city": "Cluj"}))
    m = eng.member(cid)
    assert m.email_normalized == "jodoe@gmail.com" and m.address_fingerprint and m.enrolled_at is not None


def test_campaigns_can_target_a_tier_or_a_segment(engine_app):
    """×3 for Gold members only and ×2 for first orders ("new"): a new non-Gold shopper's first 10.00 earns
    100 (×2), their second earns 50; a Gold member's order earns at Gold ×1.5 and the campaign's ×3 = 225."""
    eng = engine_app
    eng.configure(signup_points=0)
    gold = eng.add_tier("Gold", "1000", "1.5")
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=60)
    db.session.add(Campaign(shop_id=eng.shop_id, name="Gold ×3", kind="multiplier", value=Decimal(3), tier_id=gold.id,
                            starts_at=start, ends_at=end, created_at=utcnow()))
    db.session.add(Campaign(shop_id=eng.shop_id, name="First order ×2", kind="multiplier", value=Decimal(2),
                            segment="new", starts_at=start, ends_at=end, created_at=utcnow()))
    db.session.commit()
    shopper, vip = new_id(), new_id()
    first, second = new_id(), new_id()
    eng.post("orders/paid", order_payload(first, shopper, subtotal="10.00"))
    eng.post("orders/paid", order_payload(second, shopper, subtotal="10.00", processed_at=T0 + timedelta(days=1),
                                          updated_at=T0 + timedelta(days=1)))
    assert (eng.order(first).points_given, eng.order(second).points_given) == (100, 50)
    eng.post("orders/paid", order_payload(new_id(), vip, subtotal="200.00"))  # 200.00 × 5 × 2 ("new") = 2,000: Gold now
    assert eng.member(vip).tier_id == gold.id
    vip_order = new_id()
    eng.post("orders/paid", order_payload(vip_order, vip, subtotal="10.00", processed_at=T0 + timedelta(days=2),
                                          updated_at=T0 + timedelta(days=2)))
    assert eng.order(vip_order).points_given == 225


def test_a_redacted_order_keeps_its_points_until_its_next_state_arrives(engine_app):
    """customers/redact forgets what was known of the order (not its points). A refunds/create alone then
    cannot say what the order is worth, so nothing moves; the next order payload settles it (an older one
    than was applied before the redaction is still refused)."""
    eng = engine_app
    eng.configure(signup_points=0)
    cid, oid = new_id(), new_id()
    tee = line("59.90")
    eng.post("orders/paid", order_payload(oid, cid, lines=[tee]))
    eng.post("customers/redact", {"shop_domain": "alpha.myshopify.com", "customer": {"id": cid},
                                  "orders_to_redact": [oid]})
    assert eng.order(oid).knowledge is None and eng.member(cid).points_available == 299
    refund = refund_payload(oid, new_id(), [(tee["id"], 1, "20.00")], at=T0 + timedelta(hours=1))
    eng.post("refunds/create", refund)
    assert eng.member(cid).points_available == 299
    eng.post("orders/updated", order_payload(oid, cid, lines=[tee], updated_at=T0 - timedelta(minutes=1)))
    assert eng.member(cid).points_available == 299  # older than what was applied: refused
    eng.post("orders/updated", order_payload(oid, cid, subtotal="39.90", status="partially_refunded", lines=[tee],
                                             refunds=[refund], updated_at=T0 + timedelta(hours=1)))
    assert eng.member(cid).points_available == 199
