"""Routes under /ext/v1: verify the extension's session token (shopify_app), parse, call one service, answer JSON.

Every answer, errors included, carries CORS headers: the extensions run in a sandbox on Shopify's origin,
so a browser shows them nothing of a response without `Access-Control-Allow-Origin`. shopify_app answers
the preflight (OPTIONS) itself and hands back no headers for the verified request that follows, so the
ones Shopify's JavaScript library adds there (`cors()` of @shopify/shopify-app-remix) are added here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.inputs import error_response
from app.models import Shop
from app.services import catalogue, extension_view
from app.services.redemption_requests import RedemptionRequestError
from app.shopify import current_shopify, numeric_id

bp = Blueprint("ext", __name__, url_prefix="/ext")
F = TypeVar("F", bound=Callable[..., Any])
# A redemption request is a few dozen bytes; anything much larger is not one of ours.
MAX_BODY_BYTES = 16 * 1024
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Shopify-API-Request-Failure-Reauthorize-Url",
    "Vary": "Authorization",
}


@dataclass(frozen=True)
class ExtensionIdentity:
    shop: Shop
    # Shopify's numeric customer id (the token's `sub`); None when no customer is signed in.
    customer_id: int | None
    catalogue_version: str | None


def extension_auth(view: F) -> F:
    """Sets g.ext from the session token; answers the CORS preflight and refuses what shopify_app refuses.

    `?surface=checkout` (the thank-you extension) is verified as a checkout UI extension request, anything
    else as a customer account UI extension request: the two verifiers of shopify_app, one per surface."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        surface = "checkout" if request.args.get("surface") == "checkout" else "customer_account"
        caller = current_shopify().verify_ui_extension(surface, request.method, request.url, request.headers)
        if caller.preflight:
            resp = Response(status=caller.status)
            resp.headers.update(caller.headers)
            return resp
        if not caller.ok:
            resp = error_response(401, "unauthenticated", "session token missing, invalid or expired")
            resp.headers.update(caller.headers)
            return resp
        if request.method == "OPTIONS":  # a same-origin OPTIONS with a valid token: nothing to do
            return Response(status=204)
        assert caller.shop_domain is not None
        shop, version = catalogue.find_shop(caller.shop_domain)
        if shop is None or not shop.active:
            # Signed with our secret for a shop that is not (or no longer) installed: nothing to show.
            return error_response(401, "unauthenticated", "the app is not installed on this shop")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return error_response(413, "too_large", "the request body is too large")
        g.ext = ExtensionIdentity(shop, caller.customer_id, version)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.after_request
def _cors(resp: Response) -> Response:
    for name, value in CORS_HEADERS.items():
        resp.headers.setdefault(name, value)
    # Per-customer data: never kept by a shared cache.
    resp.headers.setdefault("Cache-Control", "private, no-store")
    return resp


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    db.session.rollback()
    return error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "")


@bp.route("/v1/member", methods=["GET", "OPTIONS"])
@extension_auth
def member() -> Response:
    ident: ExtensionIdentity = g.ext
    return jsonify(extension_view.member_answer(ident.shop, ident.customer_id,
                                                catalogue_version=ident.catalogue_version))


@bp.route("/v1/redemptions", methods=["POST", "OPTIONS"])
@extension_auth
def redemptions() -> Response:
    ident: ExtensionIdentity = g.ext
    try:
        answer = extension_view.redeem_answer(ident.shop, ident.customer_id, request.get_json(silent=True))
    except RedemptionRequestError as exc:
        db.session.rollback()
        return error_response(exc.status, exc.code, exc.message, exc.fields)
    resp = jsonify(answer)
    resp.status_code = 201
    return resp


@bp.route("/v1/orders/<path:order_id>", methods=["GET", "OPTIONS"])
@extension_auth
def order(order_id: str) -> Response:
    ident: ExtensionIdentity = g.ext
    number = numeric_id(order_id, "Order")
    answer = extension_view.order_answer(ident.shop, ident.customer_id, number) if number is not None else None
    if answer is None:
        # Unknown, malformed and another customer's orders look the same: nothing is said about which.
        return error_response(404, "not_found", "no such order")
    return jsonify(answer)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def unknown(rest: str) -> Response:
    return error_response(404, "not_found", "no such route")
