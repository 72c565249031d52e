"""Write-back: metafields and the tier tag reach Shopify, coalesced, and nothing is dropped when throttled."""
# ruff: noqa: F811  (pytest fixtures imported from tests.rewards_fixtures are parameters here)

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.extensions import db
from app.loyalty import ledger as rules
from app.models import Member, Tier, utcnow
from app.services import writeback
from app.services.adjustments import adjust_points
from app.services.ledger import lock_member, post_entry
from tests.rewards_fixtures import SHOP, env, make_member, shop_of  # noqa: F401


def _earn(member_id: int, points: int, key: str) -> None:
    m = lock_member(member_id)
    post_entry(m, points=points, kind=rules.ACTION, source=rules.SOURCE_ACTION, idempotency_key=key)
    db.session.commit()


def test_points_tier_and_link_written_once_per_customer(env: dict[str, Any]) -> None:
    store = env["store"]
    gold = Tier(shop_id=env["shop_id"], name="Gold Club", handle="gold-club", threshold=Decimal(100),
                created_at=utcnow())
    db.session.add(gold)
    db.session.commit()
    member = make_member(env, "ann@example.com", tier_id=gold.id)
    for i in range(5):
        _earn(member.id, 10, f"e{i}")
    store.clear_requests()
    assert writeback.sync_due() == 1
    fields = store.metafields(SHOP, member.customer_id)
    assert fields["regulars.points"]["value"] == "50" and fields["regulars.points"]["type"] == "number_integer"
    assert fields["regulars.tier"]["value"] == "Gold Club"
    assert fields["regulars.referral_url"]["value"].startswith(f"https://{SHOP}/apps/regulars/r/")
    assert "regulars-tier-gold-club" in store.tags(SHOP, member.customer_id)
    # Five changes, one metafieldsSet.
    assert len(store.graphql_calls(SHOP, "metafieldsSet")) == 1
    assert writeback.sync_due() == 0  # nothing left flagged


def test_adjustment_is_written_back_right_away(env: dict[str, Any]) -> None:
    member = make_member(env, "bo@example.com")
    adjust_points(shop_of(env), member, points=250, reason="goodwill", actor="staff:1")
    assert env["store"].metafields(SHOP, member.customer_id)["regulars.points"]["value"] == "250"


def test_throttled_writes_are_retried_not_dropped(env: dict[str, Any]) -> None:
    store = env["store"]
    members = [make_member(env, f"m{i}@example.com") for i in range(12)]
    for m in members:
        _earn(m.id, 7, f"t{m.id}")
    store.throttle(SHOP, 40)  # more than the adapter's retries within one run
    writeback.sync_due()
    store.clear_faults(SHOP)
    db.session.expire_all()
    for _ in range(3):
        writeback.sync_due()
    for m in members:
        assert store.metafields(SHOP, m.customer_id)["regulars.points"]["value"] == "7"
    assert db.session.query(Member).filter(Member.sync_requested_at.is_not(None)).count() == 0
