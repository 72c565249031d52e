"""Our events on the wire to merchants' endpoints (contract.md, "Events out"): the JSON body, its
signature and headers, and the POST. Any 2xx is delivery; anything else is for the relay to retry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Regulars-Hmac-Sha256"
EVENT_ID_HEADER = "X-Regulars-Event-Id"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body with the endpoint's secret."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def headers_for(event: dict[str, Any], secret: str, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body),
            EVENT_ID_HEADER: str(event["id"]), "X-Regulars-Event-Type": str(event["type"]),
            "X-Regulars-Shop-Domain": str(event["shop"]), "User-Agent": "Regulars-Webhooks/1"}


@dataclass(frozen=True)
class PostResult:
    ok: bool
    status: int
    error: str = ""


class WebhookPoster:
    """A pooled HTTP client (keep-alive to each endpoint); safe to share between threads. Redirects are
    not followed: an endpoint answers for itself."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=TIMEOUT, follow_redirects=False,
                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        try:
            resp = self.http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return PostResult(False, 0, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= resp.status_code < 300:
            return PostResult(True, resp.status_code)
        return PostResult(False, resp.status_code, f"HTTP {resp.status_code}: {resp.text[:200]}")
