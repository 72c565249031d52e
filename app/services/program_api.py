"""The public API's program document: settings, tiers, rewards and referral offer in contract.md's shape.

Representation: money is a 2-decimal string ("10.00"; a reward's `value` too, also for percent),
rates, thresholds and multipliers are decimal strings ("5", "0.01", "1.5"), never floats; points, days and ids are integers. PATCH takes
any subset; numbers or numeric strings are accepted. `tiers` and `rewards`, when given, are the whole
list: items with an `id` update that tier/reward, items without one create it, and those left out are
removed (tiers: their members move to the tier their value reaches, recorded as `tier_removed`, as
in the admin's save) or deactivated (rewards, so past redemptions keep their reward). All or nothing: a
422 names every bad field (`tiers.0.threshold`, `rewards.1.value`, `referral.friend_discount`…) and
nothing is saved.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.extensions import db
from app.loyalty.settings import validate_settings_patch
from app.loyalty.tiers import Tier as TierRule
from app.models import Reward, Shop, utcnow
from app.services import audit, tiers
from app.services.rewards import RewardInvalid, list_rewards, settings_of, stage_reward

SETTING_FIELDS = (
    "enabled", "points_per_currency_unit", "point_value", "pending_days", "reversal_policy", "signup_points",
    "birthday_points", "tier_metric", "tier_window", "downgrade_grace_days", "expiry_mode", "expiry_days",
    "code_expiry_days",
)
# Settings the document does not list but PATCH accepts too (loyalty-rules.md names).
EXTRA_SETTINGS = (
    "include_shipping", "include_taxes", "allow_test_orders", "anniversary_points", "refund_expired_codes",
    "referral_monthly_limit", "expiry_reminder_days",
)


class ProgramInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())))


def _dec(value: Decimal | None) -> str | None:
    if value is None:
        return None
    # Trailing zeros dropped ("1.500" → "1.5", "1000.00" → "1000"): the number, not the column's scale.
    return format(value.normalize(), "f")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


def reward_json(r: Reward) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "type": r.type, "name": r.name, "points_cost": r.points_cost, "value": _money(r.value),
        "minimum_subtotal": _money(r.minimum_subtotal), "tier_id": r.tier_id, "active": r.active,
    }
    if r.type == "variable":
        out["min_points"], out["max_points"] = r.variable_min_points, r.variable_max_points
    if r.product_variant_id:
        out["product_variant_id"] = str(r.product_variant_id)
    return out


def program_document(shop: Shop) -> dict[str, Any]:
    s = settings_of(shop).to_dict()
    doc: dict[str, Any] = {k: s[k] for k in SETTING_FIELDS}
    for k in ("points_per_currency_unit", "point_value"):
        doc[k] = _dec(Decimal(str(s[k])))
    doc["tiers"] = [
        {"id": t.id, "name": t.name, "handle": t.handle, "threshold": _dec(t.threshold),
         "multiplier": _dec(t.multiplier), "entry_bonus": t.entry_bonus, "perks": t.perks}
        for t in tiers.tier_rows(shop.id)
    ]
    doc["rewards"] = [reward_json(r) for r in list_rewards(shop, active_only=True)]
    doc["referral"] = {"friend_discount": _money(Decimal(str(s["referral_friend_discount"]))),
                       "advocate_points": s["referral_advocate_points"]}
    doc["refund_expired_codes"] = s["refund_expired_codes"]
    doc["currency"] = shop.currency
    return doc


def _tier_candidates(shop: Shop, items: Any, errors: dict[str, str]) -> list[TierRule]:
    if not isinstance(items, list):
        errors["tiers"] = "must be a list"
        return []
    ladder, tier_errors = tiers.candidate_ladder(shop, items)
    errors.update({f"tiers.{key}": message for key, message in tier_errors.items()})
    return ladder


def _reward_candidates(shop: Shop, items: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        errors["rewards"] = "must be a list"
        return []
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"rewards.{i}"] = "must be an object"
            continue
        rid = item.get("id")
        if rid is not None:
            found = db.session.get(Reward, rid) if isinstance(rid, int) and not isinstance(rid, bool) else None
            if found is None or found.shop_id != shop.id or found.deleted_at is not None:
                errors[f"rewards.{i}.id"] = "unknown reward"
                continue
        out.append({**item, "position": item.get("position", i)})
    return out


def _apply_rewards(shop: Shop, items: list[dict[str, Any]], actor: str, errors: dict[str, str]) -> None:
    """Validates and stages the rewards without committing (save_reward commits, so it is not used here)."""

    keep: set[int] = set()
    for i, item in enumerate(items):
        rid = item.get("id")
        data = {k: v for k, v in item.items() if k != "id"}
        try:
            with db.session.begin_nested():
                reward = stage_reward(shop, data, actor, reward_id=rid)
        except RewardInvalid as exc:
            for k, v in exc.errors.items():
                errors[f"rewards.{i}.{k}"] = v
            continue
        keep.add(reward.id)
    if not errors:
        for reward in list_rewards(shop, active_only=True):
            if reward.id not in keep:
                reward.active = False


def patch_program(shop: Shop, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """Applies any subset of the program document, all or nothing. Raises ProgramInvalid. Commits."""
    errors: dict[str, str] = {}
    settings_patch: dict[str, Any] = {}
    for key, value in body.items():
        if key in SETTING_FIELDS or key in EXTRA_SETTINGS:
            settings_patch[key] = value
        elif key == "referral":
            if not isinstance(value, dict):
                errors["referral"] = "must be an object"
                continue
            for sub, target in (("friend_discount", "referral_friend_discount"),
                                ("advocate_points", "referral_advocate_points")):
                if sub in value:
                    settings_patch[target] = value[sub]
            for sub in value:
                if sub not in ("friend_discount", "advocate_points"):
                    errors[f"referral.{sub}"] = "unknown field"
        elif key not in ("tiers", "rewards", "id", "currency"):
            errors[key] = "unknown field"
    new_settings, setting_errors = validate_settings_patch(settings_of(shop), settings_patch)
    for key, message in setting_errors.items():
        errors[{"referral_friend_discount": "referral.friend_discount",
                "referral_advocate_points": "referral.advocate_points"}.get(key, key)] = message
    ladder = _tier_candidates(shop, body["tiers"], errors) if "tiers" in body else None
    rewards = _reward_candidates(shop, body["rewards"], errors) if "rewards" in body else None
    if errors:
        db.session.rollback()
        raise ProgramInvalid(errors)
    try:
        if rewards is not None:
            _apply_rewards(shop, rewards, actor, errors)
            if errors:
                raise ProgramInvalid(errors)
        if settings_patch:
            shop.settings = new_settings.to_dict()
            shop.updated_at = utcnow()
        if ladder is not None:
            # The admin's tier save, staged: removed tiers' members move now, each move recorded as tier_removed.
            tiers.stage_ladder(shop, ladder, utcnow())
        audit.record(shop, actor, "program.updated", target_type="shop", target_id=shop.id,
                     details={"fields": sorted(body)})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if ladder is not None:
        tiers.ladder_saved(shop)
    return program_document(shop)
