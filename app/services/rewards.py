"""Rewards and redemptions: the catalogue, debit-then-code redemption, used and expired codes.

A redemption debits the points first (committed, under the member lock, so concurrent requests can
never spend the same points twice), then asks Shopify for a one-use discount code limited to the
customer. If Shopify refuses or stays unreachable, a compensating `redeem_reversed` entry gives the
points back and the shopper is told plainly.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.orders import PAID_STATUSES
from app.loyalty.rewards import (
    REWARD_TYPES,
    Quote,
    Refusal,
    RewardSpec,
    code_expires_at,
    discount_code,
    redemption_quote,
    validate_reward,
)
from app.loyalty.settings import ProgramSettings
from app.models import Member, Order, Redemption, Reward, Shop, Tier, utcnow
from app.services import audit, work
from app.services.ledger import emit_event, lock_member, post_entry
from app.services.program import settings_for
from app.services.shops import ShopNotInstalled, admin_graphql
from app.shopify import GraphQLError
from app.shopify.adapter import ShopifyUnavailable
from app.shopify.discounts import (
    CREATE_MUTATIONS,
    FIND_BY_CODE,
    DiscountRequest,
    discount_input,
    parse_created,
    parse_found,
)

log = logging.getLogger(__name__)

_rng = random.SystemRandom()
# Attempts at Shopify for one redemption (the adapter already retries 5xx/429 and THROTTLED inside each).
SHOPIFY_ATTEMPTS = 3
# A same-key request arriving while the first is still talking to Shopify waits this long for its result.
IN_FLIGHT_WAIT_SECONDS = 10.0
# A redemption still pending after this long was interrupted (worker died): the sweeper settles it.
STALE_PENDING_AFTER = timedelta(minutes=5)
# Codes start this much before our clock: Shopify's clock may be behind ours, and a code that is still
# "scheduled" there would be refused at the checkout the shopper goes to at once.
CLOCK_SKEW = timedelta(minutes=1)


class RewardInvalid(ValueError):
    """A reward that cannot be saved; `errors` maps each field to a message a merchant can read."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())))


class RewardNotFound(LookupError):
    """No such reward in this shop (another shop's id is unknown too)."""


class RedemptionRefused(Exception):
    """The member may not redeem this (code: insufficient_points, negative_balance, tier_not_allowed,
    out_of_range, disabled). Nothing was debited."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RedemptionFailed(Exception):
    """Shopify refused the code or stayed unreachable; the debit has been reversed. `message` is for the shopper."""

    def __init__(self, message: str, redemption: Redemption | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.redemption = redemption


# --------------------------------------------------------------------------------------- settings


def settings_of(shop: Shop) -> ProgramSettings:
    """The shop's program settings (the program's one cached reading)."""

    return settings_for(shop)


def request_writeback() -> None:
    """Asks for the metafield/tag write-back after a committed change; never fails the caller."""
    try:
        work.request("writeback")
    except Exception:  # the minute sweeper picks it up anyway
        log.exception("could not request the write-back")


# --------------------------------------------------------------------------------------- catalogue


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


# --------------------------------------------------------------------------------------- redemption


def find_redemption(shop_id: int, idempotency_key: str) -> Redemption | None:
    return db.session.execute(
        select(Redemption).where(Redemption.shop_id == shop_id, Redemption.idempotency_key == idempotency_key)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _failure_message(points: int) -> str:
    return (f"We couldn't create your discount code right now, so your {points} points are back in your "
            "balance. Please try again in a few minutes.")


def _replay(shop: Shop, member: Member, found: Redemption) -> Redemption:
    """A retried request: the first request's result, whatever it was (never a second debit)."""
    if found.member_id != member.id:
        # The key belongs to another member's request: refusing is safer than returning their code.
        raise RedemptionRefused("idempotency_key_reused", "This idempotency key was already used for another request.")
    deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
    while found.status == "pending" and time.monotonic() < deadline:
        # The first request is still talking to Shopify: wait for its outcome rather than act twice.
        db.session.rollback()
        time.sleep(0.1)
        found = find_redemption(shop.id, found.idempotency_key) or found
    if found.status == "failed":
        raise RedemptionFailed(found.error or _failure_message(found.points), found)
    return found


