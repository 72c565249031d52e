"""Hostile input behind valid credentials, on every route (webhooks, compliance, /api, /api/v1, /proxy, /auth, /):
deep JSON, Unicode digits as ids, integers beyond 64 bits, NUL and other control characters anywhere, wrong
JSON types. Never a 5xx; every refusal is 400/404/405/409/413/422 (401/403 where the credential is what is
wrong) with the contract's JSON error shape, and leaves every table as it was (checked after each request).
What is accepted stores no control character. On PostgreSQL and on SQLite.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from tests.helpers import sign, webhook
from tests.hostile.conftest import ALPHA, ALPHA_API_KEY, fingerprint, proxy_query, session_token
from tests.hostile.routes import all_routes, fill

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
REFUSED = (400, 404, 405, 409, 413, 422)

HOSTILE_TEXT = ("\u0000", "a\u0000b", "\u0007\u001b[31mred", "\ud800", "\udfff\ud800", "²", "¹²³", "٣", "𝟗",
                "9" * 30, "' OR 1=1 --", "<script>alert(1)</script>", "javascript:alert(1)", "\r\nX-Injected: 1",
                "\u202eevil", "", " ", "%00", "\\u0000", "x" * 5000)
HOSTILE_NUMBERS = (2**63, 2**64, 2**70, -(2**70), -1, 0, 0.5, 1e308, -1e308, True, False)
HOSTILE_IDS = ("²", "¹²", "٣", "𝟗", str(2**63), str(2**64), str(2**70), "-1", "0", "%00", "1%00", "1e3", "0x10",
               "9" * 40, "%ED%A0%80", "1.0")
deep = st.sampled_from([b"[" * 60_000 + b"]" * 60_000, b'{"a":' * 30_000 + b"0" + b"}" * 30_000,
                        b'{"points": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"])
hostile_scalar = st.one_of(st.sampled_from(HOSTILE_TEXT), st.sampled_from(HOSTILE_NUMBERS), st.none(),
                           st.text(max_size=20))
hostile_value = st.recursive(hostile_scalar, lambda kids: st.lists(kids, max_size=3)
                             | st.dictionaries(st.sampled_from(["id", "name", "\u0000", "url", "points"]), kids,
                                               max_size=3), max_leaves=8)

# The fields each JSON route reads (contract.md, the admin page's forms): hostile values go into these.
FIELDS: dict[str, tuple[str, ...]] = {
    "/api/v1/program": ("enabled", "points_per_currency_unit", "point_value", "pending_days", "signup_points",
                        "tiers", "rewards", "referral", "expiry_days", "code_expiry_days"),
    "/api/admin/settings": ("enabled", "points_per_currency_unit", "pending_days", "reversal_policy",
                            "tier_metric", "signup_points", "expiry_mode"),
    "/api/admin/setup": ("points_per_currency_unit", "signup_points", "birthday_points"),
    "adjustments": ("points", "reason", "note", "idempotency_key", "allow_negative"),
    "redemptions": ("reward_id", "idempotency_key", "points"),
    "/api/v1/actions": ("customer_id", "action", "idempotency_key", "shop"),
    "/api/admin/rewards": ("type", "name", "points_cost", "value", "minimum_subtotal", "tier_id",
                           "product_variant_id", "min_points", "max_points", "active", "position"),
    "/api/admin/custom-actions": ("key", "name", "points", "limit", "honour_system", "url", "active"),
    "/api/admin/campaigns": ("name", "kind", "value", "starts_at", "ends_at", "tier_id", "segment",
                             "holdout_percent", "active"),
    "/api/admin/tiers": ("tiers",),
    "/api/admin/tiers/preview": ("tiers",),
    "/api/admin/api-keys": ("name",),
}
VALID: dict[str, dict[str, Any]] = {
    "adjustments": {"points": 5, "reason": "fuzz"},
    # An unknown reward: a real one would ask the (unreachable, on purpose) Shopify for a code: 502.
    "redemptions": {"reward_id": 987654321, "idempotency_key": "k"},
    "/api/admin/rewards": {"type": "fixed_amount", "name": "Five", "points_cost": 500, "value": "5.00"},
    "/api/admin/custom-actions": {"key": "fuzz", "name": "Fuzz", "points": 1, "limit": "once"},
    "/api/admin/campaigns": {"name": "x", "kind": "multiplier", "value": "2", "starts_at": "2026-01-01T00:00:00Z",
                             "ends_at": "2026-02-01T00:00:00Z"},
    "/api/admin/tiers": {"tiers": [{"name": "Bronze", "threshold": 0}]},
    "/api/admin/tiers/preview": {"tiers": [{"name": "Bronze", "threshold": 0}]},
    "/api/admin/api-keys": {"name": "fuzz"},
}


def _fields_key(rule: str) -> str:
    for suffix in ("adjustments", "redemptions"):
        if rule.endswith(suffix):
            return suffix
    return rule.split("/<", 1)[0]


def _json_routes() -> list[tuple[str, str]]:
    return [(m, r) for m, r in all_routes() if r.startswith("/api/") and m in ("POST", "PUT", "PATCH")]


def _api_routes() -> list[tuple[str, str]]:
    return [r for r in all_routes() if r[1].startswith("/api/") and r[1] != "/api/openapi.json"]


class Checked:
    """Sends requests and holds each one to the rules of the module docstring."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()

    def open(self, path: str, *, html_ok: bool = False, also: tuple[int, ...] = (), **kw: Any) -> Any:
        with self.app.app_context():
            before = fingerprint()
        resp = self.client.open(path, **kw)
        where = (kw.get("method", "GET"), path[:120], resp.status_code, resp.get_data()[:300])
        if resp.status_code == 502 and path.split("?")[0].endswith("/redemptions"):
            # A real reward of this shop was named: Shopify (pointed at a closed port here) could not make the
            # code, and the debit was given back. The one 5xx that is not the input's doing.
            assert resp.get_json()["error"]["code"] == "code_not_created", where
            return resp
        assert resp.status_code < 500, where
        if resp.status_code >= 400:
            assert resp.status_code in REFUSED + also, where
            if not (html_ok and resp.mimetype == "text/html"):
                assert resp.is_json, where
                error = resp.get_json()["error"]
                assert {"code", "message"} <= set(error), where
            with self.app.app_context():
                db.session.remove()
                after = fingerprint()
            changed = sorted(t for t in before if before[t] != after.get(t))
            assert not changed, (where, changed)
        return resp


