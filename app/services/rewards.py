"""The reward catalogue: a shop's rewards listed, read, validated, saved and soft-deleted, and the domain's view of one."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.loyalty.rewards import REWARD_TYPES, RewardSpec, validate_reward
from app.loyalty.settings import ProgramSettings
from app.models import Reward, Shop, Tier, utcnow
from app.services import audit
from app.services.program import settings_for


class RewardInvalid(ValueError):
    """A reward that cannot be saved; `errors` maps each field to a message a merchant can read."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())))


class RewardNotFound(LookupError):
    """No such reward in this shop (another shop's id is unknown too)."""



def settings_of(shop: Shop) -> ProgramSettings:
    """The shop's program settings (the program's one cached reading)."""

    return settings_for(shop)


def list_rewards(shop: Shop, *, active_only: bool = False) -> list[Reward]:
    """The shop's rewards not deleted (switched on only, with `active_only`: what shoppers may see)."""
    q = select(Reward).where(Reward.shop_id == shop.id, Reward.deleted_at.is_(None))
    if active_only:
        q = q.where(Reward.active.is_(True))
    return list(db.session.execute(q.order_by(Reward.position, Reward.id)).scalars())


def get_reward(shop: Shop, reward_id: Any) -> Reward:
    try:
        rid = int(reward_id)
    except (TypeError, ValueError):
        raise RewardNotFound(str(reward_id)) from None
    reward = db.session.get(Reward, rid) if 0 < rid < 2**63 else None
    # A deleted reward is gone for every edit and redemption; its redemptions keep its name.
    if reward is None or reward.shop_id != shop.id or reward.deleted_at is not None:
        raise RewardNotFound(str(reward_id))
    return reward


def _parse_decimal(data: dict[str, Any], key: str, errors: dict[str, str], default: Decimal | None) -> Decimal | None:
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors[key] = "must be a number"
        return default
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        errors[key] = "must be a number"
        return default
    if not parsed.is_finite():
        errors[key] = "must be a number"
        return default
    return parsed


_INT_MAX = 2**31 - 1  # an INTEGER column (points, positions)
_BIGINT_MAX = 2**63 - 1  # a BIGINT column (record and Shopify ids)


