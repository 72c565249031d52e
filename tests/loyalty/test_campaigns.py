"""Campaigns: which apply now, highest multiplier wins, bonuses add up, segments, tiers and holdouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.loyalty.campaigns import Campaign, active_campaign_effect, in_holdout, validate_campaign

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
START, END = NOW - timedelta(days=1), NOW + timedelta(days=3)


def test_no_campaign_means_times_one() -> None:
    effect = active_campaign_effect([], NOW, None)
    assert (effect.multiplier, effect.bonus, effect.campaign_ids) == (Decimal(1), 0, ())


def test_highest_multiplier_wins_and_bonuses_add_up() -> None:
    campaigns = [
        Campaign(1, "multiplier", Decimal(2), START, END),
        Campaign(2, "multiplier", Decimal(3), START, END),
        Campaign(3, "bonus", Decimal(50), START, END),
        Campaign(4, "bonus", Decimal(25), START, END),
    ]
    effect = active_campaign_effect(campaigns, NOW, None)
    assert effect.multiplier == 3 and effect.multiplier_campaign_id == 2
    assert effect.bonus == 75 and effect.bonus_campaign_ids == (3, 4)
    assert effect.campaign_ids == (2, 3, 4)


def test_dates_are_start_inclusive_end_exclusive() -> None:
    campaign = [Campaign(1, "multiplier", Decimal(2), NOW, NOW + timedelta(hours=1))]
    assert active_campaign_effect(campaign, NOW, None).multiplier == 2
    assert active_campaign_effect(campaign, NOW + timedelta(hours=1), None).multiplier == 1
    assert active_campaign_effect(campaign, NOW - timedelta(seconds=1), None).multiplier == 1


def test_tier_and_segment_restrictions() -> None:
    vip_only = [Campaign(1, "multiplier", Decimal(2), START, END, tier_ids=frozenset({3}))]
    assert active_campaign_effect(vip_only, NOW, 3).multiplier == 2
    assert active_campaign_effect(vip_only, NOW, 1).multiplier == 1
    lapsed = [Campaign(2, "bonus", Decimal(100), START, END, segments=frozenset({"At risk"}))]
    assert active_campaign_effect(lapsed, NOW, None, {"At risk"}).bonus == 100
    assert active_campaign_effect(lapsed, NOW, None, {"Champions"}).bonus == 0


def test_holdout_is_stable_and_roughly_the_share_asked() -> None:
    held = [c for c in range(10_000) if in_holdout(7, c, 10)]
    assert 800 < len(held) < 1200
    assert held == [c for c in range(10_000) if in_holdout(7, c, 10)]
    campaign = [Campaign(7, "multiplier", Decimal(2), START, END, holdout_percent=10)]
    assert active_campaign_effect(campaign, NOW, None, customer_id=held[0]).multiplier == 1


def test_campaign_validation() -> None:
    assert validate_campaign(Campaign(1, "multiplier", Decimal(2), START, END)) == {}
    assert "value" in validate_campaign(Campaign(1, "multiplier", Decimal("0.5"), START, END))
    assert "value" in validate_campaign(Campaign(1, "bonus", Decimal("10.5"), START, END))
    assert "ends_at" in validate_campaign(Campaign(1, "bonus", Decimal(10), END, START))
