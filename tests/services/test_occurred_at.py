"""Two times on every ledger entry: when it happened (occurred_at) and when it was recorded (created_at).
A late webhook of an old order lands where it belongs: in the ledger's order, outside a tier window it
has left, in the analytics period it happened in."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from app.loyalty import ledger as rules
from app.models import utcnow
from devstore.tokens import mint_session_token
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.services.engine_fixtures import SHOP, customer_payload, new_id, order_payload, refund_payload

pytestmark = pytest.mark.postgres


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_session_token(SHOP, TEST_KEY, TEST_SECRET)}"}


def test_the_ledger_api_shows_both_times_newest_first_by_when_it_happened(engine_app):
    eng = engine_app
    eng.configure(pending_days=0)
    cid = new_id()
    eng.post("customers/create", customer_payload(cid, created_at=(utcnow() - timedelta(days=300)).isoformat()))
    now = utcnow()
    recent, old = new_id(12_000_000_000_000_000), new_id(12_000_000_000_000_000)
    recent_paid, old_paid = now - timedelta(days=10), now - timedelta(days=200)
    recent_line = new_id(13_000_000_000_000_000)
    from tests.services.engine_fixtures import line

    eng.post("orders/paid", order_payload(recent, cid, subtotal="40.00", processed_at=recent_paid,
                                          updated_at=recent_paid, lines=[line("40.00", line_id=recent_line)]))
    # The old order's webhook comes late: after the recent one, and after a refund of the recent one.
    refunded_at = now - timedelta(days=5)
    eng.post("refunds/create", refund_payload(recent, new_id(14_000_000_000_000_000),
                                              [(recent_line, 1, "40.00")], at=refunded_at))
    eng.post("orders/paid", order_payload(old, cid, subtotal="20.00", processed_at=old_paid, updated_at=old_paid,
                                          name="#1000"))

    resp = eng.client.get(f"/api/v1/members/{cid}/ledger", headers=_bearer())
    assert resp.status_code == 200, resp.get_data(as_text=True)
    entries = resp.get_json()["entries"]
    assert [(e["kind"], e["points"]) for e in entries] == [
        (rules.REVERSE_ORDER, -200), (rules.EARN_ORDER, 200), (rules.EARN_ORDER, 100), (rules.SIGNUP, 100)]
    happened = [_iso(e["occurred_at"]) for e in entries]
    assert happened == sorted(happened, reverse=True)
    assert abs(happened[0] - refunded_at) < timedelta(seconds=1)
    assert abs(happened[1] - recent_paid) < timedelta(seconds=1)
    assert abs(happened[2] - old_paid) < timedelta(seconds=1)
    assert abs(happened[3] - (now - timedelta(days=300))) < timedelta(seconds=2)
    # Recorded today, all of them: the old order's entry most recently.
    recorded = [_iso(e["created_at"]) for e in entries]
    assert all(now - timedelta(minutes=5) < r <= utcnow() for r in recorded)
    assert recorded[2] == max(recorded)

    # Paging follows the same order.
    first = eng.client.get(f"/api/v1/members/{cid}/ledger?before_id={entries[1]['id']}", headers=_bearer())
    assert [e["id"] for e in first.get_json()["entries"]] == [entries[2]["id"], entries[3]["id"]]


def test_an_order_outside_the_rolling_window_does_not_count_and_the_tier_is_dated_by_the_order(engine_app):
    """Rolling 12 months on points earned, Silver at 100. A webhook of an order paid 13 months ago arrives
    today: its 150 points happened outside the window. One paid 11 months ago lifts the member, dated then."""
    eng = engine_app
    eng.configure(signup_points=0, pending_days=0, tier_metric="points_earned", tier_window="rolling_12_months")
    silver = eng.add_tier("Silver", "100")
    cid = new_id()
    outside = utcnow() - timedelta(days=396)
    eng.post("orders/paid", order_payload(new_id(12_000_000_000_000_000), cid, subtotal="30.00",
                                          processed_at=outside, updated_at=outside))
    member = eng.member(cid)
    assert member.points_available == 150 and member.tier_id is None  # 150 points, but 13 months ago
    inside = utcnow() - timedelta(days=330)
    eng.post("orders/paid", order_payload(new_id(12_000_000_000_000_000), cid, subtotal="24.00",
                                          processed_at=inside, updated_at=inside, name="#1002"))
    member = eng.member(cid)
    assert member.tier_id == silver.id
    assert abs(member.tier_since - inside) < timedelta(seconds=1)
    resp = eng.client.get(f"/api/admin/members/{cid}", headers=_bearer())
    changes = resp.get_json()["tier_changes"]
    assert abs(_iso(changes[0]["occurred_at"]) - inside) < timedelta(seconds=1)
    assert _iso(changes[0]["created_at"]) > utcnow() - timedelta(minutes=5)


def test_points_issued_count_in_the_period_they_were_earned(engine_app):
    eng = engine_app
    eng.configure(signup_points=0, pending_days=0)
    cid = new_id()
    paid = utcnow() - timedelta(days=200)
    eng.post("orders/paid", order_payload(new_id(12_000_000_000_000_000), cid, subtotal="30.00",
                                          processed_at=paid, updated_at=paid))

    def issued(first: datetime, last: datetime) -> int:
        resp = eng.client.get(f"/api/admin/analytics/summary?from={first.date()}&to={last.date()}", headers=_bearer())
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return int(Decimal(str(resp.get_json()["points_issued"])))

    today = utcnow()
    assert issued(today - timedelta(days=89), today) == 0
    assert issued(paid - timedelta(days=1), paid + timedelta(days=1)) == 150
