"""Rewards and redemptions: the catalogue, debit-then-code redemption, used and expired codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models import Member, Order, Redemption, Reward, Shop


class RewardInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())))


class RewardNotFound(LookupError):
    pass


class RedemptionRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RedemptionFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def list_rewards(shop: Shop, *, active_only: bool = False) -> list[Reward]:
    raise NotImplementedError


def save_reward(shop: Shop, data: dict[str, Any], actor: str, reward_id: int | None = None) -> Reward:
    raise NotImplementedError


def delete_reward(shop: Shop, reward_id: int, actor: str) -> None:
    raise NotImplementedError


def redeem(shop: Shop, member: Member, reward_id: int, *, idempotency_key: str, points: int | None = None,
           actor: str | None = None) -> Redemption:
    raise NotImplementedError


def mark_codes_used(shop: Shop, order: Order) -> int:
    return 0


def expire_codes(now: datetime | None = None) -> int:
    return 0


def member_codes(member: Member) -> list[Redemption]:
    raise NotImplementedError
