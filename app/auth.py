"""Who is calling: App Bridge session tokens (embedded admin and /api), token exchange on first load,
and the authorization-code install at /auth/install and /auth/callback."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, g, jsonify, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from app.models import Shop
from app.services import shops
from app.shopify import ShopifyUnavailable, current_shopify, normalize_shop_domain
from app.shopify.adapter import GraphQLError

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class SessionIdentity:
    shop: Shop
    user_id: str | None
    claims: dict[str, Any]
    # What shopify_app hands back for a document request (the admin page): its frame-ancestors CSP and
    # preload Link; the page keeps them (App Store review rejects an embedded app without the CSP).
    headers: dict[str, str]


def verify_session_request() -> tuple[SessionIdentity | None, Response | None]:
    """Checks the App Bridge session token (query id_token on documents, Bearer on fetches).

    On success, exchanges it for an offline token when the shop has none (managed install), so the
    first load of the admin is the install. On failure, returns the response Shopify's library prescribes
    (401 with X-Shopify-Retry-Invalid-Session-Request for fetches, the patch-id-token redirect for documents).
    """
    adapter = current_shopify()
    result = adapter.verify_app_home(request.method, request.url, request.headers)
    if not result.ok:
        resp = Response(result.response.body, status=result.response.status, headers=result.response.headers)
        if request.headers.get("Authorization") and result.response.status == 401:
            resp = jsonify({"error": {"code": "unauthenticated", "message": "session token missing, invalid or expired"}})
            resp.status_code = 401
            resp.headers["X-Shopify-Retry-Invalid-Session-Request"] = "1"
        return None, resp
    domain = normalize_shop_domain(result.shop)
    if domain is None:
        return None, _json_error(401, "unauthenticated", "session token names no shop")
    shop = shops.get_shop(domain)
    if shops.needs_token(shop):
        try:
            token = adapter.exchange_id_token(result.id_token)
        except (GraphQLError, ShopifyUnavailable) as exc:
            log.warning("token exchange for %s failed: %s", domain, exc)
            return None, _json_error(502, "token_exchange_failed", "Shopify did not exchange the session token; try again")
        shop = shops.save_install(domain, token)
    assert shop is not None
    claims = dict(result.id_token.claims) if result.id_token is not None else {}
    headers = dict(result.response.headers or {})
    if not request.headers.get("Authorization"):
        # Built from the verified shop, not taken on trust (it is the same value shopify_app derives from dest).
        headers["Content-Security-Policy"] = frame_ancestors(shop.domain)
    return SessionIdentity(shop=shop, user_id=result.user_id, claims=claims, headers=headers), None


def frame_ancestors(shop_domain: str) -> str:
    """The CSP Shopify requires of every embedded admin page: framed only by that shop's admin."""
    return f"frame-ancestors https://{shop_domain} https://admin.shopify.com;"


def _json_error(status: int, code: str, message: str) -> Response:
    resp = jsonify({"error": {"code": code, "message": message}})
    resp.status_code = status
    return resp


def session_required(view: F) -> F:
    """For /api routes: a valid session token; sets g.shop and g.identity."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        identity, failure = verify_session_request()
        if failure is not None:
            return failure
        assert identity is not None
        g.shop = identity.shop
        g.identity = identity
        g.actor = f"staff:{identity.user_id or 'unknown'}"
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.get("/auth/patch-id-token")
def patch_id_token() -> Response:
    """The bounce page App Bridge uses to put a fresh id_token on a document request (Shopify's own)."""
    result = current_shopify().patch_id_token_page(request.method, request.url, request.headers,
                                                   current_app.config["REGULARS"].app_url)
    if result is None:
        return _json_error(400, "invalid_request", "shop must be a *.myshopify.com domain and shopify-reload a path")
    return Response(result.response.body, status=result.response.status, headers=result.response.headers)


@bp.get("/auth/install")
def install() -> BaseResponse:
    """Authorization-code grant for installs not managed by Shopify: off to the shop's consent screen."""
    domain = normalize_shop_domain(request.args.get("shop"))
    if domain is None:
        return _json_error(400, "invalid_shop", "shop must be a *.myshopify.com domain")
    adapter = current_shopify()
    state = adapter.new_state()
    session["oauth_state"] = state
    session["oauth_shop"] = domain
    cfg = current_app.config["REGULARS"]
    return redirect(adapter.authorize_url(domain, f"{cfg.app_url}/auth/callback", state))


@bp.get("/auth/callback")
def callback() -> BaseResponse:
    params = {k: v for k, v in request.args.items()}
    domain = normalize_shop_domain(params.get("shop"))
    if domain is None or domain != params.get("shop"):
        return _json_error(400, "invalid_shop", "shop must be a *.myshopify.com domain")
    if not params.get("code") or not params.get("state"):
        return _json_error(400, "invalid_request", "code and state are required")
    adapter = current_shopify()
    why = adapter.verify_oauth_query(params)
    if why is not None:
        return _json_error(401, "invalid_signature", f"callback rejected: {why}")
    expected = session.pop("oauth_state", None)
    expected_shop = session.pop("oauth_shop", None)
    if not expected or not hmac.compare_digest(str(expected), params["state"]) or expected_shop != domain:
        return _json_error(401, "invalid_state", "state does not match the install that was started")
    try:
        token = adapter.exchange_code(domain, params["code"])
    except (GraphQLError, ShopifyUnavailable) as exc:
        log.warning("code exchange for %s failed: %s", domain, exc)
        return _json_error(502, "code_exchange_failed", "Shopify did not accept the authorization code")
    shops.save_install(domain, token)
    handle = domain.removesuffix(".myshopify.com")
    cfg = current_app.config["REGULARS"]
    return redirect(f"https://admin.shopify.com/store/{handle}/apps/{cfg.api_key}")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

