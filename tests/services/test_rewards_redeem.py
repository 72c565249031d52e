"""Redemption: debit first, a one-use customer-only code in Shopify, compensation when Shopify refuses."""
# ruff: noqa: F811  (pytest fixtures imported from tests.rewards_fixtures are parameters here)

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LedgerEntry, Member, Order, Redemption, utcnow
from app.services import redemption, reward_codes, rewards
from app.services.ledger import balance_mismatches
from tests.rewards_fixtures import SHOP, env, make_member, make_reward, shop_of  # noqa: F401


def test_redeem_debits_then_creates_a_one_use_code_for_that_customer_only(env: dict[str, Any]) -> None:
    store = env["store"]
    member = make_member(env, "ann@example.com", 1200)
    reward = make_reward(env, points_cost=500, value="5.00", minimum_subtotal="20.00")
    r = redemption.redeem(shop_of(env), member, reward.id, idempotency_key="k1")
    assert r.status == "issued" and r.code.startswith("REG-") and r.points == 500
    [d] = store.discount_codes(SHOP)
    assert d["code"] == r.code and d["value"] == "5.00" and d["minimum_subtotal"] == "20.00"
    assert d["customer_ids"] == [member.customer_id]
    assert d["usage_limit"] == 1 and d["applies_once_per_customer"] is True
    assert d["ends_at"] is not None and r.expires_at is not None
    assert r.expires_at - utcnow() > timedelta(days=89)
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 700
    assert balance_mismatches() == []


def test_retry_with_same_key_returns_first_result_and_never_debits_twice(env: dict[str, Any]) -> None:
    member = make_member(env, "bo@example.com", 1200)
    reward = make_reward(env)
    first = redemption.redeem(shop_of(env), member, reward.id, idempotency_key="same")
    again = redemption.redeem(shop_of(env), member, reward.id, idempotency_key="same")
    assert again.id == first.id and again.code == first.code
    assert len(env["store"].discount_codes(SHOP)) == 1
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 700


def test_insufficient_points_refused_and_nothing_debited(env: dict[str, Any]) -> None:
    member = make_member(env, "cy@example.com", 300)
    reward = make_reward(env)
    with pytest.raises(redemption.RedemptionRefused) as exc:
        redemption.redeem(shop_of(env), member, reward.id, idempotency_key="k")
    assert exc.value.code == "insufficient_points" and "500" in exc.value.message
    assert env["store"].discount_codes(SHOP) == []
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 300


def test_shopify_refusing_gives_points_back_with_a_compensating_entry(env: dict[str, Any]) -> None:
    store = env["store"]
    member = make_member(env, "di@example.com", 800)
    reward = make_reward(env)
    store.fail_discounts(SHOP, 1, message="Discount could not be created.")
    with pytest.raises(redemption.RedemptionFailed) as exc:
        redemption.redeem(shop_of(env), member, reward.id, idempotency_key="fail-1")
    assert "500 points are back" in exc.value.message
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 800
    kinds = [e.kind for e in db.session.execute(
        select(LedgerEntry).where(LedgerEntry.member_id == member.id).order_by(LedgerEntry.id)).scalars()]
    assert kinds[-2:] == ["redeem", "redeem_reversed"]
    assert store.discount_codes(SHOP) == []
    # The same key again answers the first (failed) result; no second debit, no code.
    with pytest.raises(redemption.RedemptionFailed):
        redemption.redeem(shop_of(env), member, reward.id, idempotency_key="fail-1")
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 800
    # A new request works once Shopify does.
    ok = redemption.redeem(shop_of(env), member, reward.id, idempotency_key="fail-2")
    assert ok.status == "issued"
    assert balance_mismatches() == []


def test_shopify_unreachable_after_retries_reverses(env: dict[str, Any]) -> None:
    member = make_member(env, "ed@example.com", 600)
    reward = make_reward(env)
    env["store"].fail_next(SHOP, 50, status=503)
    with pytest.raises(redemption.RedemptionFailed):
        redemption.redeem(shop_of(env), member, reward.id, idempotency_key="down")
    env["store"].clear_faults(SHOP)
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 600
    assert db.session.execute(select(Redemption.status)).scalar_one() == "failed"


def test_concurrent_redemptions_spend_exactly_what_the_balance_covers(env: dict[str, Any]) -> None:
    app, store = env["app"], env["store"]
    member = make_member(env, "fay@example.com", 500 * 7 + 120)
    reward = make_reward(env)
    member_id, reward_id, shop_id = member.id, reward.id, env["shop_id"]
    barrier = threading.Barrier(24)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait(30)  # before any connection is taken: the pool is smaller than the crowd
        with app.app_context():
            from app.models import Shop

            try:
                shop = db.session.get(Shop, shop_id)
                m = db.session.get(Member, member_id)
                redemption.redeem(shop, m, reward_id, idempotency_key=f"c{i}")
                result = "ok"
            except redemption.RedemptionRefused as exc:
                result = exc.code
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("ok") == 7
    assert outcomes.count("insufficient_points") == 17
    assert len(store.discount_codes(SHOP)) == 7
    db.session.expire_all()
    assert db.session.get(Member, member_id).points_available == 120
    assert balance_mismatches() == []


def test_paid_order_marks_code_used_and_expired_codes_refund_when_set(env: dict[str, Any]) -> None:
    shop = shop_of(env)
    member = make_member(env, "gus@example.com", 1500)
    reward = make_reward(env)
    used = redemption.redeem(shop, member, reward.id, idempotency_key="u")
    unused = redemption.redeem(shop, member, reward.id, idempotency_key="x")
    order = Order(shop_id=shop.id, order_id=12_000_000_000_000_001, customer_id=member.customer_id,
                  financial_status="paid", discount_codes=[used.code.lower()], paid_at=utcnow())
    db.session.add(order)
    db.session.flush()
    assert reward_codes.mark_codes_used(shop, order) == 1
    db.session.commit()
    assert db.session.get(Redemption, used.id).status == "used"
    # Expiry with refund off: expired, points kept spent.
    later = utcnow() + timedelta(days=91)
    assert redemption.expire_codes(later) == 1
    assert db.session.get(Redemption, unused.id).status == "expired"
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 500
    # With refund on, the next expired code gives its points back.
    third = redemption.redeem(shop_of(env), db.session.get(Member, member.id), reward.id, idempotency_key="y")
    shop = shop_of(env)
    shop.settings = {**shop.settings, "refund_expired_codes": True}
    db.session.commit()
    assert redemption.expire_codes(later + timedelta(days=1)) == 1
    db.session.expire_all()
    assert db.session.get(Redemption, third.id).status == "refunded"
    assert db.session.get(Member, member.id).points_available == 500
    assert balance_mismatches() == []


def test_save_reward_validates_every_field(env: dict[str, Any]) -> None:
    shop = shop_of(env)
    with pytest.raises(rewards.RewardInvalid) as exc:
        rewards.save_reward(shop, {"type": "fixed_amount", "name": "", "points_cost": 0, "value": "x"}, "staff:1")
    assert {"name", "points_cost", "value"} <= set(exc.value.errors)
    r = rewards.save_reward(shop, {"type": "percentage", "name": "10%", "points_cost": 800, "value": 10}, "staff:1")
    assert r.value == Decimal("10")
    rewards.delete_reward(shop, r.id, "staff:1")
    assert rewards.list_rewards(shop, active_only=True) == []
