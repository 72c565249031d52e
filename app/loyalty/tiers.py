"""VIP tiers: qualifying value by metric and window, upgrades, graced downgrades, entry bonuses, what-if."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from app.loyalty.dates import add_years
from app.loyalty.settings import TierMetric, TierWindow

TIER_TAG_PREFIX = "regulars-tier-"


@dataclass(frozen=True)
class Tier:
    """One rung of the ladder. ``threshold`` is in the unit of the shop's tier metric (points, money, orders)."""

    id: int
    name: str
    handle: str
    threshold: Decimal
    multiplier: Decimal = Decimal("1")
    entry_bonus: int = 0
    perks: str = ""
    position: int = 0


def _ordered(tiers: Iterable[Tier]) -> list[Tier]:
    """Lowest first: by threshold, then position, then id (a stable order whatever the input)."""
    return sorted(tiers, key=lambda t: (t.threshold, t.position, t.id))


def validate_tiers(tiers: Sequence[Tier]) -> dict[str, str]:
    """Errors of a tier list, keyed ``"<index>.<field>"`` or ``"tiers"``; empty when valid."""
    errors: dict[str, str] = {}
    seen_thresholds: set[Decimal] = set()
    seen_handles: set[str] = set()
    for i, tier in enumerate(tiers):
        if not tier.name.strip():
            errors[f"{i}.name"] = "a tier needs a name"
        if tier.threshold < 0:
            errors[f"{i}.threshold"] = "must be at least 0"
        elif tier.threshold in seen_thresholds:
            errors[f"{i}.threshold"] = "two tiers cannot have the same threshold"
        seen_thresholds.add(tier.threshold)
        if tier.multiplier <= 0:
            errors[f"{i}.multiplier"] = "must be greater than 0"
        if tier.entry_bonus < 0:
            errors[f"{i}.entry_bonus"] = "must be at least 0"
        if tier.handle in seen_handles:
            errors[f"{i}.handle"] = "two tiers cannot have the same handle"
        seen_handles.add(tier.handle)
    return errors


def tier_handle(name: str) -> str:
    """A slug of the tier name for the customer tag ``regulars-tier-<handle>`` ("Gold Club!" → "gold-club")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:40].strip("-") or "tier"


def tier_tag(handle: str) -> str:
    """The Shopify customer tag of a tier."""
    return TIER_TAG_PREFIX + handle


MAX_TIER_NAME = 64
MAX_PERKS = 2000
MAX_TIER_NUMBER = Decimal("1e12")  # the threshold column's range (Numeric(14, 2)): larger is a typo, not a tier
MAX_MULTIPLIER = Decimal("1000")  # the multiplier column's range (Numeric(6, 3))
MAX_ENTRY_BONUS = 10**9


def _number(raw: object) -> Decimal | None:
    """A finite decimal from a JSON number or numeric string (floats through repr: 1.1 stays 1.1), else None."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        return None
    try:
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() and abs(number) < MAX_TIER_NUMBER else None


