"""VIP tiers: windows, upgrades at once, downgrades after grace, entry bonuses once, what-if preview."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.loyalty.tiers import (
    EntryBonus,
    Tier,
    daily_tier_evaluation,
    downgrade_decision,
    entry_bonuses_due,
    parse_ladder,
    qualifying_value,
    tier_for,
    tier_handle,
    tier_tag,
    upgrade_decision,
    validate_tiers,
    what_if,
)

BRONZE = Tier(1, "Bronze", "bronze", Decimal(0), Decimal(1), entry_bonus=0, position=0)
SILVER = Tier(2, "Silver", "silver", Decimal(500), Decimal("1.25"), entry_bonus=100, position=1)
GOLD = Tier(3, "Gold", "gold", Decimal(1000), Decimal("1.5"), entry_bonus=250, position=2)
LADDER = [GOLD, BRONZE, SILVER]  # any input order
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def test_tier_for_picks_the_highest_threshold_reached() -> None:
    assert tier_for(Decimal(0), LADDER) == BRONZE
    assert tier_for(Decimal(499), LADDER) == BRONZE
    assert tier_for(Decimal(500), LADDER) == SILVER
    assert tier_for(Decimal(5000), LADDER) == GOLD
    assert tier_for(Decimal(10), [SILVER, GOLD]) is None


def test_lifetime_and_rolling_windows() -> None:
    facts = [(NOW - timedelta(days=400), Decimal(600)), (NOW - timedelta(days=100), Decimal(300)),
             (NOW - timedelta(days=10), Decimal(-50)), (NOW + timedelta(days=1), Decimal(999))]
    assert qualifying_value("points_earned", "lifetime", facts, NOW) == Decimal(850)
    assert qualifying_value("points_earned", "rolling_12_months", facts, NOW) == Decimal(250)


def test_orders_metric_counts_orders() -> None:
    facts = [(NOW - timedelta(days=3), Decimal("59.90")), (NOW - timedelta(days=2), Decimal("10.00"))]
    assert qualifying_value("orders", "lifetime", facts, NOW) == 2
    assert qualifying_value("amount_spent", "lifetime", facts, NOW) == Decimal("69.90")


def test_calendar_year_keeps_last_years_tier_through_this_year() -> None:
    facts = [(datetime(2025, 11, 1, tzinfo=UTC), Decimal(1200)), (datetime(2026, 2, 1, tzinfo=UTC), Decimal(100))]
    # 1,200 earned last year, 100 so far this year: Gold is kept through 2026
    assert qualifying_value("points_earned", "calendar_year", facts, NOW) == Decimal(1200)
    # in 2027 last year's 100 is all that counts
    assert qualifying_value("points_earned", "calendar_year", facts, datetime(2027, 1, 5, tzinfo=UTC)) == Decimal(100)


def test_value_never_below_zero() -> None:
    assert qualifying_value("points_earned", "lifetime", [(NOW, Decimal(-10))], NOW) == 0


def test_upgrades_happen_at_once_and_never_downwards() -> None:
    change = upgrade_decision(BRONZE.id, Decimal(1000), LADDER)
    assert change is not None and (change.from_tier_id, change.to_tier_id, change.direction) == (1, 3, "up")
    assert upgrade_decision(GOLD.id, Decimal(0), LADDER) is None
    assert upgrade_decision(SILVER.id, Decimal(600), LADDER) is None
    assert upgrade_decision(None, Decimal(0), LADDER) is not None  # a new member enters the base tier


def test_downgrade_only_after_the_grace_days() -> None:
    first = downgrade_decision(GOLD.id, Decimal(700), LADDER, None, NOW, 30)
    assert first.change is None and first.below_since == NOW
    waiting = downgrade_decision(GOLD.id, Decimal(700), LADDER, NOW, NOW + timedelta(days=29), 30)
    assert waiting.change is None and waiting.below_since == NOW
    due = downgrade_decision(GOLD.id, Decimal(700), LADDER, NOW, NOW + timedelta(days=30), 30)
    assert due.change is not None and due.change.to_tier_id == SILVER.id and due.change.direction == "down"
    assert due.below_since is None


def test_recovering_during_grace_clears_it() -> None:
    back = downgrade_decision(GOLD.id, Decimal(1000), LADDER, NOW, NOW + timedelta(days=40), 30)
    assert back.change is None and back.below_since is None


def test_zero_grace_downgrades_on_the_first_daily_run_and_a_deleted_tier_moves_at_once() -> None:
    assert downgrade_decision(GOLD.id, Decimal(0), LADDER, None, NOW, 0).change is not None
    gone = downgrade_decision(99, Decimal(600), LADDER, None, NOW, 30)
    assert gone.change is not None and gone.change.to_tier_id == SILVER.id and gone.change.reason == "tier_removed"


def test_daily_evaluation_upgrades_before_considering_downgrades() -> None:
    result = daily_tier_evaluation(SILVER.id, Decimal(1500), LADDER, NOW - timedelta(days=90), NOW, 30)
    assert result.change is not None and result.change.to_tier_id == GOLD.id


def test_entry_bonus_of_every_newly_reached_tier_once_ever() -> None:
    assert entry_bonuses_due(set(), GOLD.id, LADDER) == [EntryBonus(SILVER.id, 100), EntryBonus(GOLD.id, 250)]
    assert entry_bonuses_due({SILVER.id}, GOLD.id, LADDER) == [EntryBonus(GOLD.id, 250)]
    # back to Gold after a downgrade: nothing again
    assert entry_bonuses_due({SILVER.id, GOLD.id}, GOLD.id, LADDER) == []


def test_what_if_counts_moves() -> None:
    members = [(BRONZE.id, Decimal(100)), (SILVER.id, Decimal(600)), (SILVER.id, Decimal(900)),
               (GOLD.id, Decimal(1100)), (None, Decimal(5))]
    # the merchant raises Silver to 800 and lowers Gold to 850
    candidate = [BRONZE, Tier(2, "Silver", "silver", Decimal(800), position=1),
                 Tier(3, "Gold", "gold", Decimal(850), position=2)]
    result = what_if(members, candidate)
    assert (result.moves_up, result.moves_down, result.unchanged) == (2, 1, 2)
    assert result.by_tier == {None: 0, 1: 3, 2: 0, 3: 2}


def test_what_if_handles_a_deleted_tier() -> None:
    members = [(SILVER.id, Decimal(600)), (GOLD.id, Decimal(1100))]
    result = what_if(members, [BRONZE, GOLD], current_tiers=LADDER)
    assert (result.moves_up, result.moves_down, result.unchanged) == (0, 1, 1)


def test_what_if_handles_200000_members() -> None:
    rng = random.Random(7)
    members = [(rng.choice([1, 2, 3, None]), Decimal(rng.randrange(0, 3000))) for _ in range(200_000)]
    result = what_if(members, LADDER)
    assert result.moves_up + result.moves_down + result.unchanged == 200_000
    assert sum(result.by_tier.values()) == 200_000


def test_handles_and_tags() -> None:
    assert tier_handle("Gold Club!") == "gold-club"
    assert tier_handle("  Über  VIP ") == "uber-vip"
    assert tier_handle("★★★") == "tier"
    assert tier_tag("gold") == "regulars-tier-gold"


def test_tier_validation() -> None:
    assert validate_tiers(LADDER) == {}
    bad = [BRONZE, Tier(9, "", "bronze", Decimal(0), Decimal(0), entry_bonus=-1)]
    assert set(validate_tiers(bad)) == {"1.name", "1.threshold", "1.multiplier", "1.entry_bonus", "1.handle"}


def test_parse_ladder_edits_keep_what_they_leave_out_and_new_tiers_need_a_threshold() -> None:
    ladder, errors = parse_ladder([{"id": 2, "name": "Silver Club"}, {"name": "Platinum", "threshold": 2000.5,
                                                                     "multiplier": "2", "entry_bonus": 500}],
                                  {t.id: t for t in LADDER})
    assert errors == {}
    silver, platinum = ladder
    assert (silver.id, silver.handle, silver.threshold, silver.multiplier, silver.entry_bonus) == (
        2, "silver-club", Decimal(500), Decimal("1.25"), 100)
    assert (platinum.id, platinum.threshold, platinum.multiplier, platinum.position) == (
        -2, Decimal("2000.5"), Decimal(2), 1)
    _, errors = parse_ladder([{"name": "New"}], {})
    assert errors == {"0.threshold": "must be a number"}


def test_parse_ladder_names_every_bad_field() -> None:
    items = ["x", {"id": 99, "name": "A", "threshold": 1}, {"name": " ", "threshold": "nan"},
             {"name": "B", "threshold": 10, "multiplier": 1000}, {"name": "C", "threshold": 10, "entry_bonus": True},
             {"name": "D", "threshold": "1e12", "perks": 5}, {"name": "E" * 65, "threshold": 3}]
    _, errors = parse_ladder(items, {t.id: t for t in LADDER})
    assert set(errors) == {"0", "1.id", "2.name", "2.threshold", "3.multiplier", "4.entry_bonus", "4.threshold",
                           "5.threshold", "5.perks", "6.name"}
