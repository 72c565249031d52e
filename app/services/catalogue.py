"""The shop's program as every reader sees it (settings, tiers, rewards, ways to earn, campaigns): loaded in
one place and kept in one cache per worker, an entry per shop.

Read by the order path (tiers and campaigns on every event), the storefront widget (app proxy) and the
customer account / checkout UI extensions alike.

Only catalogue data lives here: nothing about a member (points, pending, codes, history) is ever cached.
An entry is fresh for a reader that holds either key:
- the widget's: a digest the database computes over the shop's own row and every catalogue row, read in the
  same round trip as the shop itself, so an admin change of any kind (a new reward, a renamed action, a
  settings edit, even one that forgot to bump Shop.updated_at) is seen by the very next widget request;
- the order path's: the shop row's `updated_at`, which every edit of the program moves (`touch`, and the
  before-flush hook below for any tier or campaign row written through the ORM); the drain reads the shop
  row once per batch of deliveries, so an edit is seen by the next batch in every worker. Entries also
  expire after ENGINE_TTL_SECONDS for this reader, for rows changed behind the services' back.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, event, literal_column, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.loyalty.campaigns import Campaign as CampaignRule
from app.loyalty.links import safe_link
from app.loyalty.rewards import RewardSpec
from app.loyalty.settings import ProgramSettings, SettingsError, validate_settings_patch
from app.loyalty.tiers import Tier as TierRule
from app.models import Campaign, CustomAction, Reward, Shop, Tier, utcnow

# For the widget the digest decides freshness; this TTL just bounds how long an idle shop's entry occupies memory.
TTL_SECONDS = 300.0
# For the order path: rows changed behind the services' back (raw SQL) are seen after this long.
ENGINE_TTL_SECONDS = 30.0
MAX_SHOPS = 5000

# One md5 over the shop row's catalogue fields and each catalogue table's rows as text, ordered by id.
# Correlated on shops.id, so it rides along with the shop lookup instead of costing a round trip of its own.
_PG_VERSION = (
    "md5(concat_ws('|', shops.updated_at::text, shops.settings::text, shops.money_format, shops.name, shops.domain,"
    " (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM tiers x WHERE x.shop_id = shops.id),"
    " (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM rewards x WHERE x.shop_id = shops.id),"
    " (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM custom_actions x WHERE x.shop_id = shops.id)))"
)


def version_column() -> ColumnElement[Any] | None:
    """The version key's SQL for this database; None where we have no exact digest (then nothing is cached)."""
    if db.engine.dialect.name != "postgresql":
        return None
    return literal_column(_PG_VERSION).label("catalogue_version")


def find_shop(domain: str) -> tuple[Shop | None, str | None]:
    """The installed shop for a domain and its catalogue version key, in one round trip (None, None: unknown)."""
    version_col = version_column()
    if version_col is None:
        return db.session.execute(select(Shop).where(Shop.domain == domain)).scalar_one_or_none(), None
    row = db.session.execute(select(Shop, version_col).where(Shop.domain == domain)).first()
    return (row[0], row[1]) if row is not None else (None, None)


# --- settings and rows as the domain's values ---------------------------------------------------------

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


def touch(shop: Shop) -> None:
    """Marks the shop's program as changed: every process reloads its catalogue (see the module's docstring)."""
    shop.updated_at = utcnow()


def tier_rule(row: Any) -> TierRule:
    return TierRule(
        id=row.id, name=row.name, handle=row.handle, threshold=Decimal(row.threshold),
        multiplier=Decimal(row.multiplier), entry_bonus=row.entry_bonus or 0, perks=row.perks or "",
        position=row.position or 0,
    )


def campaign_rule(row: Campaign) -> CampaignRule:
    return CampaignRule(
        id=row.id, kind=row.kind, value=Decimal(row.value), starts_at=row.starts_at, ends_at=row.ends_at,  # type: ignore[arg-type]
        tier_ids=frozenset({row.tier_id}) if row.tier_id else frozenset(),
        segments=frozenset({row.segment}) if row.segment else frozenset(),
        holdout_percent=row.holdout_percent or 0, name=row.name,
        paused=not row.active, deleted=row.deleted_at is not None,
    )


# --- the catalogue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierInfo:
    id: int
    name: str
    threshold: Decimal
    position: int
    perks: str | None
    handle: str | None = None
    # The merchant's name per storefront language ({locale: name}); `name` where a language has none.
    names: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class RewardInfo:
    id: int
    type: str
    name: str
    points_cost: int
    value: Decimal
    minimum_subtotal: Decimal
    tier_id: int | None
    variable_min_points: int | None
    variable_max_points: int | None
    spec: RewardSpec
    names: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ActionInfo:
    id: int
    key: str
    name: str
    points: int
    limit: str
    honour_system: bool
    url: str | None


