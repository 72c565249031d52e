"""Points expiry after inactivity: when points expire, which reminders are due, and how many expire."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta


def expiry_date(last_activity_at: datetime, expiry_days: int) -> datetime:
    """When available points expire: ``expiry_days`` after the last earning or redeeming."""
    return last_activity_at + timedelta(days=expiry_days)


def expiry_due(last_activity_at: datetime, expiry_days: int, now: datetime) -> bool:
    """Whether the member's available points expire at ``now``. Book once per expiry date
    (``ledger.expiry_key(customer_id, expiry_date(...))``); any new activity moves the date."""
    return now >= expiry_date(last_activity_at, expiry_days)


def reminders_due(
    last_activity_at: datetime, expiry_days: int, reminder_days: Iterable[int], today: date
) -> list[int]:
    """The reminder to send today, as ``[days_before]``, or ``[]``.

    A reminder ``r`` is due from ``expiry day − r`` until the expiry day (exclusive), so a missed daily
    run catches up; only the nearest one is returned (no "30 days left" when 7 are left). Deduplicate
    with ``ledger.expiry_reminder_key(customer_id, expiry day, r)``.
    """
    expires_on = expiry_date(last_activity_at, expiry_days).date()
    if today >= expires_on:
        return []
    due = [r for r in reminder_days if 0 < r < expiry_days and today >= expires_on - timedelta(days=r)]
    return [min(due)] if due else []


def expiry_amount(available_balance: int) -> int:
    """Points that expire: all available points if positive; pending points never expire, and a negative
    balance has nothing to expire."""
    return max(available_balance, 0)
