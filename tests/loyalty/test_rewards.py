"""Rewards: validation, quotes and refusals, reward codes."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from decimal import Decimal

from app.loyalty.referrals import CROCKFORD_ALPHABET
from app.loyalty.rewards import (
    Quote,
    Refusal,
    RewardSpec,
    discount_code,
    redemption_quote,
    validate_reward,
)

FIVE_OFF = RewardSpec(1, "fixed_amount", "5.00 off", points_cost=500, value=Decimal("5.00"))
TEN_PERCENT = RewardSpec(2, "percentage", "10% off", points_cost=800, value=Decimal(10), minimum_subtotal=Decimal(30))
SHIPPING = RewardSpec(3, "free_shipping", "Free shipping", points_cost=300)
MUG = RewardSpec(4, "free_product", "Free mug", points_cost=1500, value=Decimal("12.00"), product_variant_id=44_000_000_000_001)
VARIABLE = RewardSpec(5, "variable", "Points off", rate=Decimal("0.01"), min_points=100, max_points=5000)
GOLD_ONLY = RewardSpec(6, "fixed_amount", "Gold 20 off", points_cost=1000, value=Decimal(20), tier_ids=frozenset({3}))
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_valid_rewards_pass() -> None:
    for reward in (FIVE_OFF, TEN_PERCENT, SHIPPING, MUG, VARIABLE, GOLD_ONLY):
        assert validate_reward(reward) == {}, reward


def test_invalid_rewards_name_their_fields() -> None:
    assert set(validate_reward(RewardSpec(1, "fixed_amount", "x", points_cost=0, value=Decimal(0)))) == {"points_cost", "value"}
    assert "value" in validate_reward(RewardSpec(1, "percentage", "x", points_cost=10, value=Decimal(150)))
    assert "value" in validate_reward(RewardSpec(1, "percentage", "x", points_cost=10, value=Decimal("0.5")))
    assert set(validate_reward(RewardSpec(1, "variable", "x", rate=Decimal(0), min_points=50, max_points=10))) == {"rate", "max_points"}
    assert "product_variant_id" in validate_reward(RewardSpec(1, "free_product", "x", points_cost=5, value=Decimal(3)))
    # Each check on its own, so that dropping any one of them leaves a reward that should be refused accepted.
    assert validate_reward(RewardSpec(1, "gift_card", "x", points_cost=5)) == {
        "type": "must be one of fixed_amount, percentage, free_shipping, free_product, variable"}
    assert set(validate_reward(RewardSpec(1, "free_shipping", " ", points_cost=5, minimum_subtotal=Decimal(-1)))) == {
        "name", "minimum_subtotal"}
    assert set(validate_reward(RewardSpec(1, "free_shipping", "x", points_cost=0))) == {"points_cost"}
    assert set(validate_reward(RewardSpec(1, "fixed_amount", "x", points_cost=5))) == {"value"}
    assert set(validate_reward(RewardSpec(1, "percentage", "x", points_cost=5))) == {"value"}
    assert set(validate_reward(RewardSpec(1, "free_product", "x", points_cost=5, value=Decimal(0),
                                          product_variant_id=44_000_000_000_001))) == {"value"}
    assert set(validate_reward(RewardSpec(1, "variable", "x", rate=None, min_points=0, max_points=None))) == {
        "rate", "min_points", "max_points"}


def test_fixed_amount_quote_500_points_for_5_off() -> None:
    assert redemption_quote(FIVE_OFF, None, 620, None) == Quote(1, 500, Decimal("5.00"))


def test_refusals() -> None:
    short = redemption_quote(FIVE_OFF, None, 499, None)
    assert isinstance(short, Refusal) and short.reason == "insufficient_points"
    negative = redemption_quote(FIVE_OFF, None, -20, None)
    assert isinstance(negative, Refusal) and negative.reason == "negative_balance"
    other_tier = redemption_quote(GOLD_ONLY, None, 5000, 2)
    assert isinstance(other_tier, Refusal) and other_tier.reason == "tier_not_allowed"
    assert isinstance(redemption_quote(GOLD_ONLY, None, 5000, 3), Quote)


def test_variable_reward_within_its_range() -> None:
    assert redemption_quote(VARIABLE, 750, 1000, None) == Quote(5, 750, Decimal("7.50"))
    for points in (None, 99, 5001):
        refused = redemption_quote(VARIABLE, points, 10_000, None)
        assert isinstance(refused, Refusal) and refused.reason == "out_of_range"
    short = redemption_quote(VARIABLE, 900, 800, None)
    assert isinstance(short, Refusal) and short.reason == "insufficient_points"


def test_reward_codes_have_the_reg_shape_and_do_not_repeat() -> None:
    rng = random.Random(3)
    codes = {discount_code(rng) for _ in range(5000)}
    assert len(codes) == 5000
    assert all(re.fullmatch(f"REG-[{CROCKFORD_ALPHABET}]{{10}}", c) for c in codes)
