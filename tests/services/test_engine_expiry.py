"""Expiry by inactivity: reminders 30 and 7 days before (once each), then one expiry entry per member and
expiry date; any earning or redeeming moves the date; pending points never expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.loyalty import ledger as rules
from app.services import expiry, members
from app.services.ledger import lock_member, post_entry
from tests.services.engine_fixtures import (
    new_id,
)

pytestmark = pytest.mark.postgres
JOINED = datetime(2025, 1, 10, 9, tzinfo=UTC)


def test_reminders_then_one_expiry_per_expiry_date(engine_app):
    """Joined 10 Jan 2025 with 100 points, nothing since: expires 10 Jan 2026; reminded 11 Dec and 3 Jan."""
    eng = engine_app
    eng.configure(expiry_mode="inactivity", expiry_days=365, expiry_reminder_days=[30, 7])
    quiet, busy = new_id(), new_id()
    members.enroll(eng.shop(), quiet, now=JOINED)
    members.enroll(eng.shop(), busy, now=JOINED)
    busy_member = lock_member(eng.member(busy).id)
    post_entry(busy_member, points=10, kind=rules.ACTION, source=rules.SOURCE_ACTION, idempotency_key="later",
               snapshot={"test": True}, now=JOINED + timedelta(days=200))
    db.session.commit()

    def run(day: datetime) -> dict[str, int]:
        return expiry.run_for(eng.shop(), day)

    assert run(datetime(2025, 12, 10, 5, tzinfo=UTC))["reminded"] == 0
    assert run(datetime(2025, 12, 11, 5, tzinfo=UTC))["reminded"] == 1
    assert run(datetime(2025, 12, 12, 5, tzinfo=UTC))["reminded"] == 0  # sent once
    assert run(datetime(2026, 1, 3, 5, tzinfo=UTC))["reminded"] == 1
    assert run(datetime(2026, 1, 4, 5, tzinfo=UTC)) == {"reminded": 0, "expired": 0, "points": 0}
    assert run(datetime(2026, 1, 10, 9, 30, tzinfo=UTC)) == {"reminded": 0, "expired": 1, "points": 100}
    assert run(datetime(2026, 1, 11, 5, tzinfo=UTC))["expired"] == 0
    reminders = [e.payload["days_before"] for e in eng.events("points_expiring")]
    assert reminders == [30, 7]
    assert eng.events("points_expired")[0].payload["expires_on"] == "2026-01-10"
    assert eng.member(quiet).points_available == 0
    assert [e.idempotency_key for e in eng.entries(quiet, rules.EXPIRY)] == [f"expiry:{quiet}:2026-01-10"]
    # The member who earned on day 200 keeps everything until day 565.
    assert eng.member(busy).points_available == 110
    assert run(JOINED + timedelta(days=565, hours=1))["points"] == 110


def test_off_by_default_and_pending_or_negative_points_never_expire(engine_app):
    eng = engine_app
    cid = new_id()
    members.enroll(eng.shop(), cid, now=JOINED)
    later = JOINED + timedelta(days=800)
    assert expiry.run_for(eng.shop(), later)["expired"] == 0
    eng.configure(expiry_mode="inactivity")
    member = lock_member(eng.member(cid).id)
    post_entry(member, points=-150, kind=rules.ADMIN_ADJUSTMENT, source=rules.SOURCE_ADMIN, idempotency_key="fix",
               snapshot={"test": True}, now=JOINED)
    post_entry(member, points=40, kind=rules.EARN_ORDER, source=rules.SOURCE_ORDER, status=rules.PENDING,
               idempotency_key="pend", snapshot={"test": True}, now=JOINED)
    db.session.commit()
    assert expiry.run_for(eng.shop(), later + timedelta(days=500)) == {"reminded": 0, "expired": 0, "points": 0}
    m = eng.member(cid)
    assert (m.points_available, m.points_pending) == (-50, 40)


def test_only_the_available_points_expire_and_the_pending_ones_stay(engine_app):
    """100 sign-up points available and 40 order points still pending: the expiry takes the 100 only.
    (A negative available balance cannot reach expiry_amount through the job: its SQL selects positive
    balances only, so that half of the rule is guarded by tests/loyalty/test_expiry.py.)"""
    eng = engine_app
    eng.configure(expiry_mode="inactivity", expiry_days=365)
    cid = new_id()
    members.enroll(eng.shop(), cid, now=JOINED)
    member = lock_member(eng.member(cid).id)
    post_entry(member, points=40, kind=rules.EARN_ORDER, source=rules.SOURCE_ORDER, status=rules.PENDING,
               idempotency_key="pend", snapshot={"test": True}, now=JOINED, occurred_at=JOINED)
    member.last_activity_at = JOINED  # the pending earning happened on the day of joining
    db.session.commit()
    assert expiry.run_for(eng.shop(), JOINED + timedelta(days=366)) == {"reminded": 0, "expired": 1, "points": 100}
    m = eng.member(cid)
    assert (m.points_available, m.points_pending) == (0, 40)
    assert [e.points for e in eng.entries(cid, rules.EXPIRY)] == [-100]
