"""Issue 11, "Trust at every edge": each finding reproduced as the attacker (or the bad bytes) did it, from the
outside only (signed requests, the real webhook endpoint, jobs in-process), on PostgreSQL and on SQLite.

Each test names its finding; every refused request is checked to have changed nothing (every table's rows).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditLog, CustomAction, Member, Order, Shop, WebhookDelivery, utcnow
from devstore.tokens import sign_app_proxy
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.helpers import sign, webhook
from tests.hostile.conftest import ALPHA, ALPHA_API_KEY, BETA, fingerprint, proxy_query, session_token

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]
T0 = datetime.now(UTC) - timedelta(days=3)
_ids = iter(range(1, 10**6))


def new_id() -> int:
    return 12_000_000_000_000_000 + next(_ids)


def bearer(shop: str = ALPHA, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token(shop, **claims)}"}


class Unchanged:
    """`with Unchanged(app):` — every table exactly as before the block (refused requests change nothing)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __enter__(self) -> Unchanged:
        with self.app.app_context():
            self.before = fingerprint()
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is not None:
            return
        with self.app.app_context():
            db.session.remove()
            after = fingerprint()
        changed = sorted(t for t in set(self.before) | set(after) if self.before.get(t) != after.get(t))
        assert not changed, f"a refused request changed {changed}"


def post(client: Any, topic: str, payload: dict[str, Any] | bytes, shop: str = ALPHA, **kw: Any) -> Any:
    body, headers = webhook(topic, payload, shop=shop, **kw)
    path = "/webhooks/compliance" if topic in ("customers/data_request", "customers/redact", "shop/redact") \
        else "/webhooks"
    return client.post(path, data=body, headers=headers)


def processed(app: Any, client: Any, topic: str, payload: dict[str, Any], shop: str = ALPHA) -> None:
    """Delivered through the real endpoint and processed by the in-process drain (never failed)."""
    resp = post(client, topic, payload, shop=shop)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with app.app_context():
        bad = db.session.execute(select(WebhookDelivery.topic, WebhookDelivery.status, WebhookDelivery.last_error)
                                 .where(WebhookDelivery.status.not_in(("processed", "skipped")))).all()
        db.session.remove()
    assert not bad, bad


def order_payload(order_id: int, customer_id: int, *, updated_at: datetime, subtotal: str = "40.00",
                  total: str | None = None, email: str = "ana@secret.example", ip: str = "198.51.100.7",
                  first_name: str = "Ana", status: str = "paid") -> dict[str, Any]:
    total = total or subtotal
    return {
        "id": order_id, "name": "#1001", "email": email, "currency": "USD", "test": False,
        "financial_status": status, "cancelled_at": None, "created_at": T0.isoformat(),
        "processed_at": T0.isoformat(), "updated_at": updated_at.isoformat(),
        "current_subtotal_price": subtotal, "subtotal_price": subtotal, "current_total_price": total,
        "total_price": total, "current_total_tax": "0.00",
        "customer": {"id": customer_id, "email": email, "first_name": first_name, "last_name": "Lima"},
        "line_items": [], "refunds": [], "discount_codes": [], "browser_ip": ip,
        "client_details": {"browser_ip": ip},
        "shipping_address": {"address1": "1 Secret St", "city": "Cluj", "zip": "400000", "country_code": "RO"},
    }


def install(app: Any, domain: str, api_key: str | None = None) -> None:
    from app.api import hash_api_key
    from app.models import ApiKey

    with app.app_context():
        shop = Shop(domain=domain, name=domain.split(".")[0], access_token=f"tok-{domain}", installed_at=utcnow(),
                    settings={"pending_days": 0}, action_secret=f"as-{domain}")
        db.session.add(shop)
        db.session.flush()
        if api_key:
            db.session.add(ApiKey(shop_id=shop.id, name="t", prefix=api_key[:12], key_hash=hash_api_key(api_key),
                                  created_at=utcnow()))
        db.session.commit()
        db.session.remove()


def rows_mentioning(app: Any, needles: tuple[str, ...]) -> list[tuple[str, str]]:
    """(table, needle) for every stored row, in any table, that holds one of the needles."""
    from sqlalchemy import inspect

    found = []
    with app.app_context():
        conn = db.session.connection()
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                blob = repr(tuple(row))
                found += [(table, n) for n in needles if n in blob]
        db.session.remove()
    return found


# --- 1. a visitor spends another member's points (a repeated logged_in_customer_id) -------------------------


