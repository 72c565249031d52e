"""The automations' domain: defaults from the playbook, editing, the stable holdout and A/B halves, due steps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.loyalty import automation_edits as edits
from app.loyalty import automations as domain


def test_every_flow_has_the_playbook_timings():
    d = domain.DEFAULTS
    assert set(d) == set(domain.FLOW_KEYS)
    assert [s.after_days for s in d["first_repeat"].steps] == [7, 14, 30]
    assert [s.after_hours for s in d["post_purchase"].steps] == [48]
    assert [s.after_days for s in d["reactivation"].steps] == [14, 30, 45, 90]
    assert all(a.holdout_percent == 10 and not a.enabled for a in d.values())


def test_the_eight_flows_have_timed_steps_an_audience_and_optional_incentives():
    """Automations 1: the rule book's eight flows; each has steps timed from its trigger, starting without
    incentives; the audience (tiers, segments) and a step's incentive are set by a patch, and only to
    what the program has."""
    assert domain.FLOW_KEYS == ("welcome", "first_repeat", "post_purchase", "reactivation", "points_expiring",
                                "birthday", "anniversary", "tier_change")
    for key in domain.FLOW_KEYS:
        flow = domain.default_automation(key)
        assert flow.key == key and flow.steps, key
        assert all(s.after_days is not None or s.after_hours is not None for s in flow.steps), key
        assert all(s.incentive is None for s in flow.steps), key
        assert (flow.tier_ids, flow.segments) == (frozenset(), frozenset()), key
    welcome = domain.default_automation("welcome")
    edited = edits.apply_patch(welcome, {
        "audience": {"tier_ids": [3], "segments": ["new"]},
        "steps": [{"key": "welcome", "incentive": {"type": "reward", "reward_id": 9, "expiry_days": 14}}],
    }, reward_ids=frozenset({9}), tier_ids=frozenset({3, 4}))
    assert (edited.tier_ids, edited.segments) == (frozenset({3}), frozenset({"new"}))
    assert edited.steps[0].incentive == domain.Incentive("reward", reward_id=9, expiry_days=14)
    assert edited.steps[0].offset_seconds == welcome.steps[0].offset_seconds
    with pytest.raises(edits.AutomationInvalid) as err:
        edits.apply_patch(welcome, {"audience": {"tier_ids": [5], "segments": ["vip"]}}, tier_ids=frozenset({3}))
    assert set(err.value.errors) == {"audience.tier_ids", "audience.segments"}
    with pytest.raises(edits.AutomationInvalid) as err:
        edits.apply_patch(welcome, {"audience": ["new"]})
    assert set(err.value.errors) == {"audience"}


@given(st.text(min_size=1, max_size=30), st.sampled_from(domain.FLOW_KEYS), st.integers(1, 2**62))
def test_the_holdout_is_stable_and_editing_the_share_only_moves_the_threshold(shop, flow, cid):
    b = domain.bucket(shop, flow, cid)
    assert 0 <= b < 100 and b == domain.bucket(shop, flow, cid)
    # A member in a 10 % holdout is in any larger holdout too: raising the share adds members, never swaps them.
    if domain.in_holdout(shop, flow, cid, 10):
        assert domain.in_holdout(shop, flow, cid, 20)


def test_about_the_asked_share_is_held_out_and_halves_are_even():
    held = sum(domain.in_holdout("s.myshopify.com", "welcome", c, 10) for c in range(20000))
    b = sum(domain.variant_of("s.myshopify.com", "welcome", c) == "b" for c in range(20000))
    assert 1800 < held < 2200 and 9700 < b < 10300


def test_holdout_and_variant_are_independent():
    both = sum(domain.in_holdout("s", "welcome", c, 50) and domain.variant_of("s", "welcome", c) == "b"
               for c in range(20000))
    assert 4700 < both < 5300


@given(st.lists(st.integers(0, 100), min_size=1, max_size=5, unique=True), st.floats(0, 200), st.integers(0, 5))
def test_due_step_is_the_latest_due_after_the_current_one(days, elapsed_days, position):
    steps = tuple(domain.Step(f"s{d}", after_days=d) for d in sorted(days))
    due = domain.due_step(steps, elapsed_days * 86400, position)
    passed = [i for i, s in enumerate(steps, 1) if s.after_days * 86400 <= elapsed_days * 86400]
    if not passed or max(passed) <= position:
        assert due is None
    else:
        assert due == max(passed)


def test_patch_validates_and_names_each_field():
    a = domain.DEFAULTS["first_repeat"]
    with pytest.raises(edits.AutomationInvalid) as err:
        edits.apply_patch(a, {"holdout_percent": 80, "enabled": "yes", "steps": [{"key": "nope"}], "extra": 1})
    assert set(err.value.errors) >= {"holdout_percent", "enabled", "steps[0].key", "extra"}
    with pytest.raises(edits.AutomationInvalid) as err:
        edits.apply_patch(a, {"steps": [{"key": "day_7", "after_days": 30}, {"key": "day_14", "after_days": 20}]})
    assert "steps" in err.value.errors  # out of order
    with pytest.raises(edits.AutomationInvalid) as err:
        edits.apply_patch(a, {"steps": [{"key": "day_7", "incentive": {"type": "reward", "reward_id": 9}}]},
                           reward_ids=frozenset({3}))
    assert "steps[0].incentive.reward_id" in err.value.errors


def test_patch_replaces_steps_matched_by_key_and_keeps_the_rest():
    a = domain.DEFAULTS["reactivation"]
    b = edits.apply_patch(a, {"enabled": True, "holdout_percent": 20, "steps": [
        {"key": "value", "after_days": 10}, {"key": "final_offer", "incentive": {"type": "points", "points": 300}}]})
    assert b.enabled and b.holdout_percent == 20
    assert [s.key for s in b.steps] == ["value", "final_offer"]
    assert b.steps[0].after_days == 10 and b.steps[1].incentive == domain.Incentive("points", points=300)
    doc = b.document()
    assert doc["steps"][1]["incentive"] == {"type": "points", "points": 300}
    again = domain.from_stored("reactivation", b.enabled, b.holdout_percent, domain.stored_config(b))
    assert again == b


def test_points_expiring_timing_cannot_be_edited():
    with pytest.raises(edits.AutomationInvalid) as err:
        edits.apply_patch(domain.DEFAULTS["points_expiring"], {"steps": [{"key": "days_30", "after_days": 3}]})
    assert "steps[0].after_days" in err.value.errors


def test_a_step_moved_from_hours_to_days_keeps_only_days_once_stored():
    a = domain.DEFAULTS["post_purchase"]
    b = edits.apply_patch(a, {"steps": [{"key": "check_in", "after_days": 3, "after_hours": None}]})
    again = domain.from_stored("post_purchase", b.enabled, b.holdout_percent, domain.stored_config(b))
    assert again.steps[0].offset_seconds == 3 * 86400


def test_klaviyo_client_keeps_klaviyos_burst_limit():
    from app.klaviyo import EVENTS_LIMIT, _Bucket

    bucket = _Bucket(*EVENTS_LIMIT)
    waits = [bucket.take() for _ in range(351)]
    assert waits[:350] == [0.0] * 350  # 350/s burst
    assert waits[350] > 0  # then the steady 3,500/min
