"""Campaigns from the admin: edited, paused, resumed, ended and deleted, and the engine honouring each state on real orders."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.extensions import db
from app.loyalty.campaigns import Campaign as CampaignRule
from app.loyalty.campaigns import active_campaign_effect, campaign_status
from app.models import AuditLog, Campaign
from tests.admin.support import api, install_shop
from tests.services.engine_fixtures import T0, new_id, order_payload

pytestmark = pytest.mark.postgres

# 59.90 × 5 points per 1.00 = 299 points; with the ×2 campaign 599.
PLAIN, DOUBLED = 299, 599


def _double(client: Any, **extra: Any) -> dict[str, Any]:
    body = {"name": "Double March", "kind": "multiplier", "value": "2",
            "starts_at": (T0 - timedelta(days=1)).isoformat(), "ends_at": "2099-01-01T00:00:00+00:00", **extra}
    r = api(client, "POST", "/api/admin/campaigns", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _order_points(eng: Any, customer_id: int) -> int:
    oid = new_id()
    eng.post("orders/paid", order_payload(oid, customer_id))
    return eng.order(oid).points_given


def test_paused_gives_no_multiplier_resumed_gives_it_ended_stays_ended(engine_app: Any) -> None:
    eng = engine_app
    eng.configure(signup_points=0)
    client, cid = eng.client, new_id()
    campaign = _double(client)
    assert campaign["status"] == "active"
    assert _order_points(eng, cid) == DOUBLED

    paused = api(client, "POST", f"/api/admin/campaigns/{campaign['id']}/pause")
    assert paused.status_code == 200 and paused.get_json()["status"] == "paused"
    assert paused.get_json()["status_label"] == "Paused"
    assert _order_points(eng, cid) == PLAIN
    assert api(client, "POST", f"/api/admin/campaigns/{campaign['id']}/pause").status_code == 409

    resumed = api(client, "POST", f"/api/admin/campaigns/{campaign['id']}/resume")
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "active"
    assert _order_points(eng, cid) == DOUBLED

    ended = api(client, "POST", f"/api/admin/campaigns/{campaign['id']}/end")
    assert ended.status_code == 200 and ended.get_json()["status"] == "ended"
    # An order placed after the end earns plain points; the campaign cannot be resumed, paused or re-dated.
    oid = new_id()
    later = T0.replace(year=2027)
    eng.post("orders/paid", order_payload(oid, cid, processed_at=later, updated_at=later))
    assert (eng.order(oid).points_target, eng.order(oid).snapshot.get("campaign_multiplier")) == (PLAIN, "1")
    for move in ("resume", "pause", "end"):
        r = api(client, "POST", f"/api/admin/campaigns/{campaign['id']}/{move}")
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"
    redate = api(client, "PUT", f"/api/admin/campaigns/{campaign['id']}", json={"ends_at": "2099-01-01T00:00:00Z"})
    assert redate.status_code == 409
    renamed = api(client, "PUT", f"/api/admin/campaigns/{campaign['id']}", json={"name": "Double March (over)"})
    assert renamed.status_code == 200 and renamed.get_json()["status"] == "ended"

    actions = [a.action for a in db.session.query(AuditLog).order_by(AuditLog.id)]
    assert actions == ["campaign.created", "campaign.paused", "campaign.resumed", "campaign.ended", "campaign.updated"]


def test_scheduled_then_edited_with_validation(engine_app: Any) -> None:
    client = engine_app.client
    campaign = _double(client, starts_at="2098-01-01T00:00:00Z")
    assert campaign["status"] == "scheduled"
    bad = api(client, "PUT", f"/api/admin/campaigns/{campaign['id']}",
              json={"value": "lots", "ends_at": "2097-01-01T00:00:00Z", "holdout_percent": 95, "segment": "vip"})
    assert bad.status_code == 422
    error = bad.get_json()["error"]
    assert error["message"] == "Check the highlighted fields"
    assert set(error["fields"]) == {"value", "ends_at", "holdout_percent", "segment"}
    assert error["fields"]["value"] == "Enter a number such as 2"
    assert "vip" not in error["fields"]["segment"] and "birthday_month" not in error["fields"]["segment"]
    backwards = api(client, "PUT", f"/api/admin/campaigns/{campaign['id']}", json={"ends_at": "2097-01-01T00:00:00Z"})
    assert backwards.get_json()["error"]["fields"] == {"ends_at": "Choose an end after the start"}
    ok = api(client, "PUT", f"/api/admin/campaigns/{campaign['id']}",
             json={"name": "Triple", "value": "3", "segment": "returning", "holdout_percent": 10,
                   "id": campaign["id"], "status": "scheduled"})
    assert ok.status_code == 200, ok.get_json()
    body = ok.get_json()
    assert (body["name"], body["value"], body["segment"], body["holdout_percent"]) == ("Triple", "3.000", "returning", 10)
    ended = api(client, "POST", f"/api/admin/campaigns/{campaign['id']}/end").get_json()
    # Ended before it started: it ran for no time at all, and says so.
    assert ended["status"] == "ended" and ended["starts_at"] == ended["ends_at"]


def test_deleted_campaign_leaves_the_program_and_gives_nothing(engine_app: Any) -> None:
    eng = engine_app
    eng.configure(signup_points=0)
    client, cid = eng.client, new_id()
    campaign = _double(client)
    assert api(client, "DELETE", f"/api/admin/campaigns/{campaign['id']}").get_json() == {"deleted": campaign["id"]}
    assert api(client, "GET", "/api/admin/program").get_json()["campaigns"] == []
    assert _order_points(eng, cid) == PLAIN
    for method, path in (("DELETE", ""), ("POST", "/resume"), ("PUT", "")):
        r = api(client, method, f"/api/admin/campaigns/{campaign['id']}{path}", json={"name": "x"})
        assert r.status_code == 404, (method, path)
    row = db.session.get(Campaign, campaign["id"])
    assert row is not None and row.deleted_at is not None and row.active is False  # kept for history


def test_another_shops_campaign_is_not_found(engine_app: Any) -> None:
    other = install_shop("beta.myshopify.com")
    theirs = Campaign(shop_id=other.id, name="Theirs", kind="bonus", value=50, starts_at=T0,
                      ends_at=T0.replace(year=2099))
    db.session.add(theirs)
    db.session.commit()
    client = engine_app.client
    for method, path in (("POST", "/pause"), ("POST", "/resume"), ("POST", "/end"), ("PUT", ""), ("DELETE", "")):
        r = api(client, method, f"/api/admin/campaigns/{theirs.id}{path}", json={"name": "Mine now"})
        assert r.status_code == 404, (method, path)
    db.session.expire_all()
    row = db.session.get(Campaign, theirs.id)
    assert row is not None and (row.name, row.active, row.deleted_at) == ("Theirs", True, None)


def test_one_function_decides_the_status() -> None:
    start, end = T0, T0 + timedelta(days=7)
    rule = CampaignRule(1, "multiplier", Decimal(2), start, end)
    cases = [
        (rule, start - timedelta(seconds=1), "scheduled"),
        (rule, start, "active"),
        (rule, end - timedelta(seconds=1), "active"),
        (rule, end, "ended"),
        (replace(rule, paused=True), start, "paused"),
        (replace(rule, paused=True), end, "ended"),  # ended stays ended, paused or not
        (replace(rule, deleted=True, paused=True), start, "deleted"),
    ]
    for campaign, at, status in cases:
        assert campaign_status(campaign, at) == status, (campaign, at)
        effect = active_campaign_effect([campaign], at, None)
        assert effect.multiplier == (2 if status == "active" else 1), status