def _query_with(name: str, values: list[str], customer: int | None, shop: str = ALPHA) -> str:
    """The query Shopify forwards when the shopper added `name` to the storefront URL: both values, signed."""
    params: dict[str, Any] = {"logged_in_customer_id": "" if customer is None else str(customer),
                              "path_prefix": "/apps/regulars", "shop": shop, "timestamp": str(int(time.time()))}
    params[name] = values
    params["signature"] = sign_app_proxy(params, TEST_SECRET)
    return urlencode(params, doseq=True)


def test_finding1_a_repeated_logged_in_customer_id_is_refused_and_spends_nothing(hostile):
    app, world = hostile
    attacker, victim = world.alpha_customers[2], world.alpha_customers[0]
    client = app.test_client()
    # The victim's page, as the attacker would fetch it, just to have a valid form token for a redeem.
    page = client.get(f"/proxy/widget?{proxy_query(ALPHA, customer=victim)}").get_data(as_text=True)
    token = page.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    with Unchanged(app):
        for order in ([str(victim), str(attacker)], [str(attacker), str(victim)]):
            query = _query_with("logged_in_customer_id", order, attacker)
            shown = client.get(f"/proxy/widget?{query}")
            assert shown.status_code == 400 and shown.is_json, shown.get_data()[:200]
            assert shown.get_json()["error"]["code"] == "repeated_parameter"
            spent = client.post(f"/proxy/widget/redeem?{query}", data={
                "form_token": token, "request_key": uuid.uuid4().hex, "reward_id": str(world.alpha_reward_id)})
            assert spent.status_code == 400 and spent.get_json()["error"]["code"] == "repeated_parameter"


@pytest.mark.parametrize("name", ["shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"])
def test_finding1_every_reserved_parameter_repeated_is_400_on_every_proxy_route(hostile, name):
    from tests.hostile.routes import fill, proxy_routes

    app, world = hostile
    client = app.test_client()
    value = {"shop": ALPHA, "logged_in_customer_id": str(world.alpha_customers[0]), "path_prefix": "/apps/regulars",
             "timestamp": str(int(time.time())), "signature": "0" * 64}[name]
    query = _query_with(name, [value, value], world.alpha_customers[0])
    if name == "signature":
        query = proxy_query(ALPHA, customer=world.alpha_customers[0]) + "&signature=" + "0" * 64
    with Unchanged(app):
        for method, rule in proxy_routes():
            resp = client.open(f"{fill(rule, 1, 'ALREF000')}?{query}", method=method, data={"email": "a@b.cd"})
            assert resp.status_code == 400, (name, method, rule, resp.status_code)
            assert set(resp.get_json()["error"]) >= {"code", "message"}


# --- 2. another host's script on the storefront (a shopper-supplied path_prefix) ----------------------------


@pytest.mark.parametrize("prefix", ["//2130706433", "//evil.example/x", "/apps/regulars//evil.example",
                                    "javascript:alert(1)//", "/apps/other"])
def test_finding2_pages_carry_the_configured_prefix_never_the_requests(hostile, prefix):
    """Even a path_prefix Shopify itself signed (one value, not repeated) never reaches src/href/action."""
    app, world = hostile
    client = app.test_client()
    from devstore import app_proxy_query

    for path, customer in (("widget", world.alpha_customers[0]), ("widget", None), ("r/ALREF000", None)):
        params = app_proxy_query(ALPHA, prefix, customer, api_secret=TEST_SECRET)
        resp = client.get(f"/proxy/{path}?{urlencode(params, doseq=True)}")
        assert resp.status_code == 200, resp.get_data()[:200]
        html = resp.get_data(as_text=True)
        assert prefix not in html.replace("/apps/regulars/", "/apps/regulars|")
        for attr in ('src="', 'href="', 'action="', 'data-prefix="'):
            for value in [part.split('"', 1)[0] for part in html.split(attr)[1:]]:
                assert not value.startswith("//") and "2130706433" not in value and "evil" not in value, value
                if attr != 'href="' or "/static/" in value:
                    assert value.startswith("/apps/regulars"), (attr, value)
        assert "Content-Security-Policy" not in resp.headers or prefix not in resp.headers["Content-Security-Policy"]


# --- 3. a replayed delivery uninstalls or erases another shop ------------------------------------------------


