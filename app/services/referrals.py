"""Referrals: member codes and links, friend codes, server-side attribution, fraud review, advocate rewards.

Attribution needs no cookie: a paid order that carries a friend's one-use code is the referral. The
fraud signals of app.loyalty.referrals decide: blocking ones (self-referral, friend not new) block the
reward, the others put the referral in the merchant's review queue. The advocate's points come once
the friend's order has passed the pending period, and never if it was cancelled or refunded before.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.order_knowledge import PAID_STATUSES
from app.loyalty.referrals import (
    Party,
    Signal,
    advocate_reward_due,
    crockford_string,
    fraud_signals,
    normalize_code,
    normalize_email,
    referral_code,
    referral_decision,
)
from app.loyalty.referrals import referral_url as domain_referral_url
from app.models import Member, Order, Referral, Shop, utcnow
from app.services import audit, due
from app.services.ledger import emit_event, lock_member, post_entry
from app.services.reward_codes import CLOCK_SKEW
from app.services.rewards import settings_of
from app.services.shops import ShopNotInstalled, admin_graphql
from app.services.work import request_writeback
from app.shopify import GraphQLError
from app.shopify.adapter import ShopifyUnavailable
from app.shopify.discounts import FRIEND_CODE_MUTATION, friend_discount_input, parse_created

log = logging.getLogger(__name__)
_rng = random.SystemRandom()
FRIEND_CODE_PREFIX = "FRIEND-"


class UnknownReferralCode(LookupError):
    """No member of this shop has that referral code."""


class ReferralNotFound(LookupError):
    """No such referral in this shop."""


class ReferralStateError(ValueError):
    """The referral is not in a state that allows this (e.g. approving one that is not in review)."""


class FriendCodeFailed(RuntimeError):
    """Shopify did not create the friend's discount code; `message` is for the friend."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _settings(shop: Shop) -> Any:

    return settings_of(shop)


# --------------------------------------------------------------------------------------- codes and links


def ensure_code(member: Member) -> str:
    """The member's referral code, given out on first need (unique per shop). Flushes, does not commit."""
    if member.referral_code:
        return member.referral_code
    for _ in range(10):
        code = referral_code(_rng)
        taken = db.session.execute(
            select(Member.id).where(Member.shop_id == member.shop_id, Member.referral_code == code)
        ).first()
        if taken:
            continue
        try:
            with db.session.begin_nested():
                member.referral_code = code
                db.session.flush()
            return code
        except IntegrityError:  # another worker took it between our look and our write
            member.referral_code = None
    raise RuntimeError("could not find a free referral code")


def referral_url(shop: Shop, member: Member) -> str:
    return domain_referral_url(shop.domain, ensure_code(member))


def find_advocate(shop: Shop, code: str) -> Member | None:
    normalized = normalize_code(code or "")
    if not normalized:
        return None
    return db.session.execute(
        select(Member).where(Member.shop_id == shop.id, Member.referral_code == normalized)
    ).scalar_one_or_none()


