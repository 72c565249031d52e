"""The embedded admin: the page Shopify admin shows in its iframe, and (development only) a sign-in outside it
with local stand-ins for Shopify's two CDN scripts."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
)

from app.auth import frame_ancestors, verify_session_request
from app.shopify import normalize_shop_domain

bp = Blueprint("admin", __name__)
dev_bp = Blueprint("admin_dev", __name__)

# One real path per part of the program: App Bridge's nav (s-app-nav) links to paths, not hashes. The page
# routes on the client; these server routes only answer a full load (or a reload) of a deep link.
PAGES = ("customers", "points", "tiers", "rewards", "referrals", "automations", "analytics", "settings",
         "audit", "api-keys", "setup")
STANDIN_DIR = Path(__file__).parent / "standin"
STANDINS = ("app-bridge.js", "polaris.js", "standin.css")


def _page(shop: str, dev: bool, base: str) -> str:
    cfg = current_app.config["REGULARS"]
    return render_template("admin/home.html", shop=shop, api_key=cfg.api_key, dev=dev, base=base)


def home(page: str = "", rest: str = "") -> Response:
    """Verified by the id_token Shopify puts on the document (token exchange on first load = install)."""
    identity, failure = verify_session_request()
    if failure is not None:
        return failure
    assert identity is not None
    return Response(_page(identity.shop.domain, False, ""), mimetype="text/html", headers=identity.headers)


bp.add_url_rule("/", "home", home, methods=["GET"])
for _name in PAGES:
    bp.add_url_rule(f"/{_name}", f"home_{_name}", home, methods=["GET"], defaults={"page": _name})
    bp.add_url_rule(f"/{_name}/<path:rest>", f"home_{_name}_rest", home, methods=["GET"], defaults={"page": _name})


def dev_login(page: str = "", rest: str = "") -> Response:
    """Development only: the same page outside Shopify admin, with local stand-ins for App Bridge and Polaris;
    App Bridge's idToken() asks /dev/token for a token minted here (the API still verifies it like Shopify's)."""
    domain = normalize_shop_domain(request.args.get("shop"))
    if domain is None:
        abort(400, "shop must be a *.myshopify.com domain")
    html = _page(domain, True, "/dev/login")
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": frame_ancestors(domain)})


dev_bp.add_url_rule("/dev/login", "dev_login", dev_login, methods=["GET"])
for _name in PAGES:
    dev_bp.add_url_rule(f"/dev/login/{_name}", f"dev_login_{_name}", dev_login, methods=["GET"],
                        defaults={"page": _name})
    dev_bp.add_url_rule(f"/dev/login/{_name}/<path:rest>", f"dev_login_{_name}_rest", dev_login, methods=["GET"],
                        defaults={"page": _name})


@dev_bp.get("/dev/standin/<name>")
def standin(name: str) -> Response:
    """The offline stand-ins for cdn.shopify.com's app-bridge.js and polaris.js (and their stylesheet)."""
    if name not in STANDINS:
        abort(404)
    return send_from_directory(STANDIN_DIR, name, max_age=0)


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
