"""The storefront side of the stand-in: each shop's online store on its own origin, with Shopify's app proxy.

Shopify serves a shop's storefront at the shop's own origin and forwards `https://{shop}/apps/regulars/<path>`
to `<app>/proxy/<path>`: cookies stripped (both ways), the shopper's query kept, and a fresh signed query
appended (`shop`, `logged_in_customer_id`, `path_prefix`, `timestamp`, `signature`). Here a shop's storefront
is told apart by the Host header, like the Admin API side: `{handle}.localhost:<port>` (browsers resolve
`*.localhost` to this machine, so `http://regulars-demo.localhost:8765/account` just works) or
`{handle}.myshopify.com` (a client that sets Host itself). So every URL the widget and the landing page
build (root-relative `/apps/regulars/…`, `/discount/…`) works unchanged here and in production.

Storefront pages: `/` (home), `/account` (the account page with the theme app extension's rewards block),
`/<locale>/…` or `?locale=` for the storefront's language, `/discount/<code>`, `/cart`. The extension's launcher
(an app embed) is on every page. The blocks are the extension's own Liquid, rendered as Shopify renders it, and
their assets are served from a CDN-like path (devstore/theme.py). `?as=<customer id>` on any page signs a customer
in (`?as=` signs out); it is remembered in a cookie of the stand-in's storefront, which never reaches the app.
The app proxy's path is `store.app_proxy_path` (shopify.app.toml's by default; a merchant may change the subpath),
and `store.theme_blocks` holds the blocks on the pages with the merchant's settings.
"""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from flask import Flask, Response, redirect, request

from devstore.theme import CDN_PREFIX, ThemeExtension, liquid_customer
from devstore.tokens import app_proxy_query, sign_app_proxy

PROXY_PREFIX = "/apps/regulars"  # shopify.app.toml's [app_proxy]; DevStore.app_proxy_path may differ
PROXY_PREFIXES = ("apps", "a", "community", "tools")  # the prefixes Shopify lets an app proxy use
CUSTOMER_COOKIE = "devstore_customer"
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "set-cookie"}
# What a browser may send that Shopify's proxy does not pass on (cookies above all), or that httpx sets itself.
_DROP_REQUEST_HEADERS = {"host", "cookie", "content-length", "accept-encoding", "connection"}
LOCALES = {"en": "English", "el": "Ελληνικά", "ro": "Română", "th": "ไทย", "zh-CN": "中文"}

_PAGE = """<!doctype html>
<html lang="{locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {shop_name}</title>
<link rel="icon" href="data:,">
<style>body{{font-family:system-ui,sans-serif;margin:0;background:#f6f6f7;color:#1b1d21}}
header{{background:#1a1a1a;color:#fff;padding:12px 24px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}}
header a{{color:#fff}} header nav{{margin-left:auto;display:flex;gap:10px;font-size:.9em}}
main{{max-width:880px;margin:24px auto;padding:0 16px}}</style>
{head}</head>
<body><header><strong>{shop_name}</strong><a href="/">Home</a><a href="{account_href}">Account</a>
<span data-signed-in>{who}</span>
<nav aria-label="Language" data-languages>{languages}</nav></header>
<main>{body}</main>
</body></html>"""

def storefront_url(base_url: str, shop: str) -> str:
    """The origin of `shop`'s storefront on a stand-in listening at `base_url` (http://host:port)."""
    handle = shop.removesuffix(".myshopify.com")
    port = base_url.rsplit(":", 1)[-1].strip("/")
    return f"http://{handle}.localhost:{port}"


