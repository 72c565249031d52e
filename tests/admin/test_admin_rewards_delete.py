"""Deleting a reward: gone from the admin's program, the widget's catalogue and /api/v1, while history keeps its name."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.models import AuditLog, Redemption, Reward
from app.services import catalogue
from tests.admin.support import SHOP, api, install_shop, member

pytestmark = pytest.mark.postgres


def _reward(client: Any, name: str, cost: int) -> dict[str, Any]:
    r = api(client, "POST", "/api/admin/rewards", json={"type": "fixed_amount", "name": name, "points_cost": cost,
                                                        "value": "5.00"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_deleted_reward_vanishes_from_every_list_and_history_keeps_its_name(client: Any, shop: Any,
                                                                              pg_app: Any) -> None:
    keep, gone = _reward(client, "5 off", 500), _reward(client, "10 off", 1000)
    key = api(client, "POST", "/api/admin/api-keys", json={"name": "ERP"}).get_json()["key"]
    with pg_app.app_context():
        m = member(shop, 41, email="ria@x.test", first="Ria", points=0)
        db.session.add(Redemption(shop_id=shop.id, member_id=m.id, reward_id=gone["id"], reward_name="10 off",
                                  reward_type="fixed_amount", idempotency_key="r-41", points=1000, code="RGL-ABC",
                                  status="issued"))
        db.session.commit()
        found, version = catalogue.find_shop(SHOP)
        assert found is not None
        assert [r.name for r in catalogue.catalogue_for(found, version).rewards] == ["5 off", "10 off"]

    r = api(client, "DELETE", f"/api/admin/rewards/{gone['id']}")
    assert r.status_code == 200 and r.get_json() == {"deleted": gone["id"]}

    assert [x["id"] for x in api(client, "GET", "/api/admin/program").get_json()["rewards"]] == [keep["id"]]
    v1 = client.get("/api/v1/program", headers={"X-Regulars-Api-Key": key}).get_json()
    assert [x["name"] for x in v1["rewards"]] == ["5 off"]
    with pg_app.app_context():
        found, version = catalogue.find_shop(SHOP)  # a new version key: the widget's cached copy is not used
        assert found is not None
        assert [r.name for r in catalogue.catalogue_for(found, version).rewards] == ["5 off"]
        row = db.session.get(Reward, gone["id"])
        assert row is not None and row.deleted_at is not None and row.active is False
        [audit_row] = db.session.query(AuditLog).filter(AuditLog.action == "reward.deleted").all()
        assert audit_row.details == {"name": "10 off", "points_cost": 1000}
    # The member's history still names what they redeemed.
    codes = api(client, "GET", "/api/admin/members/41").get_json()["codes"]
    assert [(c["code"], c["reward"]) for c in codes] == [("RGL-ABC", "10 off")]
    # Gone for every later edit, delete and redemption.
    assert api(client, "DELETE", f"/api/admin/rewards/{gone['id']}").status_code == 404
    assert api(client, "PUT", f"/api/admin/rewards/{gone['id']}", json={"active": True}).status_code == 404
    redeem = client.post("/api/v1/members/41/redemptions", headers={"X-Regulars-Api-Key": key},
                         json={"reward_id": gone["id"], "idempotency_key": "again"})
    # As for a reward that never existed.
    assert redeem.status_code == 422 and redeem.get_json()["error"]["fields"] == {"reward_id": "unknown reward"}
    revive = client.patch("/api/v1/program", headers={"X-Regulars-Api-Key": key},
                          json={"rewards": [{"id": gone["id"], "type": "fixed_amount", "name": "10 off",
                                             "points_cost": 1000, "value": "5.00"}]})
    assert revive.status_code == 422 and revive.get_json()["error"]["fields"] == {"rewards.0.id": "unknown reward"}


def test_another_shops_reward_is_not_found(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        other = install_shop("beta.myshopify.com")
        theirs = Reward(shop_id=other.id, type="free_shipping", name="Theirs", points_cost=100)
        db.session.add(theirs)
        db.session.commit()
        theirs_id = theirs.id
    assert api(client, "DELETE", f"/api/admin/rewards/{theirs_id}").status_code == 404
    assert api(client, "PUT", f"/api/admin/rewards/{theirs_id}", json={"name": "Mine"}).status_code == 404
    with pg_app.app_context():
        row = db.session.get(Reward, theirs_id)
        assert row is not None and (row.name, row.active, row.deleted_at) == ("Theirs", True, None)


def test_reward_errors_are_in_plain_words(client: Any, shop: Any) -> None:
    r = api(client, "POST", "/api/admin/rewards", json={"type": "fixed_amount", "name": "x", "points_cost": -5,
                                                        "value": "lots"})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["message"] == "Check the highlighted fields"
    assert set(error["fields"]) >= {"points_cost", "value"}
    for message in error["fields"].values():
        assert message[:1].isupper() and "must be" not in message, message
