"""Shopify Flow calling the app: actions (`POST /flow/actions/{handle}`) and trigger lifecycle callbacks,
each verified with shopify_app's Flow HMAC check before anything is read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from app.inputs import error_response
from app.services.events import record_flow_lifecycle
from app.services.flow_actions import FlowActionRefused, run_action
from app.services.shops import get_active_shop
from app.shopify import current_shopify, normalize_shop_domain
from app.shopify.flow import verify_flow_request

bp = Blueprint("flow", __name__)
MAX_BODY = 1 << 20


def _verified() -> tuple[Any, Any] | Response:
    if (request.content_length or 0) > MAX_BODY:
        return error_response(413, "too_large", "the body is over 1 MiB")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY:
        return error_response(413, "too_large", "the body is over 1 MiB")
    verdict = verify_flow_request(current_shopify().app, request.headers, raw)
    if not verdict.ok:
        if verdict.status == 400:
            return error_response(400, "invalid_body", verdict.reason)
        return error_response(401, "unauthenticated", "the Flow signature is missing or wrong")
    domain = normalize_shop_domain(verdict.shop)
    shop = get_active_shop(domain) if domain else None
    if shop is None:
        return error_response(404, "not_found", "this shop has not installed Regulars")
    return shop, verdict.body


@bp.post("/flow/actions/<handle>")
def flow_action(handle: str) -> Response:
    got = _verified()
    if isinstance(got, Response):
        return got
    shop, body = got
    try:
        result = run_action(shop, handle, body)
    except FlowActionRefused as exc:
        return error_response(exc.status, "not_found" if exc.status == 404 else "invalid", exc.message, exc.fields)
    return jsonify({"return_value": result})


@bp.post("/flow/lifecycle")
def flow_lifecycle() -> Response:
    """Flow tells whether a workflow of the shop starts with one of our triggers; only those get events."""
    got = _verified()
    if isinstance(got, Response):
        return got
    shop, body = got
    handle = body.get("flow_trigger_definition_id") or body.get("handle")
    enabled = body.get("has_enabled_flow")
    if not isinstance(handle, str) or not handle or not isinstance(enabled, bool):
        return error_response(422, "invalid", "flow_trigger_definition_id and has_enabled_flow are required",
                      {"flow_trigger_definition_id": "required", "has_enabled_flow": "true or false"})
    record_flow_lifecycle(shop, handle, enabled)
    return jsonify({"ok": True})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
