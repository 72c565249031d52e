"""Admin point adjustments: a signed entry with a required reason, audited."""

from __future__ import annotations

import uuid

from app.extensions import db
from app.loyalty import ledger as rules
from app.models import LedgerEntry, Member, Shop
from app.services import audit
from app.services.ledger import find_entry, lock_member, post_entry
from app.services.work import request_writeback

MAX_ADJUSTMENT = 10_000_000


class AdjustmentInvalid(ValueError):
    """`errors` maps each bad field (points, reason, note, idempotency_key, allow_negative) to a message."""

    status = 422
    code = "invalid"
    message = "the adjustment is not valid"

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        self.fields = self.errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())))


class NegativeBalanceRefused(AdjustmentInvalid):
    """The adjustment would leave the available balance below zero and `allow_negative` was not true."""

    code = "negative_balance"
    message = "the adjustment would take the balance below zero; send allow_negative: true to allow it"

    def __init__(self, available: int, points: int) -> None:
        super().__init__({
            "points": f"would take the balance from {available} to {available + points}",
            "allow_negative": "must be true to take the balance below zero",
        })


def validate(points: object, reason: object, note: object, idempotency_key: object,
             allow_negative: object = False) -> dict[str, str]:
    errors: dict[str, str] = {}
    if isinstance(points, bool) or not isinstance(points, int):
        errors["points"] = "must be a whole number"
    elif points == 0:
        errors["points"] = "must not be 0"
    elif abs(points) > MAX_ADJUSTMENT:
        errors["points"] = f"at most {MAX_ADJUSTMENT} either way"
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = "a reason is required"
    elif len(reason) > 255:
        errors["reason"] = "at most 255 characters"
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        errors["note"] = "text of at most 2000 characters"
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200):
        errors["idempotency_key"] = "1 to 200 characters"
    if not isinstance(allow_negative, bool):
        errors["allow_negative"] = "must be true or false"
    return errors


def adjust_points(shop: Shop, member: Member, *, points: int, reason: str, note: str | None = None, actor: str,
                  idempotency_key: str | None = None, allow_negative: bool = False) -> LedgerEntry:
    """Adds (or takes away) points by hand; the same idempotency key again returns the first entry. Commits.

    NegativeBalanceRefused (422) when it would leave the available balance below zero and `allow_negative` is
    not True; checked under the member's lock, so two concurrent removals cannot both pass it."""
    errors = validate(points, reason, note, idempotency_key, allow_negative)
    if errors:
        raise AdjustmentInvalid(errors)
    key = rules.admin_adjustment_key(f"{member.customer_id}:{idempotency_key or uuid.uuid4().hex}")
    locked = lock_member(member.id)
    if allow_negative is not True and rules.adjustment_takes_balance_below_zero(locked.points_available, points):
        done = find_entry(shop.id, key) if idempotency_key else None
        if done is not None:  # a retry of an adjustment already made: its first answer, as always
            db.session.commit()
            return done
        available = locked.points_available
        db.session.rollback()
        raise NegativeBalanceRefused(available, points)
    entry, created = post_entry(
        locked, points=points, kind=rules.ADMIN_ADJUSTMENT, source=rules.SOURCE_ADMIN, idempotency_key=key,
        reason=reason.strip(), note=note, actor=actor, emit="points_adjusted",
    )
    if created:
        audit.record(shop, actor, "points.adjusted", target_type="member", target_id=member.customer_id,
                     details={"points": points, "reason": reason.strip(), "entry_id": entry.id})
    db.session.commit()
    if created:

        request_writeback()
    return entry
