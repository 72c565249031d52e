"""Admin adjustments: reason required, audited, idempotent per key, and the balance follows."""
# ruff: noqa: F811  (pytest fixtures imported from tests.rewards_fixtures are parameters here)

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Member
from app.services.adjustments import AdjustmentInvalid, adjust_points
from app.services.ledger import balance_mismatches
from tests.rewards_fixtures import env, make_member, shop_of  # noqa: F401


def test_adjustment_needs_a_reason_and_is_audited(env: dict[str, Any]) -> None:
    member = make_member(env, "ann@example.com", 100)
    with pytest.raises(AdjustmentInvalid) as exc:
        adjust_points(shop_of(env), member, points=0, reason=" ", actor="staff:7")
    assert set(exc.value.errors) == {"points", "reason"}
    entry = adjust_points(shop_of(env), member, points=-30, reason="returned item", note="see ticket 12",
                          actor="staff:7", idempotency_key="t-1")
    again = adjust_points(shop_of(env), member, points=-30, reason="returned item", actor="staff:7",
                          idempotency_key="t-1")
    assert again.id == entry.id and entry.kind == "admin_adjustment" and entry.actor == "staff:7"
    db.session.expire_all()
    assert db.session.get(Member, member.id).points_available == 70
    [row] = db.session.execute(select(AuditLog).where(AuditLog.action == "points.adjusted")).scalars()
    assert row.actor == "staff:7" and row.details["reason"] == "returned item"
    assert balance_mismatches() == []