def parse_ladder(items: Sequence[object], existing: Mapping[int, Tier]) -> tuple[list[Tier], dict[str, str]]:
    """The ladder an edit asks for, and its errors keyed ``"<index>"`` / ``"<index>.<field>"`` (empty = valid).

    Each item is a mapping: with the ``id`` of an ``existing`` tier it edits that tier (fields left out keep
    their value), without one it is a new tier (temporary id ``-(index + 1)``); positions follow the list.
    Numbers may be JSON numbers or numeric strings; the handle follows the name. The one parser of a tier
    list: the admin's save, the what-if preview and ``PATCH /api/v1/program`` all read tiers through it.
    """
    errors: dict[str, str] = {}
    out: list[Tier] = []
    where: list[int] = []  # out[k] is items[where[k]]: a non-object item has no tier
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            errors[f"{i}"] = "each tier must be an object"
            continue
        tid = item.get("id")
        if tid is not None and (isinstance(tid, bool) or not isinstance(tid, int) or tid not in existing):
            errors[f"{i}.id"] = "unknown tier"
            tid = None
        base = existing.get(tid) if tid is not None else None
        name = item.get("name", base.name if base else None)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_TIER_NAME:
            errors[f"{i}.name"] = f"a tier needs a name of at most {MAX_TIER_NAME} characters"
            name = ""
        numbers: dict[str, Decimal] = {}
        for key, default in (("threshold", base.threshold if base else None),
                             ("multiplier", base.multiplier if base else Decimal(1))):
            number = _number(item.get(key, default))
            if number is None:
                errors[f"{i}.{key}"] = "must be a number"
            elif key == "multiplier" and number >= MAX_MULTIPLIER:
                errors[f"{i}.{key}"] = f"must be below {MAX_MULTIPLIER}"
            # A placeholder for a bad number that cannot collide with another tier's threshold.
            numbers[key] = number if number is not None else Decimal(-(i + 1) if key == "threshold" else 1)
        bonus = item.get("entry_bonus", base.entry_bonus if base else 0)
        if isinstance(bonus, bool) or not isinstance(bonus, int) or bonus > MAX_ENTRY_BONUS:
            errors[f"{i}.entry_bonus"] = "must be a whole number of points"
            bonus = 0
        perks = item.get("perks", base.perks if base else "")
        if perks is None:
            perks = ""
        if not isinstance(perks, str) or len(perks) > MAX_PERKS:
            errors[f"{i}.perks"] = f"must be text of at most {MAX_PERKS} characters"
            perks = ""
        clean_name = name.strip()
        where.append(i)
        out.append(Tier(id=tid if tid is not None else -(i + 1), name=clean_name,
                        handle=tier_handle(clean_name) if clean_name else f"tier-{i}",
                        threshold=numbers["threshold"], multiplier=numbers["multiplier"], entry_bonus=bonus,
                        perks=perks, position=i))
    for key, message in validate_tiers(out).items():
        k, _, field_name = key.partition(".")
        errors.setdefault(f"{where[int(k)]}.{field_name}" if field_name else key, message)
    return out, errors


