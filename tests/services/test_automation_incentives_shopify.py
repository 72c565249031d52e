"""A reward-code incentive against the stand-in Shopify: the step gives a one-use code (its own expiry, no
points debited), the event carries the code, the holdout gets none; the cost counts once the code is used."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.loyalty import automations as domain
from app.models import AutomationStepRun, Member, OutboxEvent, Redemption, utcnow
from app.services.automation_results import automation_results
from app.services.automation_runs import run_flow
from app.services.automations import patch_automation
from tests.rewards_fixtures import SHOP, env, make_member, make_reward, shop_of  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres


def test_a_reward_code_incentive_is_a_real_one_use_code_for_each_treated_member(env):  # noqa: F811
    store = env["store"]
    with env["app"].app_context():
        reward = make_reward(env, points_cost=500, value="5.00")
        members = [make_member(env, f"m{i}@example.com") for i in range(12)]
        patch_automation(shop_of(env), "welcome", {"enabled": True, "holdout_percent": 25, "steps": [
            {"key": "welcome", "incentive": {"type": "reward", "reward_id": reward.id, "expiry_days": 14}}]})
        now = utcnow() + timedelta(minutes=2)
        run_flow(shop_of(env), "welcome", now)
        codes = {r.member_id: r for r in db.session.execute(select(Redemption)).scalars()}
        for m in members:
            held = domain.in_holdout(SHOP, "welcome", m.customer_id, 25)
            assert (m.id in codes) is not held
        assert codes and all(r.points == 0 and r.status == "issued" for r in codes.values())
        assert all(abs((r.expires_at - now) - timedelta(days=14)) < timedelta(seconds=5) for r in codes.values())
        assert all(db.session.get(Member, m.id).points_available == 0 for m in members)  # nothing debited
        shopify_codes = {d["code"] for d in store.discount_codes(SHOP)}
        assert {r.code for r in codes.values()} <= shopify_codes
        events = db.session.execute(select(OutboxEvent.member_id, OutboxEvent.payload)
                                    .where(OutboxEvent.kind == "automation_step")).all()
        assert {mid: p["incentive"]["code"] for mid, p in events} == {mid: r.code for mid, r in codes.items()}
        runs = db.session.execute(select(AutomationStepRun)).scalars().all()
        assert all(r.redemption_id == codes[r.member_id].id for r in runs if not r.holdout)
        # One code is used: its value is the incentive's cost.
        used = next(iter(codes.values()))
        used.status = "used"
        db.session.commit()
        (step,) = automation_results(shop_of(env), "welcome")["steps"]
        assert step["incentive_cost"] == "5.00"
