"""First-run setup: a working program from good defaults in one step (settings, three tiers, two rewards)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.i18n import translator
from app.loyalty.settings import ProgramSettings, validate_settings_patch
from app.loyalty.tiers import tier_handle
from app.models import Reward, Shop, Tier, utcnow
from app.services import audit

# Accessible first rungs: a regular reaches Silver with about 100.00 of orders at the default rate.
DEFAULT_TIERS: tuple[dict[str, Any], ...] = (
    {"name": "Bronze", "threshold": Decimal("0"), "multiplier": Decimal("1"), "entry_bonus": 0,
     "perks": "Earn 5 points per {unit} spent"},
    {"name": "Silver", "threshold": Decimal("500"), "multiplier": Decimal("1.25"), "entry_bonus": 100,
     "perks": "Earn 25% more points"},
    {"name": "Gold", "threshold": Decimal("1500"), "multiplier": Decimal("1.5"), "entry_bonus": 250,
     "perks": "Earn 50% more points"},
)
DEFAULT_REWARDS: tuple[dict[str, Any], ...] = (
    {"type": "fixed_amount", "name": "{value} off your order", "points_cost": 500, "value": Decimal("5.00")},
    {"type": "free_shipping", "name": "Free shipping", "points_cost": 1000, "value": Decimal("0")},
)
# What the setup form offers; everything else keeps the defaults of loyalty-rules.md.
SETUP_FIELDS = ("enabled", "points_per_currency_unit", "signup_points", "referral_friend_discount",
                "referral_advocate_points", "pending_days")


class SetupInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))


def default_tiers(currency: str | None) -> list[dict[str, Any]]:
    """The starting tiers, their perks naming the shop's currency ("Earn 5 points per $1.00 spent")."""
    unit = translator("en").money(Decimal("1.00"), currency)
    return [{**t, "perks": t["perks"].format(unit=unit)} for t in DEFAULT_TIERS]


def default_rewards(currency: str | None) -> list[dict[str, Any]]:
    """The starting rewards, named with the amount in the shop's currency ("$5.00 off your order")."""
    english = translator("en")
    return [{**r, "name": r["name"].format(value=english.money(r["value"], currency))} for r in DEFAULT_REWARDS]


def defaults(currency: str | None = None) -> dict[str, Any]:
    """The setup form's starting values for a shop selling in `currency`."""
    base = ProgramSettings().to_dict()
    return {
        "settings": {k: base[k] for k in SETUP_FIELDS},
        "tiers": [{**t, "threshold": str(t["threshold"]), "multiplier": str(t["multiplier"])}
                  for t in default_tiers(currency)],
        "rewards": [{**r, "value": str(r["value"])} for r in default_rewards(currency)],
    }


def complete_setup(shop: Shop, choices: dict[str, Any], actor: str) -> ProgramSettings:
    """Saves the chosen settings over the defaults, adds the default tiers and rewards when the shop has
    none yet (running setup twice never duplicates them), and marks setup done. Commits."""
    unknown = {k: "not part of setup" for k in choices if k not in SETUP_FIELDS}
    current = ProgramSettings.from_dict(shop.settings or {}) if shop.settings else ProgramSettings()
    settings, errors = validate_settings_patch(current, {k: v for k, v in choices.items() if k in SETUP_FIELDS})
    errors = {**unknown, **errors}
    if errors:
        raise SetupInvalid(errors)
    now = utcnow()
    if not db.session.execute(select(func.count()).where(Tier.shop_id == shop.id)).scalar_one():
        for position, tier in enumerate(default_tiers(shop.currency)):
            db.session.add(Tier(shop_id=shop.id, handle=tier_handle(tier["name"]), position=position,
                                created_at=now, updated_at=now, **tier))
    if not db.session.execute(select(func.count()).where(Reward.shop_id == shop.id)).scalar_one():
        for position, reward in enumerate(default_rewards(shop.currency)):
            db.session.add(Reward(shop_id=shop.id, position=position, active=True, created_at=now, updated_at=now,
                                  minimum_subtotal=Decimal("0"), **reward))
    shop.settings = settings.to_dict()
    if not shop.action_secret:
        shop.action_secret = secrets.token_hex(32)
    first_time = shop.setup_completed_at is None
    shop.setup_completed_at = shop.setup_completed_at or now
    audit.record(shop, actor, "setup.completed" if first_time else "setup.repeated", target_type="shop",
                 target_id=shop.id, details={"choices": {k: settings.to_dict()[k] for k in SETUP_FIELDS}})
    db.session.commit()
    return settings
