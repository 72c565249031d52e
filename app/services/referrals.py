"""Referrals: member codes and links, friend codes, server-side attribution, fraud review, advocate rewards."""

from __future__ import annotations

from datetime import datetime

from app.models import Member, Order, Referral, Shop


class UnknownReferralCode(LookupError):
    pass


def ensure_code(member: Member) -> str:
    raise NotImplementedError


def referral_url(shop: Shop, member: Member) -> str:
    raise NotImplementedError


def create_friend_code(shop: Shop, advocate_code: str, email: str, *, now: datetime | None = None) -> Referral:
    raise NotImplementedError


def on_order_changed(shop: Shop, order: Order) -> None:
    return None


def process_due(now: datetime | None = None) -> int:
    return 0


def approve(shop: Shop, referral_id: int, actor: str) -> Referral:
    raise NotImplementedError


def reject(shop: Shop, referral_id: int, actor: str) -> Referral:
    raise NotImplementedError


def list_referrals(shop: Shop, status: str | None = None) -> list[Referral]:
    raise NotImplementedError