def register(app: Flask, store: Any) -> None:
    client = httpx.Client(timeout=30.0, follow_redirects=False)
    theme = ThemeExtension()

    def storefront_shop() -> str | None:
        """The shop whose storefront this request is for, by Host; None on the stand-in's own address."""
        host = request.host.split(":")[0].lower()
        if host.endswith(".localhost"):
            domain = host.removesuffix(".localhost").rsplit(".", 1)[-1] + ".myshopify.com"
        elif host.endswith(".myshopify.com"):
            domain = host
        else:
            return None
        return domain if store.find_shop(domain) is not None else None

    def customer() -> str | None:
        chosen = request.args.get("as")
        if chosen is not None:
            return chosen.strip() or None
        return request.cookies.get(CUSTOMER_COOKIE) or None

    def remember(resp: Response) -> Response:
        if "as" in request.args:
            resp.set_cookie(CUSTOMER_COOKIE, (request.args.get("as") or "").strip(), samesite="Lax", httponly=True)
        return resp

    def page(shop: str, title: str, body: str, *, locale: str = "en", status: int = 200,
             blocks: tuple[str, ...] = ()) -> Response:
        """A storefront page: `blocks` of the theme app extension in its body, then the app embeds (the launcher),
        their assets once in <head>, as Shopify's storefront renders a theme with the app's extension."""
        record = store.shop(shop)
        who = customer()
        placed = [(name, dict(store.theme_blocks[name])) for name in (*blocks, "launcher") if name in store.theme_blocks]
        signed_in = None
        if who and who.isdigit():
            try:
                signed_in = liquid_customer(int(who), store.metafields(shop, int(who)))
            except Exception:  # an id the shop does not know: signed out, as far as Liquid is concerned
                signed_in = None
        rendered = theme.render(placed, locale=locale, customer=signed_in)
        body = body + "".join(rendered.blocks.get(name, "") for name in blocks)
        embeds = "".join(html_ for name, html_ in rendered.blocks.items() if name not in blocks)
        current = ' aria-current="true"'
        langs = " ".join(
            f'<a href="{"" if code == "en" else "/" + code}/account" hreflang="{code}" lang="{code}"'
            f'{current if code == locale else ""}>{name}</a>' for code, name in LOCALES.items())
        out = _PAGE.format(locale=locale, title=html.escape(title), shop_name=html.escape(record.get("name") or shop),
                           head=rendered.head, body=body + embeds, languages=langs,
                           account_href="/account" if locale == "en" else f"/{locale}/account",
                           who=f"Signed in as customer {html.escape(who)}" if who else "Not signed in")
        return remember(Response(out, status=status, mimetype="text/html"))

    def locale_of(prefix: str | None) -> str:
        chosen = prefix or request.args.get("locale") or "en"
        return chosen if chosen in LOCALES else "en"

    # --- pages -------------------------------------------------------------------------------------------

    @app.get("/")
    @app.get("/<any(el, ro, th, \"zh-CN\"):lang>/")
    def storefront_home(lang: str | None = None) -> Any:
        shop = storefront_shop()
        if shop is None:
            return Response("devstore: open a shop's storefront at http://{handle}.localhost:<port>/", status=404)
        locale = locale_of(lang)
        account = "/account" if locale == "en" else f"/{locale}/account"
        return page(shop, "Home", f'<h1>Welcome</h1><p><a href="{account}">Your account and rewards</a></p>',
                    locale=locale)

    @app.get("/account")
    @app.get("/<any(el, ro, th, \"zh-CN\"):lang>/account")
    def storefront_account(lang: str | None = None) -> Any:
        shop = storefront_shop()
        if shop is None:
            return Response("not a storefront host", status=404)
        locale = locale_of(lang)
        return page(shop, "My account", "<h1>My account</h1>", locale=locale, blocks=("rewards",))

    @app.get("/account/login")
    @app.get("/account/register")
    @app.get("/cart")
    def storefront_stub() -> Any:
        shop = storefront_shop()
        if shop is None:
            return Response("not a storefront host", status=404)
        title = {"/cart": "Cart", "/account/login": "Sign in", "/account/register": "Create account"}[request.path]
        return page(shop, title, f"<h1>{title}</h1><p>The stand-in storefront has no {title.lower()} page; "
                                 "sign in with <code>?as=&lt;customer id&gt;</code>.</p>")

    @app.get("/discount/<code>")
    def storefront_discount(code: str) -> Any:
        shop = storefront_shop()
        if shop is None:
            return Response("not a storefront host", status=404)
        after = request.args.get("redirect") or "/"
        after = after if after.startswith("/") and not after.startswith("//") else "/"
        return page(shop, "Discount", f'<h1>Discount applied</h1><p data-discount="{html.escape(code)}">Code '
                                      f'<b>{html.escape(code)}</b> is applied to your cart.</p>'
                                      f'<p><a href="{html.escape(after)}">Continue</a></p>')

    @app.get("/favicon.ico")
    def storefront_favicon() -> Any:
        # Every storefront has one; answering keeps browser consoles free of a 404 on every page.
        return Response(status=204)

    @app.get(f"{CDN_PREFIX}/<handle>/<version>/assets/<name>")
    def theme_asset(handle: str, version: str, name: str) -> Any:
        # Shopify's CDN: the extension's files by version, cached for good; an older version's URL (a page
        # rendered before an edit) gets today's file, not to be kept under that name.
        body = theme.asset(name) if handle == theme.handle else None
        if body is None:
            return Response("not found", status=404)
        kind = "text/css" if name.endswith(".css") else "text/javascript" if name.endswith(".js") else None
        resp = Response(body, mimetype=kind or "application/octet-stream")
        resp.headers["Access-Control-Allow-Origin"] = "*"
        current = version == theme.version()
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable" if current else "no-cache"
        return resp

    # --- the app proxy -------------------------------------------------------------------------------------

    @app.route("/<any(apps, a, community, tools):prefix>/<subpath>", defaults={"sub": ""}, methods=["GET", "POST"])
    @app.route("/<any(apps, a, community, tools):prefix>/<subpath>/<path:sub>", methods=["GET", "POST"])
    def app_proxy(prefix: str, subpath: str, sub: str) -> Any:
        shop = storefront_shop()
        proxy_path = f"/{prefix}/{subpath}"
        if shop is None or proxy_path != store.app_proxy_path:
            return Response("not found", status=404)
        # The shopper's own parameters as they came (repeats included); Shopify's are appended, so a shopper
        # who adds one of Shopify's names sends it twice (signed together: values joined by commas).
        own = {k: list(v) for k, v in request.args.lists()}
        ours = app_proxy_query(shop, proxy_path, customer(), None, api_secret=store.api_secret,
                               timestamp=int(time.time()))
        ours.pop("signature")
        params: dict[str, str | list[str]] = {k: (v if len(v) > 1 else v[0]) for k, v in own.items()}
        for k, v in ours.items():
            params[k] = [*own[k], str(v)] if k in own else v
        params["signature"] = sign_app_proxy(params, store.api_secret)
        url = f"{store.app_url}/proxy/{sub}?{urlencode(params, doseq=True)}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST_HEADERS}
        headers["X-Forwarded-Host"] = request.host
        try:
            upstream = client.request(request.method, url, headers=headers, content=request.get_data())
        except httpx.HTTPError as exc:
            # What Shopify shows when the app cannot be reached.
            return Response(f"The app proxy could not reach the app: {type(exc).__name__}", status=502)
        out = Response(upstream.content, status=upstream.status_code)
        for k, v in upstream.headers.items():
            if k.lower() not in _HOP_HEADERS:
                out.headers[k] = v
        return out

    # --- old addresses -------------------------------------------------------------------------------------

    @app.route("/store/<handle>/", defaults={"rest": ""}, methods=["GET"])
    @app.route("/store/<handle>/<path:rest>", methods=["GET"])
    def old_store_path(handle: str, rest: str) -> Any:
        """Before storefronts had their own origin they lived under /store/<handle>/: send the browser there."""
        port = request.environ.get("SERVER_PORT") or "80"
        query = f"?{request.query_string.decode()}" if request.query_string else ""
        return redirect(f"http://{handle}.localhost:{port}/{rest}{query}", code=302)


__all__ = ["CUSTOMER_COOKIE", "PROXY_PREFIX", "PROXY_PREFIXES", "register", "storefront_url"]
