"""Referral and reward codes through the real path: devstore order → signed webhook → engine → our hooks."""
# ruff: noqa: F811  (pytest fixtures imported from tests.rewards_fixtures are parameters here)

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Member, Redemption, Referral, utcnow
from app.services import referrals
from app.services.redemption import redeem
from tests.rewards_fixtures import SHOP, env, make_member, make_reward, shop_of  # noqa: F401


def test_friend_code_and_reward_code_on_real_orders(env: dict[str, Any]) -> None:
    store = env["store"]
    advocate = make_member(env, "ada@example.com", 900)
    code = referrals.ensure_code(advocate)
    db.session.commit()
    ref = referrals.create_friend_code(shop_of(env), code, "bea@example.com")
    bea = store.create_customer(SHOP, "bea@example.com", "Bea", "Friend")
    store.create_order(SHOP, bea["id"], [{"title": "Tee", "price": "40.00", "quantity": 1}],
                       discount_codes=[{"code": ref.friend_code}], browser_ip="203.0.113.50")
    db.session.expire_all()
    ref = db.session.get(Referral, ref.id)
    assert ref.status == "pending" and ref.friend_customer_id == int(bea["id"])

    reward = make_reward(env)
    redemption = redeem(shop_of(env), db.session.get(Member, advocate.id), reward.id, idempotency_key="w")
    store.create_order(SHOP, advocate.customer_id, [{"title": "Mug", "price": "30.00", "quantity": 1}],
                       discount_codes=[{"code": redemption.code}])
    db.session.expire_all()
    assert db.session.execute(select(Redemption.status).where(Redemption.id == redemption.id)).scalar_one() == "used"

    assert referrals.process_due(utcnow() + timedelta(days=15)) == 1
    db.session.expire_all()
    assert db.session.get(Referral, ref.id).status == "completed"
