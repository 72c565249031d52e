"""Balances, redemption guard, the reversal policy and deterministic idempotency keys."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.loyalty import ledger
from app.loyalty.ledger import Balance, apply_reversal_policy, balance_of, can_redeem


def test_balance_is_the_sum_of_entries_by_status() -> None:
    entries = [(449, "pending"), (100, "available"), (-449, "pending"), (449, "available"), (-500, "available")]
    assert balance_of(entries) == Balance(available=49, pending=0)
    assert balance_of([(10, "pending"), (-30, "available")]).total == -20


def test_redemption_needs_a_covering_non_negative_balance() -> None:
    assert can_redeem(500, 500)
    assert not can_redeem(499, 500)
    assert not can_redeem(-10, 0)
    assert not can_redeem(1000, 0)


def test_allow_negative_takes_pending_first_then_goes_below_zero() -> None:
    decision = apply_reversal_policy("allow_negative", available_balance=20, pending_of_order=100, reduction=300)
    assert (decision.pending_taken, decision.available_taken, decision.forgiven) == (100, 200, 0)


def test_cap_at_zero_stops_at_zero_and_forgives_the_rest() -> None:
    decision = apply_reversal_policy("cap_at_zero", available_balance=20, pending_of_order=100, reduction=300)
    assert (decision.pending_taken, decision.available_taken, decision.forgiven) == (100, 20, 180)
    # an already negative balance gives nothing more
    decision = apply_reversal_policy("cap_at_zero", available_balance=-50, pending_of_order=0, reduction=40)
    assert (decision.available_taken, decision.forgiven) == (0, 40)
    # a balance that covers it forgives nothing
    decision = apply_reversal_policy("cap_at_zero", available_balance=1000, pending_of_order=0, reduction=40)
    assert (decision.available_taken, decision.forgiven) == (40, 0)


def test_idempotency_keys_are_deterministic_and_distinct() -> None:
    cid = 7_000_000_000_000_001
    assert ledger.signup_key(cid) == ledger.signup_key(cid) == "signup:7000000000000001"
    assert ledger.birthday_key(cid, 2025) != ledger.birthday_key(cid, 2026)
    assert ledger.expiry_key(cid, date(2026, 1, 2)) == ledger.expiry_key(cid, datetime(2026, 1, 2, 3, tzinfo=UTC))
    assert ledger.order_change_key(5, "abc") != ledger.order_change_key(5, "abd")
    keys = {ledger.signup_key(1), ledger.birthday_key(1, 2025), ledger.anniversary_key(1, 2025),
            ledger.tier_bonus_key(1, 1), ledger.redeem_key(1, "r"), ledger.redeem_reversed_key(1, "r"),
            ledger.referral_advocate_key(1), ledger.referral_withdrawn_key(1), ledger.admin_adjustment_key("r"),
            ledger.import_key(1, 1), ledger.campaign_bonus_key(1, 1), ledger.code_refunded_key("REG-1")}
    assert len(keys) == 12


def test_every_kind_named_in_the_rules_exists() -> None:
    for kind in ["earn_order", "reverse_order", "pending_released", "signup", "birthday", "anniversary", "action",
                 "campaign_bonus", "tier_bonus", "referral_advocate", "redeem", "redeem_reversed", "code_refunded",
                 "admin_adjustment", "import", "expiry", "forgiven"]:
        assert kind in ledger.ENTRY_KINDS
    assert ledger.REDEEM not in ledger.EARNING_KINDS and ledger.ADMIN_ADJUSTMENT not in ledger.EARNING_KINDS
