"""Points for actions: custom action limits and their period keys, birthdays and account anniversaries."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, datetime
from typing import Final, Literal

from app.loyalty.dates import add_years, observed_day

ActionLimit = Literal["once", "per_day", "per_month", "unlimited"]
ACTION_LIMITS: Final = ("once", "per_day", "per_month", "unlimited")


def action_allowed(limit: ActionLimit, previous_award_times: Iterable[datetime], now: datetime) -> bool:
    """Whether a custom action may be awarded again at ``now``.

    ``once``: never awarded before; ``per_day``: not on ``now``'s calendar day; ``per_month``: not in
    ``now``'s calendar month; ``unlimited``: always. Pass times in the shop's time zone.
    """
    times = list(previous_award_times)
    if limit == "unlimited":
        return True
    if limit == "once":
        return not times
    if limit == "per_day":
        return all(t.date() != now.date() for t in times)
    if limit == "per_month":
        return all((t.year, t.month) != (now.year, now.month) for t in times)
    raise ValueError(f"unknown action limit {limit!r}")


def action_period_key(
    action_key: str, customer_id: int, limit: ActionLimit, now: datetime, request_key: str | None = None
) -> str:
    """The idempotency key of an action award: one per period, so a second award in it is a no-op.

    ``once`` → ``action:<key>:<customer>``; ``per_day`` adds ``:YYYY-MM-DD``; ``per_month`` ``:YYYY-MM``;
    ``unlimited`` needs the caller's ``request_key`` (e.g. the signed call's idempotency_key).
    """
    base = f"action:{action_key}:{customer_id}"
    if limit == "once":
        return base
    if limit == "per_day":
        return f"{base}:{now.date().isoformat()}"
    if limit == "per_month":
        return f"{base}:{now.year:04d}-{now.month:02d}"
    if limit == "unlimited":
        if not request_key:
            raise ValueError("an unlimited action needs a request key")
        return f"{base}:req:{request_key}"
    raise ValueError(f"unknown action limit {limit!r}")


def validate_birthday(month: int, day: int) -> str | None:
    """None when (month, day) is a real day of some year (Feb 29 included), else a message."""
    if not 1 <= month <= 12:
        return "month must be between 1 and 12"
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:  # 2000 is leap: Feb 29 allowed
        return "no such day in that month"
    return None


def birthday_due(month: int, day: int, today: date) -> bool:
    """Whether ``today`` is the member's birthday (a Feb 29 birthday is on Feb 28 in non-leap years).

    Award once per year: ``ledger.birthday_key(customer_id, today.year)``.
    """
    return observed_day(month, day, today.year) == today


def birthday_change_allowed(last_changed_at: datetime | None, now: datetime) -> bool:
    """A member may change their birthday once per 12 months (the first setting is always allowed)."""
    return last_changed_at is None or now >= add_years(last_changed_at, 1)


def anniversary_due(joined_on: date, today: date) -> int | None:
    """The number of years completed if ``today`` is the account anniversary (1 or more), else None.

    Feb 29 sign-ups are celebrated on Feb 28 in non-leap years. Award with
    ``ledger.anniversary_key(customer_id, today.year)``.
    """
    years = today.year - joined_on.year
    if years >= 1 and observed_day(joined_on.month, joined_on.day, today.year) == today:
        return years
    return None
