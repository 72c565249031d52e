"""The shop's program: settings, campaigns and custom actions as the engine reads them, and their edits.

Reads return plain domain values (app.loyalty); edits validate with the domain, write, audit and commit.
Errors a caller shows to a merchant are `EngineError`s (status, code, message, fields), which the API
layer turns into its JSON error shape as they are.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.loyalty.actions import ACTION_LIMITS
from app.loyalty.campaigns import Campaign as CampaignRule
from app.loyalty.campaigns import (
    CampaignEffect,
    CampaignStatus,
    active_campaign_effect,
    campaign_status,
    is_active,
    validate_campaign,
)
from app.loyalty.links import link_problem
from app.loyalty.settings import ProgramSettings, SettingsError, validate_settings_patch
from app.loyalty.tiers import Tier as TierRule
from app.models import Campaign, CustomAction, Member, Shop, Tier, utcnow
from app.services import audit


class EngineError(ValueError):
    """A refusal a person can read: `status` (404, 409, 422), `code`, `message`, `fields` (422 only)."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields) if fields else None
        if code:
            self.code = code


class NotFound(EngineError):
    status = 404
    code = "not_found"


class Conflict(EngineError):
    status = 409
    code = "conflict"


class Invalid(EngineError):
    status = 422
    code = "invalid"


# --- settings --------------------------------------------------------------------------------------

# Parsed settings by shop and stored JSON: the order path reads them for every event.
_settings_cache: dict[tuple[int, str], ProgramSettings] = {}


def settings_for(shop: Shop) -> ProgramSettings:
    """The shop's ProgramSettings (defaults for anything not stored). Stored settings that no longer
    validate (an older app version wrote them) fall back to the defaults field by field."""
    raw = shop.settings or {}
    key = (shop.id, json.dumps(raw, sort_keys=True, default=str))
    found = _settings_cache.get(key)
    if found is not None:
        return found
    try:
        settings = ProgramSettings.from_dict(raw)
    except SettingsError as exc:
        good = {k: v for k, v in raw.items() if k not in exc.errors}
        settings, _ = validate_settings_patch(ProgramSettings(), good)
    if len(_settings_cache) > 1000:
        _settings_cache.clear()
    _settings_cache[key] = settings
    return settings


def update_settings(shop: Shop, patch: Mapping[str, Any], actor: str = "system") -> ProgramSettings:
    """Applies any subset of the settings, all or nothing; Invalid names every bad field. Commits."""
    current = settings_for(shop)
    new, errors = validate_settings_patch(current, patch)
    if errors:
        raise Invalid("some settings are not valid", fields=errors)
    shop.settings = new.to_dict()
    touch(shop)
    audit.record(shop, actor, "settings.updated", target_type="shop", target_id=shop.id,
                 details={"changes": {k: new.to_dict()[k] for k in patch}})
    db.session.commit()
    return new


# --- campaigns -------------------------------------------------------------------------------------


def campaign_rule(row: Campaign) -> CampaignRule:
    return CampaignRule(
        id=row.id, kind=row.kind, value=Decimal(row.value), starts_at=row.starts_at, ends_at=row.ends_at,  # type: ignore[arg-type]
        tier_ids=frozenset({row.tier_id}) if row.tier_id else frozenset(),
        segments=frozenset({row.segment}) if row.segment else frozenset(),
        holdout_percent=row.holdout_percent or 0, name=row.name,
        paused=not row.active, deleted=row.deleted_at is not None,
    )


def status_of(row: Campaign, at: datetime | None = None) -> CampaignStatus:
    """The campaign's lifecycle status now (or at `at`), as app.loyalty.campaigns decides it."""
    return campaign_status(campaign_rule(row), at or utcnow())


def active_campaigns(shop: Shop, at: datetime) -> list[CampaignRule]:
    """Campaigns that give points to an order placed at `at` (from the cached catalogue, see `catalogue`)."""
    return [c for c in catalogue(shop).campaigns if is_active(c, at)]


# --- the catalogue the order path reads on every event, cached per shop version ----------------------


@dataclass(frozen=True)
class Catalogue:
    """The shop's tiers (domain values, lowest first) and campaigns not deleted (their status decides)."""

    ladder: tuple[TierRule, ...]
    campaigns: tuple[CampaignRule, ...]

    def tier(self, tier_id: int | None) -> TierRule | None:
        return next((t for t in self.ladder if t.id == tier_id), None) if tier_id is not None else None


_catalogue_cache: dict[int, tuple[datetime | None, float, Catalogue]] = {}
CATALOGUE_TTL_SECONDS = 30.0


def touch(shop: Shop) -> None:
    """Marks the shop's program as changed: every process reloads its tiers and campaigns (see catalogue)."""
    shop.updated_at = utcnow()