def assert_no_control_characters_stored(app: Any) -> None:
    from sqlalchemy import inspect, text

    with app.app_context():
        conn = db.session.connection()
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    blob = json.dumps(value) if isinstance(value, dict | list) else value
                    if isinstance(blob, str) and table != "webhook_deliveries":
                        assert not any(ord(c) < 0x20 and c not in "\t\n\r" for c in blob), (table, blob[:80])
        db.session.remove()


def _auth(rule: str, use_key: bool) -> dict[str, str]:
    if rule.startswith("/api/v1/") and use_key:
        return {"X-Regulars-Api-Key": ALPHA_API_KEY}
    return {"Authorization": f"Bearer {session_token(ALPHA)}"}


# --- /api and /api/v1 --------------------------------------------------------------------------------------


@SETTINGS
@given(route=st.sampled_from(_api_routes()), raw_id=st.sampled_from(HOSTILE_IDS), use_key=st.booleans())
def test_hostile_ids_in_api_paths_name_nothing(hostile, route, raw_id, use_key):
    app, world = hostile
    method, rule = route
    if "<int:" not in rule and "<customer_id>" not in rule:
        return
    import re

    path = fill(re.sub(r"<(int:)?\w+>", raw_id.replace("\\", ""), rule, count=1), 1, "x")
    body = VALID.get(_fields_key(rule), {"points": 5, "reason": "x"})
    resp = Checked(app).open(path, method=method, json=body, headers=_auth(rule, use_key))
    assert resp.status_code in (404, 405), (method, path, resp.status_code)


@SETTINGS
@given(route=st.sampled_from(_json_routes()), field_values=st.data(), use_key=st.booleans())
def test_hostile_field_values_on_every_json_route(hostile, route, field_values, use_key):
    app, world = hostile
    method, rule = route
    key = _fields_key(rule)
    fields = FIELDS.get(key, ("name", "id", "points"))
    body = dict(VALID.get(key, {}))
    for name in field_values.draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True)):
        body[name] = field_values.draw(hostile_value)
    headers = _auth(rule, use_key)
    if rule == "/api/v1/actions":
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-Shopify-Shop-Domain": ALPHA,
                   "X-Regulars-Hmac-Sha256": base64.b64encode(hmac.new(
                       f"action-secret-{ALPHA}".encode(), raw, hashlib.sha256).digest()).decode()}
        Checked(app).open(rule, method=method, data=raw, headers=headers)
        return
    Checked(app).open(_path(rule, world.alpha_customers[0]), method=method, json=body, headers=headers)


def _path(rule: str, customer_id: int) -> str:
    return fill(rule, customer_id, str(customer_id))


@SETTINGS
@given(route=st.sampled_from(_json_routes()), body=st.one_of(
    deep, st.sampled_from([b"", b"null", b"[]", b'"x"', b"1e999999", b"NaN", b"{", b'{"a": "\\ud800"}',
                           b'{"name": "\\u0000"}', b"\xff\xfe", b'{"points": 1' + b"0" * 5000 + b"}"])),
       content_type=st.sampled_from(["application/json", "text/plain", "application/json; charset=latin-1", None]))
