"""Shopify's two CDN scripts in production, the local stand-ins only in development: the production page names
app-bridge.js and polaris.js on cdn.shopify.com and the stand-in route does not exist; the development sign-in
uses the stand-ins and never the CDN. Every part of the program has its own path (App Bridge's nav links to
paths), each answered by the same verified page."""

from __future__ import annotations

from typing import Any

import pytest

from app import create_app
from devstore.tokens import mint_session_token
from tests.admin.support import SHOP, install_shop
from tests.conftest import TEST_KEY, TEST_SECRET, make_config, truncate_all

pytestmark = [pytest.mark.postgres]
CDN = ('<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>',
       '<script src="https://cdn.shopify.com/shopifycloud/polaris.js"></script>')
PATHS = ("/", "/customers", "/customers/501", "/points", "/tiers", "/rewards", "/referrals", "/automations",
         "/analytics", "/settings", "/audit", "/api-keys")


@pytest.fixture
def apps(pg_url: str) -> Any:
    prod = create_app(make_config(database_url=pg_url, env="production", app_url="https://loyalty.example.com"))
    dev = create_app(make_config(database_url=pg_url, env="development"))
    with prod.app_context():
        from app.extensions import db

        install_shop()
        db.session.commit()
    yield prod, dev
    for app in (prod, dev):
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()
    truncate_all(pg_url)


def test_production_names_the_cdn_scripts_and_has_no_standin(apps: Any) -> None:
    prod, _ = apps
    client = prod.test_client()
    token = mint_session_token(SHOP, TEST_KEY, TEST_SECRET)
    for path in PATHS:
        page = client.get(path, query_string={"shop": SHOP, "host": "YWRtaW4", "embedded": "1", "id_token": token})
        html = page.get_data(as_text=True)
        assert page.status_code == 200, (path, page.status_code)
        assert all(tag in html for tag in CDN), path
        assert "/dev/" not in html and "<s-app-nav " in html
        assert html.index(CDN[0]) < html.index(CDN[1]) < html.index("admin/admin.js")  # App Bridge first, as Shopify asks
        assert page.headers["Content-Security-Policy"].startswith(f"frame-ancestors https://{SHOP}")
    for name in ("app-bridge.js", "polaris.js", "standin.css"):
        assert client.get(f"/dev/standin/{name}").status_code == 404
    assert client.get("/dev/login/customers?shop=" + SHOP).status_code == 404
    # Without a session token the page is not served (Shopify's bounce instead).
    assert client.get("/customers").status_code != 200


def test_development_uses_the_standins_and_never_the_cdn(apps: Any) -> None:
    _, dev = apps
    client = dev.test_client()
    for path in ("/dev/login", "/dev/login/customers/501", "/dev/login/settings"):
        page = client.get(path, query_string={"shop": SHOP})
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "cdn.shopify.com" not in html, path
        assert '/dev/standin/app-bridge.js' in html and '/dev/standin/polaris.js' in html
        assert 'data-base="/dev/login"' in html and 'href="/dev/login/customers"' in html
    for name, kind in (("app-bridge.js", "javascript"), ("polaris.js", "javascript"), ("standin.css", "css")):
        resp = client.get(f"/dev/standin/{name}")
        assert resp.status_code == 200 and kind in resp.headers["Content-Type"], name
    script = client.get("/dev/standin/polaris.js").get_data(as_text=True)
    for element in ("s-page", "s-section", "s-button", "s-table", "s-badge", "s-text-field", "s-select", "s-checkbox"):
        assert f'"{element}"' in script, element
    bridge = client.get("/dev/standin/app-bridge.js").get_data(as_text=True)
    for element in ("s-app-nav", "ui-modal", "ui-save-bar", "ui-title-bar", "idToken", "toast", "saveBar"):
        assert element in bridge, element
    assert client.get("/dev/standin/admin.js").status_code == 404
    assert client.get("/dev/standin/..%2F__init__.py").status_code == 404
