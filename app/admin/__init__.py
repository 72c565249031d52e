"""The embedded admin: the page Shopify admin shows in its iframe, and (development only) a sign-in outside it."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request

from app.auth import frame_ancestors, verify_session_request
from app.shopify import normalize_shop_domain

bp = Blueprint("admin", __name__)
dev_bp = Blueprint("admin_dev", __name__)


@bp.get("/")
def home() -> Response:
    """Verified by the id_token Shopify puts on the document (token exchange on first load = install)."""
    identity, failure = verify_session_request()
    if failure is not None:
        return failure
    assert identity is not None
    cfg = current_app.config["REGULARS"]
    html = render_template("admin/home.html", shop=identity.shop.domain, api_key=cfg.api_key, dev=False)
    return Response(html, mimetype="text/html", headers=identity.headers)


@dev_bp.get("/dev/login")
def dev_login() -> Response:
    """Development only: the same page outside Shopify admin, with a local App Bridge stand-in whose
    idToken() asks /dev/token for a token minted here (the API still verifies it like Shopify's)."""
    domain = normalize_shop_domain(request.args.get("shop"))
    if domain is None:
        abort(400, "shop must be a *.myshopify.com domain")
    cfg = current_app.config["REGULARS"]
    html = render_template("admin/home.html", shop=domain, api_key=cfg.api_key, dev=True)
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": frame_ancestors(domain)})


@dev_bp.get("/dev/token")
def dev_token() -> Response:
    try:
        from devstore.tokens import mint_session_token
    except ModuleNotFoundError:  # devstore/ is in the source tree only, never installed with the app
        abort(501, "the development sign-in needs devstore/ from a checkout of the repository")

    domain = normalize_shop_domain(request.args.get("shop"))
    if domain is None:
        abort(400, "shop must be a *.myshopify.com domain")
    cfg = current_app.config["REGULARS"]
    return Response(mint_session_token(domain, cfg.api_key, cfg.api_secret), mimetype="text/plain")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # Registered only with REGULARS_ENV=development set explicitly: otherwise these URLs do not exist at all.
    if app.config["REGULARS"].development:
        app.register_blueprint(dev_bp)
