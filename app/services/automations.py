"""Automations' settings per shop: list them, read one, edit one (contract.md, /api/v1/automations). Commits.

A flow nobody edited runs on app.loyalty.automations' defaults (off); the first edit stores a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.loyalty import automations as domain
from app.loyalty.automation_edits import AutomationInvalid, apply_patch
from app.loyalty.automations import Automation
from app.models import Automation as AutomationRow
from app.models import Reward, Shop, Tier, utcnow
from app.services import audit
from app.services.program import settings_for

GIFTABLE_TYPES = ("fixed_amount", "percentage", "free_shipping", "free_product")


class AutomationNotFound(LookupError):
    pass


def _row(shop_id: int, key: str, *, lock: bool = False) -> AutomationRow | None:
    q = select(AutomationRow).where(AutomationRow.shop_id == shop_id, AutomationRow.key == key)
    if lock:
        q = q.with_for_update()
    return db.session.execute(q).scalar_one_or_none()


def _reminder_days(shop: Shop) -> tuple[int, ...]:

    return tuple(settings_for(shop).expiry_reminder_days)


def _with_fixed_timing(shop: Shop, a: Automation) -> Automation:
    """points_expiring's steps are the program's expiry reminders, whatever was stored."""
    if a.key != "points_expiring":
        return a
    stored = {s.key: s for s in a.steps}
    steps = tuple(replace(s, incentive=stored[s.key].incentive if s.key in stored else None,
                          incentive_b=stored[s.key].incentive_b if s.key in stored else None,
                          message=stored[s.key].message if s.key in stored else f"Your points expire in {-(s.after_days or 0)} days")
                  for s in domain.points_expiring_steps(_reminder_days(shop)))
    return replace(a, steps=steps)


def of_row(shop: Shop, key: str, row: AutomationRow | None) -> Automation:
    a = domain.default_automation(key) if row is None else domain.from_stored(key, row.enabled, row.holdout_percent, row.config)
    return _with_fixed_timing(shop, a)


def get_automation(shop: Shop, key: str) -> Automation:
    if key not in domain.FLOW_KEYS:
        raise AutomationNotFound(key)
    return of_row(shop, key, _row(shop.id, key))


def list_automations(shop: Shop) -> list[Automation]:
    rows = {r.key: r for r in db.session.execute(select(AutomationRow).where(AutomationRow.shop_id == shop.id)).scalars()}
    return [of_row(shop, key, rows.get(key)) for key in domain.FLOW_KEYS]


def ensure_row(shop: Shop, key: str, now: datetime | None = None) -> AutomationRow:
    """The flow's row, created from the defaults if missing, locked for this transaction."""
    row = _row(shop.id, key, lock=True)
    if row is None:
        a = domain.default_automation(key)
        now = now or utcnow()
        row = AutomationRow(shop_id=shop.id, key=key, enabled=a.enabled, holdout_percent=a.holdout_percent,
                            config=domain.stored_config(a), created_at=now, updated_at=now)
        db.session.add(row)
        db.session.flush()
    return row


def patch_automation(shop: Shop, key: str, patch: Mapping[str, Any], actor: str = "system",
                     now: datetime | None = None) -> Automation:
    if key not in domain.FLOW_KEYS:
        raise AutomationNotFound(key)
    now = now or utcnow()
    rewards = frozenset(int(r.id) for r in db.session.execute(
        select(Reward).where(Reward.shop_id == shop.id, Reward.active.is_(True), Reward.type.in_(GIFTABLE_TYPES))).scalars())
    tiers = frozenset(int(t.id) for t in db.session.execute(select(Tier).where(Tier.shop_id == shop.id)).scalars())
    row = ensure_row(shop, key, now)
    current = of_row(shop, key, row)
    try:
        updated = apply_patch(current, patch, reward_ids=rewards, tier_ids=tiers)
    except AutomationInvalid:
        db.session.rollback()
        raise
    row.enabled = updated.enabled
    row.holdout_percent = updated.holdout_percent
    row.config = domain.stored_config(updated)
    row.updated_at = now
    audit.record(shop, actor, "automation.updated", target_type="automation", target_id=key, details={"patch": dict(patch)})
    db.session.commit()
    return updated
