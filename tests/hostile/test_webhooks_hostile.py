"""Hostile deliveries to /webhooks and /webhooks/compliance: refused with 400/401/413, never stored, never 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import sign, webhook
from tests.hostile.conftest import ALPHA

pytestmark = [pytest.mark.postgres]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
PATHS = ("/webhooks", "/webhooks/compliance")
TOPICS = ("orders/paid", "customers/create", "customers/redact", "shop/redact", "app/uninstalled", "refunds/create")
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF, blacklist_categories=("Cs",)), max_size=300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=10), kids, max_size=5),
    max_leaves=30,
)


def _safe_headers(headers: dict[str, str]) -> dict[str, str]:
    # HTTP headers are latin-1 on the wire; anything else cannot even be sent.
    return {k: v.encode("utf-8", "surrogatepass").decode("latin-1") for k, v in headers.items()}


@SETTINGS
@given(
    path=st.sampled_from(PATHS),
    body=st.one_of(st.binary(max_size=2000), json_values.map(lambda v: json.dumps(v).encode())),
    topic=st.one_of(st.sampled_from(TOPICS), header_text),
    shop=st.one_of(st.just(ALPHA), header_text),
    hmac_kind=st.sampled_from(["missing", "empty", "wrong secret", "other body", "garbage", "hex instead of base64"]),
    drop=st.sets(st.sampled_from(["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id",
                                  "X-Shopify-Event-Id", "Content-Type"])),
)
def test_forged_deliveries_are_refused_and_leave_no_trace(unchanged, path, body, topic, shop, hmac_kind, drop):
    _, headers = webhook("orders/paid", b"{}", shop=ALPHA)
    headers["X-Shopify-Topic"] = topic
    headers["X-Shopify-Shop-Domain"] = shop
    forged = {
        "empty": "",
        "wrong secret": sign(body, "not-the-secret"),
        "other body": sign(body + b" "),
        "garbage": "!!not-base64!!",
        "hex instead of base64": __import__("hashlib").sha256(body).hexdigest(),
    }
    if hmac_kind == "missing":
        headers.pop("X-Shopify-Hmac-Sha256")
    else:
        headers["X-Shopify-Hmac-Sha256"] = forged[hmac_kind]
    for name in drop:
        headers.pop(name, None)
    resp = unchanged.post(path, data=body, headers=_safe_headers(headers))
    assert resp.status_code in (400, 401), (resp.status_code, resp.get_data()[:300])


DEFECTS = ("no topic", "no shop", "no webhook id", "shop not myshopify", "not json", "json array", "json string",
           "compliance topic on /webhooks", "order topic on compliance", "webhook id too long", "topic too long",
           "invalid utf-8", "trailing garbage")


@SETTINGS
@given(defect=st.sampled_from(DEFECTS), payload=st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_authentic_but_malformed_deliveries_are_400_and_not_stored(unchanged, defect, payload):
    """Signed with the real secret (so the HMAC passes) but broken in one way: 400, nothing stored."""
    topic, path = "orders/paid", "/webhooks"
    body = json.dumps(payload).encode()
    shop = ALPHA
    if defect == "compliance topic on /webhooks":
        topic = "customers/redact"
    if defect == "order topic on compliance":
        path = "/webhooks/compliance"
    if defect == "shop not myshopify":
        shop = "evil.example.com"
    if defect == "not json":
        body = b"{not json"
    if defect == "json array":
        body = b"[1, 2]"
    if defect == "json string":
        body = b'"orders"'
    if defect == "invalid utf-8":
        body = b'{"id": "\xff\xfe"}'
    if defect == "trailing garbage":
        body = body + b"}}"
    body_, headers = webhook(topic, body, shop=shop)
    if defect == "no topic":
        headers.pop("X-Shopify-Topic")
    if defect == "no shop":
        headers.pop("X-Shopify-Shop-Domain")
    if defect == "no webhook id":
        headers.pop("X-Shopify-Webhook-Id")
    if defect == "webhook id too long":
        headers["X-Shopify-Webhook-Id"] = "w" * 5000
    if defect == "topic too long":
        headers["X-Shopify-Topic"] = "orders/" + "p" * 500
    resp = unchanged.post(path, data=body_, headers=headers)
    # A missing shop header cannot be verified against a shop: 401 is as good as 400 there.
    allowed = (400, 401) if defect == "no shop" else (400,)
    assert resp.status_code in allowed, (defect, resp.status_code, resp.get_data()[:300])


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 5 * 1024 * 1024])
@pytest.mark.parametrize("path", PATHS)
def test_oversized_bodies_are_413_even_when_signed(unchanged, size, path):
    body = b'{"id": 1, "pad": "' + b"x" * (size - 20) + b'"}'
    _, headers = webhook("orders/paid" if path == "/webhooks" else "customers/redact", b"{}")
    headers["X-Shopify-Hmac-Sha256"] = sign(body)
    resp = unchanged.post(path, data=body, headers=headers)
    assert resp.status_code == 413


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", PATHS)
def test_other_methods_are_405(unchanged, method, path):
    body, headers = webhook("orders/paid", {"id": 1})
    resp = unchanged.open(path, method=method, data=body, headers=headers)
    assert resp.status_code == 405
