"""Rewards: their validation, what a redemption costs and is worth, and their codes (app.shopify.discounts makes
the Shopify discount of a code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

from app.loyalty.ledger import can_redeem
from app.loyalty.money import exact_product, floor_money
from app.loyalty.referrals import RandomBits, crockford_string

RewardType = Literal["fixed_amount", "percentage", "free_shipping", "free_product", "variable"]
REWARD_TYPES: Final = ("fixed_amount", "percentage", "free_shipping", "free_product", "variable")
CODE_PREFIX: Final = "REG-"


@dataclass(frozen=True)
class RewardSpec:
    """A reward members can redeem.

    ``value`` by type: fixed_amount → money off (500 points → 5.00 off); percentage → percent 1–100;
    free_product → the most it takes off (the product's price); unused for free_shipping and variable.
    variable → the member chooses points between ``min_points`` and ``max_points``, worth ``rate``
    money per point. ``tier_ids`` empty = every member may redeem it, else only members of those tiers.
    """

    id: int
    type: RewardType
    name: str
    points_cost: int = 0
    value: Decimal | None = None
    minimum_subtotal: Decimal = Decimal(0)
    tier_ids: frozenset[int] = frozenset()
    rate: Decimal | None = None
    min_points: int | None = None
    max_points: int | None = None
    product_variant_id: int | None = None
    enabled: bool = True


def validate_reward(reward: RewardSpec) -> dict[str, str]:
    """Field errors of a reward; empty when valid."""
    errors: dict[str, str] = {}
    if reward.type not in REWARD_TYPES:
        return {"type": "must be one of " + ", ".join(REWARD_TYPES)}
    if not reward.name.strip():
        errors["name"] = "a reward needs a name"
    if reward.minimum_subtotal < 0:
        errors["minimum_subtotal"] = "must be at least 0"
    if reward.type == "variable":
        if reward.rate is None or reward.rate <= 0:
            errors["rate"] = "must be greater than 0"
        if reward.min_points is None or reward.min_points < 1:
            errors["min_points"] = "must be at least 1"
        if reward.max_points is None or (reward.min_points is not None and reward.max_points < reward.min_points):
            errors["max_points"] = "must be at least min_points"
        return errors
    if reward.points_cost <= 0:
        errors["points_cost"] = "must be greater than 0"
    if reward.type == "fixed_amount" and (reward.value is None or reward.value <= 0):
        errors["value"] = "must be an amount greater than 0"
    elif reward.type == "percentage" and (reward.value is None or not Decimal(1) <= reward.value <= Decimal(100)):
        errors["value"] = "must be a percentage between 1 and 100"
    elif reward.type == "free_product":
        if reward.product_variant_id is None:
            errors["product_variant_id"] = "choose the product"
        if reward.value is None or reward.value <= 0:
            errors["value"] = "must be the product's price, greater than 0"
    return errors


RefusalReason = Literal["insufficient_points", "negative_balance", "tier_not_allowed", "out_of_range", "disabled"]


@dataclass(frozen=True)
class Quote:
    """An accepted redemption: debit ``points``; ``value`` is the money off (fixed_amount, variable,
    free_product), the percent (percentage) or 0 (free_shipping)."""

    reward_id: int
    points: int
    value: Decimal


@dataclass(frozen=True)
class Refusal:
    reason: RefusalReason
    message: str


def redemption_quote(
    reward: RewardSpec, requested_points: int | None, balance: int, member_tier_id: int | None
) -> Quote | Refusal:
    """What redeeming ``reward`` costs and gives, or why it cannot be redeemed.

    ``requested_points`` is only read for variable rewards (ignored otherwise). ``balance`` is the
    member's available points. Checks, in order: disabled, tier, negative balance, range (variable),
    enough points.
    """
    if not reward.enabled:
        return Refusal("disabled", "This reward is not available any more.")
    if reward.tier_ids and member_tier_id not in reward.tier_ids:
        return Refusal("tier_not_allowed", "This reward is for members of another tier.")
    if balance < 0:
        return Refusal("negative_balance", "Your points balance is below zero, so rewards are paused until it recovers.")
    if reward.type == "variable":
        assert reward.rate is not None and reward.min_points is not None and reward.max_points is not None
        if requested_points is None or not reward.min_points <= requested_points <= reward.max_points:
            return Refusal(
                "out_of_range", f"Choose between {reward.min_points} and {reward.max_points} points."
            )
        points = requested_points
        value = floor_money(exact_product(points, reward.rate))
        if value <= 0:
            return Refusal("out_of_range", "That many points is not worth a discount yet.")
    else:
        points = reward.points_cost
        if reward.type == "free_shipping":
            value = Decimal(0)
        else:
            assert reward.value is not None
            value = reward.value
    if not can_redeem(balance, points):
        return Refusal("insufficient_points", f"You need {points} points; you have {balance}.")
    return Quote(reward.id, points, value)


def discount_code(rng: RandomBits) -> str:
    """A reward code: ``REG-`` + 10 Crockford base32 characters (50 random bits). Use SystemRandom."""
    return CODE_PREFIX + crockford_string(rng, 10)


def code_expires_at(now: datetime, code_expiry_days: int) -> datetime:
    return now + timedelta(days=code_expiry_days)
