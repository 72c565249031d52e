"""Custom action limits and keys, birthdays (Feb 29) and anniversaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.loyalty.actions import (
    action_allowed,
    action_period_key,
    anniversary_due,
    birthday_change_allowed,
    birthday_due,
    validate_birthday,
)

NOW = datetime(2026, 3, 15, 18, tzinfo=UTC)


def test_action_limits() -> None:
    assert action_allowed("once", [], NOW)
    assert not action_allowed("once", [NOW - timedelta(days=400)], NOW)
    assert not action_allowed("per_day", [NOW - timedelta(hours=2)], NOW)
    assert action_allowed("per_day", [NOW - timedelta(days=1)], NOW)
    assert not action_allowed("per_month", [datetime(2026, 3, 1, tzinfo=UTC)], NOW)
    assert action_allowed("per_month", [datetime(2026, 2, 28, tzinfo=UTC)], NOW)
    assert action_allowed("unlimited", [NOW] * 50, NOW)


def test_action_period_keys_repeat_within_a_period_only() -> None:
    later_today = NOW + timedelta(hours=3)
    assert action_period_key("review", 1, "per_day", NOW) == action_period_key("review", 1, "per_day", later_today)
    assert action_period_key("review", 1, "per_day", NOW) != action_period_key("review", 1, "per_day", NOW + timedelta(days=1))
    assert action_period_key("review", 1, "per_month", NOW) == "action:review:1:2026-03"
    assert action_period_key("newsletter", 1, "once", NOW) == action_period_key("newsletter", 1, "once", NOW + timedelta(days=999))
    assert action_period_key("survey", 1, "unlimited", NOW, "req-1") != action_period_key("survey", 1, "unlimited", NOW, "req-2")
    with pytest.raises(ValueError):
        action_period_key("survey", 1, "unlimited", NOW)


def test_birthday_on_its_day_and_feb_29_on_feb_28_in_other_years() -> None:
    assert birthday_due(7, 4, date(2026, 7, 4))
    assert not birthday_due(7, 4, date(2026, 7, 5))
    assert birthday_due(2, 29, date(2027, 2, 28))
    assert not birthday_due(2, 29, date(2027, 3, 1))
    assert birthday_due(2, 29, date(2028, 2, 29))
    assert not birthday_due(2, 29, date(2028, 2, 28))


def test_birthday_validation() -> None:
    assert validate_birthday(2, 29) is None
    assert validate_birthday(2, 30) is not None
    assert validate_birthday(13, 1) is not None
    assert validate_birthday(4, 31) is not None


def test_birthday_changes_once_per_12_months() -> None:
    assert birthday_change_allowed(None, NOW)
    assert not birthday_change_allowed(NOW - timedelta(days=200), NOW)
    assert birthday_change_allowed(datetime(2025, 3, 15, 18, tzinfo=UTC), NOW)
    assert not birthday_change_allowed(datetime(2025, 3, 15, 19, tzinfo=UTC), NOW)


def test_anniversary() -> None:
    assert anniversary_due(date(2024, 3, 15), date(2026, 3, 15)) == 2
    assert anniversary_due(date(2026, 3, 15), date(2026, 3, 15)) is None  # the sign-up day itself
    assert anniversary_due(date(2024, 2, 29), date(2025, 2, 28)) == 1
    assert anniversary_due(date(2024, 3, 15), date(2026, 3, 16)) is None