def create_friend_code(shop: Shop, advocate_code: str, email: str, *, now: datetime | None = None) -> Referral:
    """The friend's one-use discount code (default 10.00 off), created in Shopify. Commits.

    Asking again with the same email for the same advocate returns the same code. Raises
    UnknownReferralCode, ValueError (no usable email) or FriendCodeFailed (Shopify refused).
    """

    advocate = find_advocate(shop, advocate_code)
    if advocate is None or advocate.deleted_at is not None:
        raise UnknownReferralCode(advocate_code)
    if not email or "@" not in email or len(email) > 320:
        raise ValueError("a valid email is required")
    now = now or utcnow()
    normalized = normalize_email(email)
    existing = db.session.execute(
        select(Referral).where(Referral.shop_id == shop.id, Referral.advocate_member_id == advocate.id,
                               Referral.friend_email_normalized == normalized, Referral.status == "invited")
    ).scalars().first()
    if existing is not None:
        return existing
    settings = _settings(shop)
    code = FRIEND_CODE_PREFIX + crockford_string(_rng, 10)
    request = friend_discount_input(code, settings.referral_friend_discount, now - CLOCK_SKEW,
                                    now + timedelta(days=settings.code_expiry_days))
    message = "We couldn't create your discount code just now. Please try again in a few minutes."
    try:
        data = admin_graphql(shop, FRIEND_CODE_MUTATION, request.variables)
    except (ShopifyUnavailable, GraphQLError, ShopNotInstalled) as exc:
        log.warning("friend code for %s failed: %s", shop.domain, exc)
        raise FriendCodeFailed(message) from exc
    created = parse_created(data, request)
    if created.discount_id is None:
        log.warning("friend code for %s refused: %s", shop.domain, created.errors)
        raise FriendCodeFailed(message)
    referral = Referral(shop_id=shop.id, advocate_member_id=advocate.id, friend_email=email.strip(),
                        friend_email_normalized=normalized, friend_code=code, friend_discount_gid=created.discount_id,
                        status="invited", created_at=now)
    db.session.add(referral)
    db.session.commit()
    return referral


# --------------------------------------------------------------------------------------- attribution


def _order_valid(order: Order) -> bool:
    return not order.cancelled and order.financial_status in PAID_STATUSES


def _order_codes(order: Order) -> set[str]:
    out = set()
    for c in order.discount_codes or []:
        text = str(c.get("code") if isinstance(c, dict) else c).strip().upper()
        if text:
            out.add(text)
    return out


def on_order_changed(shop: Shop, order: Order, now: datetime | None = None) -> None:
    """After each order change (inside the order drain's transaction: no commit).

    A paid order carrying an unused friend code attributes that referral and scores it; a cancelled or
    fully refunded order withdraws a referral still waiting for its advocate reward.
    """
    attributed = db.session.execute(
        select(Referral).where(Referral.shop_id == shop.id, Referral.order_id == order.order_id).with_for_update()
    ).scalars().all()
    if attributed:
        if not _order_valid(order):
            for referral in attributed:
                if referral.status in ("pending", "review"):
                    referral.status = "withdrawn"
                    emit_event(shop.id, referral.advocate_member_id, "referral_withdrawn",
                               {"referral_id": referral.id, "order_id": str(order.order_id)})
        return
    if not _order_valid(order):
        return
    codes = _order_codes(order)
    if not codes:
        return
    found = db.session.execute(
        select(Referral).where(Referral.shop_id == shop.id, Referral.status == "invited",
                               func.upper(Referral.friend_code).in_(codes)).with_for_update()
    ).scalars().first()
    if found is not None:
        _attribute(shop, found, order, now or utcnow())


