"""Public API v1 as contract.md documents it: fields, error shapes, auth, and no leaks across shops."""
# ruff: noqa: F811  (pytest fixtures imported from tests.rewards_fixtures are parameters here)

from __future__ import annotations

import json
from typing import Any

import pytest

from app.api import hash_api_key
from app.extensions import db
from app.models import ApiKey, CustomAction, Shop, utcnow
from devstore.tokens import mint_session_token
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.rewards_fixtures import SHOP, env, make_member, make_reward, shop_of  # noqa: F401

PROGRAM_FIELDS = {"enabled", "points_per_currency_unit", "point_value", "pending_days", "reversal_policy",
                  "signup_points", "birthday_points", "tier_metric", "tier_window", "downgrade_grace_days", "tiers",
                  "rewards", "referral", "expiry_mode", "expiry_days", "code_expiry_days"}


@pytest.fixture
def api(env: dict[str, Any]) -> Any:
    client = env["app"].test_client()
    token = mint_session_token(SHOP, TEST_KEY, TEST_SECRET)
    raw = "rk_test_" + "a" * 32
    db.session.add(ApiKey(shop_id=env["shop_id"], name="tools", prefix=raw[:12], key_hash=hash_api_key(raw),
                          created_at=utcnow()))
    db.session.commit()
    client.bearer = {"Authorization": f"Bearer {token}"}
    client.key = {"X-Regulars-Api-Key": raw}
    return client