# --- qualifying value ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A stretch of time a tier window sums: facts dated from ``start`` (after it when not
    ``start_inclusive``; no start = since ever) up to ``end`` (included when ``end_inclusive``)."""

    start: datetime | None
    start_inclusive: bool
    end: datetime
    end_inclusive: bool

    def contains(self, at: datetime) -> bool:
        if self.start is not None and (at < self.start or (at == self.start and not self.start_inclusive)):
            return False
        return at <= self.end if self.end_inclusive else at < self.end


def window_periods(window: TierWindow, now: datetime) -> tuple[Period, ...]:
    """The rule of the tier window, as the periods whose sums it compares (the value is the largest).

    ``lifetime`` = everything up to ``now``; ``rolling_12_months`` = after the same moment a year before
    ``now``, up to ``now``; ``calendar_year`` = this calendar year up to ``now`` and the whole of last
    calendar year, so a tier reached this year is kept through the next. Years begin in ``now``'s time
    zone. The SQL of app/services/tiers.py is built from these periods, so the two cannot disagree.
    """
    if window == "lifetime":
        return (Period(None, True, now, True),)
    if window == "rolling_12_months":
        return (Period(add_years(now, -1), False, now, True),)
    if window == "calendar_year":
        this_year = datetime(now.year, 1, 1, tzinfo=now.tzinfo)
        last_year = datetime(now.year - 1, 1, 1, tzinfo=now.tzinfo)
        return (Period(this_year, True, now, True), Period(last_year, True, this_year, False))
    raise ValueError(f"unknown tier window {window!r}")


def fact_value(metric: TierMetric, value: Decimal | int) -> Decimal:
    """What one fact adds to the qualifying value: each order counts 1 for ``orders``, else its amount."""
    return Decimal(1) if metric == "orders" else Decimal(value)


def qualifying_value(
    metric: TierMetric,
    window: TierWindow,
    facts: Iterable[tuple[datetime, Decimal | int]],
    now: datetime,
) -> Decimal:
    """The value a member's tier is decided on, never below 0.

    ``facts`` are dated contributions, chosen by the caller for the metric:
    ``points_earned`` → (occurred_at, points) of every entry whose kind is in ledger.EARNING_KINDS
    (reversals negative); ``amount_spent`` → (paid_at, eligible amount) of counted orders (paid, not
    cancelled: order_knowledge.EARNING_STATUSES); ``orders`` → (paid_at, anything) per counted order (each
    counts 1). The window is ``window_periods``; facts after ``now`` are ignored.
    """
    dated = [(at, fact_value(metric, v)) for at, v in facts]
    sums = [sum((v for at, v in dated if period.contains(at)), Decimal(0)) for period in window_periods(window, now)]
    return max(max(sums), Decimal(0))


def tier_for(value: Decimal, tiers: Iterable[Tier]) -> Tier | None:
    """The highest tier whose threshold ``value`` reaches, or None when it reaches none."""
    found: Tier | None = None
    for tier in _ordered(tiers):
        if value >= tier.threshold:
            found = tier
    return found


def _rank(tier_id: int | None, tiers: Sequence[Tier]) -> int:
    """-1 for no tier (or an unknown one), else the index in the ordered ladder."""
    for i, tier in enumerate(tiers):
        if tier.id == tier_id:
            return i
    return -1


@dataclass(frozen=True)
class TierChange:
    """A move between tiers, with the reason recorded next to it."""

    from_tier_id: int | None
    to_tier_id: int | None
    direction: Literal["up", "down"]
    reason: str


def upgrade_decision(current_tier_id: int | None, value: Decimal, tiers: Sequence[Tier]) -> TierChange | None:
    """An upgrade at once when ``value`` reaches a tier above the current one; never a downgrade.

    A current tier that no longer exists counts as no tier. The order that lifts a member earns at the
    tier it was placed in: decide the upgrade after snapshotting that order's rules.
    """
    ladder = _ordered(tiers)
    target = tier_for(value, ladder)
    if target is None or _rank(target.id, ladder) <= _rank(current_tier_id, ladder):
        return None
    return TierChange(current_tier_id, target.id, "up", f"qualifying value {value} reached {target.threshold}")


@dataclass(frozen=True)
class DowngradeDecision:
    """Result of the daily check. Store ``below_since`` on the member; apply ``change`` when not None."""

    change: TierChange | None
    below_since: datetime | None


def downgrade_decision(
    current_tier_id: int | None,
    value: Decimal,
    tiers: Sequence[Tier],
    below_since: datetime | None,
    now: datetime,
    grace_days: int,
) -> DowngradeDecision:
    """Daily evaluation of a downgrade: only after ``grace_days`` continuously below the current threshold.

    - value still reaches the current tier → no change, ``below_since`` cleared;
    - first day below → no change, ``below_since = now`` (the grace starts);
    - below since ``below_since`` and ``now >= below_since + grace_days`` → down to the tier the value
      reaches (possibly several rungs, possibly none), ``below_since`` cleared;
    - a current tier that was deleted → straight to the tier the value reaches (reason ``tier_removed``).
    Upgrades are ``upgrade_decision``'s job; see ``daily_tier_evaluation`` for both.
    """
    ladder = _ordered(tiers)
    if current_tier_id is None:
        return DowngradeDecision(None, None)
    current = next((t for t in ladder if t.id == current_tier_id), None)
    target = tier_for(value, ladder)
    target_id = target.id if target else None
    if current is None:
        if target_id == current_tier_id:  # pragma: no cover - impossible: current is not in the ladder
            return DowngradeDecision(None, None)
        return DowngradeDecision(TierChange(current_tier_id, target_id, "down", "tier_removed"), None)
    if value >= current.threshold:
        return DowngradeDecision(None, None)
    since = below_since if below_since is not None else now
    if now >= since + timedelta(days=grace_days):
        reason = f"below {current.threshold} since {since.date().isoformat()} ({grace_days} days grace)"
        return DowngradeDecision(TierChange(current_tier_id, target_id, "down", reason), None)
    return DowngradeDecision(None, since)


def daily_tier_evaluation(
    current_tier_id: int | None,
    value: Decimal,
    tiers: Sequence[Tier],
    below_since: datetime | None,
    now: datetime,
    grace_days: int,
) -> DowngradeDecision:
    """The daily job's decision for one member: an upgrade if due (at once), else ``downgrade_decision``."""
    up = upgrade_decision(current_tier_id, value, tiers)
    if up is not None:
        return DowngradeDecision(up, None)
    return downgrade_decision(current_tier_id, value, tiers, below_since, now, grace_days)