def _attribute(shop: Shop, referral: Referral, order: Order, now: datetime) -> None:
    advocate = db.session.get(Member, referral.advocate_member_id)
    assert advocate is not None
    paid_at = order.paid_at or order.processed_at or utcnow()
    settings = _settings(shop)

    friend_email = order.email or referral.friend_email
    prior_q = select(func.count(Order.id)).where(
        Order.shop_id == shop.id, Order.id != order.id, Order.financial_status.in_(PAID_STATUSES),
        Order.cancelled.is_(False), func.coalesce(Order.paid_at, Order.processed_at) < paid_at,
    )
    who = []
    if order.customer_id is not None:
        who.append(Order.customer_id == order.customer_id)
    if friend_email:
        who.append(func.lower(Order.email) == friend_email.strip().lower())
    prior = 0
    if who:

        prior = int(db.session.execute(prior_q.where(or_(*who))).scalar_one())

    advocate_ips = [ip for ip in db.session.execute(
        select(Order.browser_ip).where(
            Order.shop_id == shop.id, Order.id != order.id, Order.browser_ip.is_not(None),
            (Order.member_id == advocate.id) | (Order.customer_id == advocate.customer_id))
    ).scalars() if ip]
    month_start = paid_at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = int(db.session.execute(
        select(func.count(Referral.id)).where(
            Referral.advocate_member_id == advocate.id, Referral.id != referral.id,
            Referral.order_paid_at >= month_start, Referral.order_paid_at <= paid_at)
    ).scalar_one())

    signals: list[Signal] = fraud_signals(
        Party(customer_id=advocate.customer_id, email=advocate.email),
        Party(customer_id=order.customer_id, email=friend_email, browser_ip=order.browser_ip),
        prior, advocate_ips, this_month, settings.referral_monthly_limit,
    )
    advocate_prints = {advocate.address_fingerprint} | set(db.session.execute(
        select(Order.address_fingerprint).where(Order.shop_id == shop.id, Order.id != order.id,
                                                Order.customer_id == advocate.customer_id)
    ).scalars())
    advocate_prints.discard(None)
    if order.address_fingerprint and order.address_fingerprint in advocate_prints:
        signals.append(Signal("self_referral_address", True, "the order ships to the advocate's address"))

    decision = referral_decision(signals)
    referral.order_id = order.order_id
    referral.friend_customer_id = order.customer_id
    referral.order_paid_at = paid_at
    referral.signals = [{"code": s.code, "blocking": s.blocking, "detail": s.detail} for s in signals]
    referral.status = {"block": "blocked", "review": "review", "ok": "pending"}[decision]
    if order.member_id is not None and decision != "block":
        friend = db.session.get(Member, order.member_id)
        if friend is not None and friend.referred_by_member_id is None and friend.id != advocate.id:
            friend.referred_by_member_id = advocate.id
    kind = {"block": "referral_blocked", "review": "referral_flagged", "ok": "referral_attributed"}[decision]
    emit_event(shop.id, advocate.id, kind, {"referral_id": referral.id, "order_id": str(order.order_id),
                                            "signals": [s.code for s in signals]})
    if referral.status == "pending":
        # The advocate's reward the moment the order passes the pending period: now, in this transaction,
        # when it already has (pending_days 0, or a late order), else at that moment.
        _settle_or_schedule(shop, referral, now)


def _due_at(shop: Shop, referral: Referral) -> datetime | None:
    if referral.order_paid_at is None:
        return None
    return referral.order_paid_at + timedelta(days=_settings(shop).pending_days)


def _settle_or_schedule(shop: Shop, referral: Referral, now: datetime) -> str:
    """Settles a pending referral that is due; records a due one for its moment. Does not commit."""
    outcome = _settle(shop, referral, now)
    when = _due_at(shop, referral)
    if outcome == "wait" and when is not None:
        due.at("settle-referral", referral.id, due_at=when)
    return outcome


# --------------------------------------------------------------------------------------- advocate reward


def _settle(shop: Shop, referral: Referral, now: datetime) -> str:
    """Awards or withdraws a pending referral when it is due; returns what happened. Does not commit."""
    order = db.session.execute(
        select(Order).where(Order.shop_id == shop.id, Order.order_id == referral.order_id)
    ).scalar_one_or_none()
    valid = order is not None and _order_valid(order)
    settings = _settings(shop)
    paid_at = referral.order_paid_at or (order.paid_at if order else None) or now
    decision = advocate_reward_due(paid_at, settings.pending_days, now, valid)
    if decision == "withdraw":
        referral.status = "withdrawn"
        emit_event(shop.id, referral.advocate_member_id, "referral_withdrawn", {"referral_id": referral.id})
    elif decision == "award":
        advocate = lock_member(referral.advocate_member_id)
        post_entry(advocate, points=settings.referral_advocate_points, kind=rules.REFERRAL_ADVOCATE,
                   source=rules.SOURCE_REFERRAL, source_id=str(referral.id),
                   idempotency_key=rules.referral_advocate_key(referral.id), reason="friend's first order",
                   now=now, occurred_at=paid_at + timedelta(days=settings.pending_days),
                   emit="referral_completed", emit_payload={"referral_id": referral.id})
        referral.status = "completed"
        referral.completed_at = now
    return decision


