"""Members driven through each automation flow with a controllable clock (`now` passed in): who got which
step when, the holdout got nothing, one step at a time, never twice, and an order takes a member out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.loyalty import automations as domain
from app.loyalty import ledger as rules
from app.models import (
    AutomationEnrollment,
    AutomationStepRun,
    LedgerEntry,
    Member,
    OutboxEvent,
)
from app.services import members as member_service
from app.services import orders as order_service
from app.services.automation_runs import run_flow
from app.services.automations import patch_automation
from tests.services.engine_fixtures import SHOP, new_id, order_payload

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _join(eng, at=T0, n=1):
    out = []
    for _ in range(n):
        out.append(member_service.enroll(eng.shop(), new_id(), now=at).customer_id)
    return out


def _order(eng, cid, at, subtotal="40.00"):
    order_service.apply_order_event(eng.shop(), "orders/paid",
                                    order_payload(new_id(), cid, subtotal=subtotal, processed_at=at, updated_at=at),
                                    None, now=at + timedelta(minutes=1))
    db.session.commit()


def _enable(eng, key, **patch):
    patch_automation(eng.shop(), key, {"enabled": True, **patch})


def _steps_fired(eng, flow):
    """{customer_id: [step keys]} from the automation_step events in the outbox, in order."""
    rows = db.session.execute(
        select(Member.customer_id, OutboxEvent.payload).join(Member, Member.id == OutboxEvent.member_id)
        .where(OutboxEvent.kind == "automation_step").order_by(OutboxEvent.id)).all()
    out: dict[int, list[str]] = {}
    for cid, payload in rows:
        if payload["flow"] == flow:
            out.setdefault(cid, []).append(payload["step"])
    return out


def _runs(eng, flow):
    rows = db.session.execute(
        select(Member.customer_id, AutomationStepRun.step_key, AutomationStepRun.status)
        .join(Member, Member.id == AutomationStepRun.member_id).where(AutomationStepRun.flow == flow)
        .order_by(AutomationStepRun.id)).all()
    return [(cid, step, status) for cid, step, status in rows]


def _holdout(cid, flow, pct=10):
    return domain.in_holdout(SHOP, flow, cid, pct)


def test_welcome_fires_once_per_member_and_the_holdout_gets_no_event(engine_app):
    eng = engine_app
    _enable(eng, "welcome", holdout_percent=30)
    members = _join(eng, n=30)
    run_flow(eng.shop(), "welcome", T0 + timedelta(minutes=5))
    run_flow(eng.shop(), "welcome", T0 + timedelta(hours=2))  # a second run fires nothing again
    fired = _steps_fired(eng, "welcome")
    held = {c for c in members if _holdout(c, "welcome", 30)}
    assert held and len(held) < len(members)  # both groups exist
    assert set(fired) == set(members) - held
    assert all(steps == ["welcome"] for steps in fired.values())
    runs = _runs(eng, "welcome")
    assert sorted(c for c, _, _ in runs) == sorted(members)  # one run each, holdout included
    assert {c for c, _, status in runs if status == "holdout"} == held


def test_a_disabled_flow_does_nothing(engine_app):
    eng = engine_app
    _join(eng, n=3)
    run_flow(eng.shop(), "welcome", T0 + timedelta(minutes=5))
    assert _runs(eng, "welcome") == [] and _steps_fired(eng, "welcome") == {}


def test_first_repeat_nudges_at_7_14_30_days_one_at_a_time_and_an_order_ends_it(engine_app):
    eng = engine_app
    _enable(eng, "first_repeat", holdout_percent=0)
    ana, bea, cid_late = _join(eng, at=T0 - timedelta(days=40), n=3)
    _order(eng, ana, T0)
    _order(eng, bea, T0)
    _order(eng, cid_late, T0 - timedelta(days=25))  # first seen 31 days on: only the step due now fires
    run_flow(eng.shop(), "first_repeat", T0 + timedelta(days=6))
    assert _steps_fired(eng, "first_repeat") == {cid_late: ["day_30"]}
    run_flow(eng.shop(), "first_repeat", T0 + timedelta(days=7, hours=1))
    _order(eng, bea, T0 + timedelta(days=9))  # Bea comes back: she leaves the flow
    run_flow(eng.shop(), "first_repeat", T0 + timedelta(days=14, hours=1))
    run_flow(eng.shop(), "first_repeat", T0 + timedelta(days=30, hours=1))
    run_flow(eng.shop(), "first_repeat", T0 + timedelta(days=31))
    fired = _steps_fired(eng, "first_repeat")
    assert fired[ana] == ["day_7", "day_14", "day_30"]
    assert fired[bea] == ["day_7"]
    assert fired[cid_late] == ["day_30"]
    bea_entry = db.session.execute(select(AutomationEnrollment).join(Member, Member.id == AutomationEnrollment.member_id)
                                   .where(Member.customer_id == bea)).scalar_one()
    assert bea_entry.exit_reason == "converted"


def test_post_purchase_check_in_48_hours_after_each_paid_order(engine_app):
    eng = engine_app
    _enable(eng, "post_purchase", holdout_percent=0)
    ana, bea = _join(eng, at=T0 - timedelta(days=5), n=2)
    _order(eng, ana, T0 - timedelta(hours=50))
    _order(eng, bea, T0 - timedelta(hours=10))
    run_flow(eng.shop(), "post_purchase", T0)
    assert _steps_fired(eng, "post_purchase") == {ana: ["check_in"]}
    run_flow(eng.shop(), "post_purchase", T0 + timedelta(hours=39))
    assert _steps_fired(eng, "post_purchase") == {ana: ["check_in"], bea: ["check_in"]}
    # A new order is a new entry: another check-in 48 hours after it.
    _order(eng, ana, T0 + timedelta(days=3))
    run_flow(eng.shop(), "post_purchase", T0 + timedelta(days=5, hours=1))
    assert _steps_fired(eng, "post_purchase")[ana] == ["check_in", "check_in"]


def test_reactivation_four_escalating_steps_then_an_order_takes_the_member_out(engine_app):
    eng = engine_app
    _enable(eng, "reactivation", holdout_percent=0)
    ana, bea = _join(eng, at=T0 - timedelta(days=200), n=2)
    _order(eng, ana, T0)
    _order(eng, bea, T0)
    for day in (13, 14.1, 29, 30.1, 45.1, 60, 74, 90.1):
        if day == 60:
            _order(eng, bea, T0 + timedelta(days=59))  # Bea is back: out of the flow
        run_flow(eng.shop(), "reactivation", T0 + timedelta(days=day))
    fired = _steps_fired(eng, "reactivation")
    assert fired[ana] == ["value", "offer", "social_proof", "final_offer"]
    # Bea's first entry ended at her order; 14 days after it a new inactivity starts over.
    assert fired[bea] == ["value", "offer", "social_proof", "value", "offer"]
    entries = db.session.execute(select(AutomationEnrollment.exit_reason).join(Member, Member.id == AutomationEnrollment.member_id)
                                 .where(Member.customer_id == bea).order_by(AutomationEnrollment.id)).scalars().all()
    assert entries == ["converted", None]


def test_points_expiring_steps_are_the_expiry_reminders(engine_app):
    from app.services.expiry import run_for

    eng = engine_app
    eng.configure(expiry_mode="inactivity", expiry_days=365, expiry_reminder_days=[30, 7], signup_points=100)
    _enable(eng, "points_expiring", holdout_percent=0)
    (ana,) = _join(eng, at=T0 - timedelta(days=340))
    now = T0 + timedelta(hours=1)
    run_for(eng.shop(), now)  # the expiry rule's reminder (30 days before)
    db.session.commit()
    run_flow(eng.shop(), "points_expiring", now + timedelta(minutes=5))
    assert _steps_fired(eng, "points_expiring") == {ana: ["days_30"]}
    later = T0 + timedelta(days=24)
    run_for(eng.shop(), later)
    db.session.commit()
    run_flow(eng.shop(), "points_expiring", later + timedelta(minutes=5))
    assert _steps_fired(eng, "points_expiring") == {ana: ["days_30", "days_7"]}


def test_birthday_and_anniversary_on_their_day(engine_app):
    eng = engine_app
    _enable(eng, "birthday", holdout_percent=0)
    _enable(eng, "anniversary", holdout_percent=0)
    ana, bea = _join(eng, at=datetime(2025, 6, 3, 10, 0, tzinfo=UTC), n=2)
    for cid, (m, d) in ((ana, (6, 3)), (bea, (9, 9))):
        member = eng.member(cid)
        member.birthday_month, member.birthday_day = m, d
        db.session.commit()
    run_flow(eng.shop(), "birthday", datetime(2026, 6, 3, 1, 0, tzinfo=UTC))
    run_flow(eng.shop(), "anniversary", datetime(2026, 6, 3, 1, 0, tzinfo=UTC))
    run_flow(eng.shop(), "birthday", datetime(2026, 6, 4, 1, 0, tzinfo=UTC))  # still once this year
    assert _steps_fired(eng, "birthday") == {ana: ["birthday"]}
    assert _steps_fired(eng, "anniversary") == {ana: ["anniversary"], bea: ["anniversary"]}


def test_tier_change_celebrates_up_and_notes_down(engine_app):
    from app.loyalty import tiers as tier_rules
    from app.services.ledger import lock_member
    from app.services.tiers import change_tier, tier_rows

    eng = engine_app
    _enable(eng, "tier_change", holdout_percent=0)
    gold = eng.add_tier("Gold", "200")
    (ana,) = _join(eng, at=T0 - timedelta(days=3))  # 100 sign-up points
    _order(eng, ana, T0 - timedelta(hours=2), subtotal="30.00")  # + 150 points: Gold at once
    assert eng.member(ana).tier_id == gold.id
    run_flow(eng.shop(), "tier_change", T0)
    member = lock_member(eng.member(ana).id)
    change_tier(eng.shop(), member, tier_rules.TierChange(gold.id, None, "down", "test"), tier_rows(eng.shop_id),
                T0 + timedelta(days=1))
    db.session.commit()
    run_flow(eng.shop(), "tier_change", T0 + timedelta(days=1, minutes=5))
    assert _steps_fired(eng, "tier_change") == {ana: ["tier_up", "tier_down"]}


def test_points_incentive_and_ab_split_holdout_gets_no_points(engine_app):
    eng = engine_app
    _enable(eng, "welcome", holdout_percent=20, steps=[
        {"key": "welcome", "incentive": {"type": "points", "points": 50}, "incentive_b": {"type": "points", "points": 200}}])
    members = _join(eng, n=40)
    run_flow(eng.shop(), "welcome", T0 + timedelta(minutes=5))
    run_flow(eng.shop(), "welcome", T0 + timedelta(minutes=50))
    bonus = {cid: pts for cid, pts in db.session.execute(
        select(Member.customer_id, LedgerEntry.points).join(Member, Member.id == LedgerEntry.member_id)
        .where(LedgerEntry.kind == rules.AUTOMATION_BONUS)).all()}
    for cid in members:
        if _holdout(cid, "welcome", 20):
            assert cid not in bonus
        else:
            assert bonus[cid] == (200 if domain.variant_of(SHOP, "welcome", cid) == "b" else 50)
    assert {50, 200} <= set(bonus.values())
    events = db.session.execute(select(OutboxEvent.payload).where(OutboxEvent.kind == "automation_step")).scalars().all()
    assert sorted(e["incentive"]["points"] for e in events) == sorted(bonus.values())
    assert len(bonus) == len(events)


def test_audience_by_tier(engine_app):
    eng = engine_app
    gold = eng.add_tier("Gold", "200")
    ana, bea = _join(eng, at=T0 - timedelta(days=10), n=2)
    _order(eng, ana, T0 - timedelta(days=3), subtotal="30.00")
    _order(eng, bea, T0 - timedelta(days=3), subtotal="5.00")
    _enable(eng, "post_purchase", holdout_percent=0, audience={"tier_ids": [gold.id]})
    run_flow(eng.shop(), "post_purchase", T0)
    assert _steps_fired(eng, "post_purchase") == {ana: ["check_in"]}