@dataclass(frozen=True)
class Catalogue:
    settings: ProgramSettings
    # Ordered by threshold, then position: "this tier or higher" is a suffix of this list.
    tiers: tuple[TierInfo, ...]
    rewards: tuple[RewardInfo, ...]
    actions: tuple[ActionInfo, ...]
    # The same tiers as the domain's values, lowest first, for the rules (multipliers, entry bonuses).
    ladder: tuple[TierRule, ...] = ()
    # Campaigns not deleted (their status decides whether one applies).
    campaigns: tuple[CampaignRule, ...] = ()

    def tier_name(self, tier_id: int | None) -> str | None:
        return next((t.name for t in self.tiers if t.id == tier_id), None) if tier_id is not None else None

    def tier(self, tier_id: int | None) -> TierRule | None:
        return next((t for t in self.ladder if t.id == tier_id), None) if tier_id is not None else None


def _spec(reward: Reward, tier_ids: list[int]) -> RewardSpec:
    allowed: frozenset[int] = frozenset()
    if reward.tier_id is not None and reward.tier_id in tier_ids:
        allowed = frozenset(tier_ids[tier_ids.index(reward.tier_id):])
    variable = reward.type == "variable"
    return RewardSpec(
        id=reward.id, type=reward.type, name=reward.name,  # type: ignore[arg-type]
        points_cost=reward.points_cost, value=None if variable else reward.value,
        minimum_subtotal=reward.minimum_subtotal or Decimal(0), tier_ids=allowed,
        rate=reward.value if variable else None, min_points=reward.variable_min_points,
        max_points=reward.variable_max_points, product_variant_id=reward.product_variant_id,
        enabled=reward.active,
    )


def _load(shop: Shop) -> Catalogue:
    tier_rows = sorted(db.session.execute(select(Tier).where(Tier.shop_id == shop.id)).scalars(),
                       key=lambda t: (t.threshold, t.position, t.id))
    campaigns = db.session.execute(
        select(Campaign).where(Campaign.shop_id == shop.id, Campaign.deleted_at.is_(None))).scalars()
    tier_ids = [t.id for t in tier_rows]
    rewards = db.session.execute(
        select(Reward).where(Reward.shop_id == shop.id, Reward.active.is_(True)).order_by(Reward.position, Reward.id)
    ).scalars()
    actions = db.session.execute(
        select(CustomAction).where(CustomAction.shop_id == shop.id, CustomAction.active.is_(True))
        .order_by(CustomAction.id)
    ).scalars()
    return Catalogue(
        settings=settings_for(shop),
        tiers=tuple(TierInfo(t.id, t.name, t.threshold, t.position, t.perks, t.handle, dict(t.names or {})) for t in tier_rows),
        rewards=tuple(RewardInfo(r.id, r.type, r.name, r.points_cost, r.value, r.minimum_subtotal or Decimal(0),
                                 r.tier_id, r.variable_min_points, r.variable_max_points, _spec(r, tier_ids),
                                 dict(r.names or {}))
                      for r in rewards),
        # A link only when it is one staff may give shoppers now (rows saved before the rule keep no javascript:).
        actions=tuple(ActionInfo(a.id, a.key, a.name, a.points, a.limit, a.honour_system,
                                 safe_link(a.url, allow_http=current_app.config["REGULARS"].development))
                      for a in actions),
        ladder=tuple(tier_rule(t) for t in tier_rows),
        campaigns=tuple(campaign_rule(c) for c in campaigns),
    )


@dataclass(frozen=True)
class _Entry:
    shop_version: datetime | None  # the shop row's updated_at when loaded (the order path's key)
    digest: str | None  # the widget's version key, when the load had one
    loaded_at: float  # time.monotonic()
    catalogue: Catalogue


_lock = threading.Lock()  # gthread workers share this dict
_cache: dict[int, _Entry] = {}


def _store(shop: Shop, digest: str | None, now: float, found: Catalogue) -> None:
    with _lock:
        if len(_cache) >= MAX_SHOPS:
            _cache.clear()
        _cache[shop.id] = _Entry(shop.updated_at, digest, now, found)


def catalogue_for(shop: Shop, version: str | None) -> Catalogue:
    """The shop's catalogue for the widget and the extensions; from this worker's cache when `version`
    (the digest, see find_shop) is the entry's. Without a digest (SQLite) it is read fresh."""
    if version is None:
        return _load(shop)
    now = time.monotonic()
    hit = _cache.get(shop.id)
    if hit is not None and hit.digest == version and now - hit.loaded_at < TTL_SECONDS:
        return hit.catalogue
    found = _load(shop)
    _store(shop, version, now, found)
    return found


def catalogue(shop: Shop) -> Catalogue:
    """The shop's catalogue for the order path: read once per shop version instead of once per order event."""
    now = time.monotonic()
    hit = _cache.get(shop.id)
    if hit is not None and hit.shop_version == shop.updated_at and now - hit.loaded_at < ENGINE_TTL_SECONDS:
        return hit.catalogue
    found = _load(shop)
    _store(shop, None, now, found)
    return found


def clear() -> None:
    with _lock:
        _cache.clear()


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
            with _lock:
                _cache.pop(shop_id, None)
            shop = session.get(Shop, shop_id)
            if shop is not None:
                touch(shop)
