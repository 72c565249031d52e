"""Ledger vocabulary and arithmetic: entry kinds, statuses, balances, the reversal policy, idempotency keys."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from app.loyalty.settings import ReversalPolicy

# Entry kinds (why the points moved). An entry's ``source`` names what caused it (see SOURCE_*).
EARN_ORDER: Final = "earn_order"
REVERSE_ORDER: Final = "reverse_order"
PENDING_RELEASED: Final = "pending_released"
SIGNUP: Final = "signup"
BIRTHDAY: Final = "birthday"
ANNIVERSARY: Final = "anniversary"
ACTION: Final = "action"
CAMPAIGN_BONUS: Final = "campaign_bonus"
TIER_BONUS: Final = "tier_bonus"
REFERRAL_ADVOCATE: Final = "referral_advocate"
REDEEM: Final = "redeem"
REDEEM_REVERSED: Final = "redeem_reversed"
CODE_REFUNDED: Final = "code_refunded"
ADMIN_ADJUSTMENT: Final = "admin_adjustment"
IMPORT: Final = "import"
EXPIRY: Final = "expiry"
FORGIVEN: Final = "forgiven"
# Bonus points an automation step gives (its incentive); not an earning for the points_earned tier metric.
AUTOMATION_BONUS: Final = "automation_bonus"

ENTRY_KINDS: Final = (
    EARN_ORDER, REVERSE_ORDER, PENDING_RELEASED, SIGNUP, BIRTHDAY, ANNIVERSARY, ACTION, CAMPAIGN_BONUS,
    TIER_BONUS, REFERRAL_ADVOCATE, REDEEM, REDEEM_REVERSED, CODE_REFUNDED, ADMIN_ADJUSTMENT, IMPORT, EXPIRY,
    FORGIVEN, AUTOMATION_BONUS,
)

# Kinds that count as "points earned" for the points_earned tier metric: order and action earnings,
# not redemptions or admin adjustments (loyalty-rules.md, VIP tiers).
EARNING_KINDS: Final = frozenset(
    {EARN_ORDER, REVERSE_ORDER, SIGNUP, BIRTHDAY, ANNIVERSARY, ACTION, CAMPAIGN_BONUS, REFERRAL_ADVOCATE}
)

# Sources (what caused the entry)
SOURCE_ORDER: Final = "order"
SOURCE_REFUND: Final = "refund"
SOURCE_REWARD: Final = "reward"
SOURCE_REFERRAL: Final = "referral"
SOURCE_ADMIN: Final = "admin"
SOURCE_EXPIRY: Final = "expiry"
SOURCE_IMPORT: Final = "import"
SOURCE_ACTION: Final = "action"
SOURCE_CAMPAIGN: Final = "campaign"
SOURCE_TIER: Final = "tier"
SOURCE_SYSTEM: Final = "system"
SOURCE_AUTOMATION: Final = "automation"
SOURCES: Final = (
    SOURCE_ORDER, SOURCE_REFUND, SOURCE_REWARD, SOURCE_REFERRAL, SOURCE_ADMIN, SOURCE_EXPIRY, SOURCE_IMPORT,
    SOURCE_ACTION, SOURCE_CAMPAIGN, SOURCE_TIER, SOURCE_SYSTEM, SOURCE_AUTOMATION,
)

# Statuses
AVAILABLE: Final = "available"
PENDING: Final = "pending"
STATUSES: Final = (AVAILABLE, PENDING)


@dataclass(frozen=True)
class Balance:
    """A member's points: ``available`` (spendable, may be negative) and ``pending`` (earned, not yet)."""

    available: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        """available + pending: what counts for the points liability."""
        return self.available + self.pending


def balance_of(entries: Iterable[tuple[int, str]]) -> Balance:
    """Sum ``(points, status)`` pairs into a Balance: the balance is always the sum of the entries.

    A pending release is booked as two entries (−n pending, +n available), so it needs no special case.
    """
    available = pending = 0
    for points, status in entries:
        if status == AVAILABLE:
            available += points
        elif status == PENDING:
            pending += points
        else:
            raise ValueError(f"unknown status {status!r}")
    return Balance(available, pending)


def can_redeem(available: int, cost: int) -> bool:
    """True when a positive ``cost`` is covered: never with a negative balance or a short one."""
    return cost > 0 and available >= 0 and available >= cost


