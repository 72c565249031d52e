"""Program settings: defaults of the rule book, JSON round trip, strict all-or-nothing patches."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.loyalty.settings import ProgramSettings, SettingsError, validate_settings_patch


def test_defaults_are_those_of_the_rule_book() -> None:
    s = ProgramSettings()
    assert s.points_per_currency_unit == Decimal(5) and s.point_value == Decimal("0.01")
    assert (s.pending_days, s.signup_points, s.birthday_points, s.anniversary_points) == (14, 100, 100, 0)
    assert (s.reversal_policy, s.tier_metric, s.tier_window) == ("allow_negative", "points_earned", "lifetime")
    assert (s.downgrade_grace_days, s.code_expiry_days, s.refund_expired_codes) == (30, 90, False)
    assert (s.referral_friend_discount, s.referral_advocate_points) == (Decimal("10.00"), 500)
    assert (s.expiry_mode, s.expiry_days, s.expiry_reminder_days) == ("none", 365, (30, 7))
    assert not (s.include_shipping or s.include_taxes or s.allow_test_orders)


def test_to_dict_is_json_safe_and_round_trips() -> None:
    s = ProgramSettings(points_per_currency_unit=Decimal("2.5"), expiry_reminder_days=(14, 3))
    data = json.loads(json.dumps(s.to_dict()))
    assert data["points_per_currency_unit"] == "2.5" and data["point_value"] == "0.01"
    assert ProgramSettings.from_dict(data) == s


def test_a_valid_patch_applies_and_json_numbers_become_decimals() -> None:
    new, errors = validate_settings_patch(ProgramSettings(), {"points_per_currency_unit": 2.5, "pending_days": 0,
                                                              "reversal_policy": "cap_at_zero"})
    assert errors == {}
    assert new.points_per_currency_unit == Decimal("2.5") and new.pending_days == 0
    assert new.reversal_policy == "cap_at_zero"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"pending_days": -1}, "pending_days"),
        ({"pending_days": 1.5}, "pending_days"),
        ({"pending_days": True}, "pending_days"),
        ({"signup_points": "100"}, "signup_points"),
        ({"points_per_currency_unit": "-1"}, "points_per_currency_unit"),
        ({"points_per_currency_unit": "NaN"}, "points_per_currency_unit"),
        ({"points_per_currency_unit": "five"}, "points_per_currency_unit"),
        ({"point_value": "0"}, "point_value"),
        ({"reversal_policy": "forgive"}, "reversal_policy"),
        ({"tier_window": "weekly"}, "tier_window"),
        ({"tier_metric": "visits"}, "tier_metric"),
        ({"expiry_mode": "always"}, "expiry_mode"),
        ({"expiry_reminder_days": [30, 30]}, "expiry_reminder_days"),
        ({"expiry_reminder_days": [0]}, "expiry_reminder_days"),
        ({"expiry_reminder_days": "30"}, "expiry_reminder_days"),
        ({"expiry_reminder_days": [400]}, "expiry_reminder_days"),
        ({"expiry_days": 20}, "expiry_days"),
        ({"points_per_unit": 5}, "points_per_unit"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_applied(patch: dict[str, object], field: str) -> None:
    current = ProgramSettings(signup_points=50)
    new, errors = validate_settings_patch(current, {**patch, "signup_points": 75} if field != "signup_points" else patch)
    assert new is current
    assert set(errors) == {field}
    assert errors[field]


def test_every_bad_field_is_reported_at_once() -> None:
    _, errors = validate_settings_patch(ProgramSettings(), {"pending_days": -3, "enabled": "no", "colour": "red"})
    assert set(errors) == {"pending_days", "enabled", "colour"}


def test_from_dict_refuses_invalid_stored_settings() -> None:
    with pytest.raises(SettingsError) as info:
        ProgramSettings.from_dict({"pending_days": -1})
    assert "pending_days" in info.value.errors
