"""Another shop's ids with a valid credential of this shop: 404 or nothing of theirs, never a change."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.conftest import ALPHA, ALPHA_API_KEY, proxy_query, session_token
from tests.hostile.routes import all_routes, api_routes, fill

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _leaks(body: bytes, secrets: tuple[str, ...]) -> list[str]:
    text = body.decode("utf-8", "replace")
    return [s for s in secrets if s in text]


def _member_routes() -> list[tuple[str, str]]:
    return [(m, r) for m, r in api_routes() if "<int:customer_id>" in r]


@pytest.mark.parametrize("route", _member_routes(), ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("auth", ["session token", "api key"])
def test_another_shops_member_is_404(unchanged, hostile, route, auth):
    _app, world = hostile
    method, rule = route
    headers = ({"Authorization": f"Bearer {session_token(ALPHA)}"} if auth == "session token"
               else {"X-Regulars-Api-Key": ALPHA_API_KEY})
    for cid in world.beta_customers:
        path = fill(rule, cid)
        body = {"points": 50, "reason": "cross-shop", "reward_id": world.beta_reward_id,
                "idempotency_key": f"x-{cid}-{method}"}
        resp = unchanged.open(path, method=method, json=body, headers=headers)
        assert resp.status_code in (401, 404, 405), (method, path, resp.status_code, resp.get_data()[:300])
        assert not _leaks(resp.get_data(), world.beta_secrets), (method, path)


@pytest.mark.parametrize("reward", ["beta's reward", "unknown reward"])
def test_redeeming_another_shops_reward_is_refused(unchanged, hostile, reward):
    _app, world = hostile
    reward_id = world.beta_reward_id if reward == "beta's reward" else 987654321
    for method, rule in _member_routes():
        if not rule.endswith("/redemptions"):
            continue
        resp = unchanged.open(fill(rule, world.alpha_customers[0]), method=method,
                              json={"reward_id": reward_id, "idempotency_key": f"r-{reward}"},
                              headers={"Authorization": f"Bearer {session_token(ALPHA)}"})
        assert resp.status_code in (404, 409, 422), (rule, resp.status_code, resp.get_data()[:300])


@SETTINGS
@given(route=st.sampled_from([r for r in all_routes() if r[0] == "GET" and not r[1].startswith(("/proxy", "/auth"))]),
       query=st.dictionaries(st.sampled_from(["q", "search", "email", "customer_id", "shop", "page", "cursor",
                                              "limit", "from", "to", "sort", "segment", "tier", "status"]),
                             st.one_of(st.text(max_size=30), st.integers().map(str),
                                       st.sampled_from(["beta", "beta.myshopify.com", "11000000000000900", "%", "*",
                                                        "' OR 1=1 --", "-1", "999999999999999999999"])),
                             max_size=4))
def test_reads_with_this_shops_token_never_show_another_shops_data(unchanged_shop_data, hostile, route, query):
    _app, world = hostile
    method, rule = route
    path = fill(rule, world.beta_customers[0], "members")
    resp = unchanged_shop_data.get(path, query_string=query, headers={"Authorization": f"Bearer {session_token(ALPHA)}"})
    assert resp.status_code < 500, (path, query, resp.status_code)
    assert not _leaks(resp.get_data(), world.beta_secrets), (path, query)


@pytest.mark.parametrize("route", [r for r in all_routes() if r[0] == "GET" and r[1].startswith("/proxy")],
                         ids=lambda r: r[1])
def test_the_widget_never_shows_another_shops_customer(unchanged, hostile, route):
    """Shopify signs logged_in_customer_id for this shop; a customer id of another shop names nobody here."""
    _app, world = hostile
    for cid in world.beta_customers:
        query = proxy_query(ALPHA, customer=cid)
        resp = unchanged.get(f"{fill(route[1], cid, 'BEREF000')}?{query}")
        assert resp.status_code < 500, (route, resp.status_code)
        assert not _leaks(resp.get_data(), world.beta_secrets), route
