"""What the customer account and checkout UI extensions show (/ext/v1): the signed-in member as the public API
answers them plus what the widget computes (rewards and why not, codes, history, the next tier), what a visitor
sees of the program, and the points one order of the customer's earned.

Nothing is computed here that the widget (app/services/member_view) or the public API
(app/services/member_documents) already computes: this module only puts their results into the extensions' JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.loyalty.order_knowledge import OrderKnowledge
from app.loyalty.orders import RuleSnapshot, why_no_points
from app.models import Order, Shop
from app.services import member_view
from app.services.catalogue import Catalogue, RewardInfo, catalogue_for
from app.services.member_documents import iso_time, member_document, redemption_document
from app.services.redemption_requests import RedemptionRequestError, redeem_request


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


def _reward(reward: RewardInfo, tier_name: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": reward.id, "name": reward.name, "type": reward.type,
                           "points_cost": reward.points_cost, "value": _money(reward.value),
                           "minimum_subtotal": _money(reward.minimum_subtotal), "tier": tier_name}
    if reward.type == "variable":
        out["min_points"], out["max_points"] = reward.variable_min_points, reward.variable_max_points
    return out


def visitor_program(shop: Shop, cat: Catalogue) -> dict[str, Any]:
    """The program as anyone may see it: how to earn, the tiers, the rewards (from the cached catalogue)."""
    s = cat.settings
    return {
        "enabled": s.enabled,
        "shop_name": shop.name or shop.domain,
        "currency": shop.currency,
        "points_per_currency_unit": _decimal(s.points_per_currency_unit),
        "signup_points": s.signup_points,
        "birthday_points": s.birthday_points,
        "pending_days": s.pending_days,
        "tier_metric": s.tier_metric,
        "tiers": [{"id": t.id, "name": t.name, "threshold": _decimal(t.threshold), "perks": t.perks} for t in cat.tiers],
        "rewards": [_reward(r, cat.tier_name(r.tier_id)) for r in cat.rewards],
        "actions": [{"key": a.key, "name": a.name, "points": a.points, "limit": a.limit} for a in cat.actions],
        "referral": {"friend_discount": _money(s.referral_friend_discount),
                     "advocate_points": s.referral_advocate_points},
    }


def member_answer(shop: Shop, customer_id: int | None, *, catalogue_version: str | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """`GET /ext/v1/member`: the member, or `{"member": null, "program": …}` for a visitor or a customer who
    has not joined (`signed_in` tells the two apart)."""
    now = now or datetime.now(UTC)
    member = member_view.find_member(shop, customer_id) if customer_id is not None else None
    if member is None or not member_view.is_member(member):
        cat = catalogue_for(shop, catalogue_version)
        return {"member": None, "signed_in": customer_id is not None, "program": visitor_program(shop, cat)}
    cat = catalogue_for(shop, catalogue_version)
    doc = member_document(shop, member, cat)  # first: it gives out the referral code the view links to
    view = member_view.build(shop, member, now, catalogue_version, pending_orders=True)
    rewards = []
    for row in view.rewards:
        item = {**_reward(row.reward, row.tier_name), "redeemable": row.refusal is None}
        if row.refusal is not None:
            item["reason"], item["reason_message"] = row.refusal.reason, row.refusal.message
        rewards.append(item)
    next_tier = None
    if view.next_tier is not None:
        next_tier = {"name": view.next_tier.name, "remaining": _decimal(view.missing),
                     "threshold": _decimal(view.next_tier.threshold), "progress_percent": view.progress_percent}
    birthday = ({"month": member.birthday_month, "day": member.birthday_day}
                if member.birthday_month and member.birthday_day else None)
    return {
        **doc,
        "member": {"customer_id": doc["customer_id"]},
        "birthday": birthday,
        "tier_perks": view.current_tier.perks if view.current_tier else None,
        "next_tier": next_tier,
        "pending": [{"order_id": str(p.order_id), "order_name": p.name, "points": p.points,
                     "available_at": iso_time(p.release_at)} for p in view.pending],
        "rewards": rewards,
        "codes": [{"code": c.code, "expires_at": iso_time(c.expires_at), "reward": c.reward_name} for c in view.codes],
        "history": [{"id": h.id, "points": h.points, "kind": h.kind, "source": h.source, "status": h.status,
                     "occurred_at": iso_time(h.occurred_at), "ref": h.ref, "note": h.note} for h in view.history],
        "actions": [{"key": a.action.key, "name": a.action.name, "points": a.action.points, "done": a.done}
                    for a in view.actions],
        "program": visitor_program(shop, cat),
    }


def order_answer(shop: Shop, customer_id: int | None, order_id: int) -> dict[str, Any] | None:
    """`GET /ext/v1/orders/{id}`: what one of the customer's orders earned; None (404) when it is not theirs."""
    if customer_id is None:
        return None
    row = db.session.execute(
        select(Order).where(Order.shop_id == shop.id, Order.order_id == order_id)).scalar_one_or_none()
    if row is None or row.customer_id != customer_id:
        return None
    answer: dict[str, Any] = {"order_id": str(row.order_id), "order_name": row.name, "points": row.points_target or 0}
    if row.points_pending and row.points_pending > 0:
        return {**answer, "status": "pending", "available_at": iso_time(row.points_release_at),
                "points_pending": row.points_pending}
    if answer["points"] > 0:
        return {**answer, "status": "available"}
    settings = member_view.program_settings(shop)
    if row.snapshot is None and not settings.enabled:
        return {**answer, "status": "none", "reason": "program_off"}
    knowledge = OrderKnowledge.from_dict(row.knowledge) if row.knowledge else None
    rules = RuleSnapshot.from_dict(row.snapshot) if row.snapshot else settings
    return {**answer, "status": "none", "reason": why_no_points(knowledge, rules)}


def redeem_answer(shop: Shop, customer_id: int | None, body: Any) -> dict[str, Any]:
    """`POST /ext/v1/redemptions`: the one redemption path, for the signed-in member; with the new balance.
    Raises RedemptionRequestError (403 when no member is signed in)."""
    if customer_id is None:
        raise RedemptionRequestError(403, "sign_in_required", "sign in to redeem rewards")
    member = member_view.find_member(shop, customer_id)
    if member is None or not member_view.is_member(member):
        raise RedemptionRequestError(403, "not_a_member", "join the program to redeem rewards")
    redemption = redeem_request(shop, member, body, actor=f"shopper:{customer_id}")
    db.session.refresh(member)
    return {**redemption_document(redemption), "points_available": member.points_available}
