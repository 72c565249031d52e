"""The widget's progress bar counts what the tier evaluation counts: same window edge, same order statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.loyalty.dates import add_years
from app.services import member_view, tiers
from app.services import orders as order_service
from app.services.catalogue import catalogue_for
from app.services.program import settings_for
from tests.services.engine_fixtures import new_id, order_payload

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _place(eng, cid, subtotal, at, **kw):
    oid = new_id()
    order_service.apply_order_event(eng.shop(), "orders/paid",
                                    order_payload(oid, cid, subtotal=subtotal, processed_at=at, updated_at=at, **kw),
                                    None, now=at)
    db.session.commit()
    return oid


def test_the_bar_leaves_out_what_the_tier_leaves_out(engine_app):
    """Gold from 100.00 spent in the last 12 months. A 30.00 order paid exactly a year ago (outside the window)
    and a 50.00 test order (never counted) do not move the bar; a 20.00 order last month does: 80.00 missing."""
    eng = engine_app
    eng.configure(signup_points=0, tier_metric="amount_spent", tier_window="rolling_12_months", allow_test_orders=False)
    eng.add_tier("Gold", "100")
    cid = new_id()
    _place(eng, cid, "30.00", add_years(NOW, -1))
    _place(eng, cid, "50.00", NOW - timedelta(days=3), test=True)
    _place(eng, cid, "20.00", NOW - timedelta(days=30))
    member = eng.member(cid)
    shop = eng.shop()
    settings = settings_for(shop)
    standing = member_view.tier_standing(member, settings, catalogue_for(shop, None).tiers, NOW)
    evaluated = tiers.qualifying_value_of(member, settings.tier_metric, settings.tier_window, NOW)
    assert evaluated == Decimal("20.00")
    assert standing.next is not None and standing.next.name == "Gold"
    assert standing.missing == Decimal("80.00")
    assert standing.progress_percent == 20