def settle_now(referral_id: int, now: datetime | None = None) -> str:
    """The timer's entry (app.services.due "settle-referral"): one pending referral, settled if due. Commits."""
    referral = db.session.execute(
        select(Referral).where(Referral.id == referral_id, Referral.status == "pending").with_for_update()
    ).scalar_one_or_none()
    if referral is None:
        db.session.rollback()
        return "gone"
    shop = db.session.get(Shop, referral.shop_id)
    if shop is None or not shop.active:
        db.session.rollback()
        return "gone"
    outcome = _settle_or_schedule(shop, referral, now or utcnow())
    db.session.commit()
    if outcome == "award":

        request_writeback()
    return outcome


def process_due(now: datetime | None = None) -> int:
    """Every pending referral across shops: advocate rewarded once due, withdrawn if the order is gone.
    Returns how many advocates were rewarded. Commits per referral."""
    now = now or utcnow()
    ids = list(db.session.execute(
        select(Referral.id).join(Shop, Shop.id == Referral.shop_id)
        .where(Referral.status == "pending", Shop.uninstalled_at.is_(None)).order_by(Referral.id)
    ).scalars())
    awarded = 0
    for rid in ids:
        referral = db.session.execute(
            select(Referral).where(Referral.id == rid, Referral.status == "pending").with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if referral is None:
            db.session.rollback()
            continue
        shop = db.session.get(Shop, referral.shop_id)
        assert shop is not None
        if _settle(shop, referral, now) == "award":
            awarded += 1
        db.session.commit()
    if awarded:

        request_writeback()
    return awarded


def get_referral(shop: Shop, referral_id: Any, *, lock: bool = False) -> Referral:
    try:
        rid = int(referral_id)
    except (TypeError, ValueError):
        raise ReferralNotFound(str(referral_id)) from None
    q = select(Referral).where(Referral.id == rid, Referral.shop_id == shop.id)
    if lock:
        q = q.with_for_update()
    referral = db.session.execute(q).scalar_one_or_none()
    if referral is None:
        raise ReferralNotFound(str(referral_id))
    return referral


def approve(shop: Shop, referral_id: int, actor: str, *, now: datetime | None = None) -> Referral:
    """The merchant clears a referral in review: the advocate is rewarded once the pending period has
    passed (at once if it already has). Commits."""
    referral = get_referral(shop, referral_id, lock=True)
    if referral.status != "review":
        db.session.rollback()
        raise ReferralStateError(f"only a referral in review can be approved (this one is {referral.status})")
    referral.status = "pending"
    referral.decided_by = actor
    outcome = _settle_or_schedule(shop, referral, now or utcnow())
    audit.record(shop, actor, "referral.approved", target_type="referral", target_id=referral.id,
                 details={"outcome": outcome})
    db.session.commit()
    if outcome == "award":

        request_writeback()
    return referral


def reject(shop: Shop, referral_id: int, actor: str) -> Referral:
    """The merchant refuses a referral in review (or still waiting): no advocate reward. Commits."""
    referral = get_referral(shop, referral_id, lock=True)
    if referral.status not in ("review", "pending"):
        db.session.rollback()
        raise ReferralStateError(f"only a referral in review or waiting can be rejected (this one is {referral.status})")
    referral.status = "rejected"
    referral.decided_by = actor
    audit.record(shop, actor, "referral.rejected", target_type="referral", target_id=referral.id)
    db.session.commit()
    return referral


def list_referrals(shop: Shop, status: str | None = None) -> list[Referral]:
    q = select(Referral).where(Referral.shop_id == shop.id)
    if status:
        q = q.where(Referral.status == status)
    return list(db.session.execute(q.order_by(Referral.id.desc())).scalars())
