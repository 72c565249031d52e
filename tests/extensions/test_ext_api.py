"""/ext/v1 as contract.md documents it: the session token of a UI extension (shopify_app's verifiers), CORS,
the member, visitors, orders that are the customer's own and no one else's, and redemption through the one
redemption path the widget and /api/v1 use."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from app.extensions import db
from app.models import LedgerEntry, Member, Redemption, Shop
from devstore.tokens import mint_extension_token, mint_session_token
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.extensions.conftest import SHOP, ExtSeed

ORIGIN = {"Origin": "https://extensions.shopifycdn.com"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **ORIGIN}


def error_of(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    err = resp.get_json()["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str)
    return err


@pytest.fixture
def client(ext: ExtSeed) -> Any:
    return ext.app.test_client()


def test_the_cors_preflight_is_answered_by_shopify_app(client: Any) -> None:
    for path in ("/ext/v1/member", "/ext/v1/redemptions", "/ext/v1/orders/123"):
        resp = client.options(path, headers={**ORIGIN, "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "authorization, content-type"})
        assert resp.status_code == 204, path
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]


def test_missing_forged_expired_or_foreign_tokens_are_401_json_with_cors(client: Any, ext: ExtSeed) -> None:
    error_of(client.get("/ext/v1/member", headers=ORIGIN), 401)
    forged = mint_extension_token(SHOP, TEST_KEY, "not-our-secret", customer_id=ext.ann)
    error_of(client.get("/ext/v1/member", headers=bearer(forged)), 401)
    expired = mint_extension_token(SHOP, TEST_KEY, TEST_SECRET, customer_id=ext.ann, now=1_700_000_000)
    error_of(client.get("/ext/v1/member", headers=bearer(expired)), 401)
    other_app = mint_extension_token(SHOP, "another-app", TEST_SECRET, customer_id=ext.ann)
    error_of(client.get("/ext/v1/member", headers=bearer(other_app)), 401)
    not_installed = mint_extension_token("nowhere.myshopify.com", TEST_KEY, TEST_SECRET, customer_id=ext.ann)
    error_of(client.get("/ext/v1/member", headers=bearer(not_installed)), 401)
    claims = jwt.decode(ext.token(ext.ann), TEST_SECRET, algorithms=["HS256"], audience=TEST_KEY)
    bad_sub = jwt.encode({**claims, "sub": "gid://shopify/Order/1"}, TEST_SECRET, algorithm="HS256")
    error_of(client.get("/ext/v1/member", headers=bearer(bad_sub)), 401)
    # The admin's App Bridge token (same app, same secret) names a staff user, never a customer.
    staff = mint_session_token(SHOP, TEST_KEY, TEST_SECRET, user_id=str(ext.ann))
    error_of(client.get("/ext/v1/member", headers=bearer(staff)), 401)


def test_the_member_is_the_api_member_plus_what_the_extensions_show(client: Any, ext: ExtSeed) -> None:
    resp = client.get("/ext/v1/member", headers=bearer(ext.token(ext.ann)))
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Cache-Control"] == "private, no-store"
    body = resp.get_json()
    admin = mint_session_token(SHOP, TEST_KEY, TEST_SECRET)
    api = client.get(f"/api/v1/members/{ext.ann}", headers={"Authorization": f"Bearer {admin}"}).get_json()
    assert {k: body[k] for k in api} == api  # as GET /api/v1/members/{id} answers it
    assert body["points_available"] == 100 + 1300 - 500 and body["points_pending"] == 299
    rewards = {r["id"]: r for r in body["rewards"]}
    assert rewards[ext.cheap_reward]["redeemable"] is True and "reason" not in rewards[ext.cheap_reward]
    assert rewards[ext.dear_reward] | {"redeemable": False, "reason": "insufficient_points"} == rewards[ext.dear_reward]
    assert set(rewards[ext.cheap_reward]) >= {"id", "name", "type", "points_cost", "redeemable"}
    assert body["codes"] == [{"code": ext.code, "expires_at": body["codes"][0]["expires_at"], "reward": "5 off"}]
    assert [h["kind"] for h in body["history"]][:2] == ["redeem", "admin_adjustment"]
    assert set(body["history"][0]) >= {"id", "points", "kind", "source", "status", "occurred_at"}
    assert body["next_tier"]["name"] == "Silver" and body["tier"]["name"] == "Bronze"
    assert body["next_tier"]["remaining"] == str(1000 - body["lifetime_points"])
    assert body["pending"] == [{"order_id": str(ext.paid_order), "order_name": body["pending"][0]["order_name"],
                                "points": 299, "available_at": body["pending"][0]["available_at"]}]
    assert body["birthday"] == {"month": 3, "day": 14}
    assert body["referral_url"].startswith(f"https://{SHOP}/apps/regulars/r/")
    assert body["program"]["enabled"] is True and body["program"]["currency"] == "EUR"


def test_history_is_the_latest_20_entries(client: Any, ext: ExtSeed) -> None:
    from app.services.adjustments import adjust_points

    with ext.app.app_context():
        shop = db.session.get(Shop, ext.shop_id)
        member = db.session.query(Member).filter_by(shop_id=ext.shop_id, customer_id=ext.ann).one()
        for i in range(25):
            adjust_points(shop, member, points=1, reason="goodwill", actor="staff:test", idempotency_key=f"h{i}")
        newest = [e.id for e in db.session.query(LedgerEntry).filter_by(member_id=member.id)
                  .order_by(LedgerEntry.id.desc()).limit(20)]
    body = client.get("/ext/v1/member", headers=bearer(ext.token(ext.ann))).get_json()
    assert [h["id"] for h in body["history"]] == newest


def test_a_visitor_and_a_customer_who_has_not_joined_get_the_program_only(client: Any, ext: ExtSeed) -> None:
    for customer, signed_in in ((None, False), (ext.carol, True)):
        body = client.get("/ext/v1/member", headers=bearer(ext.token(customer))).get_json()
        assert body["member"] is None and body["signed_in"] is signed_in
        assert "points_available" not in body and "email" not in body
        program = body["program"]
        assert program["signup_points"] == 100 and program["points_per_currency_unit"] == "5"
        assert [t["name"] for t in program["tiers"]] == ["Bronze", "Silver", "Gold"]
        assert {r["name"] for r in program["rewards"]} == {"5 off", "50 off"}


def test_orders_answer_for_their_own_customer_only(client: Any, ext: ExtSeed) -> None:
    ann = bearer(ext.token(ext.ann))
    paid = client.get(f"/ext/v1/orders/{ext.paid_order}", headers=ann).get_json()
    assert paid["order_id"] == str(ext.paid_order) and paid["points"] == 299 and paid["status"] == "pending"
    assert paid["available_at"]
    gid = client.get(f"/ext/v1/orders/gid://shopify/Order/{ext.paid_order}", headers=ann).get_json()
    assert gid == paid
    test_order = client.get(f"/ext/v1/orders/{ext.test_order}", headers=ann).get_json()
    assert (test_order["points"], test_order["status"], test_order["reason"]) == (0, "none", "test_order")
    assert client.get(f"/ext/v1/orders/{ext.gift_order}", headers=ann).get_json()["reason"] == "gift_card"
    # Bob's order, an unknown one, a malformed id and a visitor: all the same 404.
    for path, token in ((f"/ext/v1/orders/{ext.bob_order}", ext.token(ext.ann)),
                        ("/ext/v1/orders/999999999999", ext.token(ext.ann)),
                        ("/ext/v1/orders/gid://shopify/Customer/1", ext.token(ext.ann)),
                        ("/ext/v1/orders/' OR 1=1 --", ext.token(ext.ann)),
                        (f"/ext/v1/orders/{ext.paid_order}", ext.token(None))):
        assert error_of(client.get(path, headers=bearer(token)), 404)["code"] == "not_found"
    assert client.get(f"/ext/v1/orders/{ext.bob_order}", headers=bearer(ext.token(ext.bob))).status_code == 200


def test_an_order_made_while_the_program_is_off_says_so(client: Any, ext: ExtSeed) -> None:
    with ext.app.app_context():
        shop = db.session.get(Shop, ext.shop_id)
        shop.settings = {**(shop.settings or {}), "enabled": False}
        db.session.commit()
    order = int(ext.store.create_order(SHOP, ext.ann, [{"title": "Cap", "price": "15.00"}])["id"])

    for _ in range(200):
        resp = client.get(f"/ext/v1/orders/{order}", headers=bearer(ext.token(ext.ann)))
        if resp.status_code == 200:
            break
        time.sleep(0.05)
    answer = resp.get_json()
    assert (answer["points"], answer["status"], answer["reason"]) == (0, "none", "program_off")
    assert client.get("/ext/v1/member", headers=bearer(ext.token(None))).get_json()["program"]["enabled"] is False


def test_redemption_is_idempotent_and_the_same_path_as_the_api(client: Any, ext: ExtSeed) -> None:
    headers = {**bearer(ext.token(ext.ann)), "Content-Type": "application/json"}
    body = {"reward_id": ext.cheap_reward, "idempotency_key": "ext-key-1"}
    first = client.post("/ext/v1/redemptions", headers=headers, json=body)
    assert first.status_code == 201, first.get_data(as_text=True)
    again = client.post("/ext/v1/redemptions", headers=headers, json=body)
    assert again.status_code == 201 and again.get_json()["code"] == first.get_json()["code"]
    assert first.get_json()["points_available"] == 900 - 500 == again.get_json()["points_available"]
    assert set(first.get_json()) >= {"code", "points", "expires_at"}
    # The same key through the public API is the same redemption: one path, one debit.
    admin = mint_session_token(SHOP, TEST_KEY, TEST_SECRET)
    api = client.post(f"/api/v1/members/{ext.ann}/redemptions", json=body,
                      headers={"Authorization": f"Bearer {admin}"})
    assert api.status_code == 201 and api.get_json()["code"] == first.get_json()["code"]
    with ext.app.app_context():
        member = db.session.query(Member).filter_by(shop_id=ext.shop_id, customer_id=ext.ann).one()
        assert member.points_available == 400
        assert db.session.query(Redemption).filter_by(idempotency_key="ext-key-1").count() == 1
        assert ext.store.discount_codes(SHOP)[-1]["code"] == first.get_json()["code"]
    # Another customer cannot replay Ann's key to see her code.
    bob = {**bearer(ext.token(ext.bob)), "Content-Type": "application/json"}
    assert error_of(client.post("/ext/v1/redemptions", headers=bob, json=body), 409)["code"] == "idempotency_key_reused"


def test_redemption_refusals_and_bad_input_change_nothing(client: Any, ext: ExtSeed) -> None:
    headers = {**bearer(ext.token(ext.ann)), "Content-Type": "application/json"}
    assert error_of(client.post("/ext/v1/redemptions", headers=headers,
                                json={"reward_id": ext.dear_reward, "idempotency_key": "k2"}), 409)["code"] \
        == "insufficient_points"
    err = error_of(client.post("/ext/v1/redemptions", headers=headers, json={"reward_id": "x"}), 422)
    assert set(err["fields"]) == {"reward_id", "idempotency_key"}
    error_of(client.post("/ext/v1/redemptions", headers=headers, data="not json"), 422)
    error_of(client.post("/ext/v1/redemptions", headers=headers, json=[1, 2]), 422)
    error_of(client.post("/ext/v1/redemptions", headers=headers,
                         json={"reward_id": 10**30, "idempotency_key": "k3"}), 422)
    error_of(client.post("/ext/v1/redemptions", headers=headers, data="x" * 20000), 413)
    visitor = {**bearer(ext.token(None)), "Content-Type": "application/json"}
    assert error_of(client.post("/ext/v1/redemptions", headers=visitor,
                                json={"reward_id": ext.cheap_reward, "idempotency_key": "k4"}), 403)["code"] \
        == "sign_in_required"
    carol = {**bearer(ext.token(ext.carol)), "Content-Type": "application/json"}
    assert error_of(client.post("/ext/v1/redemptions", headers=carol,
                                json={"reward_id": ext.cheap_reward, "idempotency_key": "k5"}), 403)["code"] \
        == "not_a_member"
    with ext.app.app_context():
        member = db.session.query(Member).filter_by(shop_id=ext.shop_id, customer_id=ext.ann).one()
        assert member.points_available == 900
    error_of(client.get("/ext/v1/nothing-here", headers=ORIGIN), 404)
