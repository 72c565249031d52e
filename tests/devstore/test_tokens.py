"""The stand-in's signers against Shopify's published vectors and shopify_app's own verifiers."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

import jwt
from shopify_app import ShopifyApp

from devstore.tokens import (
    app_proxy_query,
    decode_session_token,
    mint_session_token,
    oauth_query_hmac,
    sign_app_proxy,
    webhook_hmac,
)
from tests.devstore.devstore_support import API_KEY, API_SECRET


def test_webhook_hmac_matches_shopify_vector() -> None:
    assert webhook_hmac(b'{"foo": "bar"}', "test_secret_key") == "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="


def test_webhook_signature_passes_official_verifier(shopify_app: ShopifyApp) -> None:
    body = '{"id":12000000000000001,"total_price":"10.00"}'
    request = {
        "method": "POST",
        "url": "https://app.example/webhooks",
        "headers": {"X-Shopify-Hmac-Sha256": webhook_hmac(body.encode(), API_SECRET),
                    "X-Shopify-Shop-Domain": "demo.myshopify.com"},
        "body": body,
    }
    result = shopify_app.verify_webhook_req(request)
    assert result.ok and result.shop == "demo"
    request["body"] = body.replace("10.00", "99.00")
    assert not shopify_app.verify_webhook_req(request).ok


def test_session_token_claims_and_official_verifier(shopify_app: ShopifyApp) -> None:
    token = mint_session_token("demo.myshopify.com", API_KEY, API_SECRET, user_id=42)
    claims = jwt.decode(token, API_SECRET, algorithms=["HS256"], audience=API_KEY)
    assert claims["iss"] == "https://demo.myshopify.com/admin"
    assert claims["dest"] == "https://demo.myshopify.com"
    assert claims["sub"] == "42"
    assert claims["exp"] - claims["iat"] == 60 and claims["nbf"] == claims["iat"]
    assert claims["jti"] and claims["sid"]

    fetch = shopify_app.verify_app_home_req(
        {"method": "GET", "url": "https://app.example/api/v1/program",
         "headers": {"Authorization": f"Bearer {token}"}, "body": ""},
        app_home_patch_id_token_path="/auth/patch-id-token",
    )
    assert fetch.ok and fetch.shop == "demo" and fetch.user_id == "42"
    document = shopify_app.verify_app_home_req(
        {"method": "GET",
         "url": f"https://app.example/?shop=demo.myshopify.com&embedded=1&id_token={token}",
         "headers": {}, "body": ""},
        app_home_patch_id_token_path="/auth/patch-id-token",
    )
    assert document.ok and document.id_token.exchangeable


def test_session_token_rejected_when_expired_or_wrong_secret(shopify_app: ShopifyApp) -> None:
    old = mint_session_token("demo", API_KEY, API_SECRET, now=time.time() - 600)
    forged = mint_session_token("demo", API_KEY, "not-the-secret")
    for token in (old, forged):
        result = shopify_app.verify_app_home_req(
            {"method": "GET", "url": "https://app.example/api/x",
             "headers": {"Authorization": f"Bearer {token}"}, "body": ""},
            app_home_patch_id_token_path="/auth/patch-id-token",
        )
        assert not result.ok and result.response.status == 401
    assert decode_session_token(mint_session_token("demo", API_KEY, API_SECRET), API_KEY, API_SECRET)["aud"] == API_KEY


def test_app_proxy_signature_documented_example() -> None:
    # Shopify's documented example: repeated `extra` values are joined with a comma, no separators.
    params = {
        "extra": ["1", "2"],
        "logged_in_customer_id": "",
        "path_prefix": "/apps/awesome_reviews",
        "shop": "shop-name.myshopify.com",
        "timestamp": "1317327555",
    }
    expected_message = (
        "extra=1,2logged_in_customer_id=path_prefix=/apps/awesome_reviewsshop=shop-name.myshopify.comtimestamp=1317327555"
    )
    import hashlib
    import hmac

    assert sign_app_proxy(params, "hush") == hmac.new(b"hush", expected_message.encode(), hashlib.sha256).hexdigest()


def test_app_proxy_query_passes_official_verifier(shopify_app: ShopifyApp) -> None:
    query = app_proxy_query(
        "demo", logged_in_customer_id=11000000000000007, extra={"extra": ["a", "b"], "code": "AB12CD34"},
        api_secret=API_SECRET,
    )
    url = "https://app.example/proxy/r/AB12CD34?" + urlencode(query, doseq=True)
    result = shopify_app.verify_app_proxy_req({"method": "GET", "url": url, "headers": {}, "body": ""})
    assert result.ok, result.log
    assert result.shop == "demo" and result.logged_in_customer_id == "11000000000000007"
    # Any change to a signed parameter breaks the signature.
    tampered = url.replace("11000000000000007", "11000000000000008")
    assert not shopify_app.verify_app_proxy_req({"method": "GET", "url": tampered, "headers": {}, "body": ""}).ok


def test_app_proxy_query_anonymous_and_stale(shopify_app: ShopifyApp) -> None:
    query = app_proxy_query("demo.myshopify.com", api_secret=API_SECRET)
    assert query["logged_in_customer_id"] == "" and query["path_prefix"] == "/apps/regulars"
    url = "https://app.example/proxy?" + urlencode(query, doseq=True)
    assert shopify_app.verify_app_proxy_req({"method": "GET", "url": url, "headers": {}, "body": ""}).ok
    stale = app_proxy_query("demo", api_secret=API_SECRET, timestamp=int(time.time()) - 300)
    url = "https://app.example/proxy?" + urlencode(stale, doseq=True)
    result = shopify_app.verify_app_proxy_req({"method": "GET", "url": url, "headers": {}, "body": ""})
    assert not result.ok and result.log.code == "timestamp_too_old"


def test_oauth_query_hmac_is_sorted_and_ampersand_joined() -> None:
    params = {"shop": "demo.myshopify.com", "code": "abc", "timestamp": "1700000000", "state": "n0nce"}
    import hashlib
    import hmac

    message = "code=abc&shop=demo.myshopify.com&state=n0nce&timestamp=1700000000"
    assert oauth_query_hmac(params, "s3cret") == hmac.new(b"s3cret", message.encode(), hashlib.sha256).hexdigest()
    assert oauth_query_hmac({**params, "hmac": "ignored"}, "s3cret") == oauth_query_hmac(params, "s3cret")
    assert dict(parse_qsl(urlencode(params))) == params
