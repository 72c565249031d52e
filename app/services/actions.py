"""Custom actions (newsletter, follow, review…): awarded within their limit, idempotent by the caller's key.

Limits (once / per_day / per_month / unlimited) are enforced by the entry's idempotency key, which
names the period (app.loyalty.actions.action_period_key): a second award in the same period finds the
first entry instead of writing one, even when two arrive at the same moment. The caller's own
idempotency key is kept on the entry, so a retried call gets the first award again (same entry), while
a new call in a used period is refused (ActionRefused, 409). Periods are UTC days and months.

Signed calls from another app (POST /api/v1/actions) carry `X-Regulars-Hmac-Sha256`: the base64 of
HMAC-SHA256 over the raw request body, keyed with the shop's `action_secret` (shown in the admin) —
exactly how Shopify signs its webhooks, so the same code on the caller's side works for both:

    base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest())
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.actions import action_period_key
from app.models import CustomAction, LedgerEntry, Member, Shop, utcnow
from app.services import tiers
from app.services.ledger import post_entry
from app.services.members import enroll_member, find_member
from app.services.program import Conflict, Invalid, NotFound, settings_for

ACTION_SIGNATURE_HEADER = "X-Regulars-Hmac-Sha256"


def sign_action_body(secret: str, raw_body: bytes) -> str:
    """The signature another app sends for `raw_body` (base64 HMAC-SHA256, like Shopify's webhooks)."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def verify_action_signature(shop: Shop, raw_body: bytes, signature: str | None) -> bool:
    """True when `signature` is the base64 HMAC-SHA256 of the raw body with the shop's action secret.
    False for a shop without a secret, a missing header, or any mismatch (constant-time compare)."""
    if not shop.action_secret or not signature:
        return False
    expected = sign_action_body(shop.action_secret, raw_body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


class ActionRefused(Conflict):
    """The action's limit is used up for this period (once / per day / per month): nothing was booked."""

    code = "limit_reached"


@dataclass(frozen=True)
class ActionResult:
    """The award: `created` is False when the caller's key had already been awarded (a retry)."""

    entry: LedgerEntry
    created: bool
    member: Member

    @property
    def points(self) -> int:
        return self.entry.points


def award_action(shop: Shop, member_or_customer: Member | int, action_key: str, *,
                 idempotency_key: str | None = None, request_key: str | None = None,
                 now: datetime | None = None, actor: str | None = None, via: str = "api",
                 commit: bool = True) -> ActionResult:
    """Awards the shop's custom action `action_key` to a member (row or Shopify customer id) within its limit.

    `idempotency_key` (alias `request_key`) is the caller's: the same key again returns the first
    award. NotFound: no such active action, or a customer Regulars does not know; Invalid: an
    unlimited action without a key; ActionRefused (409): the limit is used up for this period. The
    member is enrolled first if they were only a known customer. Commits unless `commit=False`.
    """
    now = now or utcnow()
    request_key = idempotency_key or request_key
    customer_id = member_or_customer.customer_id if isinstance(member_or_customer, Member) else member_or_customer
    action = db.session.execute(
        select(CustomAction).where(CustomAction.shop_id == shop.id, CustomAction.key == action_key,
                                   CustomAction.active.is_(True))
    ).scalar_one_or_none()
    if action is None:
        raise NotFound(f"no active action {action_key!r}")
    if action.limit == "unlimited" and not request_key:
        raise Invalid("an unlimited action needs an idempotency_key", fields={"idempotency_key": "required"})
    member = find_member(shop.id, customer_id, lock=True)
    if member is None or member.deleted_at is not None:
        raise NotFound("no such customer")
    settings = settings_for(shop)
    if member.enrolled_at is None:

        enroll_member(shop, member, settings, now, how=f"action:{action.key}")
    key = action_period_key(action.key, customer_id, action.limit, now, request_key)  # type: ignore[arg-type]
    entry, created = post_entry(
        member, points=action.points, kind=rules.ACTION, source=rules.SOURCE_ACTION, idempotency_key=key,
        source_id=action.key[:64], reason=action.name[:255], actor=actor, now=now, emit="points_earned",
        snapshot={"action": action.key, "points": action.points, "limit": action.limit,
                  "request_key": request_key, "via": via},
    )
    if not created:
        first_key = (entry.snapshot or {}).get("request_key")
        if request_key is None or first_key != request_key:
            if commit:
                db.session.commit()  # releases the member lock; nothing was booked
            raise ActionRefused(f"{action.name} was already awarded ({action.limit.replace('_', ' ')})")
    elif action.points > 0:

        tiers.upgrade_if_qualified(shop, member, settings, now, reason=f"action {action.key}")
    if commit:
        db.session.commit()
    return ActionResult(entry, created, member)


def claimable_action(shop: Shop, action_key: str) -> CustomAction | None:
    """The shop's active action under `action_key` when a shopper may claim it themselves (honour system);
    the others are awarded by the store."""
    action = db.session.execute(
        select(CustomAction).where(CustomAction.shop_id == shop.id, CustomAction.key == action_key,
                                   CustomAction.active.is_(True))
    ).scalar_one_or_none()
    return action if action is not None and action.honour_system else None