def adjustment_takes_balance_below_zero(available: int, points: int) -> bool:
    """A manual adjustment that removes points and leaves the available balance below zero: refused unless the
    merchant says so explicitly (contract.md, `allow_negative`). Adding points is always allowed, even to a
    balance that stays negative."""
    return points < 0 and available + points < 0


@dataclass(frozen=True)
class ReversalDecision:
    """How a reduction of ``pending_taken + available_taken + forgiven`` points is booked.

    Book a ``reverse_order`` entry for the whole reduction (−pending_taken pending,
    −(available_taken + forgiven) available) and, when ``forgiven`` > 0, a ``forgiven`` entry of
    +forgiven available. The member's balance then moves by exactly −pending_taken −available_taken,
    while the order's own entries (earn_order + reverse_order) still add up to its target.
    """

    pending_taken: int
    available_taken: int
    forgiven: int

    @property
    def total(self) -> int:
        return self.pending_taken + self.available_taken + self.forgiven


def apply_reversal_policy(
    policy: ReversalPolicy, available_balance: int, pending_of_order: int, reduction: int
) -> ReversalDecision:
    """Split a reduction of ``reduction`` (> 0) points of one order.

    The order's still-pending points are taken first. The rest comes from the member's available
    balance: with ``allow_negative`` all of it (the balance may go below zero); with ``cap_at_zero`` at
    most ``max(available_balance, 0)``, and what is left is ``forgiven``.
    """
    if reduction < 0:
        raise ValueError("reduction must not be negative")
    pending_taken = min(reduction, max(pending_of_order, 0))
    rest = reduction - pending_taken
    if policy == "allow_negative":
        return ReversalDecision(pending_taken, rest, 0)
    if policy == "cap_at_zero":
        taken = min(rest, max(available_balance, 0))
        return ReversalDecision(pending_taken, taken, rest - taken)
    raise ValueError(f"unknown reversal policy {policy!r}")


# Idempotency keys: deterministic, so a replay of the same event produces the same key and the
# unique index on (shop, key) turns it into a no-op. ``customer_id`` is the Shopify customer id.


def order_change_key(order_id: int, version: str) -> str:
    """Key of the entry that moves an order to the target of knowledge ``version`` (OrderKnowledge.version)."""
    return f"order:{order_id}:{version}"


def forgiven_key(change_key: str) -> str:
    """Key of the ``forgiven`` entry that accompanies the reversal booked under ``change_key``."""
    return f"{change_key}:forgiven"


def pending_release_key(entry_key: str) -> str:
    """Key of the release of the pending points booked under ``entry_key``."""
    return f"{entry_key}:release"


def signup_key(customer_id: int) -> str:
    return f"signup:{customer_id}"


def birthday_key(customer_id: int, year: int) -> str:
    return f"birthday:{customer_id}:{year}"


def anniversary_key(customer_id: int, year: int) -> str:
    return f"anniversary:{customer_id}:{year}"


def tier_bonus_key(customer_id: int, tier_id: int) -> str:
    """Once per member and tier, ever."""
    return f"tier-bonus:{customer_id}:{tier_id}"


def campaign_bonus_key(campaign_id: int, order_id: int) -> str:
    return f"campaign:{campaign_id}:order:{order_id}"


def referral_advocate_key(referral_id: int) -> str:
    return f"referral:{referral_id}:advocate"


def referral_withdrawn_key(referral_id: int) -> str:
    return f"referral:{referral_id}:withdrawn"


def redeem_key(customer_id: int, request_key: str) -> str:
    """Key of a redemption's debit; ``request_key`` is the idempotency key the request carried."""
    return f"redeem:{customer_id}:{request_key}"


def redeem_reversed_key(customer_id: int, request_key: str) -> str:
    return f"redeem-reversed:{customer_id}:{request_key}"


def code_refunded_key(code: str) -> str:
    return f"code-refunded:{code}"


def admin_adjustment_key(request_key: str) -> str:
    return f"admin:{request_key}"


def import_key(import_id: int, row: int) -> str:
    return f"import:{import_id}:{row}"


def expiry_key(customer_id: int, expires_on: date | datetime) -> str:
    """One expiry per member and expiry date."""
    day = expires_on.date() if isinstance(expires_on, datetime) else expires_on
    return f"expiry:{customer_id}:{day.isoformat()}"


def expiry_reminder_key(customer_id: int, expires_on: date | datetime, days_before: int) -> str:
    day = expires_on.date() if isinstance(expires_on, datetime) else expires_on
    return f"expiry-reminder:{customer_id}:{day.isoformat()}:{days_before}"
