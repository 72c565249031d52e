"""Limited-time campaigns: which are active for a member, and the multiplier and bonus they add to an order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

CampaignKind = Literal["multiplier", "bonus"]


@dataclass(frozen=True)
class Campaign:
    """A multiplier (``value`` e.g. 2 for ×2) or a fixed bonus (``value`` points per paid order).

    Active from ``starts_at`` (inclusive) to ``ends_at`` (exclusive). ``tier_ids`` and ``segments``
    restrict it when not empty: the member must be in one of the tiers AND one of the segments.
    ``holdout_percent`` of members (chosen by a stable hash) are kept out, to measure lift.
    """

    id: int
    kind: CampaignKind
    value: Decimal
    starts_at: datetime
    ends_at: datetime
    tier_ids: frozenset[int] = frozenset()
    segments: frozenset[str] = frozenset()
    holdout_percent: int = 0
    name: str = ""


def validate_campaign(campaign: Campaign) -> dict[str, str]:
    """Field errors of a campaign; empty when valid."""
    errors: dict[str, str] = {}
    if campaign.kind not in ("multiplier", "bonus"):
        errors["kind"] = "must be multiplier or bonus"
    elif campaign.kind == "multiplier" and not Decimal(1) <= campaign.value <= Decimal(100):
        errors["value"] = "a multiplier must be between 1 and 100"
    elif campaign.kind == "bonus" and (campaign.value < 1 or campaign.value != campaign.value.to_integral_value()):
        errors["value"] = "a bonus must be a whole number of points, at least 1"
    if campaign.ends_at <= campaign.starts_at:
        errors["ends_at"] = "must be after starts_at"
    if not 0 <= campaign.holdout_percent <= 90:
        errors["holdout_percent"] = "must be between 0 and 90"
    return errors


def in_holdout(campaign_id: int, customer_id: int, holdout_percent: int) -> bool:
    """Whether a customer is in a campaign's holdout group: stable across runs and machines."""
    if holdout_percent <= 0:
        return False
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < holdout_percent


@dataclass(frozen=True)
class CampaignEffect:
    """What active campaigns add to one order: snapshot ``multiplier``/``multiplier_campaign_id`` with the
    order's rules; book ``bonus`` as a ``campaign_bonus`` entry per campaign in ``bonus_campaign_ids``."""

    multiplier: Decimal = Decimal(1)
    bonus: int = 0
    multiplier_campaign_id: int | None = None
    bonus_campaign_ids: tuple[int, ...] = ()

    @property
    def campaign_ids(self) -> tuple[int, ...]:
        ids = set(self.bonus_campaign_ids)
        if self.multiplier_campaign_id is not None:
            ids.add(self.multiplier_campaign_id)
        return tuple(sorted(ids))


def is_active(campaign: Campaign, now: datetime) -> bool:
    return campaign.starts_at <= now < campaign.ends_at


def applies_to(campaign: Campaign, member_tier_id: int | None, member_segments: Iterable[str]) -> bool:
    if campaign.tier_ids and member_tier_id not in campaign.tier_ids:
        return False
    return not campaign.segments or bool(campaign.segments & set(member_segments))


def active_campaign_effect(
    campaigns: Iterable[Campaign],
    now: datetime,
    member_tier_id: int | None,
    member_segments: Iterable[str] = (),
    customer_id: int | None = None,
) -> CampaignEffect:
    """The effect of the campaigns active at ``now`` for this member.

    Overlapping multipliers do not stack: the highest one applies (on a tie, the lowest campaign id),
    so two ×2 campaigns make ×2, never ×4. Bonuses add up. With ``customer_id`` given, campaigns whose
    holdout group holds the customer are left out.
    """
    segments = set(member_segments)
    best: Campaign | None = None
    bonus = 0
    bonus_ids: list[int] = []
    for c in sorted(campaigns, key=lambda c: c.id):
        if not is_active(c, now) or not applies_to(c, member_tier_id, segments):
            continue
        if customer_id is not None and in_holdout(c.id, customer_id, c.holdout_percent):
            continue
        if c.kind == "multiplier":
            if c.value > 1 and (best is None or c.value > best.value):
                best = c
        elif c.kind == "bonus":
            bonus += int(c.value)
            bonus_ids.append(c.id)
    if best is None:
        return CampaignEffect(Decimal(1), bonus, None, tuple(bonus_ids))
    return CampaignEffect(best.value, bonus, best.id, tuple(bonus_ids))
