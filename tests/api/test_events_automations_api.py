"""Public API v1 for events out and automations, as contract.md has them: the pull feed, webhook endpoints
(https to public hosts only, loopback in development), automations list / edit / results, error shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app import create_app
from app.extensions import db
from app.models import Shop, utcnow
from app.services.adjustments import adjust_points
from app.services.members import enroll
from devstore.tokens import mint_session_token
from tests.conftest import TEST_KEY, TEST_SECRET, make_config, truncate_all

pytestmark = pytest.mark.postgres
SHOP = "alpha.myshopify.com"
OTHER = "beta.myshopify.com"


def _app(pg_url: str, env: str) -> Iterator[Any]:
    app = create_app(make_config(env=env, database_url=pg_url))
    with app.app_context():
        for domain in (SHOP, OTHER):
            db.session.add(Shop(domain=domain, settings={}, installed_at=utcnow(), access_token="tok",
                                created_at=utcnow(), updated_at=utcnow()))
        db.session.commit()
        client = app.test_client()
        client.auth = {"Authorization": f"Bearer {mint_session_token(SHOP, TEST_KEY, TEST_SECRET)}"}
        client.other = {"Authorization": f"Bearer {mint_session_token(OTHER, TEST_KEY, TEST_SECRET)}"}
        app.client = client
        yield app
        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)


@pytest.fixture
def prod_app(pg_url: str) -> Iterator[Any]:
    yield from _app(pg_url, "test")  # anything but development: production rules


@pytest.fixture
def dev_app(pg_url: str) -> Iterator[Any]:
    yield from _app(pg_url, "development")


def _shop(domain: str = SHOP) -> Shop:
    return db.session.execute(db.select(Shop).where(Shop.domain == domain)).scalar_one()


def _error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    err = resp.get_json()["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str)
    return err


def test_the_pull_feed_pages_through_the_shops_events_in_order(dev_app):
    c = dev_app.client
    members = [enroll(_shop(), 8_000_000_000_000_000 + i) for i in range(3)]
    for m in members:
        adjust_points(_shop(), m, points=7, reason="test", actor="test")
    enroll(_shop(OTHER), 8_100_000_000_000_000)  # another shop's event never shows
    first = c.get("/api/v1/events?limit=4", headers=c.auth).get_json()
    assert len(first["events"]) == 4 and first["next"] == first["events"][-1]["id"]
    rest = c.get(f"/api/v1/events?after={first['next']}&limit=100", headers=c.auth).get_json()
    assert rest["next"] is None
    events = first["events"] + rest["events"]
    assert len(events) == 6 and [int(e["id"]) for e in events] == sorted(int(e["id"]) for e in events)
    assert {e["shop"] for e in events} == {SHOP}
    assert {e["type"] for e in events} == {"points.earned", "points.adjusted"}
    assert all(set(e) >= {"id", "type", "shop", "occurred_at", "customer_id", "data"} for e in events)
    assert c.get("/api/v1/events", headers=c.other).get_json()["events"][0]["shop"] == OTHER
    _error(c.get("/api/v1/events?limit=5000", headers=c.auth), 422)
    _error(c.get("/api/v1/events?after=abc", headers=c.auth), 422)
    _error(c.get("/api/v1/events"), 401)


def test_webhook_endpoints_in_production_take_https_public_hosts_only(prod_app):
    c = prod_app.client
    for url in ("http://example.com/hook", "https://127.0.0.1/hook", "https://localhost/x", "https://10.0.0.8/x",
                "https://printer.local/x", "ftp://example.com", "https://user:pw@example.com/x", "not a url"):
        err = _error(c.post("/api/v1/webhook-endpoints", json={"url": url}, headers=c.auth), 422)
        assert "url" in err["fields"], url
    _error(c.post("/api/v1/webhook-endpoints", json={"url": "https://ok.example.com/h", "events": ["nope"]},
                  headers=c.auth), 422)
    created = c.post("/api/v1/webhook-endpoints", json={"url": "https://hooks.example.com/regulars",
                                                        "events": ["points.earned"]}, headers=c.auth)
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) >= {"id", "url", "events", "secret"} and body["events"] == ["points.earned"]
    listed = c.get("/api/v1/webhook-endpoints", headers=c.auth).get_json()["webhook_endpoints"]
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    # Another shop cannot see or remove it.
    assert c.get("/api/v1/webhook-endpoints", headers=c.other).get_json()["webhook_endpoints"] == []
    _error(c.delete(f"/api/v1/webhook-endpoints/{body['id']}", headers=c.other), 404)
    assert c.delete(f"/api/v1/webhook-endpoints/{body['id']}", headers=c.auth).status_code == 204
    assert c.get("/api/v1/webhook-endpoints", headers=c.auth).get_json()["webhook_endpoints"] == []
    _error(c.delete("/api/v1/webhook-endpoints/999999", headers=c.auth), 404)


def test_webhook_endpoints_in_development_also_take_loopback(dev_app):
    c = dev_app.client
    for url in ("http://127.0.0.1:9999/hook", "http://localhost:8080/x"):
        assert c.post("/api/v1/webhook-endpoints", json={"url": url}, headers=c.auth).status_code == 201
    _error(c.post("/api/v1/webhook-endpoints", json={"url": "http://example.com/x"}, headers=c.auth), 422)


def test_automations_list_edit_and_results(dev_app):
    c = dev_app.client
    listed = c.get("/api/v1/automations", headers=c.auth).get_json()["automations"]
    keys = [a["key"] for a in listed]
    assert keys == ["welcome", "first_repeat", "post_purchase", "reactivation", "points_expiring", "birthday",
                    "anniversary", "tier_change"]
    for a in listed:
        assert set(a) >= {"key", "name", "enabled", "holdout_percent", "steps"} and a["holdout_percent"] == 10
        assert all("key" in s and "incentive" in s for s in a["steps"])
    first_repeat = next(a for a in listed if a["key"] == "first_repeat")
    assert [s["after_days"] for s in first_repeat["steps"]] == [7, 14, 30]
    patched = c.patch("/api/v1/automations/first_repeat", headers=c.auth, json={
        "enabled": True, "holdout_percent": 20,
        "steps": [{"key": "day_7", "after_days": 5, "incentive": {"type": "points", "points": 50}}, {"key": "day_30"}]})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    doc = patched.get_json()
    assert doc["enabled"] is True and doc["holdout_percent"] == 20
    assert [(s["key"], s.get("after_days"), s["incentive"]) for s in doc["steps"]] == [
        ("day_7", 5, {"type": "points", "points": 50}), ("day_30", 30, None)]
    assert c.get("/api/v1/automations", headers=c.auth).get_json()["automations"][1] == doc
    # The other shop's flow is untouched; bad input changes nothing and names the fields.
    assert c.get("/api/v1/automations", headers=c.other).get_json()["automations"][1]["enabled"] is False
    err = _error(c.patch("/api/v1/automations/first_repeat", headers=c.auth,
                         json={"holdout_percent": 99, "enabled": False}), 422)
    assert "holdout_percent" in err["fields"]
    assert c.get("/api/v1/automations/first_repeat", headers=c.auth).get_json()["enabled"] is True
    _error(c.patch("/api/v1/automations/first_repeat", headers=c.auth, data="[1]",
                   content_type="application/json"), 422)
    _error(c.patch("/api/v1/automations/nope", headers=c.auth, json={}), 404)
    _error(c.patch("/api/v1/automations/welcome", headers=c.auth, json={
        "steps": [{"key": "welcome", "incentive": {"type": "reward", "reward_id": 12345}}]}), 422)
    # Every automation read back and sent unchanged is accepted as it is.
    for a in c.get("/api/v1/automations", headers=c.auth).get_json()["automations"]:
        same = c.patch(f"/api/v1/automations/{a['key']}", headers=c.auth, json=a)
        assert same.status_code == 200 and same.get_json() == a, (a["key"], same.get_data(as_text=True))
    results = c.get("/api/v1/automations/first_repeat/results?from=2026-01-01&to=2026-12-31", headers=c.auth)
    assert results.status_code == 200
    steps = results.get_json()["steps"]
    assert [s["key"] for s in steps] == ["day_7", "day_30"]
    assert set(steps[0]) >= {"key", "entered", "fired", "converted", "revenue", "holdout_entered",
                             "holdout_converted", "lift", "lift_ci"}
    assert steps[0]["entered"] == 0 and steps[0]["lift"] is None
    _error(c.get("/api/v1/automations/first_repeat/results?from=yesterday", headers=c.auth), 422)
    _error(c.get("/api/v1/automations/nope/results", headers=c.auth), 404)


def test_dead_letters_are_listed_and_replayed_through_the_api(dev_app):
    from app.models import EventDelivery
    from app.services.events import create_endpoint

    c = dev_app.client
    ep = create_endpoint(_shop(), {"url": "http://127.0.0.1:9/never"}, development=True)
    enroll(_shop(), 8_200_000_000_000_000)
    rows = db.session.execute(db.select(EventDelivery)).scalars().all()
    assert [r.destination for r in rows] == [f"webhook:{ep.id}"] and rows[0].attempts == 1  # nothing listens there
    rows[0].status = "dead"
    db.session.commit()
    listed = c.get("/api/v1/event-deliveries?status=dead", headers=c.auth).get_json()
    assert [d["id"] for d in listed["deliveries"]] == [str(rows[0].id)]
    assert listed["deliveries"][0]["event_type"] == "points.earned"
    assert c.get("/api/v1/event-deliveries?status=dead", headers=c.other).get_json()["deliveries"] == []
    _error(c.post(f"/api/v1/event-deliveries/{rows[0].id}/replay", headers=c.other), 404)
    assert c.post(f"/api/v1/event-deliveries/{rows[0].id}/replay", headers=c.auth).get_json() == {"replayed": 1}
    db.session.expire_all()
    assert db.session.get(EventDelivery, rows[0].id).status == "pending"
    _error(c.get("/api/v1/event-deliveries?status=weird", headers=c.auth), 422)