@dataclass(frozen=True)
class EntryBonus:
    tier_id: int
    points: int


def entry_bonuses_due(tiers_reached_before: Iterable[int], new_tier_id: int, tiers: Sequence[Tier]) -> list[EntryBonus]:
    """Entry bonuses owed when a member arrives in ``new_tier_id``, lowest tier first.

    Decision: every tier at or below the new one that the member has never reached before pays its
    bonus, so jumping two rungs at once pays both (climbing step by step would have paid both too).
    A tier reached before never pays again, even after a downgrade. Zero bonuses are left out.
    Book each under ``ledger.tier_bonus_key(customer_id, tier_id)``.
    """
    ladder = _ordered(tiers)
    reached = set(tiers_reached_before)
    rank = _rank(new_tier_id, ladder)
    if rank < 0:
        raise ValueError(f"unknown tier {new_tier_id}")
    return [
        EntryBonus(t.id, t.entry_bonus) for t in ladder[: rank + 1] if t.id not in reached and t.entry_bonus > 0
    ]


# --- what-if ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIf:
    """How members would sit under candidate tiers. ``by_tier`` counts members per new tier id (None = no tier)."""

    moves_up: int
    moves_down: int
    unchanged: int
    by_tier: dict[int | None, int] = field(default_factory=dict)


def what_if(
    members: Iterable[tuple[int | None, Decimal]],
    candidate_tiers: Sequence[Tier],
    current_tiers: Sequence[Tier] = (),
) -> WhatIf:
    """Preview of an edit of the ladder: for each member ``(current_tier_id, qualifying_value)`` the tier
    the value reaches under ``candidate_tiers``.

    A member moves up/down when the new tier's (threshold, position) is above/below the current one's;
    the current tier is looked up in ``candidate_tiers`` first (an edited tier keeps its id), then in
    ``current_tiers`` (a tier being deleted). No current tier ranks below every tier. Grace days are
    not applied: this is where members would be once the rules have run. Sorted thresholds + bisect:
    O(members × log tiers).
    """
    ladder = _ordered(candidate_tiers)
    thresholds = [t.threshold for t in ladder]
    keys = {t.id: (t.threshold, t.position) for t in current_tiers}
    keys.update({t.id: (t.threshold, t.position) for t in ladder})
    new_keys = [(t.threshold, t.position) for t in ladder]
    ids = [t.id for t in ladder]
    up = down = same = 0
    counts = [0] * (len(ladder) + 1)  # slot 0 = no tier
    for current_id, value in members:
        slot = bisect.bisect_right(thresholds, value)
        counts[slot] += 1
        new_id = ids[slot - 1] if slot else None
        if new_id == current_id:
            same += 1
            continue
        old_key = keys.get(current_id) if current_id is not None else None
        if slot == 0:
            if old_key is None:
                same += 1
            else:
                down += 1
        elif old_key is None or new_keys[slot - 1] > old_key:
            up += 1
        else:
            down += 1
    by_tier: dict[int | None, int] = {None: counts[0]}
    for i, tier_id in enumerate(ids):
        by_tier[tier_id] = counts[i + 1]
    return WhatIf(up, down, same, by_tier)
