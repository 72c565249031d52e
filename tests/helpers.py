"""Test helpers: Shopify-signed webhook requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from tests.conftest import TEST_SECRET


def sign(body: bytes, secret: str = TEST_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook(topic: str, payload: dict[str, Any] | bytes, shop: str = "alpha.myshopify.com", *,
            webhook_id: str | None = None, event_id: str | None = None, secret: str = TEST_SECRET,
            triggered_at: str = "2026-11-22T10:00:00Z") -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at,
        "X-Shopify-API-Version": "2026-10",
    }
    return body, headers


def post_webhook(client: Any, topic: str, payload: dict[str, Any] | bytes, **kw: Any) -> Any:
    body, headers = webhook(topic, payload, **kw)
    path = "/webhooks/compliance" if topic in ("customers/data_request", "customers/redact", "shop/redact") else "/webhooks"
    return client.post(path, data=body, headers=headers)
