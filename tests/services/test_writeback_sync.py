"""Write-back: the app-owned metafields and the tier tag reach Shopify, coalesced, and nothing is dropped when
throttled; the old merchant-owned `regulars.*` values are deleted once and never written again."""
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
    fields = store.app_metafields(SHOP, member.customer_id)
    assert fields["points"]["value"] == "50" and fields["points"]["type"] == "number_integer"
    assert fields["tier"]["value"] == "Gold Club"
    assert fields["referral_url"]["value"].startswith(f"https://{SHOP}/apps/regulars/r/")
    assert fields["pending_points"] == {**fields["pending_points"], "value": "0", "type": "number_integer"}
    assert fields["tier_progress"]["value"] == "100"  # Gold Club is the top tier
    # Under the app's own namespace only: nothing merchant-owned is written.
    assert set(store.metafields(SHOP, member.customer_id)) == {f"app--{store.api_key}.{k}" for k in fields}
    assert "regulars-tier-gold-club" in store.tags(SHOP, member.customer_id)
    # Five changes, one metafieldsSet.
    assert len(store.graphql_calls(SHOP, "metafieldsSet")) == 1
    assert writeback.sync_due() == 0  # nothing left flagged


def test_adjustment_is_written_back_right_away(env: dict[str, Any]) -> None:
    member = make_member(env, "bo@example.com")
    adjust_points(shop_of(env), member, points=250, reason="goodwill", actor="staff:1")
    assert env["store"].app_metafields(SHOP, member.customer_id)["points"]["value"] == "250"


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
        assert store.app_metafields(SHOP, m.customer_id)["points"]["value"] == "7"
    assert db.session.query(Member).filter(Member.sync_requested_at.is_not(None)).count() == 0


def test_pending_points_and_progress_to_the_next_tier(env: dict[str, Any]) -> None:
    store = env["store"]
    for name, threshold in (("Silver", 100), ("Gold", 400)):
        db.session.add(Tier(shop_id=env["shop_id"], name=name, handle=name.lower(), threshold=Decimal(threshold),
                            created_at=utcnow()))
    db.session.commit()
    silver = db.session.query(Tier).filter_by(shop_id=env["shop_id"], name="Silver").one()
    member = make_member(env, "cy@example.com", tier_id=silver.id)
    member.lifetime_points = 300
    db.session.commit()
    locked = lock_member(member.id)
    post_entry(locked, points=40, kind=rules.EARN_ORDER, source=rules.SOURCE_ORDER, idempotency_key="pend-1",
               status=rules.PENDING)
    db.session.commit()
    writeback.sync_due()
    fields = store.app_metafields(SHOP, member.customer_id)
    assert fields["pending_points"]["value"] == "40" and fields["tier"]["value"] == "Silver"
    assert fields["tier_progress"]["value"] == "85"  # 300 + the 40 just earned, of Gold's 400 lifetime points
    assert "regulars-tier-silver" in store.tags(SHOP, member.customer_id)


def _legacy_values(env: dict[str, Any], member: Member) -> None:
    """What the write-back of before wrote: merchant-owned `regulars.*` values, without definitions."""
    from app.services.shops import admin_graphql

    owner = f"gid://shopify/Customer/{member.customer_id}"
    admin_graphql(shop_of(env), "mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) {"
                  " userErrors { message } } }", {"m": [
                      {"ownerId": owner, "namespace": "regulars", "key": "points", "type": "number_integer", "value": "9"},
                      {"ownerId": owner, "namespace": "regulars", "key": "tier", "type": "single_line_text_field",
                       "value": "none"},
                      {"ownerId": owner, "namespace": "regulars", "key": "referral_url", "type": "url",
                       "value": f"https://{SHOP}/apps/regulars/r/OLDCODE1"}]})


def test_the_old_namespace_is_deleted_once_then_never_written(env: dict[str, Any]) -> None:
    store = env["store"]
    old = make_member(env, "old@example.com", legacy_metafields=True)
    new = make_member(env, "new@example.com")
    _legacy_values(env, old)
    assert "regulars.points" in store.metafields(SHOP, old.customer_id)
    for m in (old, new):
        _earn(m.id, 12, f"l{m.id}")
    store.clear_requests()
    assert writeback.sync_due() == 2
    assert set(store.metafields(SHOP, old.customer_id)) == {f"app--{store.api_key}.{k}" for k in
                                                             ("points", "pending_points", "tier", "tier_progress",
                                                              "referral_url")}
    assert store.app_metafields(SHOP, old.customer_id)["points"]["value"] == "12"
    deletes = store.graphql_calls(SHOP, "metafieldsDelete")
    # One call, for the member who had old values only.
    assert len(deletes) == 1
    owners = {m["ownerId"] for m in deletes[0]["variables"]["metafields"]}
    assert owners == {f"gid://shopify/Customer/{old.customer_id}"}
    db.session.expire_all()
    assert db.session.get(Member, old.id).legacy_metafields is False
    # Later changes: no delete any more, and no write ever names the old namespace.
    _earn(old.id, 3, "later")
    writeback.sync_due()
    assert len(store.graphql_calls(SHOP, "metafieldsDelete")) == 1
    for call in store.graphql_calls(SHOP, "metafieldsSet"):
        assert {m["namespace"] for m in call["variables"]["metafields"]} == {"$app"}
    assert store.app_metafields(SHOP, old.customer_id)["points"]["value"] == "15"