@pytest.mark.parametrize("topic, body", [
    ("shop/redact", {"shop_id": 1, "shop_domain": ALPHA}),
    ("customers/redact", {"shop_id": 1, "shop_domain": ALPHA, "customer": {"id": 11_000_000_000_000_900},
                          "orders_to_redact": []}),
    ("customers/data_request", {"shop_id": 1, "shop_domain": ALPHA, "customer": {"id": 11_000_000_000_000_900},
                                "orders_requested": [], "data_request": {"id": 9}}),
    ("app/uninstalled", {"id": 1, "name": "Alpha", "domain": "alpha.example.com", "myshopify_domain": ALPHA}),
    ("shop/redact", {"shop_id": 1, "shop_domain": "ALPHA.myshopify.com.evil"}),
    ("app/uninstalled", {"id": 1, "myshopify_domain": {"host": BETA}}),
])
def test_finding3_a_body_naming_another_shop_is_refused_with_401(hostile, topic, body):
    """Shop A's genuine body (HMAC is over the body only) re-sent with shop B's domain in the header."""
    app, _world = hostile
    client = app.test_client()
    with Unchanged(app):
        resp = post(client, topic, body, shop=BETA)
        assert resp.status_code == 401, resp.get_data()[:200]
        assert resp.get_json()["error"]["message"]
    with app.app_context():
        beta = db.session.execute(select(Shop).where(Shop.domain == BETA)).scalar_one()
        assert beta.active and db.session.execute(select(Member).where(Member.shop_id == beta.id)).first()
        db.session.remove()


def test_finding3_the_custom_domain_field_is_not_compared(hostile):
    """app/uninstalled's `domain` may be the shop's own custom domain: only myshopify_domain must agree."""
    app, _world = hostile
    install(app, "uninstall-me.myshopify.com")
    resp = post(app.test_client(), "app/uninstalled", {"id": 5, "domain": "www.shop-of-mine.example",
                                                      "myshopify_domain": "uninstall-me.myshopify.com"},
                shop="uninstall-me.myshopify.com", triggered_at=datetime.now(UTC).isoformat())
    assert resp.status_code == 200
    with app.app_context():
        shop = db.session.execute(select(Shop).where(Shop.domain == "uninstall-me.myshopify.com")).scalar_one()
        assert not shop.active
        db.session.remove()


# --- 4. a staff-entered link runs script in every member's widget -------------------------------------------


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", " JavaScript:alert(1)", "data:text/html,<b>x",
                                 "//evil.example/x", "http://example.com/plain-http", "vbscript:x",
                                 {"href": "https://x.example"}, ["https://x.example"], 5, "https://user:pw@x.example",
                                 "https://x.example/a b", "https:///nohost", "https://x.example:port/"])
def test_finding4_a_custom_action_link_that_is_not_https_is_422(hostile, url):
    app, _world = hostile
    with Unchanged(app):
        resp = app.test_client().post("/api/admin/custom-actions", headers=bearer(), json={
            "key": "follow", "name": "Follow us", "points": 10, "limit": "once", "url": url})
        assert resp.status_code == 422, (url, resp.status_code, resp.get_data()[:200])
        assert "url" in resp.get_json()["error"]["fields"]


def test_finding4_https_links_are_kept_and_a_stored_javascript_link_is_never_rendered(hostile):
    app, world = hostile
    client = app.test_client()
    ok = client.post("/api/admin/custom-actions", headers=bearer(), json={
        "key": "insta", "name": "Follow on Instagram", "points": 10, "limit": "once", "honour_system": True,
        "url": "https://instagram.example/a"})
    assert ok.status_code == 201 and ok.get_json()["url"] == "https://instagram.example/a"
    with app.app_context():
        shop = db.session.execute(select(Shop).where(Shop.domain == ALPHA)).scalar_one()
        # A row from before the rule, written behind the API's back.
        db.session.add(CustomAction(shop_id=shop.id, key="legacy", name="Old link", points=5, limit="once",
                                    url="javascript:alert(1)", active=True, honour_system=True, created_at=utcnow()))
        shop.updated_at = utcnow()  # the widget's catalogue cache key moves with the shop row
        db.session.commit()
        db.session.remove()
    from app.services import catalogue

    catalogue.clear()
    html = client.get(f"/proxy/widget?{proxy_query(ALPHA, customer=world.alpha_customers[0])}").get_data(as_text=True)
    assert 'href="https://instagram.example/a"' in html
    assert "Old link" in html and "javascript:" not in html


def test_finding4_http_links_are_accepted_in_development_only(tmp_path):
    from flask_migrate import upgrade

    from app import create_app
    from tests.admin.support import auth, install_shop
    from tests.conftest import make_config

    for env, expected in (("development", 201), ("production", 422)):
        app = create_app(make_config(env=env, database_url=f"sqlite:///{tmp_path}/{env}.db"))
        with app.app_context():
            upgrade(revision="heads")
            install_shop()
            resp = app.test_client().post("/api/admin/custom-actions", headers=auth(), json={
                "key": "local", "name": "Local", "points": 1, "limit": "once", "url": "http://127.0.0.1:9/x"})
            assert resp.status_code == expected, (env, resp.get_data()[:200])
            db.session.remove()
            db.engine.dispose()