def catalogue(shop: Shop) -> Catalogue:
    """Tiers and campaigns, read once per shop version instead of once per order event.

    The key is the shop row's `updated_at`, which every edit of the program moves (save_tiers,
    save_campaign, update_settings call `touch`); the drain reads the shop row once per batch of deliveries
    (shops.cached_lookups), so an edit is seen by the next batch in every worker, at most DRAIN_BATCH
    events later. Entries also expire after CATALOGUE_TTL_SECONDS,
    for rows changed behind the services' back.
    """
    now = time.monotonic()
    found = _catalogue_cache.get(shop.id)
    if found is not None and found[0] == shop.updated_at and found[1] > now:
        return found[2]
    tiers = db.session.execute(select(Tier).where(Tier.shop_id == shop.id)).scalars().all()
    ladder = sorted((tier_rule(t) for t in tiers), key=lambda t: (t.threshold, t.position, t.id))
    rows = db.session.execute(
        select(Campaign).where(Campaign.shop_id == shop.id, Campaign.deleted_at.is_(None))
    ).scalars().all()
    value = Catalogue(tuple(ladder), tuple(campaign_rule(r) for r in rows))
    if len(_catalogue_cache) > 10_000:
        _catalogue_cache.clear()
    _catalogue_cache[shop.id] = (shop.updated_at, now + CATALOGUE_TTL_SECONDS, value)
    return value


@event.listens_for(Session, "before_flush")
def _program_rows_changed(session: Session, _context: Any, _instances: Any) -> None:
    """Any tier or campaign row written through the ORM, by any service, moves its shop's version: this
    process forgets its copy at once, and every other process sees the shop's updated_at move."""
    changed = {obj.shop_id for obj in (*session.new, *session.dirty, *session.deleted)
               if isinstance(obj, Tier | Campaign) and obj.shop_id is not None}
    if not changed:
        return
    with session.no_autoflush:
        for shop_id in changed:
            _catalogue_cache.pop(shop_id, None)
            shop = session.get(Shop, shop_id)
            if shop is not None:
                touch(shop)


def forget_catalogue(shop_id: int | None = None) -> None:
    if shop_id is None:
        _catalogue_cache.clear()
    else:
        _catalogue_cache.pop(shop_id, None)


def tier_rule(row: Any) -> TierRule:
    return TierRule(
        id=row.id, name=row.name, handle=row.handle, threshold=Decimal(row.threshold),
        multiplier=Decimal(row.multiplier), entry_bonus=row.entry_bonus or 0, perks=row.perks or "",
        position=row.position or 0,
    )


# Segments a campaign may target. Kept small and computable from the member row alone, so the order
# path needs no extra query: "new" (no counted order before this one), "returning" (at least one),
# "birthday_month" (the member's birthday falls in the month of the order).
SEGMENTS = ("new", "returning", "birthday_month")


def member_segments(member: Member | None, at: datetime) -> set[str]:
    if member is None:
        return set()
    out = {"returning" if (member.orders_count or 0) > 0 else "new"}
    if member.birthday_month == at.month:
        out.add("birthday_month")
    return out


def campaign_effect(shop: Shop, member: Member | None, at: datetime) -> tuple[CampaignEffect, dict[int, int]]:
    """What active campaigns add to an order placed at `at` by `member`: the effect (highest multiplier,
    bonuses added) and each bonus campaign's points, for one campaign_bonus entry per campaign."""
    campaigns = active_campaigns(shop, at)
    if not campaigns:
        return CampaignEffect(), {}
    effect = active_campaign_effect(
        campaigns, at, member.tier_id if member else None, member_segments(member, at),
        member.customer_id if member else None,
    )
    values = {c.id: int(c.value) for c in campaigns}
    return effect, {cid: values[cid] for cid in effect.bonus_campaign_ids}


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _decimal(value: Any, field: str, errors: dict[str, str]) -> Decimal | None:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        errors[field] = "Enter a number such as 2"
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        errors[field] = "Enter a number such as 2"
        return None
    if not number.is_finite() or abs(number) >= Decimal("1e6"):
        errors[field] = "Enter a number such as 2"
        return None
    return number


# What an ended campaign may still change: it stays ended, so only its name (how history reads it).
_ENDED_EDITABLE = frozenset({"name"})
# What the admin reads back with a campaign: a form may send it back unchanged; it is never written.
_READ_ONLY = frozenset({"id", "status", "deleted_at"})


def get_campaign(shop: Shop, campaign_id: int, *, lock: bool = False) -> Campaign:
    """The shop's campaign, not deleted; NotFound otherwise (another shop's id included)."""
    stmt = select(Campaign).where(Campaign.id == campaign_id, Campaign.shop_id == shop.id,
                                  Campaign.deleted_at.is_(None))
    row = db.session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound("no such campaign")
    return row


