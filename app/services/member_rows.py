"""Member rows by Shopify customer id: found, or created (not enrolled) when missing, locked FOR UPDATE.

Kept apart from app.services.members (which enrols and awards) so that the privacy duties can make sure a
redacted customer's row exists without depending on the points machinery.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.extensions import db
from app.models import Member, utcnow

_FIND_MEMBER = select(Member).where(Member.shop_id == bindparam("shop_id"),
                                   Member.customer_id == bindparam("customer_id"))
_LOCK_MEMBER = _FIND_MEMBER.with_for_update()


def find_member(shop_id: int, customer_id: int, *, lock: bool = False) -> Member | None:
    params = {"shop_id": shop_id, "customer_id": customer_id}
    if lock:
        found: Member | None = db.session.execute(
            _LOCK_MEMBER, params, execution_options={"populate_existing": True}).scalar_one_or_none()
        return found
    return db.session.execute(_FIND_MEMBER, params).scalar_one_or_none()  # type: ignore[no-any-return]


def get_or_create_member(shop_id: int, customer_id: int) -> tuple[Member, bool]:
    """The customer's member row, locked FOR UPDATE, created (not enrolled) when missing.

    Insert-if-absent is one `ON CONFLICT DO NOTHING` statement, so two drains that meet the same new
    customer at once both end up with the one row instead of one of them failing.
    """
    member = find_member(shop_id, customer_id, lock=True)
    if member is not None:
        return member, False
    now = utcnow()
    values = dict(shop_id=shop_id, customer_id=customer_id, points_available=0, points_pending=0,
                  lifetime_points=0, orders_count=0, created_at=now, updated_at=now)
    created = True
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = pg_insert(Member).values(**values).on_conflict_do_nothing(index_elements=["shop_id", "customer_id"])
        created = bool(db.session.execute(stmt.returning(Member.id)).first())
    else:
        db.session.add(Member(**values))
        db.session.flush()
    member = find_member(shop_id, customer_id, lock=True)
    assert member is not None
    return member, created