def test_hostile_bodies_on_every_json_route(hostile, route, body, content_type):
    app, world = hostile
    method, rule = route
    headers = _auth(rule, True)
    if content_type:
        headers["Content-Type"] = content_type
    Checked(app).open(_path(rule, world.alpha_customers[0]), method=method, data=body, headers=headers,
                      also=(401,) if rule == "/api/v1/actions" else ())


@SETTINGS
@given(route=st.sampled_from([r for r in _api_routes() if r[0] == "GET"]),
       query=st.dictionaries(st.sampled_from(["q", "page", "tier", "sort", "segment", "status", "before",
                                              "before_id", "from", "to", "after", "limit"]),
                             st.one_of(st.sampled_from(HOSTILE_TEXT + HOSTILE_IDS), st.text(max_size=20)),
                             max_size=4))
def test_hostile_queries_on_every_api_read(hostile, route, query):
    app, world = hostile
    method, rule = route
    path = _path(rule, world.alpha_customers[0])
    encoded = "&".join(f"{k}={v}" if "%" in v else f"{k}={_q(v)}" for k, v in query.items())
    Checked(app).open(f"{path}?{encoded}", method=method, headers=_auth(rule, False))


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def test_everything_accepted_by_the_api_fuzz_stored_no_control_character(hostile):
    assert_no_control_characters_stored(hostile[0])


# --- /proxy ------------------------------------------------------------------------------------------------


def _form_token(app: Any, subject: str) -> str:
    from app.proxy import auth

    with app.app_context():
        return auth.form_token(ALPHA, subject)


PROXY_FORMS = {
    "/proxy/widget/redeem": ("reward_id", "points"),
    "/proxy/widget/birthday": ("month", "day"),
    "/proxy/widget/action": ("action",),
    "/proxy/widget/join": (),
    "/proxy/r/<code>": ("email",),
}


@SETTINGS
@given(route=st.sampled_from([r for r in all_routes() if r[1].startswith("/proxy")]), data=st.data())
def test_hostile_values_through_a_signed_proxy(hostile, route, data):
    """Signed by Shopify (the shopper's own parameters are signed too) and with a valid form token."""
    app, world = hostile
    method, rule = route
    cid = world.alpha_customers[0]
    segment = data.draw(st.sampled_from(("ALREF000",) + HOSTILE_IDS + ("widget.css", "a.b.c", "..")))
    extra = data.draw(st.dictionaries(st.sampled_from(["locale", "reward_id", "q", "as", "x"]),
                                      st.sampled_from(HOSTILE_TEXT), max_size=2))
    query = proxy_query(ALPHA, customer=cid, extra={k: v for k, v in extra.items() if "\ud800" not in v
                                                    and "\udfff" not in v})
    path = f"{fill(rule, cid, segment.replace('/', '_'))}?{query}"
    form: dict[str, str] = {}
    if method == "POST":
        subject = f"referral|{segment}" if "/r/" in rule else f"{ALPHA}|{cid}"
        form = {"form_token": _form_token(app, subject), "request_key": uuid.uuid4().hex}
        for name in PROXY_FORMS.get(rule, ()):
            form[name] = data.draw(st.sampled_from([v for v in HOSTILE_TEXT + HOSTILE_IDS
                                                    if "\ud800" not in v and "\udfff" not in v]))
    # 403: a referral form token is bound to the code as normalised; a hostile code's token is not its own.
    Checked(app).open(path, method=method, data=form, html_ok=True, also=(403,))


def test_everything_accepted_through_the_proxy_stored_no_control_character(hostile):
    assert_no_control_characters_stored(hostile[0])


# --- /webhooks and /webhooks/compliance ----------------------------------------------------------------------


TOPIC_TEXT_FIELDS = {
    "customers/create": lambda cid, text: {"id": cid, "email": f"{text}@x.example", "first_name": text,
                                           "last_name": text, "note": text, "created_at": "2026-11-01T10:00:00Z",
                                           "default_address": {"address1": text, "city": text}},
    "customers/update": lambda cid, text: {"id": cid, "email": text, "first_name": text, "last_name": text},
    "orders/paid": lambda cid, text: {
        "id": cid + 1, "name": text, "email": text, "financial_status": "paid", "currency": "USD",
        "updated_at": "2026-11-01T10:00:00Z", "processed_at": "2026-11-01T10:00:00Z", "current_subtotal_price": "10.00",
        "current_total_price": "10.00", "customer": {"id": cid, "first_name": text, "email": text},
        "browser_ip": text, "note": text, "shipping_address": {"address1": text, "city": text, "zip": text},
        "discount_codes": [{"code": text}], "line_items": [{"id": 1, "title": text, "price": "10.00", "quantity": 1}]},
    "customers/data_request": lambda cid, text: {"shop_domain": ALPHA, "customer": {"id": cid, "email": text,
                                                                                    "phone": text},
                                                 "orders_requested": [], "data_request": {"id": text}},
    "customers/redact": lambda cid, text: {"shop_domain": ALPHA, "customer": {"id": cid, "email": text},
                                           "orders_to_redact": [text, 2**70, "²"]},
}


