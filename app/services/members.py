"""Members from Shopify customers: created, updated, deleted, found, enrolled (with the sign-up bonus).

Enrolment. A member row exists for every customer Regulars has heard of; `enrolled_at` says whether
they are in the program. A customer joins (and gets the sign-up bonus, once per member ever) when
- Shopify creates their account (customers/create), or
- they join from the widget or the admin (`enroll`), or
- they place a paid order while not yet a member (the order path enrolls them first, so their first
  order earns; the sign-up bonus comes with it).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.actions import birthday_change_allowed, validate_birthday
from app.loyalty.dates import add_years
from app.loyalty.referrals import normalize_email as domain_normalize
from app.loyalty.settings import ProgramSettings
from app.loyalty.text import clean_text
from app.models import Member, Shop, WebhookDelivery, utcnow
from app.services import tiers
from app.services.ledger import lock_member, post_entry
from app.services.member_rows import find_member, get_or_create_member
from app.services.program import Conflict, Invalid, NotFound, settings_for
from app.services.referrals import ensure_code
from app.shopify.orders import address_from_payload

log = logging.getLogger(__name__)


def parse_shopify_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def customer_id_of(payload: dict[str, Any]) -> int:
    raw = payload.get("id")
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError("customer payload has no id")
    cid = int(str(raw).rsplit("/", 1)[-1]) if isinstance(raw, str) else raw
    if cid <= 0 or cid >= 2**63:
        raise ValueError("customer id out of range")
    return cid


def address_fingerprint(address: dict[str, Any] | None) -> str | None:
    """A hash of the normalised address: tells two people's addresses apart without keeping a copy."""
    parsed = address_from_payload(address) if isinstance(address, dict) else None
    if parsed is None:
        return None
    return hashlib.sha256(parsed.normalized().encode()).hexdigest()


def apply_customer_fields(member: Member, payload: dict[str, Any]) -> None:
    """Copies name, email and default address from a Shopify customer object (never onto a redacted member)."""
    if member.redacted_at is not None:
        return
    email = payload.get("email")
    if isinstance(email, str) and clean_text(email):
        member.email = clean_text(email)[:320]
        member.email_normalized = normalize_email(member.email)
    for field in ("first_name", "last_name"):
        value = payload.get(field)
        if isinstance(value, str):
            setattr(member, field, clean_text(value)[:255])
    default_address = payload.get("default_address")
    if isinstance(default_address, dict):
        member.address_fingerprint = address_fingerprint(default_address) or member.address_fingerprint
    created = parse_shopify_time(payload.get("created_at"))
    if created and member.customer_created_at is None:
        member.customer_created_at = created


def upsert_customer(shop: Shop, payload: dict[str, Any]) -> Member:
    """Creates or refreshes the member row of a Shopify customer payload (no points here). Does not commit."""
    member, _ = get_or_create_member(shop.id, customer_id_of(payload))
    apply_customer_fields(member, payload)
    db.session.flush()
    return member


def normalize_email(email: str | None) -> str | None:
    if not email:
        return None

    return domain_normalize(email)


def enroll_member(shop: Shop, member: Member, settings: ProgramSettings, now: datetime,
                  *, how: str = "signup", at: datetime | None = None) -> bool:
    """Enrolls a locked member and books the sign-up bonus once per member ever (its key is the
    customer's). Returns True when the member joined now. `at` is when they joined (the account's
    creation, the first order's payment), `now` when it is recorded. Does not commit."""
    if member.deleted_at is not None:
        return False
    at = min(at, now) if at is not None else now
    joined = member.enrolled_at is None
    if joined:
        member.enrolled_at = at
        member.sync_requested_at = now
    if settings.enabled and settings.signup_points > 0:
        _, created = post_entry(
            member, points=settings.signup_points, kind=rules.SIGNUP, source=rules.SOURCE_ACTION,
            idempotency_key=rules.signup_key(member.customer_id), source_id=how,
            snapshot={"rule": "signup_points", "signup_points": settings.signup_points, "how": how},
            reason="Sign-up bonus", now=now, occurred_at=at, emit="points_earned",
        )
        if created:

            tiers.upgrade_if_qualified(shop, member, settings, now, reason="sign-up bonus", at=at)
    if joined:
        # A member has a referral code from the day they join (the link is written back to Shopify too).
        ensure_code(member)
    return joined