def assert_error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    err = resp.get_json()["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str)
    return err


def test_unauthenticated_is_401_with_the_error_shape(api: Any) -> None:
    assert_error(api.get("/api/v1/program"), 401)
    assert_error(api.get("/api/v1/program", headers={"X-Regulars-Api-Key": "nope"}), 401)


def test_program_document_and_patch_all_or_nothing(env: dict[str, Any], api: Any) -> None:
    make_reward(env)
    doc = api.get("/api/v1/program", headers=api.key).get_json()
    assert set(doc) >= PROGRAM_FIELDS
    assert doc["points_per_currency_unit"] == "5" and doc["referral"] == {"friend_discount": "10.00",
                                                                           "advocate_points": 500}
    assert set(doc["rewards"][0]) >= {"id", "type", "name", "points_cost", "value", "minimum_subtotal"}
    bad = api.patch("/api/v1/program", headers=api.bearer, json={
        "signup_points": 250, "pending_days": -1, "tiers": [{"name": "Gold", "threshold": "x"}],
        "referral": {"friend_discount": "abc"}})
    err = assert_error(bad, 422)
    assert {"pending_days", "tiers.0.threshold", "referral.friend_discount"} <= set(err["fields"])
    assert api.get("/api/v1/program", headers=api.key).get_json()["signup_points"] == 100  # nothing saved
    ok = api.patch("/api/v1/program", headers=api.bearer, json={
        "signup_points": 250, "referral": {"advocate_points": 800},
        "tiers": [{"name": "Silver", "threshold": 0}, {"name": "Gold", "threshold": "1000", "multiplier": "1.5",
                                                       "entry_bonus": 200}]})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    doc = ok.get_json()
    assert doc["signup_points"] == 250 and doc["referral"]["advocate_points"] == 800
    assert [(t["name"], t["threshold"], t["multiplier"]) for t in doc["tiers"]] == [
        ("Silver", "0", "1"), ("Gold", "1000", "1.5")]
    assert set(doc["tiers"][0]) >= {"id", "name", "threshold", "multiplier", "entry_bonus"}


def test_member_ledger_adjust_and_redeem(env: dict[str, Any], api: Any) -> None:
    member = make_member(env, "ann@example.com", 600)
    reward = make_reward(env)
    cid = str(member.customer_id)
    assert int(cid) > 2**53
    m = api.get(f"/api/v1/members/{cid}", headers=api.key).get_json()
    assert set(m) >= {"customer_id", "email", "points_available", "points_pending", "tier", "referral_code",
                      "referral_url", "lifetime_points", "lifetime_spent"}
    assert m["customer_id"] == cid and m["points_available"] == 600
    assert m["referral_url"] == f"https://{SHOP}/apps/regulars/r/{m['referral_code']}"

    err = assert_error(api.post(f"/api/v1/members/{cid}/adjustments", headers=api.key, json={"points": 50}), 422)
    assert "reason" in err["fields"]
    adj = api.post(f"/api/v1/members/{cid}/adjustments", headers=api.key,
                   json={"points": -100, "reason": "duplicate order", "note": "sorry"})
    assert adj.status_code == 201 and adj.get_json()["points"] == -100

    ledger = api.get(f"/api/v1/members/{cid}/ledger", headers=api.bearer).get_json()["entries"]
    assert [e["points"] for e in ledger] == [-100, 600]  # newest first
    assert set(ledger[0]) >= {"id", "points", "kind", "source", "status", "created_at"}

    body = {"reward_id": reward.id, "idempotency_key": "req-1"}
    first = api.post(f"/api/v1/members/{int(cid)}/redemptions", headers=api.key, json=body)
    assert first.status_code == 201, first.get_data(as_text=True)
    got = first.get_json()
    assert got["code"].startswith("REG-") and got["points"] == 500 and got["expires_at"]
    again = api.post(f"/api/v1/members/{cid}/redemptions", headers=api.key, json=body)
    assert again.get_json()["code"] == got["code"]
    assert len(env["store"].discount_codes(SHOP)) == 1
    err = assert_error(api.post(f"/api/v1/members/{cid}/redemptions", headers=api.key,
                                json={"reward_id": reward.id, "idempotency_key": "req-2"}), 409)
    assert err["code"] == "insufficient_points"
    err = assert_error(api.post(f"/api/v1/members/{cid}/redemptions", headers=api.key, json={"reward_id": "x"}), 422)
    assert {"reward_id", "idempotency_key"} <= set(err["fields"])
    assert api.get(f"/api/v1/members/{cid}", headers=api.key).get_json()["points_available"] == 0


def test_unknown_and_other_shops_customers_are_404(env: dict[str, Any], api: Any) -> None:
    env["store"].add_shop("beta.myshopify.com")
    other = Shop(domain="beta.myshopify.com", settings={}, installed_at=utcnow(), access_token="x",
                 created_at=utcnow())
    db.session.add(other)
    db.session.commit()
    from app.models import Member

    stranger = Member(shop_id=other.id, customer_id=11_000_000_000_009_999, points_available=5, points_pending=0,
                      lifetime_points=0, orders_count=0, created_at=utcnow())
    db.session.add(stranger)
    db.session.commit()
    for path in ("/api/v1/members/11000000000009999", "/api/v1/members/11000000000009999/ledger",
                 "/api/v1/members/123", "/api/v1/members/abc"):
        assert_error(api.get(path, headers=api.key), 404)
    assert_error(api.post("/api/v1/members/11000000000009999/adjustments", headers=api.key,
                          json={"points": 5, "reason": "x"}), 404)


def test_signed_actions_from_another_app(env: dict[str, Any], api: Any) -> None:
    from app.services.actions import sign_action_body

    member = make_member(env, "ann@example.com")
    db.session.add(CustomAction(shop_id=env["shop_id"], key="review", name="Write a review", points=50,
                                limit="unlimited", created_at=utcnow()))
    db.session.commit()
    secret = shop_of(env).action_secret
    raw = json.dumps({"customer_id": str(member.customer_id), "action": "review", "idempotency_key": "r1"}).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Shop-Domain": SHOP,
               "X-Regulars-Hmac-Sha256": sign_action_body(secret, raw)}
    resp = api.post("/api/v1/actions", data=raw, headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["points"] == 50
    assert api.post("/api/v1/actions", data=raw, headers=headers).status_code == 200  # retry: same award
    forged = {**headers, "X-Regulars-Hmac-Sha256": sign_action_body("wrong", raw)}
    assert_error(api.post("/api/v1/actions", data=raw, headers=forged), 401)
    bad = json.dumps({"customer_id": "x"}).encode()
    err = assert_error(api.post("/api/v1/actions", data=bad, headers={
        **headers, "X-Regulars-Hmac-Sha256": sign_action_body(secret, bad)}), 422)
    assert {"customer_id", "action", "idempotency_key"} <= set(err["fields"])
    m = api.get(f"/api/v1/members/{member.customer_id}", headers=api.key).get_json()
    assert m["points_available"] == 50
