"""Forged, expired and misdirected credentials on /api, /, /proxy and the OAuth routes: refused, never 5xx, no change."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TEST_SECRET
from tests.hostile.conftest import ALPHA, BETA, forged_session_tokens, proxy_query
from tests.hostile.routes import api_routes, fill, proxy_routes

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
FORGED = forged_session_tokens()
BODY = {"points": 100000, "reason": "hostile", "reward_id": 1, "idempotency_key": "k1", "customer_id": 1,
        "action": "x", "enabled": False, "points_per_currency_unit": "1000"}


def _route_exists(client, method: str, path: str) -> bool:
    adapter = client.application.url_map.bind("localhost")
    try:
        adapter.match(path, method=method)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("why", sorted(FORGED))
def test_forged_session_tokens_get_401_on_every_api_route(unchanged, hostile, why):
    _app, world = hostile
    for method, rule in api_routes():
        path = fill(rule, world.alpha_customers[0])
        resp = unchanged.open(path, method=method, json=BODY, headers={"Authorization": f"Bearer {FORGED[why]}"})
        if not _route_exists(unchanged, method, path):
            assert resp.status_code in (404, 405), (method, path, resp.status_code)
            continue
        if path == "/api/openapi.json":
            assert resp.status_code < 500
            continue
        assert resp.status_code == 401, (why, method, path, resp.status_code, resp.get_data()[:200])
        assert resp.is_json and "error" in resp.get_json(), (method, path)
        if why == "expired" and path != "/api/v1/actions":
            # /api/v1/actions is signed by another app (HMAC), not by a session token: no App Bridge retry hint.
            assert resp.headers.get("X-Shopify-Retry-Invalid-Session-Request") == "1", (method, path)


@SETTINGS
@given(key=st.text(max_size=80), route=st.sampled_from(api_routes()))
def test_unknown_api_keys_get_401(unchanged, hostile, key, route):
    _app, world = hostile
    method, rule = route
    path = fill(rule, world.alpha_customers[0])
    # Newlines cannot be sent in a header at all; everything else may arrive.
    header = key.encode("utf-8").decode("latin-1").replace("\r", "").replace("\n", "").strip() or "x"
    resp = unchanged.open(path, method=method, json=BODY, headers={"X-Regulars-Api-Key": header})
    assert resp.status_code < 500, (method, path, resp.status_code)
    if _route_exists(unchanged, method, path) and path != "/api/openapi.json":
        assert resp.status_code in (401, 403), (method, path, resp.status_code)


@pytest.mark.parametrize("why", sorted(FORGED))
def test_embedded_admin_with_a_forged_id_token_is_not_served(unchanged, why):
    query = urlencode({"shop": ALPHA, "host": "YWxwaGEubXlzaG9waWZ5LmNvbS9hZG1pbg", "embedded": "1",
                       "id_token": FORGED[why]})
    resp = unchanged.get(f"/?{query}")
    assert resp.status_code < 500
    # Never the admin page itself: at most Shopify's bounce page to get a fresh token, or a refusal.
    assert resp.status_code != 200 or b"patch" in resp.get_data().lower() or b"bounce" in resp.get_data().lower(), (
        why, resp.get_data()[:300])


def _proxy_cases(world) -> dict[str, str]:
    now = int(time.time())
    good = proxy_query(ALPHA, customer=world.alpha_customers[0])
    params = dict(p.split("=", 1) for p in good.split("&"))
    tampered = good.replace(f"logged_in_customer_id={world.alpha_customers[0]}",
                            f"logged_in_customer_id={world.alpha_customers[1]}")
    return {
        "no signature": "&".join(f"{k}={v}" for k, v in params.items() if k != "signature"),
        "wrong secret": proxy_query(ALPHA, customer=world.alpha_customers[0], secret="not-the-secret"),
        "stale (5 min)": proxy_query(ALPHA, customer=world.alpha_customers[0], timestamp=now - 300),
        "from the future (5 min)": proxy_query(ALPHA, customer=world.alpha_customers[0], timestamp=now + 300),
        "customer swapped after signing": tampered,
        "shop swapped after signing": good.replace("shop=alpha.myshopify.com", "shop=beta.myshopify.com"),
        "signature of nothing": "signature=" + "0" * 64,
        "signature upper-case garbage": good.rsplit("signature=", 1)[0] + "signature=" + "Z" * 64,
        "repeated signature": good + "&signature=" + "0" * 64,
    }


def test_forged_or_stale_app_proxy_requests_are_refused(unchanged, hostile):
    _app, world = hostile
    for why, query in _proxy_cases(world).items():
        for method, rule in proxy_routes():
            path = fill(rule, world.alpha_customers[0], "AL" + "REF000")
            resp = unchanged.open(f"{path}?{query}", method=method,
                                  data={"email": "x@y.z", "reward_id": "1", "month": "1", "day": "1"})
            if not _route_exists(unchanged, method, path):
                assert resp.status_code in (404, 405), (why, method, path)
                continue
            # A repeated Shopify-reserved parameter is refused before the signature is even looked at.
            expected = (400,) if why.startswith("repeated") else (401, 403)
            assert resp.status_code in expected, (why, method, path, resp.status_code, resp.get_data()[:200])


@SETTINGS
@given(extra=st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=40), max_size=4),
       route=st.sampled_from(proxy_routes()))
def test_signed_proxy_requests_with_fuzzed_params_never_5xx(unchanged, hostile, extra, route):
    """Shopify signs whatever the shopper adds to the URL: the app must cope with any of it (GETs only: POSTs
    with a valid signature may legitimately change state)."""
    _app, world = hostile
    method, rule = route
    if method != "GET":
        return
    extra = {k: v for k, v in extra.items() if k not in ("signature", "shop", "timestamp", "logged_in_customer_id",
                                                         "path_prefix")}
    query = proxy_query(ALPHA, customer=world.alpha_customers[0], extra=extra)
    resp = unchanged.get(f"{fill(rule, world.alpha_customers[0], 'ALREF000')}?{query}")
    assert resp.status_code < 500, (rule, extra, resp.status_code)


@SETTINGS
@given(shop=st.one_of(st.text(max_size=80), st.sampled_from([
    "evil.com", "alpha.myshopify.com.evil.com", "alpha.myshopify.com/../x", "https://alpha.myshopify.com",
    "ALPHA.MYSHOPIFY.COM", "alpha.myshopify.com\r\nSet-Cookie: a=b", "javascript:alert(1)", "",
    "-alpha.myshopify.com", "a" * 300 + ".myshopify.com", "alpha.myshopify.com%00.evil.com"])))
def test_install_with_a_hostile_shop_never_redirects_elsewhere(unchanged, shop):
    resp = unchanged.get("/auth/install", query_string={"shop": shop})
    assert resp.status_code in (302, 303, 400), (shop, resp.status_code)
    if resp.status_code in (302, 303):
        location = resp.headers["Location"]
        from urllib.parse import urlsplit

        host = urlsplit(location).hostname or ""
        assert host.endswith(".myshopify.com") and host.count(".") == 2, (shop, location)
        assert "\n" not in location and "\r" not in location


def _oauth_hmac(params: dict[str, str], secret: str = TEST_SECRET) -> str:
    import hashlib
    import hmac

    message = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_callback_without_a_started_install_or_with_a_forged_hmac_is_refused(unchanged):
    now = str(int(time.time()))
    base = {"code": "abc", "shop": ALPHA, "state": "s1", "timestamp": now, "host": "aG9zdA"}
    cases = {
        "no hmac": dict(base),
        "forged hmac": {**base, "hmac": "0" * 64},
        "wrong secret": {**base, "hmac": _oauth_hmac(base, "not-the-secret")},
        "valid hmac, no install started (state unknown)": {**base, "hmac": _oauth_hmac(base)},
        "stale": {**base, "timestamp": str(int(time.time()) - 86400)},
        "other shop": {**base, "shop": BETA, "hmac": _oauth_hmac(base)},
        "not a shop": {**base, "shop": "evil.com", "hmac": _oauth_hmac({**base, "shop": "evil.com"})},
        "no code": {k: v for k, v in base.items() if k != "code"},
    }
    cases["stale"]["hmac"] = _oauth_hmac(cases["stale"])
    for why, params in cases.items():
        resp = unchanged.get("/auth/callback", query_string=params)
        assert resp.status_code in (400, 401, 403), (why, resp.status_code, resp.get_data()[:200])


def test_callback_state_from_another_shops_install_is_refused(unchanged):
    unchanged.get("/auth/install", query_string={"shop": BETA})  # starts an install for beta in this session
    params = {"code": "abc", "shop": ALPHA, "state": "whatever", "timestamp": str(int(time.time()))}
    params["hmac"] = _oauth_hmac(params)
    resp = unchanged.get("/auth/callback", query_string=params)
    assert resp.status_code in (400, 401, 403)