def list_campaigns(shop: Shop) -> list[Campaign]:
    """The campaigns the admin lists: every one not deleted, the latest start first."""
    return list(db.session.execute(
        select(Campaign).where(Campaign.shop_id == shop.id, Campaign.deleted_at.is_(None))
        .order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    ).scalars())


def _campaign_summary(row: Campaign) -> dict[str, Any]:
    return {"name": row.name, "kind": row.kind, "value": str(row.value), "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat()}


def save_campaign(shop: Shop, data: Mapping[str, Any], actor: str = "system", campaign_id: int | None = None) -> Campaign:
    """Creates (or, with `campaign_id`, edits) a campaign: {"name", "kind": multiplier|bonus, "value",
    "starts_at", "ends_at", "tier_id"?, "segment"?, "holdout_percent"?, "active"?}. Omitted fields keep
    their value on an edit. An ended campaign may only be renamed (Conflict otherwise). Commits."""
    data = {k: v for k, v in data.items() if k not in _READ_ONLY}
    row = get_campaign(shop, campaign_id, lock=True) if campaign_id is not None else None
    if row is not None and status_of(row) == "ended" and set(data) - _ENDED_EDITABLE:
        db.session.rollback()
        raise Conflict("this campaign has ended; only its name can change")
    errors: dict[str, str] = {}
    merged: dict[str, Any] = {
        "name": row.name if row else None, "kind": row.kind if row else None, "value": row.value if row else None,
        "starts_at": row.starts_at if row else None, "ends_at": row.ends_at if row else None,
        "tier_id": row.tier_id if row else None, "segment": row.segment if row else None,
        "holdout_percent": row.holdout_percent if row else 0, "active": row.active if row else True,
    }
    for key in set(data) - set(merged):
        errors[key] = "This field is not part of a campaign"
    merged.update({k: v for k, v in data.items() if k in merged})
    name = merged["name"]
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "Give the campaign a name"
    elif len(name.strip()) > 128:
        errors["name"] = "Keep the name to 128 characters or fewer"
    if merged["kind"] not in ("multiplier", "bonus"):
        errors["kind"] = "Choose a points multiplier or a points bonus"
    value = merged["value"] if isinstance(merged["value"], Decimal) else _decimal(merged["value"], "value", errors)
    starts, ends = _time(merged["starts_at"]), _time(merged["ends_at"])
    if starts is None:
        errors["starts_at"] = "Enter a start date and time, such as 2026-12-01T09:00"
    if ends is None:
        errors["ends_at"] = "Enter an end date and time, such as 2026-12-08T09:00"
    segment = merged["segment"]
    if segment is not None and segment not in SEGMENTS:
        errors["segment"] = "Choose everyone, new customers, returning customers or birthday month"
    tier_id = merged["tier_id"]
    if tier_id is not None:
        tier = db.session.get(Tier, tier_id) if isinstance(tier_id, int) and not isinstance(tier_id, bool) \
            and 0 < tier_id < 2**63 else None
        if tier is None or tier.shop_id != shop.id:
            errors["tier_id"] = "Choose one of your tiers, or everyone"
    holdout = merged["holdout_percent"]
    if isinstance(holdout, bool) or not isinstance(holdout, int) or not 0 <= holdout <= 90:
        errors["holdout_percent"] = "Enter a whole percentage from 0 to 90"
    if starts is not None and ends is not None and ends <= starts:
        errors["ends_at"] = "Choose an end after the start"
    if not isinstance(merged["active"], bool):
        errors["active"] = "Choose on or off"
    if value is not None and starts is not None and ends is not None and "kind" not in errors:
        # The domain's rules on whatever parsed, so every wrong field shows at once.
        rule = CampaignRule(id=0, kind=merged["kind"], value=value, starts_at=starts, ends_at=ends,
                            holdout_percent=holdout if "holdout_percent" not in errors else 0)
        for key, message in validate_campaign(rule).items():
            errors.setdefault(key, message)
    if errors:
        db.session.rollback()
        raise Invalid("Check the highlighted fields", fields=errors)
    assert value is not None and starts is not None and ends is not None and isinstance(name, str)
    created = row is None
    if row is None:
        row = Campaign(shop_id=shop.id, created_at=utcnow())
        db.session.add(row)
    before = None if created else _campaign_summary(row)
    row.name, row.kind, row.value = name.strip(), merged["kind"], value
    row.starts_at, row.ends_at = starts, ends
    row.tier_id, row.segment, row.holdout_percent, row.active = tier_id, segment, holdout, merged["active"]
    db.session.flush()
    touch(shop)
    details: dict[str, Any] = _campaign_summary(row)
    if before is not None:
        details["changed"] = sorted(k for k, v in _campaign_summary(row).items() if before.get(k) != v)
    audit.record(shop, actor, "campaign.created" if created else "campaign.updated", target_type="campaign",
                 target_id=row.id, details=details)
    db.session.commit()
    return row


# Each move the merchant can make on a campaign, the word the audit log records it with, and the statuses it
# is allowed from.
CAMPAIGN_MOVES: dict[str, tuple[str, tuple[CampaignStatus, ...]]] = {
    "pause": ("paused", ("scheduled", "active")),
    "resume": ("resumed", ("paused",)),
    "end": ("ended", ("scheduled", "active", "paused")),
    "delete": ("deleted", ("scheduled", "active", "paused", "ended")),
}


def change_campaign(shop: Shop, campaign_id: int, move: str, actor: str = "system") -> Campaign:
    """Pauses, resumes, ends (ends_at = now) or deletes (soft) a campaign, audited. A move the campaign's
    status does not allow is a Conflict: an ended campaign is never resumed, a deleted one is NotFound. Commits."""
    if move not in CAMPAIGN_MOVES:
        raise NotFound("no such campaign action")
    past, allowed = CAMPAIGN_MOVES[move]
    row = get_campaign(shop, campaign_id, lock=True)
    now = utcnow()
    status = status_of(row, now)
    if status not in allowed:
        db.session.rollback()
        raise Conflict(f"This campaign is {status}, so it cannot be {past}")
    if move == "pause":
        row.active = False
    elif move == "resume":
        row.active = True
    elif move == "end":
        # Ending a campaign that has not started yet: it ran for no time at all.
        row.starts_at = min(row.starts_at, now)
        row.ends_at = now
    else:
        row.active = False
        row.deleted_at = now
    db.session.flush()
    touch(shop)
    audit.record(shop, actor, f"campaign.{past}", target_type="campaign", target_id=row.id,
                 details={"name": row.name, "status_before": status})
    db.session.commit()
    return row


# --- custom actions --------------------------------------------------------------------------------


def save_custom_action(shop: Shop, data: Mapping[str, Any], actor: str = "system", *,
                       http_links: bool = False) -> CustomAction:
    """Creates or edits (by `key`) a custom action: {"key", "name", "points", "limit", "honour_system"?,
    "url"?, "active"?}. `url` (shown to shoppers as a link) must be https:// (http:// too when `http_links`,
    in development); null or "" removes it. Commits."""
    errors: dict[str, str] = {}
    key = data.get("key")
    if not isinstance(key, str) or not key.strip() or len(key) > 64:
        errors["key"] = "a short identifier is required (e.g. newsletter)"
    row = None
    if "key" not in errors:
        row = db.session.execute(
            select(CustomAction).where(CustomAction.shop_id == shop.id, CustomAction.key == key)
        ).scalar_one_or_none()
    name = data.get("name", row.name if row else None)
    points = data.get("points", row.points if row else None)
    limit = data.get("limit", row.limit if row else "once")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "an action needs a name"
    if isinstance(points, bool) or not isinstance(points, int) or points < 0 or points > 10**9:
        errors["points"] = "must be a whole number of points, at least 0"
    if limit not in ACTION_LIMITS:
        errors["limit"] = "must be one of " + ", ".join(ACTION_LIMITS)
    for flag in ("honour_system", "active"):
        if flag in data and not isinstance(data[flag], bool):
            errors[flag] = "must be true or false"
    url = data.get("url")
    if url not in (None, ""):
        problem = link_problem(url, allow_http=http_links)
        if problem is not None:
            errors["url"] = problem
    if isinstance(name, str) and len(name.strip()) > 128:
        errors["name"] = "at most 128 characters"
    if errors:
        raise Invalid("the action is not valid", fields=errors)
    if row is None:
        row = CustomAction(shop_id=shop.id, key=str(key).strip(), created_at=utcnow())
        db.session.add(row)
    row.name, row.points, row.limit = str(name).strip(), points, limit
    row.honour_system = bool(data.get("honour_system", row.honour_system or False))
    row.active = bool(data.get("active", True if row.active is None else row.active))
    if "url" in data:
        row.url = url or None
    db.session.flush()
    audit.record(shop, actor, "custom_action.saved", target_type="custom_action", target_id=row.key,
                 details={"name": row.name, "points": row.points, "limit": row.limit})
    db.session.commit()
    return row


def custom_actions(shop_id: int, *, active_only: bool = True) -> list[CustomAction]:
    q = select(CustomAction).where(CustomAction.shop_id == shop_id).order_by(CustomAction.id)
    if active_only:
        q = q.where(CustomAction.active.is_(True))
    return list(db.session.execute(q).scalars())


def active_shops() -> Iterable[Shop]:
    """Installed shops, for the scheduled jobs."""
    return list(db.session.execute(
        select(Shop).where(Shop.installed_at.is_not(None), Shop.uninstalled_at.is_(None)).order_by(Shop.id)
    ).scalars())
