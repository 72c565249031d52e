"""Referrals end to end on the devstore: friend code, attribution by the code on a paid order, review, reward."""
# ruff: noqa: F811  (pytest fixtures imported from tests.rewards_fixtures are parameters here)

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.extensions import db
from app.models import Member, Order, Referral, utcnow
from app.services import referrals
from app.services.ledger import balance_mismatches
from tests.rewards_fixtures import SHOP, env, make_member, shop_of  # noqa: F401

_next_order = [12_000_000_000_000_100]


def place_order(env: dict[str, Any], customer_id: int | None, email: str, codes: list[str], *,
                ip: str = "203.0.113.9", paid_at: Any = None, status: str = "paid") -> Order:
    """What the engine's order service stores for a paid order; then the hook it calls."""
    _next_order[0] += 1
    order = Order(shop_id=env["shop_id"], order_id=_next_order[0], customer_id=customer_id, email=email,
                  financial_status=status, discount_codes=codes, browser_ip=ip, paid_at=paid_at or utcnow(),
                  processed_at=paid_at or utcnow())
    db.session.add(order)
    db.session.flush()
    referrals.on_order_changed(shop_of(env), order)
    db.session.commit()
    return order


def friend_customer(env: dict[str, Any], email: str) -> int:
    return int(env["store"].create_customer(SHOP, email, "Fr", "End", notify=False)["id"])


def test_code_and_link_are_stable_and_unknown_codes_refused(env: dict[str, Any]) -> None:
    advocate = make_member(env, "ada@example.com")
    code = referrals.ensure_code(advocate)
    db.session.commit()
    assert len(code) == 8 and referrals.ensure_code(advocate) == code
    assert referrals.referral_url(shop_of(env), advocate) == f"https://{SHOP}/apps/regulars/r/{code}"
    with pytest.raises(referrals.UnknownReferralCode):
        referrals.create_friend_code(shop_of(env), "ZZZZZZZZ", "x@example.com")


def test_friend_order_rewards_advocate_only_after_pending_period(env: dict[str, Any]) -> None:
    store = env["store"]
    advocate = make_member(env, "ada@example.com")
    code = referrals.ensure_code(advocate)
    db.session.commit()
    ref = referrals.create_friend_code(shop_of(env), code.lower(), "Bea@Example.com")
    [d] = store.discount_codes(SHOP)
    assert d["code"] == ref.friend_code and d["value"] == "10.00" and d["usage_limit"] == 1
    # Same friend asking again gets the same code.
    assert referrals.create_friend_code(shop_of(env), code, "bea@example.com").id == ref.id

    now = utcnow()
    place_order(env, friend_customer(env, "bea@example.com"), "bea@example.com", [ref.friend_code], paid_at=now)
    ref = db.session.get(Referral, ref.id)
    assert ref.status == "pending" and ref.signals == []
    assert referrals.process_due(now + timedelta(days=13)) == 0
    assert db.session.get(Member, advocate.id).points_available == 0
    assert referrals.process_due(now + timedelta(days=14, minutes=1)) == 1
    db.session.expire_all()
    assert db.session.get(Referral, ref.id).status == "completed"
    assert db.session.get(Member, advocate.id).points_available == 500
    assert referrals.process_due(now + timedelta(days=30)) == 0  # once
    assert balance_mismatches() == []


def test_cancelled_before_pending_period_withdraws(env: dict[str, Any]) -> None:
    advocate = make_member(env, "ada@example.com")
    code = referrals.ensure_code(advocate)
    db.session.commit()
    ref = referrals.create_friend_code(shop_of(env), code, "cal@example.com")
    order = place_order(env, friend_customer(env, "cal@example.com"), "cal@example.com", [ref.friend_code])
    order.cancelled = True
    order.financial_status = "refunded"
    referrals.on_order_changed(shop_of(env), order)
    db.session.commit()
    assert db.session.get(Referral, ref.id).status == "withdrawn"
    assert referrals.process_due(utcnow() + timedelta(days=20)) == 0
    assert db.session.get(Member, advocate.id).points_available == 0


