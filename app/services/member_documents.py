"""A member, their ledger entries and redemptions as the JSON documents of contract.md: one shape for
the public API (/api/v1) and the UI extensions' backend (/ext/v1).

Representation: Shopify customer ids are strings (they exceed 2^53, which JavaScript numbers cannot hold);
money is a decimal string; points are integers; times are ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.extensions import db
from app.models import LedgerEntry, Member, Redemption, Shop, Tier
from app.services.catalogue import Catalogue, TierInfo
from app.services.referrals import ensure_code, referral_url


def iso_time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def member_document(shop: Shop, member: Member, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """`GET /api/v1/members/{id}`. Gives the member a referral code on first need (and commits it).

    With the shop's (cached) catalogue at hand the tier is read from it instead of the database."""
    had_code = bool(member.referral_code)
    code = ensure_code(member)
    if not had_code:
        db.session.commit()  # the code is given out once, on first need
    tier: Tier | TierInfo | None = None
    if member.tier_id and catalogue is not None:
        tier = next((t for t in catalogue.tiers if t.id == member.tier_id), None)
    if member.tier_id and tier is None:
        tier = db.session.get(Tier, member.tier_id)
    return {
        "customer_id": str(member.customer_id),
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "points_available": member.points_available,
        "points_pending": member.points_pending,
        "tier": {"id": tier.id, "name": tier.name, "handle": tier.handle} if tier else None,
        "referral_code": code,
        "referral_url": referral_url(shop, member),
        "lifetime_points": member.lifetime_points,
        "lifetime_spent": str(member.lifetime_spent or 0),
        "enrolled_at": iso_time(member.enrolled_at),
    }


def entry_document(e: LedgerEntry) -> dict[str, Any]:
    return {"id": e.id, "points": e.points, "kind": e.kind, "source": e.source, "status": e.status,
            "occurred_at": iso_time(e.occurred_at), "created_at": iso_time(e.created_at), "reason": e.reason,
            "note": e.note}


def redemption_document(r: Redemption) -> dict[str, Any]:
    return {"id": r.id, "code": r.code, "points": r.points, "expires_at": iso_time(r.expires_at),
            "status": r.status, "reward_id": r.reward_id, "reward_name": r.reward_name, "value": str(r.value)}
