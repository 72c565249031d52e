"""Calendar helpers the rules share: adding years with Feb 29 falling back to Feb 28."""

from __future__ import annotations

import calendar
from datetime import date
from typing import TypeVar

D = TypeVar("D", bound=date)


def add_years(value: D, years: int) -> D:
    """Return ``value`` moved by ``years`` calendar years (Feb 29 → Feb 28 in a non-leap year).

    Works for ``date`` and ``datetime`` alike (time and tzinfo are kept).
    """
    year = value.year + years
    day = value.day
    if value.month == 2 and day == 29 and not calendar.isleap(year):
        day = 28
    return value.replace(year=year, day=day)


def observed_day(month: int, day: int, year: int) -> date:
    """The date on which a yearly (month, day) is observed in ``year``: Feb 29 is Feb 28 in non-leap years."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        day = 28
    return date(year, month, day)


def days_observed_on(today: date) -> tuple[tuple[int, int], ...]:
    """Every yearly (month, day) whose ``observed_day`` in ``today``'s year is ``today``: the day itself, and
    Feb 29 on Feb 28 of a non-leap year. Lets SQL pre-select the rows of a yearly day from this one rule."""
    candidates = ((today.month, today.day), (2, 29))
    return tuple(dict.fromkeys(md for md in candidates if observed_day(md[0], md[1], today.year) == today))
