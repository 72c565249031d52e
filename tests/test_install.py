"""Install, authenticate, refresh, uninstall and reinstall against the stand-in Shopify (the production path)."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import shopify
from sqlalchemy import select

from app.extensions import db
from app.models import Member, Shop, WebhookDelivery, utcnow
from app.services import shops
from devstore.tokens import mint_session_token, oauth_query_hmac
from tests.conftest import TEST_KEY, TEST_SECRET

SHOP = "alpha.myshopify.com"


def _load_admin(client, shop=SHOP, secret=TEST_SECRET):
    token = mint_session_token(shop, TEST_KEY, secret)
    return client.get(f"/?shop={shop}&host=abc&embedded=1&id_token={token}")


def _shop(app) -> Shop | None:
    with app.app_context():
        row = db.session.execute(select(Shop).where(Shop.domain == SHOP)).scalar_one_or_none()
        db.session.expunge_all()
        return row


def test_official_oauth_query_hmac_vector():
    shopify.Session.setup(api_key="k", secret="hush")
    params = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com",
              "state": "0.6784241404160823", "timestamp": "1337178173"}
    expected = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
    assert shopify.Session.calculate_hmac(params) == expected
    assert shopify.Session.validate_hmac({**params, "hmac": expected})
    shopify.Session.setup(api_key=TEST_KEY, secret=TEST_SECRET)


def test_first_admin_load_exchanges_the_session_token_for_an_expiring_offline_token(devstore_env):
    store, app = devstore_env["store"], devstore_env["app"]
    store.add_shop(SHOP)
    client = app.test_client()
    resp = _load_admin(client)
    assert resp.status_code == 200 and SHOP.encode() in resp.data
    shop = _shop(app)
    assert shop is not None and shop.active
    issued = {t["token"] for t in store.access_tokens(SHOP)}
    assert shop.access_token in issued and shop.refresh_token
    assert shop.access_token_expires_at > utcnow() and shop.refresh_token_expires_at > shop.access_token_expires_at
    # A second load uses the stored token: no second exchange.
    before = len(store.requests_log(SHOP, "/admin/oauth/access_token"))
    assert _load_admin(client).status_code == 200
    assert len(store.requests_log(SHOP, "/admin/oauth/access_token")) == before


def test_forged_or_expired_session_token_is_refused_and_installs_nothing(devstore_env):
    store, app = devstore_env["store"], devstore_env["app"]
    store.add_shop(SHOP)
    client = app.test_client()
    assert _load_admin(client, secret="not-the-secret").status_code in (401, 302)
    old = mint_session_token(SHOP, TEST_KEY, TEST_SECRET, now=time.time() - 3600)
    assert client.get(f"/?shop={SHOP}&id_token={old}").status_code in (401, 302)
    bearer = client.get("/api/anything", headers={"Authorization": f"Bearer {old}"})
    assert bearer.status_code in (401, 404)
    assert _shop(app) is None


def test_token_is_refreshed_before_it_expires(devstore_env):
    store, app = devstore_env["store"], devstore_env["app"]
    store.add_shop(SHOP)
    _load_admin(app.test_client())
    with app.app_context():
        shop = shops.get_shop(SHOP)
        first = shop.access_token
        # Thirty seconds left: inside the refresh margin.
        shop.access_token_expires_at = utcnow() + timedelta(seconds=30)
        db.session.commit()
        token = shops.access_token_for(shop)
        assert token != first and token == shops.get_shop(SHOP).access_token
        # The refreshed token works against the Admin API.
        data = shops.admin_graphql(shops.get_shop(SHOP), "{ shop { name } }")
        assert "shop" in data


def test_authorization_code_install(devstore_env):
    store, app = devstore_env["store"], devstore_env["app"]
    store.add_shop(SHOP)
    client = app.test_client()
    resp = client.get(f"/auth/install?shop={SHOP}")
    assert resp.status_code == 302
    authorize = urlparse(resp.headers["Location"])
    assert authorize.netloc == SHOP and authorize.path == "/admin/oauth/authorize"
    # The merchant approves at the stand-in; it redirects back with code, hmac, state, timestamp.
    approve = httpx.get(f"{devstore_env['store_url']}{authorize.path}?{authorize.query}", headers={"Host": SHOP})
    assert approve.status_code in (302, 303)
    callback = urlparse(approve.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    # Tampering with any parameter breaks the HMAC.
    assert client.get("/auth/callback", query_string={**query, "shop": "other.myshopify.com"}).status_code in (400, 401)
    done = client.get("/auth/callback", query_string=query)
    assert done.status_code == 302, done.data
    assert _shop(app).access_token


def test_callback_refuses_wrong_state_stale_timestamp_and_bad_shop(pg_app):
    client = pg_app.test_client()
    client.get(f"/auth/install?shop={SHOP}")
    base = {"code": "c", "shop": SHOP, "state": "wrong", "timestamp": str(int(time.time()))}
    assert client.get("/auth/callback", query_string={**base, "hmac": oauth_query_hmac(base, TEST_SECRET)}).status_code == 401
    stale = {**base, "timestamp": str(int(time.time()) - 3600)}
    assert client.get("/auth/callback", query_string={**stale, "hmac": oauth_query_hmac(stale, TEST_SECRET)}).status_code == 401
    assert client.get("/auth/install?shop=evil.example.com").status_code == 400
    assert client.get("/auth/install?shop=a..b.myshopify.com").status_code == 400
    with pg_app.app_context():
        assert db.session.execute(select(Shop)).first() is None


def _wait(predicate, seconds=10.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_uninstall_stops_work_at_once_and_reinstall_works(devstore_env):
    store, app = devstore_env["store"], devstore_env["app"]
    store.add_shop(SHOP)
    client = app.test_client()
    _load_admin(client)
    store.uninstall(SHOP)  # sends app/uninstalled to the live app
    shop = _shop(app)
    assert shop.uninstalled_at is not None and shop.access_token is None and shop.refresh_token is None
    with app.app_context():
        db.session.add(WebhookDelivery(shop_domain=SHOP, topic="customers/create", webhook_id="w-late",
                                       body='{"id": 5, "email": "late@x.y"}'))
        db.session.commit()
        from app.jobs.webhooks import drain_webhooks

        drain_webhooks(0)
        assert db.session.execute(select(WebhookDelivery.status).where(WebhookDelivery.webhook_id == "w-late")).scalar_one() == "skipped"
        assert db.session.execute(select(Member)).first() is None
    # The merchant installs again: the next admin load exchanges a new token and work resumes.
    assert _load_admin(client).status_code == 200
    shop = _shop(app)
    assert shop.active and shop.access_token and shop.uninstalled_at is None
    store.create_customer(SHOP, "back@x.y", "Back", "Again")
    assert _wait(lambda: _member_emails(app) == ["back@x.y"])


def _member_emails(app):
    with app.app_context():
        emails = db.session.execute(select(Member.email)).scalars().all()
        db.session.rollback()
        return emails
