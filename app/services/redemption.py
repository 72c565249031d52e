"""Redemptions: points spent on a reward (debit, then code), the failed ones' points given back, interrupted ones
settled, unused codes expired or refunded, and free gift codes for automations.

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
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.rewards import Quote, Refusal, RewardSpec, code_expires_at, discount_code, redemption_quote
from app.loyalty.settings import ProgramSettings
from app.models import Member, Redemption, Reward, Shop, utcnow
from app.services.ledger import emit_event, lock_member, post_entry
from app.services.reward_codes import CLOCK_SKEW, create_code, find_or_create_code
from app.services.rewards import get_reward, settings_of, spec_of
from app.services.work import request_writeback
from app.shopify.discounts import discount_input

log = logging.getLogger(__name__)

_rng = random.SystemRandom()
# A same-key request arriving while the first is still talking to Shopify waits this long for its result.
IN_FLIGHT_WAIT_SECONDS = 10.0
# A redemption still pending after this long was interrupted (worker died): the sweeper settles it.
STALE_PENDING_AFTER = timedelta(minutes=5)


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



def _issue(shop: Shop, redemption: Redemption, spec: RewardSpec, quote: Quote, customer_id: int,
           now: datetime, actor: str | None) -> Redemption:
    assert redemption.expires_at is not None
    request = discount_input(spec, quote, redemption.code, customer_id, now - CLOCK_SKEW, redemption.expires_at)
    discount_gid, why = create_code(shop, request, redemption.code)
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
            discount_gid, why = find_or_create_code(shop, request, redemption.code)
            if discount_gid:
                redemption.status = "issued"
                redemption.discount_gid = discount_gid
            else:
                _reverse(redemption, why or "unknown", "system")
        db.session.commit()
        settled += 1
    return settled



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
    discount_gid, why = create_code(shop, request, code)
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
