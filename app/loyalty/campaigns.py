"""Limited-time campaigns: their lifecycle status, which apply to a member, and what they add to an order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

CampaignKind = Literal["multiplier", "bonus"]
CampaignStatus = Literal["scheduled", "active", "paused", "ended", "deleted"]
CAMPAIGN_STATUSES: tuple[CampaignStatus, ...] = ("scheduled", "active", "paused", "ended", "deleted")


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
    # Paused by the merchant (the row is switched off) / deleted (soft, kept for history).
    paused: bool = False
    deleted: bool = False


def validate_campaign(campaign: Campaign) -> dict[str, str]:
    """Field errors of a campaign, in words a merchant reads; empty when valid."""
    errors: dict[str, str] = {}
    if campaign.kind not in ("multiplier", "bonus"):
        errors["kind"] = "Choose a points multiplier or a points bonus"
    elif campaign.kind == "multiplier" and not Decimal(1) <= campaign.value <= Decimal(100):
        errors["value"] = "Enter a multiplier from 1 to 100, such as 2 for double points"
    elif campaign.kind == "bonus" and (campaign.value < 1 or campaign.value != campaign.value.to_integral_value()):
        errors["value"] = "Enter a whole number of points, 1 or more"
    if campaign.ends_at <= campaign.starts_at:
        errors["ends_at"] = "Choose an end after the start"
    if not 0 <= campaign.holdout_percent <= 90:
        errors["holdout_percent"] = "Enter a whole percentage from 0 to 90"
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


def campaign_status(campaign: Campaign, now: datetime) -> CampaignStatus:
    """The one decision of where a campaign stands at ``now``; only "active" gives points.

    Deleted wins over everything, then ended (past ``ends_at``: ended stays ended, paused or not), then
    paused (the merchant's switch), then scheduled (before ``starts_at``).
    """
    if campaign.deleted:
        return "deleted"
    if now >= campaign.ends_at:
        return "ended"
    if campaign.paused:
        return "paused"
    if now < campaign.starts_at:
        return "scheduled"
    return "active"


def is_active(campaign: Campaign, now: datetime) -> bool:
    """Whether the campaign gives anything to an order placed at ``now``."""
    return campaign_status(campaign, now) == "active"


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