# --- 5. a redaction is undone by a late delivery -------------------------------------------------------------


def test_finding5_a_redacted_customer_stays_redacted_whatever_arrives_later(hostile):
    app, _world = hostile
    client = app.test_client()
    cid, oid, later = new_id(), new_id(), new_id()
    secrets = ("ana@secret.example", "198.51.100.7", "1 Secret St", "Lima")
    processed(app, client, "orders/paid", order_payload(oid, cid, updated_at=T0))
    processed(app, client, "customers/data_request", {"shop_id": 1, "shop_domain": ALPHA, "customer": {
        "id": cid, "email": "ana@secret.example"}, "orders_requested": [oid], "data_request": {"id": 1}})
    assert rows_mentioning(app, ("ana@secret.example",))  # held before the redaction, of course
    processed(app, client, "customers/redact", {"shop_id": 1, "shop_domain": ALPHA, "customer": {
        "id": cid, "email": "ana@secret.example"}, "orders_to_redact": [oid]})
    # Late deliveries, dated before the redaction (but newer than the order's state) and after it.
    processed(app, client, "orders/updated", order_payload(oid, cid, updated_at=T0 + timedelta(hours=1)))
    processed(app, client, "orders/updated", order_payload(oid, cid, updated_at=datetime.now(UTC) + timedelta(hours=1),
                                                           subtotal="30.00", status="partially_refunded"))
    processed(app, client, "customers/update", {"id": cid, "email": "ana@secret.example", "first_name": "Ana",
                                                "last_name": "Lima", "default_address": {"address1": "1 Secret St"}})
    processed(app, client, "orders/paid", order_payload(later, cid, updated_at=datetime.now(UTC)))
    processed(app, client, "customers/data_request", {"shop_id": 1, "shop_domain": ALPHA, "customer": {"id": cid},
                                                      "orders_requested": [oid, later], "data_request": {"id": 2}})
    assert rows_mentioning(app, secrets) == []
    with app.app_context():
        member = db.session.execute(select(Member).where(Member.customer_id == cid)).scalar_one()
        assert member.redacted_at is not None and (member.email, member.first_name, member.last_name) == (None,) * 3
        orders = db.session.execute(select(Order).where(Order.customer_id == cid)).scalars().all()
        assert len(orders) == 2 and all((o.email, o.browser_ip, o.address_fingerprint) == (None,) * 3 for o in orders)
        # The amounts stay: the late partial refund moved the first order's points (40 → 30 × 5).
        assert {o.order_id: o.points_target for o in orders} == {oid: 150, later: 200}
        docs = db.session.execute(select(AuditLog.details).where(AuditLog.action == "customer_data_request",
                                                                  AuditLog.target_id == str(cid))).scalars().all()
        document = [d["document"] for d in docs if "document" in d][-1]
        assert document["member"]["email"] is None and all(o["email"] is None and o["browser_ip"] is None
                                                           for o in document["orders"])
        db.session.remove()


def test_finding5_a_redaction_before_any_order_is_kept_for_the_orders_that_come(hostile):
    """customers/redact for a customer Regulars never met: their first order later holds no personal data."""
    app, _world = hostile
    client = app.test_client()
    cid, oid = new_id(), new_id()
    processed(app, client, "customers/redact", {"shop_id": 1, "shop_domain": ALPHA, "customer": {"id": cid},
                                                "orders_to_redact": [oid]})
    processed(app, client, "orders/paid", order_payload(oid, cid, updated_at=T0, email="late@secret.example",
                                                        ip="198.51.100.99"))
    assert rows_mentioning(app, ("late@secret.example", "198.51.100.99")) == []


# --- 6. a NUL byte loses a customer's points -----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["An\u0000a", "A\u0001n\u001fa", "\ud800Ana"])
def test_finding6_control_characters_in_shopify_text_never_fail_a_delivery(hostile, bad):
    app, _world = hostile
    client = app.test_client()
    cid, oid = new_id(), new_id()
    processed(app, client, "customers/create", {"id": cid, "email": f"n{cid}@x.example", "first_name": bad,
                                                "last_name": bad, "created_at": T0.isoformat()})
    processed(app, client, "orders/paid", order_payload(oid, cid, updated_at=T0, first_name=bad,
                                                        email=f"n{cid}\u0000@x.example"))
    with app.app_context():
        member = db.session.execute(select(Member).where(Member.customer_id == cid)).scalar_one()
        assert member.first_name in ("Ana", "\ufffdAna") and "\u0000" not in (member.email or "")
        assert member.points_available >= 200  # the order's 40.00 × 5 (and the sign-up bonus)
        order = db.session.execute(select(Order).where(Order.order_id == oid)).scalar_one()
        assert "\u0000" not in json.dumps(order.knowledge) and order.email == f"n{cid}@x.example"
        db.session.remove()


