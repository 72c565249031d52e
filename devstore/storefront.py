"""The storefront side of the stand-in: Shopify's app proxy (/apps/regulars/… → the app's /proxy/…, signed).

Shopify forwards `https://{shop}/apps/regulars/<path>` to `<app>/proxy/<path>`, strips cookies and appends
a fresh signed query naming the logged-in customer. Here the storefront of shop `demo` lives under
`/store/demo/`, and `?as=<customer id>` signs the visitor in (remembered in a cookie on the stand-in).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import httpx
from flask import Flask, Response, request

from devstore.tokens import app_proxy_query

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "set-cookie"}

ACCOUNT_PAGE = """<!doctype html>
<html lang="{locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>My account · {shop}</title>
<style>body{{font-family:system-ui,sans-serif;margin:0;background:#f6f6f7}} header{{background:#1a1a1a;color:#fff;padding:14px 24px}}
main{{max-width:880px;margin:24px auto;padding:0 16px}}</style></head>
<body><header>{shop} · storefront stand-in · signed in as {who}</header>
<main><h1>My account</h1><div id="regulars-widget" data-base="{base}">Loading rewards…</div></main>
<script>
(async () => {{
  const box = document.getElementById('regulars-widget');
  const res = await fetch(box.dataset.base + '/widget?locale={locale}', {{credentials: 'same-origin'}});
  box.innerHTML = await res.text();
  // Scripts inserted through innerHTML do not run; re-create them as the theme block's loader does.
  for (const old of box.querySelectorAll('script')) {{
    const s = document.createElement('script');
    for (const a of old.attributes) s.setAttribute(a.name, a.value);
    s.textContent = old.textContent;
    old.replaceWith(s);
  }}
}})();
</script></body></html>"""


def register(app: Flask, store: Any) -> None:
    client = httpx.Client(timeout=15.0, follow_redirects=False)

    def _customer(handle: str) -> str | None:
        chosen = request.args.get("as")
        if chosen is not None:
            return chosen or None
        return request.cookies.get(f"devstore_customer_{handle}")

    @app.get("/store/<handle>/account")
    def storefront_account(handle: str) -> Response:
        who = _customer(handle)
        locale = request.args.get("locale", "en")
        html = ACCOUNT_PAGE.format(shop=f"{handle}.myshopify.com", who=who or "nobody", locale=locale,
                                   base=f"/store/{handle}/apps/regulars")
        resp = Response(html, mimetype="text/html")
        if "as" in request.args:
            resp.set_cookie(f"devstore_customer_{handle}", who or "", samesite="Lax")
        return resp

    @app.route("/store/<handle>/apps/regulars/", defaults={"sub": ""}, methods=["GET", "POST"])
    @app.route("/store/<handle>/apps/regulars/<path:sub>", methods=["GET", "POST"])
    def storefront_proxy(handle: str, sub: str) -> Response:
        own = {k: v for k, v in request.args.lists() if k != "as"}
        params = app_proxy_query(
            handle, "/apps/regulars", _customer(handle),
            {k: (v if len(v) > 1 else v[0]) for k, v in own.items()},
            api_secret=store.api_secret, timestamp=int(time.time()),
        )
        url = f"{store.app_url}/proxy/{sub}?{urlencode(params, doseq=True)}"
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "cookie", "content-length", "accept-encoding")}
        upstream = client.request(request.method, url, headers=headers, content=request.get_data())
        out = Response(upstream.content, status=upstream.status_code)
        for k, v in upstream.headers.items():
            if k.lower() not in _HOP_HEADERS:
                out.headers[k] = v
        location = upstream.headers.get("location")
        if location and location.startswith("/") and not location.startswith("/store/"):
            # Storefront-relative redirects (e.g. /discount/CODE) stay on this shop's storefront.
            out.headers["Location"] = f"/store/{handle}{location}"
        return out

    @app.get("/store/<handle>/discount/<code>")
    def storefront_discount(handle: str, code: str) -> Response:
        return Response(f"<p>Discount <b>{code}</b> applied to the cart of {handle}.myshopify.com.</p>",
                        mimetype="text/html")
