"""Admin point adjustments: a signed entry with a required reason, audited."""

from __future__ import annotations

from app.models import LedgerEntry, Member, Shop


class AdjustmentInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())))


def adjust_points(shop: Shop, member: Member, *, points: int, reason: str, note: str | None = None, actor: str,
                  idempotency_key: str | None = None) -> LedgerEntry:
    raise NotImplementedError