# --- 7. 5xx instead of a clear 4xx --------------------------------------------------------------------------


def _error_shape(resp: Any, *statuses: int) -> dict[str, Any]:
    assert resp.status_code in statuses, (resp.status_code, resp.get_data()[:300])
    assert resp.is_json, resp.get_data()[:200]
    err = resp.get_json()["error"]
    assert isinstance(err["code"], str | int) and isinstance(err["message"], str)
    return err


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
def test_finding7_deeply_nested_json_is_400_everywhere(hostile, body):
    app, world = hostile
    client = app.test_client()
    cid = world.alpha_customers[0]
    with Unchanged(app):
        for path in ("/webhooks", "/webhooks/compliance"):
            _, headers = webhook("orders/paid" if path == "/webhooks" else "customers/redact", b"{}")
            headers["X-Shopify-Hmac-Sha256"] = sign(body)
            _error_shape(client.post(path, data=body, headers=headers), 400)
        json_headers = {"Content-Type": "application/json"}
        for method, path in (("PATCH", "/api/v1/program"), ("POST", f"/api/v1/members/{cid}/adjustments"),
                             ("POST", f"/api/v1/members/{cid}/redemptions"), ("PATCH", "/api/admin/settings"),
                             ("POST", "/api/admin/rewards"), ("PUT", "/api/admin/tiers")):
            _error_shape(client.open(path, method=method, data=body, headers={**json_headers, **bearer()}), 400)
        signed = {**json_headers, "X-Shopify-Shop-Domain": ALPHA}
        import base64
        import hashlib
        import hmac as hmac_lib

        signed["X-Regulars-Hmac-Sha256"] = base64.b64encode(hmac_lib.new(
            f"action-secret-{ALPHA}".encode(), body, hashlib.sha256).digest()).decode()
        resp = client.post("/api/v1/actions", data=body, headers=signed)
        assert resp.status_code in (400, 422), resp.status_code


@pytest.mark.parametrize("shop", ["alpha.myshopify.com\r\nSet-Cookie: a=b", "*", "alpha.myshopify.com *",
                                  "evil.example", "alpha.myshopify.com; script-src *", ""])
def test_finding7_and_9_patch_id_token_never_echoes_an_unchecked_shop(hostile, shop):
    app, _world = hostile
    with Unchanged(app):
        resp = app.test_client().get("/auth/patch-id-token", query_string={"shop": shop, "shopify-reload": "/?a=1"})
        _error_shape(resp, 400)
        assert "Content-Security-Policy" not in resp.headers


def test_finding9_patch_id_token_for_a_real_shop_is_framed_by_that_shop_only(hostile):
    app, _world = hostile
    ok = app.test_client().get("/auth/patch-id-token", query_string={"shop": ALPHA, "shopify-reload": "/?x=1"})
    assert ok.status_code == 200 and b"app-bridge.js" in ok.data
    assert ok.headers["Content-Security-Policy"] == f"frame-ancestors https://{ALPHA} https://admin.shopify.com;"
    for reload in ("https://evil.example/", "//evil.example/", "javascript:alert(1)", "http://127.0.0.1:8000.evil/"):
        assert app.test_client().get("/auth/patch-id-token", query_string={
            "shop": ALPHA, "shopify-reload": reload}).status_code == 400
    own = app.config["REGULARS"].app_url + "/?shop=alpha.myshopify.com"
    assert app.test_client().get("/auth/patch-id-token", query_string={
        "shop": ALPHA, "shopify-reload": own}).status_code == 200


@pytest.mark.parametrize("q", ["%00", "ana%00", "%25%00%25", "%ED%A0%80", "%FF%FE", "%C0%80"])
def test_finding7_nul_and_bad_bytes_in_member_search_are_answered(hostile, q):
    app, _world = hostile
    resp = app.test_client().get(f"/api/admin/members?q={q}", headers=bearer())
    assert resp.status_code == 200, resp.get_data()[:200]


