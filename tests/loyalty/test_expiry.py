"""Inactivity expiry: the date, the reminders (30 and 7 days before) and what expires."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.loyalty.expiry import expiry_amount, expiry_date, expiry_due, reminders_due

LAST = datetime(2025, 1, 10, 9, tzinfo=UTC)  # expires 2026-01-10 with 365 days


def test_expiry_date_and_due() -> None:
    assert expiry_date(LAST, 365) == datetime(2026, 1, 10, 9, tzinfo=UTC)
    assert not expiry_due(LAST, 365, datetime(2026, 1, 10, 8, tzinfo=UTC))
    assert expiry_due(LAST, 365, datetime(2026, 1, 10, 9, tzinfo=UTC))


def test_reminders_30_and_7_days_before() -> None:
    assert reminders_due(LAST, 365, (30, 7), date(2025, 12, 11)) == [30]  # 30 days before 2026-01-10
    assert reminders_due(LAST, 365, (30, 7), date(2025, 12, 10)) == []
    assert reminders_due(LAST, 365, (30, 7), date(2026, 1, 3)) == [7]
    assert reminders_due(LAST, 365, (30, 7), date(2026, 1, 10)) == []  # expiry day: no more reminders


def test_a_missed_run_still_sends_the_nearest_reminder_only() -> None:
    assert reminders_due(LAST, 365, (30, 7), date(2025, 12, 20)) == [30]
    assert reminders_due(LAST, 365, (30, 7), date(2026, 1, 8)) == [7]
    assert reminders_due(LAST, 365, (30, 7), date(2026, 1, 10) - timedelta(days=1)) == [7]


def test_only_positive_available_points_expire() -> None:
    assert expiry_amount(1200) == 1200
    assert expiry_amount(0) == 0
    assert expiry_amount(-50) == 0
