"""What the admin reads about members and referrals: search, filters, sorts and pages, and one member's full picture."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, case, func, or_, select

from app.extensions import db
from app.models import LedgerEntry, Member, Redemption, Referral, Shop, Tier, TierChange, utcnow

PAGE_SIZE = 25
SORTS: dict[str, tuple[Any, ...]] = {
    # Each sort has an index (migration 0004_admin) so a page is read from the index, not a full sort.
    "balance": (Member.points_available.desc(), Member.id.desc()),
    "spend": (Member.lifetime_spent.desc(), Member.id.desc()),
    "last_order": (Member.last_order_at.desc().nulls_last(), Member.id.desc()),
    "newest": (Member.id.desc(),),
}
SEGMENTS = {
    "active": "Ordered in the last 30 days",
    "lapsing": "Last order 31–90 days ago",
    "lapsed": "Last order more than 90 days ago",
    "no_orders": "Never ordered",
    "negative_balance": "Balance below zero",
}


@dataclass(frozen=True)
class MemberPage:
    members: list[Member]
    total: int
    page: int
    pages: int


def _filtered(shop: Shop, q: str | None, tier_id: int | None, segment: str | None) -> Select[Any]:
    stmt = select(Member).where(Member.shop_id == shop.id, Member.deleted_at.is_(None), Member.enrolled_at.is_not(None))
    if q:
        # What the merchant typed is matched literally: % and _ are characters here, not LIKE's wildcards.
        like = "%" + escape_like(q.strip().lower()) + "%"
        full_name = func.lower(func.coalesce(Member.first_name, "") + " " + func.coalesce(Member.last_name, ""))
        stmt = stmt.where(or_(func.lower(Member.email).like(like, escape="\\"), full_name.like(like, escape="\\")))
    if tier_id is not None:
        stmt = stmt.where(Member.tier_id == tier_id)
    now = utcnow()
    if segment == "active":
        stmt = stmt.where(Member.last_order_at > now - timedelta(days=31))
    elif segment == "lapsing":
        stmt = stmt.where(Member.last_order_at <= now - timedelta(days=31), Member.last_order_at > now - timedelta(days=91))
    elif segment == "lapsed":
        stmt = stmt.where(Member.last_order_at <= now - timedelta(days=91))
    elif segment == "no_orders":
        stmt = stmt.where(Member.last_order_at.is_(None))
    elif segment == "negative_balance":
        stmt = stmt.where(Member.points_available < 0)
    return stmt


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches only itself (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_members(shop: Shop, *, q: str | None = None, tier_id: int | None = None, segment: str | None = None,
                   sort: str = "balance", page: int = 1, page_size: int = PAGE_SIZE) -> MemberPage:
    stmt = _filtered(shop, q, tier_id, segment)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = db.session.execute(stmt.order_by(*SORTS.get(sort, SORTS["balance"]))
                              .limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return MemberPage(list(rows), int(total), page, pages)


def find_member(shop: Shop, customer_id: int) -> Member | None:
    return db.session.execute(
        select(Member).where(Member.shop_id == shop.id, Member.customer_id == customer_id, Member.deleted_at.is_(None))
    ).scalar_one_or_none()


def tier_names(shop: Shop) -> dict[int, str]:
    return {t.id: t.name for t in db.session.execute(select(Tier).where(Tier.shop_id == shop.id)).scalars()}


def member_detail(shop: Shop, member: Member, ledger_limit: int = 100) -> dict[str, Any]:
    """Everything the member page shows: balances, tier and its history, ledger, codes, referrals."""
    ledger = db.session.execute(select(LedgerEntry).where(LedgerEntry.member_id == member.id)
                                .order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc())
                                .limit(ledger_limit)).scalars().all()
    changes = db.session.execute(select(TierChange).where(TierChange.member_id == member.id)
                                 .order_by(TierChange.occurred_at.desc(), TierChange.id.desc()).limit(50)).scalars().all()
    codes = db.session.execute(select(Redemption).where(Redemption.member_id == member.id)
                               .order_by(Redemption.id.desc()).limit(50)).scalars().all()
    referrals = db.session.execute(select(Referral).where(Referral.advocate_member_id == member.id)
                                   .order_by(Referral.id.desc()).limit(50)).scalars().all()
    return {"ledger": list(ledger), "tier_changes": list(changes), "codes": list(codes), "referrals": list(referrals)}


def enrolled_count(shop: Shop) -> int:
    return int(db.session.execute(select(func.count()).where(
        Member.shop_id == shop.id, Member.enrolled_at.is_not(None))).scalar_one())


# --- referrals -------------------------------------------------------------------------------------

# Each status and how the admin says it (the index's filter and its badges).
REFERRAL_STATUSES: dict[str, str] = {
    "invited": "Invited",
    "pending": "Ordered, waiting for the pending period",
    "completed": "Rewarded",
    "withdrawn": "Withdrawn (order cancelled or refunded)",
    "blocked": "Blocked as self-referral",
    "review": "Needs your review",
    "rejected": "Rejected",
}
# "status" groups the ones waiting for the merchant (review) first, then the rest in the order above.
REFERRAL_SORTS = ("newest", "oldest", "status")


@dataclass(frozen=True)
class ReferralPage:
    rows: list[tuple[Referral, Member]]
    total: int
    page: int
    pages: int


def search_referrals(shop: Shop, *, q: str | None = None, status: str | None = None, sort: str = "newest",
                     page: int = 1, page_size: int = PAGE_SIZE) -> ReferralPage:
    """Referrals with their advocate; `q` matches the advocate's name or email or the friend's email."""
    stmt = select(Referral, Member).join(Member, Member.id == Referral.advocate_member_id).where(
        Referral.shop_id == shop.id)
    if status:
        stmt = stmt.where(Referral.status == status)
    if q and q.strip():
        like = "%" + escape_like(q.strip().lower()) + "%"
        full_name = func.lower(func.coalesce(Member.first_name, "") + " " + func.coalesce(Member.last_name, ""))
        stmt = stmt.where(or_(func.lower(Member.email).like(like, escape="\\"), full_name.like(like, escape="\\"),
                              func.lower(Referral.friend_email).like(like, escape="\\")))
    total = int(db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    if sort == "oldest":
        order: tuple[Any, ...] = (Referral.id.asc(),)
    elif sort == "status":
        rank = case({s: i for i, s in enumerate(("review", *[x for x in REFERRAL_STATUSES if x != "review"]))},
                    value=Referral.status, else_=len(REFERRAL_STATUSES))
        order = (rank, Referral.id.desc())
    else:
        order = (Referral.id.desc(),)
    rows = db.session.execute(stmt.order_by(*order).limit(page_size).offset((page - 1) * page_size)).all()
    return ReferralPage([(r, m) for r, m in rows], total, page, pages)
