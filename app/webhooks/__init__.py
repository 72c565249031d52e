"""Thin webhook receivers: verify the HMAC over the raw body, store the delivery, ask for a drain, answer 200."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, jsonify, request

from app.services import deliveries
from app.shopify import current_shopify
from app.shopify.adapter import body_names_another_shop

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

MAX_BODY = 1024 * 1024  # 1 MiB, as contract.md says
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
REQUIRED_HEADERS = ("X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id")
_REQUIRED_ENVIRON = tuple((h, "HTTP_" + h.upper().replace("-", "_")) for h in REQUIRED_HEADERS)


_CODES = {400: "bad_request", 401: "unauthorized", 413: "payload_too_large"}


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": _CODES.get(status, "error"), "message": message}}), status


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _receive(compliance: bool) -> tuple[Response, int] | Response:
    length = request.content_length
    if length is not None and length > MAX_BODY:
        return _error(413, "webhook body is larger than 1 MiB")
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return _error(413, "webhook body is larger than 1 MiB")

    # The WSGI environ itself, not request.headers: the same values, without a proxy lookup and a key
    # transformation per header on the receiver's hot path.
    env = request.environ
    verdict = current_shopify().verify_webhook(
        {"X-Shopify-Hmac-Sha256": env.get("HTTP_X_SHOPIFY_HMAC_SHA256"),
         "X-Shopify-Shop-Domain": env.get("HTTP_X_SHOPIFY_SHOP_DOMAIN")}, body)
    if verdict.status != 200:
        return _error(verdict.status, f"webhook rejected: {verdict.reason}")

    missing = [h for h, key in _REQUIRED_ENVIRON if not env.get(key)]
    if missing:
        return _error(400, f"missing required headers: {', '.join(missing)}")
    if verdict.shop_domain is None:
        return _error(400, "X-Shopify-Shop-Domain is not a myshopify.com domain")
    topic = env["HTTP_X_SHOPIFY_TOPIC"].strip().lower()
    if compliance != (topic in COMPLIANCE_TOPICS):
        where = "/webhooks/compliance" if topic in COMPLIANCE_TOPICS else "/webhooks"
        return _error(400, f"topic {topic} is delivered to {where}")
    webhook_id = env["HTTP_X_SHOPIFY_WEBHOOK_ID"].strip()
    event_id = (env.get("HTTP_X_SHOPIFY_EVENT_ID") or "").strip() or None
    if len(topic) > 64 or len(webhook_id) > 128 or (event_id and len(event_id) > 128):
        return _error(400, "header value too long")
    api_version = (env.get("HTTP_X_SHOPIFY_API_VERSION") or "")[:16] or None
    stored = f"{topic}{webhook_id}{event_id or ''}{api_version or ''}"
    if not (stored.isascii() and stored.isprintable()):
        # They are stored as they are: printable ASCII only (PostgreSQL cannot hold a NUL at all).
        return _error(400, "header values must be printable ASCII")
    try:
        text = body.decode("utf-8")
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _error(400, "body is not JSON")
    if not isinstance(payload, dict):
        return _error(400, "body is not a JSON object")
    if body_names_another_shop(topic, payload, verdict.shop_domain):
        # The HMAC covers the body, not the headers: shop A's genuine body re-sent with shop B's domain.
        return _error(401, "webhook rejected: the body names another shop than X-Shopify-Shop-Domain")

    deliveries.receive_delivery(
        shop_domain=verdict.shop_domain,
        topic=topic,
        webhook_id=webhook_id,
        event_id=event_id,
        triggered_at=_parse_time(env.get("HTTP_X_SHOPIFY_TRIGGERED_AT")),
        api_version=api_version,
        body=text,
    )
    return Response(status=200)


@bp.post("/webhooks")
def receive() -> tuple[Response, int] | Response:
    return _receive(compliance=False)


@bp.post("/webhooks/compliance")
def receive_compliance() -> tuple[Response, int] | Response:
    return _receive(compliance=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # Shopify never sends more; refuse early rather than buffer a huge body.
    app.config.setdefault("MAX_CONTENT_LENGTH", 4 * MAX_BODY)

    @app.errorhandler(413)
    def too_large(_e: Exception) -> tuple[Response, int]:
        return _error(413, "request body too large")

