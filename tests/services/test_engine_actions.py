"""Earning from actions: sign-up once, joining, birthdays (set once per 12 months, awarded on the day once a
year), anniversaries (off by default), custom actions within their limits, signed calls from other apps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.loyalty import ledger as rules
from app.services import actions, birthdays, members, program
from app.services.program import Conflict, Invalid, NotFound
from tests.services.engine_fixtures import (
    customer_payload,
    new_id,
)

pytestmark = pytest.mark.postgres


def test_signup_bonus_once_per_member_whatever_happens_twice(engine_app):
    eng = engine_app
    cid = new_id()
    eng.post("customers/create", customer_payload(cid))
    eng.post("customers/create", customer_payload(cid))  # Shopify retries with a new webhook id
    eng.post("customers/update", customer_payload(cid, "ana.lima@example.com"))
    members.enroll(eng.shop(), cid)  # and the shopper presses "join" in the widget
    m = eng.member(cid)
    assert m.points_available == 100 and m.email == "ana.lima@example.com"
    assert [e.kind for e in eng.entries(cid)] == [rules.SIGNUP]
    assert len(eng.events("points_earned")) == 1


def test_an_existing_customer_joins_with_the_bonus(engine_app):
    """A customer known from before the install (no customers/create) joins from the widget: 100 points."""
    eng = engine_app
    cid = new_id()
    joined = members.enroll(eng.shop(), cid, how="widget")
    assert joined.enrolled_at is not None and eng.member(cid).points_available == 100
    assert eng.entries(cid)[0].snapshot == {"rule": "signup_points", "signup_points": 100, "how": "widget"}


def test_birthday_is_set_once_per_12_months_and_awarded_on_the_day_once_a_year(engine_app):
    eng = engine_app
    cid = new_id()
    eng.join(cid)
    set_at = datetime(2026, 1, 5, tzinfo=UTC)
    members.set_birthday(eng.shop(), cid, 3, 14, now=set_at)
    members.set_birthday(eng.shop(), cid, 3, 14, now=set_at + timedelta(days=2))  # same day again: fine
    with pytest.raises(members.BirthdayChangeRefused):
        members.set_birthday(eng.shop(), cid, 4, 1, now=set_at + timedelta(days=300))
    with pytest.raises(Invalid):
        members.set_birthday(eng.shop(), cid, 2, 30, now=set_at + timedelta(days=400))
    assert birthdays.award_due(datetime(2026, 3, 13, 0, 10, tzinfo=UTC))["birthdays"] == 0
    assert birthdays.award_due(datetime(2026, 3, 14, 0, 10, tzinfo=UTC))["birthdays"] == 1
    assert birthdays.award_due(datetime(2026, 3, 14, 9, 0, tzinfo=UTC))["birthdays"] == 0  # a re-run of the day
    assert birthdays.award_due(datetime(2027, 3, 14, 0, 10, tzinfo=UTC))["birthdays"] == 1  # next year again
    assert [e.points for e in eng.entries(cid, rules.BIRTHDAY)] == [100, 100]
    members.set_birthday(eng.shop(), cid, 4, 1, now=set_at + timedelta(days=366))  # a year on: allowed
    assert eng.member(cid).birthday_month == 4


def test_a_29_february_birthday_is_celebrated_on_28_february_in_other_years(engine_app):
    eng = engine_app
    cid = new_id()
    eng.join(cid)
    members.set_birthday(eng.shop(), cid, 2, 29, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert birthdays.award_due(datetime(2027, 2, 28, 1, tzinfo=UTC))["birthdays"] == 1
    assert birthdays.award_due(datetime(2028, 2, 28, 1, tzinfo=UTC))["birthdays"] == 0  # leap year: the 29th
    assert birthdays.award_due(datetime(2028, 2, 29, 1, tzinfo=UTC))["birthdays"] == 1


def test_anniversaries_are_off_by_default_and_yearly_when_on(engine_app):
    eng = engine_app
    cid = new_id()
    member = eng.join(cid)
    member.enrolled_at = datetime(2025, 5, 20, 10, tzinfo=UTC)
    db.session.commit()
    assert birthdays.award_due(datetime(2026, 5, 20, 1, tzinfo=UTC))["anniversaries"] == 0
    eng.configure(anniversary_points=250)
    assert birthdays.award_due(datetime(2026, 5, 19, 1, tzinfo=UTC))["anniversaries"] == 0
    assert birthdays.award_due(datetime(2026, 5, 20, 1, tzinfo=UTC))["anniversaries"] == 1
    assert birthdays.award_due(datetime(2026, 5, 20, 2, tzinfo=UTC))["anniversaries"] == 0
    assert [e.points for e in eng.entries(cid, rules.ANNIVERSARY)] == [250]


def test_the_anniversary_counts_the_years_skips_the_join_year_and_moves_29_february(engine_app):
    """Joined 20 May 2025: nothing on 20 May 2025 itself (no year completed), 1 year on 20 May 2026, 2 on
    20 May 2027. Joined 29 February 2024: celebrated on 28 February 2025 (no 29th that year)."""
    eng = engine_app
    eng.configure(anniversary_points=250)
    may, leap = new_id(), new_id()
    for cid, joined in [(may, datetime(2025, 5, 20, 10, tzinfo=UTC)), (leap, datetime(2024, 2, 29, 10, tzinfo=UTC))]:
        eng.join(cid).enrolled_at = joined
    db.session.commit()
    assert birthdays.award_due(datetime(2025, 5, 20, 23, tzinfo=UTC))["anniversaries"] == 0
    assert birthdays.award_due(datetime(2025, 2, 28, 1, tzinfo=UTC))["anniversaries"] == 1
    assert birthdays.award_due(datetime(2026, 5, 20, 1, tzinfo=UTC))["anniversaries"] == 1
    assert birthdays.award_due(datetime(2027, 5, 20, 1, tzinfo=UTC))["anniversaries"] == 1
    years = {cid: [(e.snapshot["years"], e.reason) for e in eng.entries(cid, rules.ANNIVERSARY)] for cid in (may, leap)}
    assert years == {may: [(1, "1 year with us"), (2, "2 years with us")], leap: [(1, "1 year with us")]}


@pytest.mark.parametrize(("limit", "first_day_awards", "next_day", "next_month"), [
    ("once", 1, 0, 0),
    ("per_day", 1, 1, 1),
    ("per_month", 1, 0, 1),
    ("unlimited", 3, 1, 1),
])
def test_custom_action_limits(engine_app, limit, first_day_awards, next_day, next_month):
    """Three different calls on one day, one the next day, one the next month."""
    eng = engine_app
    cid = new_id()
    eng.join(cid)
    program.save_custom_action(eng.shop(), {"key": "newsletter", "name": "Newsletter", "points": 20, "limit": limit})
    day = datetime(2026, 4, 29, 10, tzinfo=UTC)

    def attempts(at, keys):
        done = 0
        for key in keys:
            try:
                result = actions.award_action(eng.shop(), cid, "newsletter", idempotency_key=key, now=at)
                done += int(result.created)
            except actions.ActionRefused:
                pass
        return done

    assert attempts(day, ["a", "b", "c"]) == first_day_awards
    assert attempts(day + timedelta(hours=14), ["d"]) == next_day
    assert attempts(day + timedelta(days=31), ["e"]) == next_month


def test_custom_actions_are_idempotent_by_the_callers_key(engine_app):
    eng = engine_app
    cid = new_id()
    eng.join(cid)
    program.save_custom_action(eng.shop(), {"key": "review", "name": "Write a review", "points": 50,
                                            "limit": "unlimited"})
    first = actions.award_action(eng.shop(), cid, "review", idempotency_key="rv-1")
    again = actions.award_action(eng.shop(), cid, "review", idempotency_key="rv-1")
    assert first.created and not again.created and again.entry.id == first.entry.id
    assert eng.member(cid).points_available == 100 + 50
    with pytest.raises(Invalid):
        actions.award_action(eng.shop(), cid, "review")  # unlimited needs a key
    with pytest.raises(NotFound):
        actions.award_action(eng.shop(), cid, "nope", idempotency_key="x")
    with pytest.raises(NotFound):
        actions.award_action(eng.shop(), new_id(), "review", idempotency_key="x")
    assert issubclass(actions.ActionRefused, Conflict)


def test_action_signature_is_base64_hmac_sha256_of_the_raw_body(engine_app):
    eng = engine_app
    shop = eng.shop()
    body = json.dumps({"customer_id": "1", "action": "review", "idempotency_key": "k"}).encode()
    good = actions.sign_action_body("s3cret", body)
    assert actions.verify_action_signature(shop, body, good)
    assert not actions.verify_action_signature(shop, body + b" ", good)
    assert not actions.verify_action_signature(shop, body, actions.sign_action_body("other", body))
    assert not actions.verify_action_signature(shop, body, None)
    # The same vector Shopify publishes for webhooks, to show it is the same scheme.
    shop.action_secret = "test_secret_key"
    assert actions.verify_action_signature(shop, b'{"foo": "bar"}', "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=")


def test_settings_and_campaign_edits_are_validated_all_or_nothing(engine_app):
    eng = engine_app
    with pytest.raises(Invalid) as refused:
        program.update_settings(eng.shop(), {"pending_days": -1, "signup_points": 5})
    assert set(refused.value.fields or {}) == {"pending_days"}
    assert program.settings_for(eng.shop()).signup_points == 100
    assert program.update_settings(eng.shop(), {"signup_points": 5}, actor="staff:1").signup_points == 5
    with pytest.raises(Invalid) as refused:
        program.save_campaign(eng.shop(), {"name": "x", "kind": "multiplier", "value": 0.5,
                                           "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-02-01T00:00:00Z"})
    assert {"value", "ends_at"} <= set(refused.value.fields or {})
    campaign = program.save_campaign(eng.shop(), {"name": "Double", "kind": "multiplier", "value": 2,
                                                  "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z",
                                                  "segment": "returning"})
    assert campaign.id and campaign.value == 2 and campaign.segment == "returning"
