"""Token endpoints through shopify_app's own clients: token exchange, refresh, authorization code."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
from shopify_app import ShopifyApp

from devstore import mint_session_token
from devstore.tokens import oauth_query_hmac
from tests.devstore.devstore_support import API_KEY, API_SECRET, SHOP


def _id_token(shopify_app: ShopifyApp, token: str):
    verified = shopify_app.verify_app_home_req(
        {"method": "GET", "url": "https://app.example/api/x", "headers": {"Authorization": f"Bearer {token}"},
         "body": ""},
        app_home_patch_id_token_path="/auth/patch-id-token",
    )
    assert verified.ok
    return verified.id_token


def test_token_exchange_gives_expiring_offline_token_and_refresh_works(running, shopify_app) -> None:
    id_token = _id_token(shopify_app, mint_session_token(SHOP, API_KEY, API_SECRET))
    result = shopify_app.exchange_using_token_exchange("offline", id_token=id_token, http_client=running.http)
    assert result.ok, result.log
    token = result.access_token
    assert result.shop == "demo" and token.token.startswith("shpat_")
    assert token.expires and token.refresh_token and token.refresh_token_expires
    assert running.store.check_access_token(SHOP, token.token) is not None

    # The exchanged token works against Admin GraphQL ...
    gql = shopify_app.admin_graphql_request(
        "{ shop { myshopifyDomain currencyCode } }", shop="demo", access_token=token.token,
        api_version="2026-10", http_client=running.http,
    )
    assert gql.ok and gql.data == {"shop": {"myshopifyDomain": SHOP, "currencyCode": "USD"}}

    # ... and once it has expired, refreshing gives a new pair and spends the old refresh token.
    running.store.expire_access_tokens(SHOP)
    assert running.store.check_access_token(SHOP, token.token) is None
    expired = {**token.__dict__, "expires": "2000-01-01T00:00:00Z"}
    refreshed = shopify_app.refresh_token_exchanged_access_token(expired, http_client=running.http)
    assert refreshed.ok, refreshed.log
    assert refreshed.access_token.token != token.token
    assert refreshed.access_token.refresh_token != token.refresh_token
    assert running.store.check_access_token(SHOP, refreshed.access_token.token) is not None
    again = shopify_app.refresh_token_exchanged_access_token(expired, http_client=running.http)
    assert not again.ok and again.log.code == "invalid_grant"


def test_token_exchange_sends_what_shopify_expects(running, shopify_app) -> None:
    id_token = _id_token(shopify_app, mint_session_token(SHOP, API_KEY, API_SECRET))
    shopify_app.exchange_using_token_exchange("offline", id_token=id_token, expiring=False, http_client=running.http)
    (call,) = running.store.requests_log(SHOP, "/admin/oauth/access_token")
    assert call["shop"] == SHOP and call["status"] == 200
    assert call["body"]["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert call["body"]["expiring"] == 0
    (issued,) = running.store.access_tokens(SHOP)
    assert issued["expires_at"] is None and issued["refresh_token"] is None


def test_online_token_exchange(running, shopify_app) -> None:
    id_token = _id_token(shopify_app, mint_session_token(SHOP, API_KEY, API_SECRET, user_id=9))
    result = shopify_app.exchange_using_token_exchange("online", id_token=id_token, http_client=running.http)
    assert result.ok and result.access_token.user is not None and result.access_token.expires


def test_token_exchange_refuses_wrong_secret_and_foreign_token(running, shopify_app) -> None:
    id_token = _id_token(shopify_app, mint_session_token(SHOP, API_KEY, API_SECRET))
    wrong = ShopifyApp(API_KEY, "another-secret")
    result = wrong.exchange_using_token_exchange("offline", id_token=id_token, http_client=running.http)
    assert not result.ok and result.log.code == "invalid_client"
    response = running.http.post(f"https://{SHOP}/admin/oauth/access_token",
                                 json={"client_id": API_KEY, "client_secret": "nope", "code": "x"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"

    # A session token signed with another secret is not a valid subject token.
    forged = {"exchangeable": True, "token": mint_session_token(SHOP, API_KEY, "other"),
              "claims": {"dest": f"https://{SHOP}"}}
    result = shopify_app.exchange_using_token_exchange("offline", id_token=forged, http_client=running.http)
    assert not result.ok and result.log.code == "invalid_subject_token"

    # A token for one shop cannot be exchanged at another.
    running.store.add_shop("other.myshopify.com")
    other = {"exchangeable": True, "token": mint_session_token(SHOP, API_KEY, API_SECRET),
             "claims": {"dest": "https://other.myshopify.com"}}
    result = shopify_app.exchange_using_token_exchange("offline", id_token=other, http_client=running.http)
    assert not result.ok and result.log.code == "invalid_subject_token"


def test_unknown_shop_is_404(running) -> None:
    response = running.http.post("https://nowhere.myshopify.com/admin/oauth/access_token", json={})
    assert response.status_code == 404


def test_authorization_code_grant(running) -> None:
    response = running.http.get(
        f"https://{SHOP}/admin/oauth/authorize",
        params={"client_id": API_KEY, "scope": "read_orders", "redirect_uri": "https://app.example/auth/callback",
                "state": "n0nce"},
    )
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert location.netloc == "app.example" and location.path == "/auth/callback"
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == SHOP and params["state"] == "n0nce"
    assert params["hmac"] == oauth_query_hmac(params, API_SECRET)

    token = running.http.post(f"https://{SHOP}/admin/oauth/access_token",
                              data={"client_id": API_KEY, "client_secret": API_SECRET, "code": params["code"]})
    assert token.status_code == 200
    assert token.json()["scope"] == "read_orders" and token.json()["access_token"].startswith("shpat_")
    assert "expires_in" not in token.json()
    # A code works once.
    reuse = running.http.post(f"https://{SHOP}/admin/oauth/access_token",
                              json={"client_id": API_KEY, "client_secret": API_SECRET, "code": params["code"]})
    assert reuse.status_code == 400


def test_origin_rewriting_client_sets_host(running) -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"], seen["host"] = str(request.url), request.headers["host"]
        return httpx.Response(200)

    from devstore.testing import OriginRewritingTransport

    client = httpx.Client(transport=OriginRewritingTransport("http://127.0.0.1:9", httpx.MockTransport(handler)))
    client.post(f"https://{SHOP}/admin/api/2026-10/graphql.json?x=1", json={})
    assert seen == {"url": "http://127.0.0.1:9/admin/api/2026-10/graphql.json?x=1", "host": SHOP}