def test_self_referral_and_returning_friend_are_blocked(env: dict[str, Any]) -> None:
    advocate = make_member(env, "ada.lee+promo@gmail.com")
    code = referrals.ensure_code(advocate)
    db.session.commit()
    own = referrals.create_friend_code(shop_of(env), code, "adalee@gmail.com")
    place_order(env, advocate.customer_id, "AdaLee@gmail.com", [own.friend_code], ip="192.0.2.1")
    own = db.session.get(Referral, own.id)
    assert own.status == "blocked"
    assert {s["code"] for s in own.signals} >= {"self_referral_customer", "self_referral_email"}

    cid = friend_customer(env, "old@example.com")
    place_order(env, cid, "old@example.com", [], paid_at=utcnow() - timedelta(days=40))
    ref = referrals.create_friend_code(shop_of(env), code, "old@example.com")
    place_order(env, cid, "old@example.com", [ref.friend_code])
    ref = db.session.get(Referral, ref.id)
    assert ref.status == "blocked" and [s["code"] for s in ref.signals] == ["friend_not_new"]
    assert referrals.process_due(utcnow() + timedelta(days=30)) == 0


def test_same_ip_goes_to_review_then_approve_or_reject(env: dict[str, Any]) -> None:
    advocate = make_member(env, "ada@example.com")
    code = referrals.ensure_code(advocate)
    db.session.commit()
    place_order(env, advocate.customer_id, "ada@example.com", [], ip="198.51.100.7",
                paid_at=utcnow() - timedelta(days=60))
    first = referrals.create_friend_code(shop_of(env), code, "dee@example.com")
    second = referrals.create_friend_code(shop_of(env), code, "eve@example.com")
    paid = utcnow() - timedelta(days=20)
    place_order(env, friend_customer(env, "dee@example.com"), "dee@example.com", [first.friend_code],
                ip="198.51.100.7", paid_at=paid)
    place_order(env, friend_customer(env, "eve@example.com"), "eve@example.com", [second.friend_code],
                ip="198.51.100.7", paid_at=paid)
    queue = referrals.list_referrals(shop_of(env), status="review")
    assert {r.id for r in queue} == {first.id, second.id}
    assert queue[0].signals[0]["code"] == "same_browser_ip"
    assert referrals.process_due(utcnow()) == 0  # review waits for the merchant
    approved = referrals.approve(shop_of(env), first.id, "staff:1")
    assert approved.status == "completed"  # the pending period had already passed
    rejected = referrals.reject(shop_of(env), second.id, "staff:1")
    assert rejected.status == "rejected"
    db.session.expire_all()
    assert db.session.get(Member, advocate.id).points_available == 500
    with pytest.raises(referrals.ReferralStateError):
        referrals.approve(shop_of(env), second.id, "staff:1")
    with pytest.raises(referrals.ReferralNotFound):
        referrals.approve(shop_of(env), 999999, "staff:1")


def test_a_friend_code_needs_an_email_and_each_friend_gets_their_own(env: dict[str, Any]) -> None:
    """Referrals 2: no email, no code (and nothing created in Shopify); two friends, two one-use codes."""
    store = env["store"]
    advocate = make_member(env, "ada@example.com")
    code = referrals.ensure_code(advocate)
    db.session.commit()
    for bad in ("", "not-an-email"):
        with pytest.raises(ValueError):
            referrals.create_friend_code(shop_of(env), code, bad)
    assert store.discount_codes(SHOP) == []
    bea = referrals.create_friend_code(shop_of(env), code, "bea@example.com")
    cal = referrals.create_friend_code(shop_of(env), code, "cal@example.com")
    assert bea.friend_code != cal.friend_code
    assert sorted(d["code"] for d in store.discount_codes(SHOP)) == sorted([bea.friend_code, cal.friend_code])
    assert {(d["value"], d["usage_limit"]) for d in store.discount_codes(SHOP)} == {("10.00", 1)}


def test_only_a_paid_order_that_uses_the_friend_code_is_the_referral(env: dict[str, Any]) -> None:
    """Referrals 3: an unpaid order with the code, or a paid one with another code, attributes nothing; the paid
    order that uses it (however the code is typed) is the referral, found server-side from the order alone."""
    advocate = make_member(env, "ada@example.com")
    code = referrals.ensure_code(advocate)
    db.session.commit()
    ref = referrals.create_friend_code(shop_of(env), code, "dee@example.com")
    friend = friend_customer(env, "dee@example.com")
    place_order(env, friend, "dee@example.com", [ref.friend_code], status="pending")
    place_order(env, friend_customer(env, "eve@example.com"), "eve@example.com", ["SUMMER10"])
    assert db.session.get(Referral, ref.id).status == "invited"
    order = place_order(env, friend, "dee@example.com", [{"code": f" {ref.friend_code.lower()} "}])
    db.session.expire_all()
    ref = db.session.get(Referral, ref.id)
    assert (ref.status, ref.order_id) == ("pending", order.order_id)
