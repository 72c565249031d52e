"""POST /webhooks: verified, stored once, acknowledged; everything else rejected with nothing stored."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.extensions import db
from app.models import Member, Shop, WebhookDelivery, utcnow
from tests.helpers import post_webhook, sign, webhook


def _count(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()


def _install(app, domain="alpha.myshopify.com") -> None:
    with app.app_context():
        db.session.add(Shop(domain=domain, settings={}, installed_at=utcnow(), access_token="tok"))
        db.session.commit()


def test_official_webhook_hmac_vector():
    # Shopify's published example: secret test_secret_key over {"foo": "bar"}.
    assert sign(b'{"foo": "bar"}', "test_secret_key") == "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="


def test_authentic_delivery_is_stored_and_processed(pg_app, client):
    _install(pg_app)
    resp = post_webhook(client, "customers/create", {"id": 7000000000000000123, "email": "Ann@Example.com",
                                                     "first_name": "Ann", "created_at": "2026-11-01T10:00:00Z"})
    assert resp.status_code == 200
    with pg_app.app_context():
        d = db.session.execute(select(WebhookDelivery)).scalar_one()
        assert d.topic == "customers/create" and d.status == "processed"
        m = db.session.execute(select(Member)).scalar_one()
        # Ids above 2^53 survive exactly.
        assert m.customer_id == 7000000000000000123 and m.email == "Ann@Example.com"
        # Joining gives the member their referral code at once (Crockford base32, 8 characters).
        assert m.enrolled_at is not None and m.referral_code and len(m.referral_code) == 8


def test_bad_or_missing_hmac_is_401_and_stores_nothing(pg_app, client):
    body, headers = webhook("orders/paid", {"id": 1})
    headers["X-Shopify-Hmac-Sha256"] = sign(body, "wrong-secret")
    assert client.post("/webhooks", data=body, headers=headers).status_code == 401
    del headers["X-Shopify-Hmac-Sha256"]
    assert client.post("/webhooks", data=body, headers=headers).status_code == 401
    # A body changed after signing.
    body2, headers2 = webhook("orders/paid", {"id": 1})
    assert client.post("/webhooks", data=body2 + b" ", headers=headers2).status_code == 401
    assert _count(pg_app) == 0


def test_missing_headers_and_non_json_are_400(pg_app, client):
    body, headers = webhook("orders/paid", {"id": 1})
    del headers["X-Shopify-Webhook-Id"]
    resp = client.post("/webhooks", data=body, headers=headers)
    assert resp.status_code == 400 and "X-Shopify-Webhook-Id" in resp.get_json()["error"]["message"]
    body, headers = webhook("orders/paid", b"not json{")
    assert client.post("/webhooks", data=body, headers=headers).status_code == 400
    body, headers = webhook("orders/paid", b"[1, 2]")
    assert client.post("/webhooks", data=body, headers=headers).status_code == 400
    body, headers = webhook("orders/paid", {"id": 1}, shop="evil.example.com")
    assert client.post("/webhooks", data=body, headers=headers).status_code == 400
    assert _count(pg_app) == 0


def test_oversized_body_is_413(pg_app, client):
    big = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
    body, headers = webhook("orders/paid", big)
    assert client.post("/webhooks", data=body, headers=headers).status_code == 413
    assert _count(pg_app) == 0


def test_compliance_topics_only_on_their_route(pg_app, client):
    body, headers = webhook("shop/redact", {"shop_domain": "alpha.myshopify.com"})
    assert client.post("/webhooks", data=body, headers=headers).status_code == 400
    assert client.post("/webhooks/compliance", data=body, headers=headers).status_code == 200


def test_duplicates_by_webhook_id_or_event_id_are_stored_once(pg_app, client):
    _install(pg_app)
    payload = {"id": 42, "email": "a@b.co"}
    r1 = post_webhook(client, "customers/update", payload, webhook_id="w-1", event_id="e-1")
    r2 = post_webhook(client, "customers/update", payload, webhook_id="w-1", event_id="e-1")
    # Shopify's retry of the same event carries a new webhook id but the same event id.
    r3 = post_webhook(client, "customers/update", payload, webhook_id="w-2", event_id="e-1")
    assert (r1.status_code, r2.status_code, r3.status_code) == (200, 200, 200)
    assert _count(pg_app) == 1


def test_unhandled_topic_is_acknowledged_and_skipped(pg_app, client):
    _install(pg_app)
    assert post_webhook(client, "products/create", {"id": 1}).status_code == 200
    with pg_app.app_context():
        assert db.session.execute(select(WebhookDelivery.status)).scalar_one() == "skipped"


def test_uninstalled_shop_gets_no_work_done(pg_app, client):
    _install(pg_app)
    assert post_webhook(client, "app/uninstalled", {"id": 1, "domain": "alpha.myshopify.com"},
                        triggered_at="2099-01-01T00:00:00Z").status_code == 200
    with pg_app.app_context():
        shop = db.session.execute(select(Shop)).scalar_one()
        assert shop.uninstalled_at is not None and shop.access_token is None and shop.refresh_token is None
    post_webhook(client, "customers/create", {"id": 5, "email": "x@y.z"})
    with pg_app.app_context():
        assert db.session.execute(select(func.count()).select_from(Member)).scalar_one() == 0
        statuses = db.session.execute(select(WebhookDelivery.topic, WebhookDelivery.status)).all()
        assert ("customers/create", "skipped") in statuses


def test_one_shop_cannot_touch_another(pg_app, client):
    _install(pg_app, "alpha.myshopify.com")
    _install(pg_app, "beta.myshopify.com")
    post_webhook(client, "customers/create", {"id": 9, "email": "a@alpha.co"}, shop="alpha.myshopify.com")
    # Same customer id sent for beta: a separate member, alpha's is untouched.
    post_webhook(client, "customers/update", {"id": 9, "email": "b@beta.co"}, shop="beta.myshopify.com")
    with pg_app.app_context():
        rows = {(s, e) for s, e in db.session.execute(
            select(Shop.domain, Member.email).join(Member, Member.shop_id == Shop.id)).all()}
        assert rows == {("alpha.myshopify.com", "a@alpha.co"), ("beta.myshopify.com", "b@beta.co")}
