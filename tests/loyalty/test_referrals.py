"""Referral codes, normalisation, fraud signals and when the advocate is rewarded."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

from app.loyalty.referrals import (
    CROCKFORD_ALPHABET,
    Address,
    Party,
    advocate_reward_due,
    fraud_signals,
    is_referral_code,
    normalize_code,
    normalize_email,
    referral_code,
    referral_decision,
    referral_url,
)

ADVOCATE = Party(customer_id=1, email="Jane.Doe@gmail.com",
                 shipping_address=Address("1 Main St.", "", "Cluj", "400 000", "RO"), browser_ip="203.0.113.1")
FRIEND = Party(customer_id=2, email="bob@example.com",
               shipping_address=Address("9 Elm Rd", "", "Iasi", "700000", "RO"), browser_ip="198.51.100.7")


def signals_of(friend: Party, **kw: object) -> set[str]:
    args: dict[str, object] = {"friend_prior_paid_orders": 0, "advocate_browser_ips": {"203.0.113.1"},
                               "advocate_referrals_this_month": 0, "monthly_limit": 10}
    args.update(kw)
    return {s.code for s in fraud_signals(ADVOCATE, friend, **args)}  # type: ignore[arg-type]


def test_referral_codes_are_8_crockford_characters() -> None:
    rng = random.Random(1)
    codes = {referral_code(rng) for _ in range(2000)}
    assert len(codes) == 2000
    assert all(re.fullmatch(f"[{CROCKFORD_ALPHABET}]{{8}}", c) and is_referral_code(c) for c in codes)
    assert not set("ILOU") & set("".join(codes))


def test_typed_codes_are_normalised() -> None:
    assert normalize_code("abcd-efgh") == "ABCDEFGH"
    assert normalize_code(" o1lI-xyz9 ") == "0111XYZ9"


def test_referral_url_goes_through_the_app_proxy() -> None:
    assert referral_url("shop.example", "ABCD1234") == "https://shop.example/apps/regulars/r/ABCD1234"


def test_email_normalisation() -> None:
    assert normalize_email("J.Doe+shop@GoogleMail.com") == "jdoe@gmail.com"
    assert normalize_email("jane.doe@gmail.com") == normalize_email("JaneDoe+x@gmail.com")
    assert normalize_email("jane.doe+promo@example.com") == "jane.doe@example.com"  # dots only matter to Gmail
    assert normalize_email("NoAt") == "noat"


def test_a_genuine_friend_is_ok() -> None:
    assert signals_of(FRIEND) == set()
    assert referral_decision(fraud_signals(ADVOCATE, FRIEND, 0, set(), 0, 10)) == "ok"


def test_self_referrals_block() -> None:
    assert "self_referral_customer" in signals_of(Party(customer_id=1))
    assert signals_of(Party(customer_id=3, email="janedoe+2@googlemail.com")) == {"self_referral_email"}
    same_place = Party(customer_id=4, shipping_address=Address("1 main st", "", "CLUJ", "400000", "ro"))
    assert signals_of(same_place) == {"self_referral_address"}
    assert referral_decision(fraud_signals(ADVOCATE, same_place, 0, set(), 0, 10)) == "block"


def test_a_friend_who_already_bought_is_not_new_and_blocks() -> None:
    assert signals_of(FRIEND, friend_prior_paid_orders=1) == {"friend_not_new"}
    assert referral_decision(fraud_signals(ADVOCATE, FRIEND, 2, set(), 0, 10)) == "block"


def test_same_ip_and_too_many_referrals_go_to_review() -> None:
    same_ip = Party(customer_id=5, email="x@example.com", browser_ip="203.0.113.1")
    assert signals_of(same_ip) == {"same_browser_ip"}
    assert signals_of(FRIEND, advocate_referrals_this_month=10) == {"over_monthly_limit"}
    assert signals_of(FRIEND, advocate_referrals_this_month=9) == set()
    assert referral_decision(fraud_signals(ADVOCATE, same_ip, 0, {"203.0.113.1"}, 0, 10)) == "review"


def test_advocate_reward_waits_for_the_pending_period_and_is_withdrawn_if_the_order_goes() -> None:
    paid = datetime(2026, 5, 1, tzinfo=UTC)
    assert advocate_reward_due(paid, 14, paid + timedelta(days=13), True) == "wait"
    assert advocate_reward_due(paid, 14, paid + timedelta(days=14), True) == "award"
    assert advocate_reward_due(paid, 14, paid + timedelta(days=3), False) == "withdraw"
    assert advocate_reward_due(paid, 0, paid, True) == "award"