def enroll(shop: Shop, customer_id: int, *, now: datetime | None = None, commit: bool = True,
           how: str = "joined") -> Member:
    """An existing customer joins the program (widget, admin): enrolled, sign-up bonus once. Commits
    unless `commit=False`. A deleted customer cannot join (NotFound)."""
    now = now or utcnow()
    member, _ = get_or_create_member(shop.id, customer_id)
    if member.deleted_at is not None:
        raise NotFound("this customer was deleted in Shopify")
    enroll_member(shop, member, settings_for(shop), now, how=how)
    if commit:
        db.session.commit()
    return member


class BirthdayChangeRefused(Conflict):
    """The birthday was set less than 12 months ago (loyalty-rules.md: changeable once per 12 months)."""

    code = "birthday_change_too_soon"


def set_birthday(shop: Shop, member_or_customer: Member | int, month: int, day: int, *,
                 now: datetime | None = None, commit: bool = True) -> Member:
    """Sets a member's birthday (month and day); the member is given as the row or the Shopify customer id.

    Invalid: not a real day (29 February is); NotFound: unknown customer; BirthdayChangeRefused (a
    Conflict, 409): changed less than 12 months ago — setting the same day again is not a change.
    Awarded by the daily job on the day (app.services.birthdays). Commits unless `commit=False`."""
    now = now or utcnow()
    customer_id = member_or_customer.customer_id if isinstance(member_or_customer, Member) else member_or_customer
    if isinstance(month, bool) or isinstance(day, bool) or not isinstance(month, int) or not isinstance(day, int):
        raise Invalid("month and day must be whole numbers", fields={"month": "whole number", "day": "whole number"})
    problem = validate_birthday(month, day)
    if problem:
        field = "month" if problem.startswith("month") else "day"
        raise Invalid(problem, fields={field: problem})
    member = find_member(shop.id, customer_id, lock=True)
    if member is None or member.deleted_at is not None:
        raise NotFound("no such customer")
    if (member.birthday_month, member.birthday_day) == (month, day):
        return member
    if member.birthday_month is not None and not birthday_change_allowed(member.birthday_changed_at, now):
        assert member.birthday_changed_at is not None
        allowed = add_years(member.birthday_changed_at, 1).date().isoformat()
        raise BirthdayChangeRefused(f"the birthday can be changed once every 12 months (next on {allowed})")
    member.birthday_month, member.birthday_day = month, day
    member.birthday_changed_at = now
    if commit:
        db.session.commit()
    return member


def customer_created(shop: Shop, payload: dict[str, Any], delivery: WebhookDelivery | None = None) -> Member:
    """customers/create: the customer's row, enrolled, with the sign-up bonus (dated when the account was
    created). Does not commit."""
    member = upsert_customer(shop, payload)
    enroll_member(shop, member, settings_for(shop), utcnow(), how="customers/create",
                  at=parse_shopify_time(payload.get("created_at")))
    _forget_delivery_if_redacted(member, delivery)
    return member


def customer_updated(shop: Shop, payload: dict[str, Any], delivery: WebhookDelivery | None = None) -> Member:
    member = upsert_customer(shop, payload)
    _forget_delivery_if_redacted(member, delivery)
    return member


def _forget_delivery_if_redacted(member: Member, delivery: WebhookDelivery | None) -> None:
    # A redacted customer's later deliveries are not kept either: their stored body holds what the member no
    # longer does (the member's fields were left alone by apply_customer_fields).
    if delivery is not None and member.redacted_at is not None:
        delivery.body = '{"redacted": true}'


def customer_deleted(shop: Shop, payload: dict[str, Any], delivery: WebhookDelivery | None = None) -> Member | None:
    """The customer is gone from Shopify: the member is marked deleted, the ledger kept for the books."""
    member = find_member(shop.id, customer_id_of(payload), lock=True)
    if member is not None and member.deleted_at is None:
        member.deleted_at = utcnow()
    return member


__all__ = [
    "BirthdayChangeRefused", "set_birthday", "address_fingerprint", "apply_customer_fields", "customer_created", "customer_deleted", "customer_id_of",
    "customer_updated", "enroll", "enroll_member", "find_member", "get_or_create_member", "lock_member",
    "normalize_email", "parse_shopify_time", "upsert_customer",
]