@pytest.mark.parametrize("raw", ["²", "¹²", "٣", "12\u0000", str(2**64), str(2**70), "-5", "0", "1e3", " 7 "])
def test_finding7_ids_that_name_nobody_are_404(hostile, raw):
    app, _world = hostile
    client = app.test_client()
    with Unchanged(app):
        for method, path in (("GET", "/api/v1/members/{}"), ("GET", "/api/v1/members/{}/ledger"),
                             ("POST", "/api/v1/members/{}/adjustments"), ("POST", "/api/v1/members/{}/redemptions")):
            url = path.format(raw.replace("\u0000", "%00"))
            resp = client.open(url, method=method, headers={"X-Regulars-Api-Key": ALPHA_API_KEY},
                               json={"points": 5, "reason": "x", "reward_id": 1, "idempotency_key": "k"})
            _error_shape(resp, 404)


@pytest.mark.parametrize("reward_id", [2**70, str(2**70), 2**63, "²", "1²", -1, 0, 1.5, "1.0", [1], {"id": 1},
                                       True, None])
def test_finding7_bad_reward_ids_are_422(hostile, reward_id):
    app, world = hostile
    with Unchanged(app):
        resp = app.test_client().post(f"/api/v1/members/{world.alpha_customers[0]}/redemptions",
                                      headers={"X-Regulars-Api-Key": ALPHA_API_KEY},
                                      json={"reward_id": reward_id, "idempotency_key": f"k-{reward_id!r}"})
        assert "reward_id" in _error_shape(resp, 422)["fields"]


def test_finding7_nul_in_reason_note_and_key_is_stored_without_it(hostile):
    app, world = hostile
    cid = world.alpha_customers[1]
    resp = app.test_client().post(f"/api/v1/members/{cid}/adjustments", headers={"X-Regulars-Api-Key": ALPHA_API_KEY},
                                  json={"points": 5, "reason": "goodwill\u0000", "note": "sorry\u0000\u0007",
                                        "idempotency_key": "nul\u0000key"})
    assert resp.status_code == 201, resp.get_data()[:300]
    assert (resp.get_json()["reason"], resp.get_json()["note"]) == ("goodwill", "sorry")
    again = app.test_client().post(f"/api/v1/members/{cid}/adjustments", headers={"X-Regulars-Api-Key": ALPHA_API_KEY},
                                   json={"points": 5, "reason": "goodwill", "idempotency_key": "nul\u0000key"})
    assert again.get_json()["id"] == resp.get_json()["id"]  # the same request, retried


def test_finding7_nul_in_a_tier_name_is_stored_without_it(hostile):
    app, _world = hostile
    install(app, "tiers-nul.myshopify.com", "reg_tiersnul_" + "t" * 30)
    resp = app.test_client().patch("/api/v1/program", headers={"X-Regulars-Api-Key": "reg_tiersnul_" + "t" * 30},
                                   json={"tiers": [{"name": "Go\u0000ld", "threshold": "0"}]})
    assert resp.status_code == 200, resp.get_data()[:300]
    assert [t["name"] for t in resp.get_json()["tiers"]] == ["Gold"]


@pytest.mark.parametrize("body", [
    {"points": 2**70, "reason": "x"}, {"points": "5", "reason": "x"}, {"points": 5, "reason": {"a": 1}},
    {"points": 5, "reason": ["x"]}, {"points": 5, "reason": "x", "note": 7}, {"points": 5, "reason": "x",
                                                                            "idempotency_key": {"k": 1}},
    {"points": 5, "reason": "x", "allow_negative": "true"}, {"points": 5.5, "reason": "x"}, {"points": None},
])
def test_finding7_wrong_json_types_are_422(hostile, body):
    app, world = hostile
    cid = world.alpha_customers[0]
    with Unchanged(app):
        for path, headers in ((f"/api/v1/members/{cid}/adjustments", {"X-Regulars-Api-Key": ALPHA_API_KEY}),
                              (f"/api/admin/members/{cid}/adjustments", bearer())):
            _error_shape(app.test_client().post(path, headers=headers, json=body), 422)


# --- 8. session tokens ---------------------------------------------------------------------------------------


def _token(drop: tuple[str, ...] = (), **claims: Any) -> str:
    now = int(time.time())
    base = {"iss": f"https://{ALPHA}/admin", "dest": f"https://{ALPHA}", "aud": TEST_KEY, "sub": "1",
            "exp": now + 60, "nbf": now, "iat": now, "jti": str(uuid.uuid4()), "sid": "s"}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if k not in drop}, TEST_SECRET, algorithm="HS256")