def _parse_int(data: dict[str, Any], key: str, errors: dict[str, str], default: int | None,
               high: int = _INT_MAX) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        errors[key] = "must be a whole number"
        return default
    try:
        parsed = int(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        errors[key] = "must be a whole number"
        return default
    if not isinstance(parsed, int):
        errors[key] = "must be a whole number"
        return default
    if not -high <= parsed <= high:
        errors[key] = f"must be between {-high} and {high}"
        return default
    return parsed


def _allowed_tier_ids(shop_id: int, tier_id: int | None) -> frozenset[int]:
    """The tier and every tier above it (by threshold): "this tier or higher" may redeem."""
    if tier_id is None:
        return frozenset()
    tiers = list(db.session.execute(select(Tier).where(Tier.shop_id == shop_id)).scalars())
    by_id = {t.id: t for t in tiers}
    floor = by_id.get(tier_id)
    if floor is None:
        return frozenset()
    return frozenset(t.id for t in tiers if (t.threshold, t.position, t.id) >= (floor.threshold, floor.position, floor.id))


def spec_of(reward: Reward) -> RewardSpec:
    """The domain's view of a stored reward (variable rewards keep their per-point rate in `value`)."""
    variable = reward.type == "variable"
    return RewardSpec(
        id=reward.id,
        type=reward.type,  # type: ignore[arg-type]
        name=reward.name,
        points_cost=reward.points_cost,
        value=None if variable else reward.value,
        minimum_subtotal=reward.minimum_subtotal or Decimal(0),
        tier_ids=_allowed_tier_ids(reward.shop_id, reward.tier_id),
        rate=reward.value if variable else None,
        min_points=reward.variable_min_points,
        max_points=reward.variable_max_points,
        product_variant_id=reward.product_variant_id,
        enabled=reward.active,
    )


def save_reward(shop: Shop, data: dict[str, Any], actor: str, reward_id: int | None = None) -> Reward:
    """Creates or updates a reward; raises RewardInvalid naming every bad field. Commits."""
    reward = stage_reward(shop, data, actor, reward_id)
    db.session.commit()
    return reward


def stage_reward(shop: Shop, data: dict[str, Any], actor: str, reward_id: int | None = None) -> Reward:
    """Validates and writes a reward from JSON-ish data in the caller's transaction (no commit).

    Fields: type, name, points_cost, value (money off, percent, product price, or per-point rate for
    variable; `rate` is accepted as its alias), minimum_subtotal, tier_id, product_variant_id,
    min_points / max_points (variable), active, position. Omitted fields keep their current value.
    """
    reward = get_reward(shop, reward_id) if reward_id is not None else None
    errors: dict[str, str] = {}
    current: dict[str, Any] = {}
    if reward is not None:
        current = {
            "type": reward.type, "name": reward.name, "points_cost": reward.points_cost, "value": reward.value,
            "minimum_subtotal": reward.minimum_subtotal, "tier_id": reward.tier_id,
            "product_variant_id": reward.product_variant_id, "min_points": reward.variable_min_points,
            "max_points": reward.variable_max_points, "active": reward.active, "position": reward.position,
        }
    merged = {**current, **{k: v for k, v in data.items() if k != "id"}}
    if "rate" in data and "value" not in data:
        merged["value"] = data["rate"]
    rtype = merged.get("type")
    if rtype not in REWARD_TYPES:
        raise RewardInvalid({"type": "must be one of " + ", ".join(REWARD_TYPES)})
    name = merged.get("name")
    if not isinstance(name, str):
        errors["name"] = "a reward needs a name"
        name = ""
    elif len(name) > 128:
        errors["name"] = "at most 128 characters"
    points_cost = _parse_int(merged, "points_cost", errors, 0) or 0
    value = _parse_decimal(merged, "value", errors, None)
    minimum = _parse_decimal(merged, "minimum_subtotal", errors, Decimal(0)) or Decimal(0)
    min_points = _parse_int(merged, "min_points", errors, None)
    max_points = _parse_int(merged, "max_points", errors, None)
    variant = _parse_int(merged, "product_variant_id", errors, None, high=_BIGINT_MAX)
    position = _parse_int(merged, "position", errors, 0) or 0
    tier_id = _parse_int(merged, "tier_id", errors, None, high=_BIGINT_MAX)
    if tier_id is not None:
        tier = db.session.get(Tier, tier_id)
        if tier is None or tier.shop_id != shop.id:
            errors["tier_id"] = "unknown tier"
    active = merged.get("active", True)
    if not isinstance(active, bool):
        errors["active"] = "must be true or false"
    if value is not None and abs(value) >= Decimal("1e12"):
        errors["value"] = "too large"
    if minimum >= Decimal("1e12"):
        errors["minimum_subtotal"] = "too large"
    if rtype == "variable" and points_cost == 0 and min_points:
        points_cost = min_points  # the catalogue shows "from N points"
    spec = RewardSpec(
        id=reward.id if reward else 0, type=rtype, name=name, points_cost=points_cost,
        value=None if rtype == "variable" else value, minimum_subtotal=minimum,
        rate=value if rtype == "variable" else None, min_points=min_points, max_points=max_points,
        product_variant_id=variant,
    )
    for key, message in validate_reward(spec).items():
        errors.setdefault("value" if key == "rate" else key, message)
    if errors:
        raise RewardInvalid(errors)
    created = reward is None
    if reward is None:
        reward = Reward(shop_id=shop.id, created_at=utcnow())
        db.session.add(reward)
    reward.type = rtype
    reward.name = name.strip()
    reward.points_cost = points_cost
    reward.value = value if value is not None else Decimal(0)
    reward.minimum_subtotal = minimum
    reward.tier_id = tier_id
    reward.product_variant_id = variant
    reward.variable_min_points = min_points
    reward.variable_max_points = max_points
    reward.active = bool(active)
    reward.position = position
    db.session.flush()
    audit.record(shop, actor, "reward.created" if created else "reward.updated", target_type="reward",
                 target_id=reward.id, details={k: str(v) for k, v in data.items()})
    return reward


def delete_reward(shop: Shop, reward_id: int, actor: str) -> Reward:
    """Soft-deletes: switched off and marked deleted, so it leaves every list (admin, widget, API) while
    past redemptions keep pointing at it and keep its name. Commits."""
    reward = get_reward(shop, reward_id)
    reward.active = False
    reward.deleted_at = utcnow()
    audit.record(shop, actor, "reward.deleted", target_type="reward", target_id=reward.id,
                 details={"name": reward.name, "points_cost": reward.points_cost})
    db.session.commit()
    return reward