@SETTINGS
@given(topic=st.sampled_from(sorted(TOPIC_TEXT_FIELDS)), text=st.sampled_from(HOSTILE_TEXT),
       cid=st.integers(min_value=1, max_value=2**62))
def test_shopify_text_with_control_characters_is_processed_never_failed(hostile, topic, text, cid):
    """Any text Shopify may send in a name, email, note or address: the delivery is processed, not failed."""
    from sqlalchemy import select

    from app.models import WebhookDelivery

    app, _world = hostile
    payload = TOPIC_TEXT_FIELDS[topic](cid, text)
    body = json.dumps(payload).encode()
    _, headers = webhook(topic, body)
    path = "/webhooks/compliance" if topic.startswith(("customers/data", "customers/redact")) else "/webhooks"
    resp = app.test_client().post(path, data=body, headers=headers)
    assert resp.status_code == 200, resp.get_data()[:300]
    with app.app_context():
        delivery = db.session.execute(select(WebhookDelivery).where(
            WebhookDelivery.webhook_id == headers["X-Shopify-Webhook-Id"])).scalar_one()
        assert delivery.status == "processed", (topic, repr(text), delivery.status, delivery.last_error)
        db.session.remove()


@SETTINGS
@given(path=st.sampled_from(["/webhooks", "/webhooks/compliance"]), body=st.one_of(
    deep, st.sampled_from([b"[1]", b'"x"', b"NaN", b"\xff", b"{" * 10]),
    st.builds(lambda k, v: json.dumps({"shop_domain": k, "myshopify_domain": v}).encode(),
              st.sampled_from(["beta.myshopify.com", "x", "", "ALPHA.MYSHOPIFY.COM.evil"]),
              st.sampled_from(["beta.myshopify.com", "evil.example"]))),
       topic=st.sampled_from(["orders/paid", "customers/redact", "shop/redact", "app/uninstalled",
                              "customers/data_request"]),
       header=st.sampled_from(["X-Shopify-Webhook-Id", "X-Shopify-Topic", "X-Shopify-Event-Id",
                               "X-Shopify-API-Version", None]),
       bad=st.sampled_from(["\u0000", "a\u0000b", "\u0001", "é", "\t"]))
def test_signed_but_hostile_deliveries_are_refused_and_store_nothing(hostile, path, body, topic, header, bad):
    app, _world = hostile
    if topic == "orders/paid" and body.startswith(b'{"shop_domain"') and header is None:
        return  # a well-formed order delivery: stored, rightly (its body names no shop to compare)
    _, headers = webhook(topic, b"{}")
    headers["X-Shopify-Hmac-Sha256"] = sign(body)
    if header:
        value = headers[header]  # the bad character inside (the receiver strips surrounding whitespace, rightly)
        headers[header] = value[:3] + bad.encode("utf-8").decode("latin-1") + value[3:]
    resp = Checked(app).open(path, method="POST", data=body, headers=headers, also=(401,))
    assert resp.status_code in (400, 401), (resp.status_code, resp.get_data()[:200])


# --- /auth and the embedded admin page ---------------------------------------------------------------------


@SETTINGS
@given(route=st.sampled_from(["/auth/install", "/auth/callback", "/auth/patch-id-token", "/", "/healthz"]),
       query=st.dictionaries(st.sampled_from(["shop", "host", "embedded", "code", "state", "timestamp", "hmac",
                                              "shopify-reload", "id_token", "locale"]),
                             st.sampled_from(HOSTILE_TEXT + HOSTILE_IDS + ("*", "alpha.myshopify.com\r\n")),
                             max_size=4),
       with_token=st.booleans())
def test_hostile_queries_on_auth_and_the_admin_page(hostile, route, query, with_token):
    app, _world = hostile
    if route == "/" and with_token:
        query["id_token"] = session_token(ALPHA)
    encoded = "&".join(f"{k}={_q(v)}" for k, v in query.items())
    resp = Checked(app).open(f"{route}?{encoded}", also=(401, 403))
    assert resp.status_code in (200, 302, 400, 401, 403, 404), (route, query, resp.status_code)
    csp = resp.headers.get("Content-Security-Policy", "")
    if csp:
        # A frame policy only ever names a real shop (the verified one) and Shopify admin.
        parts = csp.rstrip(";").split()
        assert parts[0] == "frame-ancestors" and parts[-1] == "https://admin.shopify.com", csp
        assert all(p.startswith("https://") and p.endswith((".myshopify.com", "admin.shopify.com"))
                   for p in parts[1:]), csp