def redeem(shop: Shop, member: Member, reward_id: int, *, idempotency_key: str, points: int | None = None,
           actor: str | None = None, now: datetime | None = None) -> Redemption:
    """Spends points on a reward and returns the redemption with its Shopify code. Commits.

    Raises RewardNotFound, RedemptionRefused (nothing debited) or RedemptionFailed (debited, then given
    back by a compensating entry). A request with an idempotency key already used returns the first
    result (or raises the first failure) and never debits twice.
    """
    if not idempotency_key or len(idempotency_key) > 200:
        raise RedemptionRefused("invalid_idempotency_key", "An idempotency key of 1 to 200 characters is required.")
    found = find_redemption(shop.id, idempotency_key)
    if found is not None:
        return _replay(shop, member, found)
    reward = get_reward(shop, reward_id)
    settings = settings_of(shop)
    now = now or utcnow()

    # Step 1: the debit, under the member lock, committed before Shopify is asked for anything.
    locked = lock_member(member.id)
    found = find_redemption(shop.id, idempotency_key)  # a same-key request may have committed meanwhile
    if found is not None:
        db.session.rollback()
        return _replay(shop, member, found)
    spec = spec_of(reward)
    quote = redemption_quote(spec, points, locked.points_available or 0, locked.tier_id)
    if isinstance(quote, Refusal):
        db.session.rollback()
        raise RedemptionRefused(quote.reason, quote.message)
    code = discount_code(_rng)
    expires_at = code_expires_at(now, settings.code_expiry_days)
    redemption = Redemption(
        shop_id=shop.id, member_id=locked.id, reward_id=reward.id, reward_name=reward.name,
        reward_type=reward.type, idempotency_key=idempotency_key, points=quote.points,
        value=quote.value, code=code, status="pending", expires_at=expires_at, created_at=now,
    )
    db.session.add(redemption)
    db.session.flush()
    post_entry(
        locked, points=-quote.points, kind=rules.REDEEM, source=rules.SOURCE_REWARD,
        source_id=str(redemption.id), idempotency_key=rules.redeem_key(locked.customer_id, idempotency_key),
        reason=reward.name, actor=actor, now=now, emit="reward_redeemed",
        emit_payload={"redemption_id": redemption.id, "reward_id": reward.id, "code": code},
    )
    db.session.commit()

    # Step 2: the code in Shopify; on failure the compensating entry.
    return _issue(shop, redemption, spec, quote, locked.customer_id, now, actor)


def _create_code(shop: Shop, request: DiscountRequest, code: str) -> tuple[str | None, str | None]:
    """(discount gid, None) when the code exists in Shopify, else (None, why). Retries what may pass later."""

    why = "Shopify could not be reached"
    for attempt in range(SHOPIFY_ATTEMPTS):
        if attempt:
            time.sleep(0.2 * attempt)
        try:
            data = admin_graphql(shop, CREATE_MUTATIONS[request.mutation], request.variables)
        except ShopNotInstalled as exc:
            return None, f"shop not installed: {exc}"
        except ShopifyUnavailable as exc:
            why = str(exc)
            continue
        except GraphQLError as exc:
            return None, f"Shopify refused: {exc.errors or exc}"
        created = parse_created(data, request)
        if created.discount_id is not None:
            return created.discount_id, None
        if attempt and created.taken:
            # An earlier attempt did create it (its answer was lost): find it rather than fail.
            try:
                found = parse_found(admin_graphql(shop, FIND_BY_CODE, {"code": code}))
            except Exception:  # still unknown: report the refusal below
                found = None
            if found is not None:
                return found, None
        return None, "Shopify refused: " + created.refusal()
    return None, why