@pytest.mark.parametrize("why, token", [
    ("no exp", lambda: _token(drop=("exp",))),
    ("no nbf", lambda: _token(drop=("nbf",))),
    ("no iat", lambda: _token(drop=("iat",))),
    ("exp not a number", lambda: _token(exp="tomorrow")),
    ("iss names another shop", lambda: _token(iss=f"https://{BETA}/admin")),
    ("dest names another shop", lambda: _token(dest=f"https://{BETA}")),
    ("no iss", lambda: _token(drop=("iss",))),
    ("iss not a shop", lambda: _token(iss="https://evil.example/admin")),
    ("dest with a path trick", lambda: _token(dest=f"https://{ALPHA}.evil.example")),
    ("http dest", lambda: _token(dest=f"http://{ALPHA}", iss=f"http://{ALPHA}/admin")),
])
def test_finding8_tokens_missing_claims_or_naming_two_shops_are_refused(hostile, why, token):
    app, _world = hostile
    client = app.test_client()
    raw = token()
    with Unchanged(app):
        for path in ("/api/admin/shop", "/api/v1/program", "/api/admin/members"):
            resp = client.get(path, headers={"Authorization": f"Bearer {raw}"})
            _error_shape(resp, 401)
            assert resp.headers.get("X-Shopify-Retry-Invalid-Session-Request") == "1"
        page = client.get("/", query_string={"shop": ALPHA, "embedded": "1", "id_token": raw})
        assert page.status_code in (302, 401) and b"Regulars sections" not in page.data, (why, page.status_code)


def test_finding8_a_complete_token_still_opens_its_own_shop(hostile):
    app, _world = hostile
    resp = app.test_client().get("/api/admin/shop", headers={"Authorization": f"Bearer {_token()}"})
    assert resp.status_code == 200 and resp.get_json()["domain"] == ALPHA


# --- 9. framing ----------------------------------------------------------------------------------------------


def test_finding9_the_embedded_admin_page_carries_shopifys_frame_policy_and_preload_headers(hostile):
    app, _world = hostile
    page = app.test_client().get("/", query_string={"shop": ALPHA, "host": "aG9zdA", "embedded": "1",
                                                    "id_token": _token()})
    assert page.status_code == 200 and b"Regulars sections" in page.data
    assert page.headers["Content-Security-Policy"] == f"frame-ancestors https://{ALPHA} https://admin.shopify.com;"
    assert "app-bridge.js" in page.headers["Link"] and "preconnect" in page.headers["Link"]


def test_finding9_the_admin_frame_policy_follows_the_token_not_the_query(hostile):
    app, _world = hostile
    page = app.test_client().get("/", query_string={"shop": "evil.myshopify.com", "embedded": "1",
                                                    "id_token": _token()})
    assert page.headers["Content-Security-Policy"] == f"frame-ancestors https://{ALPHA} https://admin.shopify.com;"


def test_finding9_proxy_html_never_takes_a_frame_policy_from_input(hostile):
    app, world = hostile
    query = proxy_query(ALPHA, customer=world.alpha_customers[0], extra={"frame": "https://evil.example"})
    resp = app.test_client().get(f"/proxy/widget?{query}", headers={"Origin": "https://evil.example"})
    assert resp.status_code == 200
    assert "evil" not in " ".join(f"{k}: {v}" for k, v in resp.headers.items())


# --- 10. development aids in a forgotten deployment ----------------------------------------------------------


