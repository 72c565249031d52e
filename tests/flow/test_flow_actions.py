"""POST /flow/actions/{handle}: Shopify Flow's signed action requests ("add or remove points", "set tier"),
verified with shopify_app's Flow check; a retried action run changes nothing twice; bad requests change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LedgerEntry, Shop, ShopIntegration, Tier, utcnow
from app.services.members import enroll
from tests.helpers import sign

pytestmark = pytest.mark.postgres
SHOP = "alpha.myshopify.com"
CID = 8_300_000_000_000_001


@pytest.fixture
def flow_app(pg_app: Any) -> Any:
    with pg_app.app_context():
        shop = Shop(domain=SHOP, settings={}, installed_at=utcnow(), access_token="tok", created_at=utcnow(),
                    updated_at=utcnow())
        db.session.add(shop)
        db.session.commit()
        enroll(shop, CID)
        yield pg_app
        db.session.remove()


def _post(app: Any, handle: str, properties: dict[str, Any], run_id: str = "run-1", secret: str | None = None,
          raw: bytes | None = None) -> Any:
    body = raw if raw is not None else json.dumps({
        "shop_id": 1, "shopify_domain": SHOP, "action_run_id": run_id, "action_definition_id": handle,
        "handle": handle, "properties": properties}).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Shop-Domain": SHOP}
    headers["X-Shopify-Hmac-Sha256"] = sign(body) if secret is None else sign(body, secret)
    return app.test_client().post(f"/flow/actions/{handle}", data=body, headers=headers)


def _balance() -> int:
    return int(sum(db.session.execute(select(LedgerEntry.points)).scalars()))


def test_add_points_once_per_action_run(flow_app):
    before = _balance()
    resp = _post(flow_app, "regulars-adjust-points", {"customer_id": f"gid://shopify/Customer/{CID}", "points": 250,
                                                      "reason": "Left a review"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["return_value"]["points"] == 250
    again = _post(flow_app, "regulars-adjust-points", {"customer_id": CID, "points": 250})  # Flow retries the run
    assert again.status_code == 200
    assert _balance() == before + 250
    minus = _post(flow_app, "regulars-adjust-points", {"customer_id": CID, "points": -50}, run_id="run-2")
    assert minus.status_code == 200 and _balance() == before + 200


def test_set_tier_by_name(flow_app):
    with flow_app.app_context():
        gold = Tier(shop_id=db.session.execute(select(Shop.id)).scalar_one(), name="Gold", handle="gold",
                    threshold=1000, multiplier=1, entry_bonus=0, position=0, created_at=utcnow(), updated_at=utcnow())
        db.session.add(gold)
        db.session.commit()
        resp = _post(flow_app, "regulars-set-tier", {"customer_id": CID, "tier": "gold"})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.get_json()["return_value"] == {"tier": "Gold", "changed": True}
        assert _post(flow_app, "regulars-set-tier", {"customer_id": CID, "tier": "gold"}).get_json()["return_value"][
            "changed"] is False
        bad = _post(flow_app, "regulars-set-tier", {"customer_id": CID, "tier": "Platinum"}, run_id="run-9")
        assert bad.status_code == 422 and "tier" in bad.get_json()["error"]["fields"]


def test_unsigned_or_forged_requests_change_nothing(flow_app):
    before = _balance()
    assert _post(flow_app, "regulars-adjust-points", {"customer_id": CID, "points": 9}, secret="wrong").status_code == 401
    resp = flow_app.test_client().post("/flow/actions/regulars-adjust-points", json={"properties": {}})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthenticated"
    assert _post(flow_app, "regulars-adjust-points", {}, raw=b"not json").status_code == 400
    assert _post(flow_app, "regulars-nope", {"customer_id": CID}).status_code == 404
    assert _post(flow_app, "regulars-adjust-points", {"customer_id": 42, "points": 5}).status_code == 404
    bad = _post(flow_app, "regulars-adjust-points", {"customer_id": CID, "points": "lots"})
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]
    assert _balance() == before


def test_the_lifecycle_callback_turns_a_trigger_on_for_the_shop(flow_app):
    body = json.dumps({"flow_trigger_definition_id": "regulars-tier-changed", "has_enabled_flow": True,
                       "shop_id": 1, "shopify_domain": SHOP, "timestamp": "2026-12-01T10:00:00Z"}).encode()
    resp = flow_app.test_client().post("/flow/lifecycle", data=body, headers={
        "Content-Type": "application/json", "X-Shopify-Hmac-Sha256": sign(body)})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with flow_app.app_context():
        row = db.session.execute(select(ShopIntegration)).scalar_one()
        assert row.flow_triggers == {"regulars-tier-changed": True} and row.flow_enabled is False
