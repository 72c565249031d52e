"""Any method, path, header, query and body on every public route, without valid credentials: never 5xx, no change."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.conftest import forged_session_tokens
from tests.hostile.routes import all_routes, fill

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
FORGED = forged_session_tokens()
latin1 = st.text(st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters="\x7f"), max_size=200)
HEADER_NAMES = ("Authorization", "X-Regulars-Api-Key", "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain",
                "X-Shopify-Topic", "X-Regulars-Hmac-Sha256", "Content-Type", "Cookie", "Origin", "Referer",
                "X-Forwarded-For", "X-Forwarded-Host", "Host", "Accept", "Accept-Language", "X-Requested-With")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=6),
    max_leaves=25,
)
path_text = st.one_of(st.text(max_size=40), st.sampled_from(["..", "%2e%2e", "ALREF000", "BEREF000", "0", "-1",
                                                               "99999999999999999999999", "<script>", "%00"]))


@SETTINGS
@given(
    route=st.sampled_from(all_routes()),
    method=st.one_of(st.none(), st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"])),
    cid=st.one_of(st.integers(min_value=0, max_value=2**63 - 1), st.sampled_from([0, 11_000_000_000_000_900])),
    segment=path_text,
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES),
                            st.one_of(latin1, st.sampled_from([f"Bearer {t}" for t in FORGED.values()])), max_size=5),
    query=st.dictionaries(st.text(max_size=15), st.text(max_size=60), max_size=6),
    body=st.one_of(st.none(), st.binary(max_size=3000), json_values.map(lambda v: json.dumps(v).encode()),
                   st.just(b"{" * 5000), st.just(b"x" * 300_000)),
)
def test_no_route_answers_5xx_or_changes_state_for_unauthenticated_garbage(
        unchanged, route, method, cid, segment, headers, query, body):
    rule_method, rule = route
    path = fill(rule, cid, segment.replace("/", "_").replace("?", "_").replace("#", "_") or "x")
    if rule.startswith("/webhooks"):
        headers.pop("X-Shopify-Hmac-Sha256", None)  # a random string is never a valid HMAC, but be explicit
    headers = {k: v.replace("\r", "").replace("\n", "") for k, v in headers.items()}
    resp = unchanged.open(path, method=method or rule_method, query_string=query, data=body, headers=headers)
    assert resp.status_code < 500, (method or rule_method, path, resp.status_code, resp.get_data()[:300])
