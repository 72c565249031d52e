"""Referrals: codes and links, email/address normalisation, fraud signals and when the advocate is rewarded."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERRAL_CODE_LENGTH = 8
_LOOKALIKES = str.maketrans("ILO", "110")
_CODE_RE = re.compile(f"[{CROCKFORD_ALPHABET}]{{{REFERRAL_CODE_LENGTH}}}")


class RandomBits(Protocol):
    """``random.SystemRandom()`` (use it in production) or a seeded ``random.Random`` in tests."""

    def getrandbits(self, k: int, /) -> int: ...


def crockford_string(rng: RandomBits, length: int) -> str:
    """``length`` uniformly random Crockford base32 characters (5 random bits each)."""
    bits = rng.getrandbits(5 * length)
    chars = []
    for _ in range(length):
        chars.append(CROCKFORD_ALPHABET[bits & 31])
        bits >>= 5
    return "".join(chars)


def referral_code(rng: RandomBits) -> str:
    """A member's referral code: 8 Crockford base32 characters (40 bits). Retry on a clash in the shop."""
    return crockford_string(rng, REFERRAL_CODE_LENGTH)


def normalize_code(text: str) -> str:
    """What a person typed → the code: uppercase, I/L → 1, O → 0, spaces and hyphens dropped."""
    code = re.sub(r"[\s-]+", "", text).upper()
    return code.translate(_LOOKALIKES)


def is_referral_code(text: str) -> bool:
    """Whether ``text`` (already normalised) has the shape of a referral code."""
    return bool(_CODE_RE.fullmatch(text))


def referral_url(shop_domain: str, code: str) -> str:
    """The member's link through the app proxy."""
    return f"https://{shop_domain}/apps/regulars/r/{code}"


_GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}


def normalize_email(email: str) -> str:
    """Email as a person, not a string: lowercase, ``+tag`` dropped, and for Gmail dots removed and
    googlemail.com mapped to gmail.com (``J.Doe+shop@GoogleMail.com`` → ``jdoe@gmail.com``)."""
    address = email.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


@dataclass(frozen=True)
class Address:
    """A shipping address, only as far as telling two people's addresses apart needs."""

    address1: str = ""
    address2: str = ""
    city: str = ""
    zip: str = ""
    country_code: str = ""

    def normalized(self) -> str:
        """Lowercase, accents and punctuation dropped, whitespace collapsed: equal for the same place."""
        parts = [self.address1, self.address2, self.city, self.zip.replace(" ", ""), self.country_code]
        out = []
        for part in parts:
            text = unicodedata.normalize("NFKD", part).encode("ascii", "ignore").decode("ascii").lower()
            out.append(" ".join(re.sub(r"[^a-z0-9]+", " ", text).split()))
        return "|".join(out)


@dataclass(frozen=True)
class Party:
    """One side of a referral (advocate or friend)."""

    customer_id: int | None = None
    email: str | None = None
    shipping_address: Address | None = None
    browser_ip: str | None = None


SignalCode = Literal[
    "self_referral_customer",
    "self_referral_email",
    "self_referral_address",
    "friend_not_new",
    "same_browser_ip",
    "over_monthly_limit",
]


@dataclass(frozen=True)
class Signal:
    """A fraud signal. ``blocking`` ones stop the reward; the others send the referral to review."""

    code: SignalCode
    blocking: bool
    detail: str


def fraud_signals(
    advocate: Party,
    friend: Party,
    friend_prior_paid_orders: int,
    advocate_browser_ips: Iterable[str],
    advocate_referrals_this_month: int,
    monthly_limit: int,
) -> list[Signal]:
    """Every fraud signal of a referral (friend's paid order using the friend code).

    Blocking: the friend is the advocate (same customer id, same normalised email, same normalised
    shipping address) or the friend is not new (``friend_prior_paid_orders`` > 0: paid orders before
    this one). Review: the friend's ``browser_ip`` is one of the advocate's order IPs; the advocate's
    referrals this month (``advocate_referrals_this_month``, not counting this one) already reach
    ``monthly_limit``.
    """
    signals: list[Signal] = []
    if advocate.customer_id is not None and advocate.customer_id == friend.customer_id:
        signals.append(Signal("self_referral_customer", True, "the friend is the advocate's own customer account"))
    if advocate.email and friend.email and normalize_email(advocate.email) == normalize_email(friend.email):
        signals.append(Signal("self_referral_email", True, "the friend's email is the advocate's email"))
    if (
        advocate.shipping_address is not None
        and friend.shipping_address is not None
        and advocate.shipping_address.normalized() == friend.shipping_address.normalized()
    ):
        signals.append(Signal("self_referral_address", True, "the order ships to the advocate's address"))
    if friend_prior_paid_orders > 0:
        signals.append(Signal("friend_not_new", True, f"the friend has {friend_prior_paid_orders} earlier paid order(s)"))
    if friend.browser_ip and friend.browser_ip in set(advocate_browser_ips):
        signals.append(Signal("same_browser_ip", False, "the order came from an IP the advocate ordered from"))
    if advocate_referrals_this_month >= monthly_limit:
        signals.append(
            Signal(
                "over_monthly_limit",
                False,
                f"the advocate already has {advocate_referrals_this_month} referrals this month (limit {monthly_limit})",
            )
        )
    return signals


def referral_decision(signals: Iterable[Signal]) -> Literal["block", "review", "ok"]:
    """``block`` if any signal blocks, ``review`` if there is any other signal, else ``ok``."""
    found = list(signals)
    if any(s.blocking for s in found):
        return "block"
    return "review" if found else "ok"


def advocate_reward_due(
    order_paid_at: datetime, pending_days: int, now: datetime, order_still_valid: bool
) -> Literal["award", "wait", "withdraw"]:
    """What to do with an (approved) referral's advocate reward today.

    ``withdraw`` when the friend's order was cancelled or fully refunded (``order_still_valid`` False)
    before the reward was given; ``award`` once ``order_paid_at + pending_days`` has passed; else
    ``wait``. A reward already given is not taken back by this rule.
    """
    if not order_still_valid:
        return "withdraw"
    if now >= order_paid_at + timedelta(days=pending_days):
        return "award"
    return "wait"
