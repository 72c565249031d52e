"""A member's ledger as the API pages it: newest first by when each entry happened, a page after a given entry."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import LedgerEntry, Member


class NotAnEntryOfMember(Exception):
    """The page was asked after an entry that is not this member's."""


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    next_before_id: int | None  # the last entry of this page when more follow


def ledger_page(member: Member, before_id: int | None, size: int) -> LedgerPage:
    q = select(LedgerEntry).where(LedgerEntry.member_id == member.id)
    if before_id is not None:
        # Pages follow the order of the list (newest first by when it happened): after the given entry.
        anchor = db.session.execute(select(LedgerEntry.occurred_at).where(
            LedgerEntry.member_id == member.id, LedgerEntry.id == before_id)).scalar_one_or_none()
        if anchor is None:
            raise NotAnEntryOfMember(before_id)
        q = q.where(or_(LedgerEntry.occurred_at < anchor,
                        and_(LedgerEntry.occurred_at == anchor, LedgerEntry.id < before_id)))
    entries = list(db.session.execute(
        q.order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc()).limit(size + 1)).scalars())
    return LedgerPage(entries[:size], entries[size - 1].id if len(entries) > size else None)