def _issue(shop: Shop, redemption: Redemption, spec: RewardSpec, quote: Quote, customer_id: int,
           now: datetime, actor: str | None) -> Redemption:
    assert redemption.expires_at is not None
    request = discount_input(spec, quote, redemption.code, customer_id, now - CLOCK_SKEW, redemption.expires_at)
    discount_gid, why = _create_code(shop, request, redemption.code)
    if discount_gid is not None:
        redemption.status = "issued"
        redemption.discount_gid = discount_gid
        emit_event(shop.id, redemption.member_id, "reward_code_issued", {
            "redemption_id": redemption.id, "reward_id": redemption.reward_id, "reward_name": redemption.reward_name,
            "code": redemption.code, "points": redemption.points, "value": str(redemption.value),
            "expires_at": redemption.expires_at.isoformat().replace("+00:00", "Z"),
        }, now=now)
        db.session.commit()
        request_writeback()
        return redemption
    log.warning("redemption %s failed: %s", redemption.id, why)
    _reverse(redemption, why or "unknown", actor)
    db.session.commit()
    request_writeback()
    raise RedemptionFailed(redemption.error or _failure_message(redemption.points), redemption)


def _reverse(redemption: Redemption, why: str, actor: str | None) -> None:
    """The compensating entry that gives a failed redemption's points back. Does not commit."""
    member = lock_member(redemption.member_id)
    post_entry(
        member, points=redemption.points, kind=rules.REDEEM_REVERSED, source=rules.SOURCE_REWARD,
        source_id=str(redemption.id),
        idempotency_key=rules.redeem_reversed_key(member.customer_id, redemption.idempotency_key),
        reason=f"code not created: {why}"[:255], actor=actor, emit="redemption_failed",
        emit_payload={"redemption_id": redemption.id},
    )
    redemption.status = "failed"
    redemption.error = _failure_message(redemption.points)


