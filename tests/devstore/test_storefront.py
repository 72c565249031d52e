"""The stand-in storefront: each shop on its own origin (told apart by Host), with Shopify's app proxy at
`/apps/regulars/*`: the shopper's query kept, Shopify's signed query added, cookies stripped both ways, the
app's root-relative redirects left to the browser, which is on the shop's origin."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, Response, request
from shopify_app import ShopifyApp
from werkzeug.serving import make_server

from devstore import DevStore, serve_in_thread
from devstore.storefront import storefront_url
from tests.devstore.devstore_support import API_KEY, API_SECRET

SHOP = "corner-shop.myshopify.com"


@pytest.fixture
def proxied() -> Iterator[dict[str, Any]]:
    """An app stand-in at /proxy that verifies the signature with shopify_app and echoes what it got."""
    app = Flask("proxied")
    seen: list[dict[str, Any]] = []
    verifier = ShopifyApp(API_KEY, API_SECRET)

    @app.route("/proxy/<path:sub>", methods=["GET", "POST"])
    def proxy(sub: str) -> Any:
        verdict = verifier.verify_app_proxy_req({"method": request.method, "url": request.url,
                                                 "headers": dict(request.headers)})
        seen.append({"sub": sub, "args": request.args.to_dict(flat=False), "ok": verdict.ok,
                     "cookie": request.headers.get("Cookie"), "form": request.form.to_dict()})
        if sub == "go":
            resp = Response(status=303)
            resp.headers["Location"] = "/discount/FRIEND-1"
            resp.set_cookie("app_cookie", "never-forwarded")
            return resp
        return Response("<div data-regulars-root>ok</div>", mimetype="text/html")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    store = DevStore(api_key=API_KEY, api_secret=API_SECRET, app_url=f"http://127.0.0.1:{server.server_port}")
    store.add_shop(SHOP)
    store_server, _, base = serve_in_thread(store)
    yield {"seen": seen, "base": base, "origin": storefront_url(base, SHOP), "store": store}
    store_server.shutdown()
    server.shutdown()


def _get(base: str, path: str, host: str, **kw: Any) -> httpx.Response:
    # The machine's resolver may not know *.localhost (browsers do): connect to the stand-in, name the host.
    return httpx.request(kw.pop("method", "GET"), f"{base}{path}", headers={"Host": host, **kw.pop("headers", {})},
                         follow_redirects=False, timeout=10, **kw)


def test_storefront_urls_are_the_shops_own_origin(proxied: dict[str, Any]) -> None:
    assert proxied["origin"] == f"http://corner-shop.localhost:{proxied['base'].rsplit(':', 1)[1]}"


def test_app_proxy_signs_names_the_signed_in_customer_and_strips_cookies(proxied: dict[str, Any]) -> None:
    base, host = proxied["base"], "corner-shop.localhost"
    account = _get(base, "/account?as=11000000000000042", host)
    assert account.status_code == 200 and 'data-base="/apps/regulars"' in account.text
    cookie = account.headers["set-cookie"].split(";")[0]
    resp = _get(base, "/apps/regulars/widget?locale=th", host, headers={"Cookie": f"{cookie}; theme=dark"})
    assert resp.status_code == 200 and "data-regulars-root" in resp.text
    got = proxied["seen"][-1]
    assert got["ok"] is True and got["sub"] == "widget" and got["cookie"] is None
    assert got["args"]["locale"] == ["th"]
    assert got["args"]["logged_in_customer_id"] == ["11000000000000042"]
    assert got["args"]["path_prefix"] == ["/apps/regulars"] and got["args"]["shop"] == [SHOP]
    # Signed out: Shopify still sends the parameter, empty.
    _get(base, "/apps/regulars/widget", host, headers={"Cookie": "devstore_customer="})
    assert proxied["seen"][-1]["args"]["logged_in_customer_id"] == [""]


def test_a_repeated_reserved_parameter_reaches_the_app_as_shopify_sends_it(proxied: dict[str, Any]) -> None:
    """A shopper adding ?logged_in_customer_id=… gets it signed together with Shopify's own (joined by a comma
    in the signature): the app must refuse it, so the stand-in must not hide it."""
    base, host = proxied["base"], "corner-shop.localhost"
    _get(base, "/apps/regulars/widget?logged_in_customer_id=999", host, headers={"Cookie": "devstore_customer=7"})
    assert proxied["seen"][-1]["args"]["logged_in_customer_id"] == ["999", "7"]


def test_posts_and_redirects_go_through_and_stay_on_the_shop(proxied: dict[str, Any]) -> None:
    base, host = proxied["base"], "corner-shop.localhost"
    resp = _get(base, "/apps/regulars/go", host, method="POST", data={"email": "bea@example.com"})
    assert resp.status_code == 303 and resp.headers["location"] == "/discount/FRIEND-1"
    assert "set-cookie" not in resp.headers
    assert proxied["seen"][-1]["form"] == {"email": "bea@example.com"}
    applied = _get(base, "/discount/FRIEND-1?redirect=/cart", host)
    assert applied.status_code == 200 and 'data-discount="FRIEND-1"' in applied.text


def test_unknown_hosts_are_not_storefronts_and_old_paths_redirect(proxied: dict[str, Any]) -> None:
    base = proxied["base"]
    assert _get(base, "/apps/regulars/widget", "127.0.0.1").status_code == 404
    assert _get(base, "/account", "nobody.localhost").status_code == 404
    old = _get(base, "/store/corner-shop/account?as=5", "127.0.0.1")
    assert old.status_code == 302
    assert old.headers["location"] == f"http://corner-shop.localhost:{base.rsplit(':', 1)[1]}/account?as=5"


def test_language_paths_and_theme_assets(proxied: dict[str, Any]) -> None:
    base, host = proxied["base"], "corner-shop.localhost"
    page = _get(base, "/th/account", host)
    assert page.status_code == 200 and '<html lang="th">' in page.text and 'data-locale="th"' in page.text
    # The blocks' Liquid, rendered with the extension's Thai locale file.
    assert "กำลังโหลดรางวัลของคุณ…" in page.text and ">รางวัล<" in page.text
    # The rewards block and the launcher embed both name regulars.js and regulars.css: each is on the page once,
    # from the CDN-like path that carries the extension's version.
    scripts = re.findall(r'<script src="(/cdn/extensions/regulars-theme/[0-9a-f]{10}/assets/regulars\.js)"', page.text)
    styles = re.findall(r'<link rel="stylesheet" href="(/cdn/extensions/regulars-theme/[0-9a-f]{10}/assets/'
                        r'regulars\.css)"', page.text)
    assert len(scripts) == 1 and len(styles) == 1 and page.text.count("regulars.js") == 1
    assert page.text.count("data-regulars-widget") == 2  # the block's host and the launcher panel's
    for url in scripts + styles:
        asset = _get(base, url, host)
        assert asset.status_code == 200 and asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert _get(base, scripts[0], host).headers["content-type"].startswith("text/javascript")
    for missing in ("regulars-loader.js", "..%2Fblocks%2Frewards.liquid", ".hidden"):
        assert _get(base, scripts[0].replace("regulars.js", missing), host).status_code == 404
    # The launcher (an app embed) is on every page; the rewards block only where it was put.
    home = _get(base, "/", host)
    assert "data-regulars-launcher" in home.text and home.text.count("data-regulars-widget") == 1


def test_the_app_proxy_path_is_the_configured_one(proxied: dict[str, Any]) -> None:
    """A merchant who changes the proxy's subpath in the admin sets the block's proxy path to match."""
    base, host = proxied["base"], "corner-shop.localhost"
    store = proxied["store"]
    store.app_proxy_path = "/a/loyalty"
    store.theme_blocks["rewards"] = {"proxy_path": "/a/loyalty"}
    page = _get(base, "/account", host)
    assert 'data-base="/a/loyalty"' in page.text
    assert _get(base, "/apps/regulars/widget", host).status_code == 404
    assert _get(base, "/a/loyalty/widget", host).status_code == 200
    assert proxied["seen"][-1]["args"]["path_prefix"] == ["/a/loyalty"]
    assert _get(base, "/favicon.ico", host).status_code == 204
