"""The shop-level part of what shoppers see (settings, tiers, rewards, ways to earn), cached per worker under a version key.

Read by the storefront widget (app proxy) and the customer account / checkout UI extensions alike.

Only catalogue data lives here: nothing about a member (points, pending, codes, history) is ever cached.
The version key is a digest the database computes over the shop's own row and every catalogue row, read in
the same round trip as the shop itself, so an admin change of any kind (a new reward, a renamed action, a
settings edit, even one that forgot to bump Shop.updated_at) is seen by the very next widget request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, literal_column, select

from app.extensions import db
from app.loyalty.links import safe_link
from app.loyalty.rewards import RewardSpec
from app.loyalty.settings import ProgramSettings
from app.models import CustomAction, Reward, Shop, Tier
from app.services.program import settings_for

# The digest only decides freshness; the TTL just bounds how long an idle shop's entry occupies memory.
TTL_SECONDS = 300.0
MAX_SHOPS = 512

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

    def tier_name(self, tier_id: int | None) -> str | None:
        return next((t.name for t in self.tiers if t.id == tier_id), None) if tier_id is not None else None


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
    )


_lock = threading.Lock()  # gthread workers share this dict
_cache: dict[int, tuple[str, float, Catalogue]] = {}


def catalogue_for(shop: Shop, version: str | None) -> Catalogue:
    """The shop's catalogue; from this worker's cache when its version key is the current one."""
    if version is None:
        return _load(shop)
    now = time.monotonic()
    hit = _cache.get(shop.id)
    if hit is not None and hit[0] == version and now - hit[1] < TTL_SECONDS:
        return hit[2]
    found = _load(shop)
    with _lock:
        if len(_cache) >= MAX_SHOPS:
            _cache.clear()
        _cache[shop.id] = (version, now, found)
    return found


def clear() -> None:
    with _lock:
        _cache.clear()