def settle_stale_pending(now: datetime | None = None) -> int:
    """Redemptions left pending by an interrupted request: the code is found or created, else reversed."""
    now = now or utcnow()
    ids = list(db.session.execute(
        select(Redemption.id).where(Redemption.status == "pending", Redemption.created_at < now - STALE_PENDING_AFTER)
        .limit(100)
    ).scalars())
    settled = 0
    for rid in ids:
        redemption = db.session.execute(
            select(Redemption).where(Redemption.id == rid, Redemption.status == "pending")
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if redemption is None:
            db.session.rollback()
            continue
        shop = db.session.get(Shop, redemption.shop_id)
        member = db.session.get(Member, redemption.member_id)
        reward = db.session.get(Reward, redemption.reward_id) if redemption.reward_id else None
        if shop is None or member is None or reward is None or redemption.expires_at is None:
            _reverse(redemption, "reward no longer exists", "system")
        else:
            quote = Quote(reward.id, redemption.points, redemption.value)
            request = discount_input(spec_of(reward), quote, redemption.code, member.customer_id,
                                        redemption.created_at - CLOCK_SKEW, redemption.expires_at)
            # A retry of the same code: TAKEN means the first attempt created it.
            discount_gid, why = _create_code_with_lookup(shop, request, redemption.code)
            if discount_gid:
                redemption.status = "issued"
                redemption.discount_gid = discount_gid
            else:
                _reverse(redemption, why or "unknown", "system")
        db.session.commit()
        settled += 1
    return settled


def _create_code_with_lookup(shop: Shop, request: DiscountRequest, code: str) -> tuple[str | None, str | None]:

    try:
        found = parse_found(admin_graphql(shop, FIND_BY_CODE, {"code": code}))
    except Exception:
        found = None
    if found is not None:
        return found, None
    return _create_code(shop, request, code)


# --------------------------------------------------------------------------------------- codes after issue


def mark_codes_used(shop: Shop, order: Order) -> int:
    """A paid order carrying reward codes marks them used. Runs in the order drain's transaction: no commit."""
    if order.cancelled or order.financial_status not in PAID_STATUSES or not order.discount_codes:
        return 0
    codes = {str(c.get("code") if isinstance(c, dict) else c).strip().upper() for c in order.discount_codes}
    codes.discard("")
    if not codes:
        return 0
    rows = db.session.execute(
        select(Redemption).where(Redemption.shop_id == shop.id, Redemption.code.in_(codes),
                                 Redemption.status.in_(("issued", "pending", "expired")))
        .with_for_update()
    ).scalars()
    marked = 0
    for redemption in rows:
        redemption.status = "used"
        redemption.used_order_id = order.order_id
        redemption.used_at = order.paid_at or order.processed_at or utcnow()

        emit_event(shop.id, redemption.member_id, "code_used",
                   {"redemption_id": redemption.id, "code": redemption.code, "order_id": str(order.order_id)})
        marked += 1
    return marked


def expire_codes(now: datetime | None = None) -> int:
    """Issued codes past their end: expired, and their points given back when the shop refunds them. Commits."""
    now = now or utcnow()
    settle_stale_pending(now)
    count = 0
    while True:
        batch = list(db.session.execute(
            select(Redemption).where(Redemption.status == "issued", Redemption.expires_at <= now)
            .order_by(Redemption.id).limit(200).with_for_update(skip_locked=True)
        ).scalars())
        if not batch:
            db.session.rollback()
            break
        settings_by_shop: dict[int, ProgramSettings] = {}
        for redemption in batch:
            if redemption.shop_id not in settings_by_shop:
                shop = db.session.get(Shop, redemption.shop_id)
                settings_by_shop[redemption.shop_id] = settings_of(shop) if shop else ProgramSettings()
            redemption.status = "expired"
            if settings_by_shop[redemption.shop_id].refund_expired_codes:
                member = lock_member(redemption.member_id)
                post_entry(member, points=redemption.points, kind=rules.CODE_REFUNDED, source=rules.SOURCE_REWARD,
                           source_id=str(redemption.id), idempotency_key=rules.code_refunded_key(redemption.code),
                           reason="unused code expired", now=now, emit="code_refunded",
                           emit_payload={"redemption_id": redemption.id})
                redemption.status = "refunded"
            count += 1
        db.session.commit()
    if count:
        request_writeback()
    return count


# Reward types an automation may give away as a one-use code (variable needs points chosen, store credit no code).
GIFTABLE_TYPES = frozenset({"fixed_amount", "percentage", "free_shipping", "free_product"})


def issue_gift_code(shop: Shop, member: Member, reward_id: int, *, idempotency_key: str, expiry_days: int | None = None,
                    now: datetime | None = None, actor: str = "automation") -> Redemption:
    """A one-use code of a reward, for free (an automation's incentive): no points are debited; the code
    expires after `expiry_days` (default the program's code_expiry_days). Idempotent by key. Commits;
    raises RedemptionFailed when Shopify refuses or stays unreachable (recorded as a failed redemption)."""
    now = now or utcnow()
    found = find_redemption(shop.id, idempotency_key)
    if found is not None:
        if found.status == "failed":
            raise RedemptionFailed(found.error or "the code could not be created", found)
        return found
    reward = get_reward(shop, reward_id)
    spec = spec_of(reward)
    if spec.type not in GIFTABLE_TYPES or not reward.active:
        raise RedemptionRefused("disabled", "This reward cannot be given as a code.")
    settings = settings_of(shop)
    code = discount_code(_rng)
    expires_at = code_expires_at(now, expiry_days or settings.code_expiry_days)
    redemption = Redemption(
        shop_id=shop.id, member_id=member.id, reward_id=reward.id, reward_name=reward.name, reward_type=reward.type,
        idempotency_key=idempotency_key, points=0, value=reward.value, code=code, status="pending",
        expires_at=expires_at, created_at=now,
    )
    db.session.add(redemption)
    db.session.commit()
    quote = Quote(reward.id, 0, Decimal(reward.value or 0))
    request = discount_input(spec, quote, code, member.customer_id, now - CLOCK_SKEW, expires_at)
    discount_gid, why = _create_code(shop, request, code)
    if discount_gid is None:
        redemption.status = "failed"
        redemption.error = (why or "unknown")[:500]
        db.session.commit()
        raise RedemptionFailed(redemption.error, redemption)
    redemption.status = "issued"
    redemption.discount_gid = discount_gid
    emit_event(shop.id, member.id, "reward_code_issued", {
        "redemption_id": redemption.id, "reward_id": reward.id, "reward_name": reward.name, "code": code,
        "points": 0, "value": str(redemption.value), "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
        "gift": True,
    }, now=now)
    db.session.commit()
    return redemption