def test_finding10_a_server_started_without_regulars_env_has_no_development_aid(monkeypatch, tmp_path):
    from app import create_app
    from app.config import ConfigError

    for name in ("REGULARS_ENV", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "APP_URL", "DATABASE_URL",
                 "SHOPIFY_API_ORIGIN", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the project's to find
    with pytest.raises(ConfigError, match="REGULARS_ENV=development"):
        create_app()  # production rules: no dev secrets
    monkeypatch.setenv("SHOPIFY_API_KEY", "real-key")
    monkeypatch.setenv("SHOPIFY_API_SECRET", "real-secret")
    monkeypatch.setenv("APP_URL", "https://regulars.example")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/p.db")
    app = create_app()
    assert app.config["REGULARS"].production
    client = app.test_client()
    for path in ("/dev/login?shop=alpha.myshopify.com", "/dev/token?shop=alpha.myshopify.com"):
        assert client.get(path).status_code == 404
    monkeypatch.setenv("REGULARS_ENV", "development")
    assert create_app().test_client().get("/dev/token?shop=alpha.myshopify.com").status_code == 200


# --- 11. member search wildcards; a negative average order value ---------------------------------------------


def test_finding11_member_search_takes_percent_and_underscore_literally(hostile):
    app, _world = hostile
    with app.app_context():
        shop = db.session.execute(select(Shop).where(Shop.domain == ALPHA)).scalar_one()
        for cid, first in ((new_id(), "Sale100%"), (new_id(), "snake_case"), (new_id(), "snakeXcase")):
            db.session.add(Member(shop_id=shop.id, customer_id=cid, first_name=first, email=f"{cid}@m.example",
                                  enrolled_at=utcnow(), points_available=0, points_pending=0, lifetime_points=0,
                                  orders_count=0))
        db.session.commit()
        db.session.remove()
    client = app.test_client()

    def names(q: str) -> list[str]:
        resp = client.get("/api/admin/members", query_string={"q": q}, headers=bearer())
        return sorted(m["name"] for m in resp.get_json()["members"])

    assert names("%") == ["Sale100%"]
    assert names("e_c") == ["snake_case"]
    assert names("_") == ["snake_case"]


def test_finding11_a_paid_order_with_a_negative_subtotal_never_makes_a_negative_average(hostile):
    app, _world = hostile
    key = "reg_negative_" + "n" * 30
    install(app, "negative.myshopify.com", key)
    client = app.test_client()
    for subtotal, total in (("-25.00", "-20.00"), ("10.00", "10.00")):
        processed(app, client, "orders/paid", order_payload(new_id(), new_id(), updated_at=T0, subtotal=subtotal,
                                                            total=total), shop="negative.myshopify.com")
    day = T0.date().isoformat()
    summary = client.get("/api/v1/analytics/summary", query_string={"from": day, "to": day},
                         headers={"X-Regulars-Api-Key": key}).get_json()
    assert Decimal(summary["average_order_value"]) == Decimal("5.00")  # (0 + 10) / 2, never (−20 + 10) / 2


# --- also: an adjustment below zero needs allow_negative (contract.md) ----------------------------------------


@pytest.mark.parametrize("route", ["v1", "admin"])
def test_an_adjustment_below_zero_needs_allow_negative(hostile, route):
    app, world = hostile
    client = app.test_client()
    cid = world.alpha_customers[2]
    path = f"/api/{route}/members/{cid}/adjustments"
    headers = {"X-Regulars-Api-Key": ALPHA_API_KEY} if route == "v1" else bearer()
    with app.app_context():
        balance = db.session.execute(select(Member.points_available).where(Member.customer_id == cid)).scalar_one()
        db.session.remove()
    with Unchanged(app):
        for flag in ({}, {"allow_negative": False}):
            err = _error_shape(client.post(path, headers=headers, json={
                "points": -(balance + 1), "reason": "chargeback", "idempotency_key": f"neg-{route}", **flag}), 422)
            assert err["code"] == "negative_balance" and "allow_negative" in err["fields"]
    ok = client.post(path, headers=headers, json={"points": -(balance + 1), "reason": "chargeback",
                                                 "idempotency_key": f"neg-{route}", "allow_negative": True})
    assert ok.status_code == 201 and ok.get_json()["points_available"] == -1
    # The same request retried (without the flag) answers its first result, not a refusal.
    again = client.post(path, headers=headers, json={"points": -(balance + 1), "reason": "chargeback",
                                                    "idempotency_key": f"neg-{route}"})
    assert again.status_code == 201 and again.get_json()["points_available"] == -1
    # Down to exactly zero, and adding to a negative balance, need no flag.
    up = client.post(path, headers=headers, json={"points": 1, "reason": "fix", "idempotency_key": f"up-{route}"})
    assert up.status_code == 201 and up.get_json()["points_available"] == 0


def test_finding7_a_deleted_customer_joining_from_the_widget_is_refused_not_5xx(hostile):
    from app.proxy import auth

    app, _world = hostile
    cid = new_id()
    with app.app_context():
        shop = db.session.execute(select(Shop).where(Shop.domain == ALPHA)).scalar_one()
        db.session.add(Member(shop_id=shop.id, customer_id=cid, deleted_at=utcnow(), points_available=0,
                              points_pending=0, lifetime_points=0, orders_count=0))
        db.session.commit()
        token = auth.form_token(ALPHA, f"{ALPHA}|{cid}")
        db.session.remove()
    with Unchanged(app):
        resp = app.test_client().post(f"/proxy/widget/join?{proxy_query(ALPHA, customer=cid)}",
                                      data={"form_token": token, "request_key": uuid.uuid4().hex})
        assert resp.status_code == 404 and b'data-flash="error_generic"' in resp.data
